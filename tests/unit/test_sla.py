"""Reaction SLA: deadlines, met/breached, reclassification, Pikett, warning fractions (issue 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from support_operator.domain.calendar import BusinessCalendar, WeeklySchedule
from support_operator.domain.sla import (
    REACTION_2H,
    REACTION_8H,
    Category,
    Impact,
    PikettCover,
    ReactionPolicy,
    ReactionState,
    evaluate_reaction,
    next_transition_at,
    parse_duration,
)

H = timedelta(hours=1)
US = timedelta(microseconds=1)
BERN = BusinessCalendar()
INCIDENT, CONSULTATION = Category.INCIDENT, Category.CONSULTATION
PROD, NONPROD = Impact.PRODUCTION, Impact.NON_PRODUCTION
PENDING, MET, BREACHED = ReactionState.PENDING, ReactionState.MET, ReactionState.BREACHED

STANDARD_2H = ReactionPolicy(BERN, REACTION_2H)
STANDARD_8H = ReactionPolicy(BERN, REACTION_8H)
WITH_PIKETT = ReactionPolicy(BERN, REACTION_8H, PikettCover.around_the_clock(REACTION_2H))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def evaluate(policy, reported, now, analysis=None, previous=None, category=INCIDENT, impact=NONPROD):
    return evaluate_reaction(
        policy,
        reported_at=at(reported),
        category=category,
        impact=impact,
        analysis_started_at=at(analysis) if analysis else None,
        now=at(now),
        previous_state=previous,
    )


def test_enum_values_are_the_api_strings():
    assert [s.value for s in ReactionState] == ["Pending", "Met", "Breached"]
    assert [c.value for c in Category] == ["Incident", "Consultation"]
    assert [i.value for i in Impact] == ["Production", "NonProduction"]
    assert Impact("NonProduction") is NONPROD


def test_deadline_follows_the_standard_calendar():
    status = evaluate(STANDARD_2H, "2026-11-23T16:00:00+01:00", "2026-11-23T16:30:00+01:00")
    assert status.deadline == at("2026-11-24T09:00:00+01:00")
    assert status.deadline.tzinfo is UTC
    assert status.state is PENDING
    assert status.target == 2 * H
    assert not status.pikett


# -- 5: met inclusive, breach known at the deadline -----------------------------------------------------


def test_analysis_at_the_deadline_is_met():
    status = evaluate(
        STANDARD_2H, "2026-11-23T08:00:00+01:00", "2026-11-23T12:00:00+01:00", "2026-11-23T10:00+01:00"
    )
    assert status.state is MET
    assert status.elapsed == 2 * H
    assert status.remaining == timedelta(0)


def test_analysis_one_microsecond_late_is_breached():
    late = "2026-11-23T10:00:00.000001+01:00"
    status = evaluate(STANDARD_2H, "2026-11-23T08:00:00+01:00", "2026-11-23T12:00:00+01:00", late)
    assert status.state is BREACHED


def test_breach_is_known_right_after_the_deadline_not_at_closing():
    reported = "2026-11-23T08:00:00+01:00"
    assert evaluate(STANDARD_2H, reported, "2026-11-23T10:00:00+01:00").state is PENDING
    assert evaluate(STANDARD_2H, reported, "2026-11-23T10:00:00.000001+01:00").state is BREACHED
    assert evaluate(STANDARD_2H, reported, "2026-11-23T09:00:00.000001Z").state is BREACHED  # any zone


def test_next_transition_is_the_first_breached_instant():
    pending = evaluate(STANDARD_2H, "2026-11-23T16:00:00+01:00", "2026-11-23T16:30:00+01:00")
    wake_up = next_transition_at(pending)
    assert wake_up == at("2026-11-24T09:00:00+01:00") + US
    just_before = evaluate(STANDARD_2H, "2026-11-23T16:00:00+01:00", (wake_up - US).isoformat())
    at_wake_up = evaluate(STANDARD_2H, "2026-11-23T16:00:00+01:00", wake_up.isoformat())
    assert (just_before.state, at_wake_up.state) == (PENDING, BREACHED)
    assert next_transition_at(at_wake_up) is None
    met = evaluate(
        STANDARD_2H, "2026-11-23T16:00:00+01:00", "2026-11-23T16:30+01:00", "2026-11-23T16:10+01:00"
    )
    assert next_transition_at(met) is None


# -- 6: reclassification recomputes from the original report; settled results stay ----------------------


def test_reclassification_recomputes_from_the_original_report_time():
    reported = "2026-11-28T10:00:00+01:00"  # Saturday: only Pikett runs
    as_nonprod = evaluate(WITH_PIKETT, reported, "2026-11-28T11:00:00+01:00")
    assert as_nonprod.deadline == at("2026-11-30T16:00:00+01:00")  # 8h from Monday 08:00
    as_prod = evaluate(WITH_PIKETT, reported, "2026-11-28T11:00:00+01:00", impact=PROD)
    assert as_prod.deadline == at("2026-11-28T12:00:00+01:00")  # 2h from the report, not from the change
    assert as_prod.state is PENDING
    assert as_prod.used_ratio == 0.5
    late = evaluate(WITH_PIKETT, reported, "2026-11-28T12:30:00+01:00", impact=PROD, previous=PENDING)
    assert late.state is BREACHED  # the earlier target has already passed


def test_a_met_reaction_stays_met_after_reclassification():
    reported, analysis = "2026-11-28T10:00:00+01:00", "2026-11-28T13:00:00+01:00"
    met = evaluate(WITH_PIKETT, reported, "2026-11-28T14:00:00+01:00", analysis)
    assert met.state is MET
    reclassified = evaluate(WITH_PIKETT, reported, "2026-11-28T15:00:00+01:00", analysis, MET, impact=PROD)
    assert reclassified.state is MET
    assert reclassified.deadline == at("2026-11-28T12:00:00+01:00")  # the deadline shown follows the class
    # evaluated from scratch the same facts would be a breach: the previous result is what keeps it met
    assert evaluate(WITH_PIKETT, reported, "2026-11-28T15:00+01:00", analysis, impact=PROD).state is BREACHED


def test_a_breached_reaction_stays_breached_after_reclassification():
    reported = "2026-11-28T10:00:00+01:00"
    breached = evaluate(WITH_PIKETT, reported, "2026-11-28T12:30:00+01:00", impact=PROD)
    assert breached.state is BREACHED
    relaxed = evaluate(WITH_PIKETT, reported, "2026-11-28T12:40:00+01:00", previous=BREACHED, impact=NONPROD)
    assert relaxed.state is BREACHED
    assert relaxed.deadline == at("2026-11-30T16:00:00+01:00")
    assert evaluate(WITH_PIKETT, reported, "2026-11-28T12:40:00+01:00", previous=PENDING).state is PENDING


# -- 8: Pikett ------------------------------------------------------------------------------------------


def test_pikett_applies_to_production_incidents_only():
    reported, now = "2026-11-27T18:00:00+01:00", "2026-11-27T18:30:00+01:00"  # Friday evening
    production = evaluate(WITH_PIKETT, reported, now, impact=PROD)
    assert production.pikett
    assert production.deadline == at("2026-11-27T20:00:00+01:00")
    assert production.target == 2 * H
    assert production.elapsed == 30 * timedelta(minutes=1)
    for category, impact in [(INCIDENT, NONPROD), (CONSULTATION, PROD), (CONSULTATION, NONPROD)]:
        status = evaluate(WITH_PIKETT, reported, now, category=category, impact=impact)
        assert not status.pikett
        assert status.deadline == at("2026-11-30T16:00:00+01:00")
        assert status.elapsed == timedelta(0)


def test_without_pikett_production_incidents_keep_the_standard_calendar():
    status = evaluate(STANDARD_8H, "2026-11-27T18:00:00+01:00", "2026-11-27T19:00:00+01:00", impact=PROD)
    assert not status.pikett
    assert status.deadline == at("2026-11-30T16:00:00+01:00")


def test_pikett_with_configured_hours_and_its_own_reaction_time():
    pikett_hours = BusinessCalendar(
        schedule=WeeklySchedule.parse("Mon-Sun", "06:00-22:00"), country=None, subdivision=None
    )
    policy = ReactionPolicy(BERN, REACTION_8H, PikettCover(pikett_hours, 4 * H))
    status = evaluate(policy, "2026-12-25T21:00:00+01:00", "2026-12-25T21:30:00+01:00", impact=PROD)
    assert status.deadline == at("2026-12-26T09:00:00+01:00")  # holidays do not stop Pikett
    assert status.target == 4 * H


def test_pikett_across_the_dst_night():
    status = evaluate(WITH_PIKETT, "2026-03-29T01:30:00+01:00", "2026-03-29T01:45:00+01:00", impact=PROD)
    assert status.deadline == at("2026-03-29T04:30:00+02:00")  # 2h of real time, wall clock jumps an hour


# -- 9: fractions for 50 % / 75 % warnings --------------------------------------------------------------


def test_used_ratio_counts_support_time_only():
    reported = "2026-11-23T16:00:00+01:00"
    overnight = evaluate(STANDARD_8H, reported, "2026-11-24T11:00:00+01:00")
    assert overnight.elapsed == 4 * H
    assert overnight.used_ratio == 0.5
    assert overnight.remaining == 4 * H
    assert (overnight.elapsed_seconds, overnight.remaining_seconds) == (14400.0, 14400.0)
    assert evaluate(STANDARD_8H, reported, "2026-11-24T13:00:00+01:00").used_ratio == 0.75
    assert evaluate(STANDARD_8H, reported, "2026-11-24T07:00:00+01:00").used_ratio == 0.125


def test_threshold_instants_for_warnings():
    reported = at("2026-11-23T16:00:00+01:00")
    assert STANDARD_8H.threshold_at(reported, INCIDENT, NONPROD, 0.5) == at("2026-11-24T11:00:00+01:00")
    assert STANDARD_8H.threshold_at(reported, INCIDENT, NONPROD, 0.75) == at("2026-11-24T13:00:00+01:00")
    assert STANDARD_8H.threshold_at(reported, INCIDENT, NONPROD, 1) == STANDARD_8H.deadline(
        reported, INCIDENT, NONPROD
    )
    with pytest.raises(ValueError, match="fraction"):
        STANDARD_8H.threshold_at(reported, INCIDENT, NONPROD, 1.5)


def test_breached_ratio_exceeds_one_and_analysis_stops_the_clock():
    reported = "2026-11-23T08:00:00+01:00"
    overdue = evaluate(STANDARD_2H, reported, "2026-11-23T11:00:00+01:00")
    assert overdue.used_ratio == 1.5
    assert overdue.remaining == timedelta(0)
    stopped = evaluate(STANDARD_2H, reported, "2026-11-24T11:00:00+01:00", "2026-11-23T09:00:00+01:00")
    assert stopped.elapsed == H
    assert stopped.remaining == H
    assert stopped.state is MET


def test_now_before_the_report_counts_nothing():
    status = evaluate(STANDARD_2H, "2026-11-23T10:00:00+01:00", "2026-11-23T09:59:00+01:00")
    assert status.state is PENDING
    assert status.elapsed == timedelta(0)


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="naive"):
        evaluate_reaction(
            STANDARD_2H, datetime(2026, 11, 23, 10), INCIDENT, PROD, None, at("2026-11-23T10:00Z")
        )
    with pytest.raises(ValueError, match="naive"):
        evaluate_reaction(
            STANDARD_2H, at("2026-11-23T10:00Z"), INCIDENT, PROD, None, datetime(2026, 11, 23, 11)
        )


def test_reaction_times_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        ReactionPolicy(BERN, timedelta(0))
    with pytest.raises(ValueError, match="positive"):
        PikettCover.around_the_clock(-H)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", 2 * H),
        ("8h", 8 * H),
        ("90m", 90 * timedelta(minutes=1)),
        ("1h30m", 1.5 * H),
        ("45s", timedelta(seconds=45)),
        ("1d", 24 * H),
        (" 2h ", 2 * H),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0h", "0m0s", "-2h", "2", "2 hours", "h", "2h-1m", "1.5h"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
