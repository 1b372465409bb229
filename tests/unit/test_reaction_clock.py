"""ReactionClock, the one reaction evaluator: built once per case, read at any instant (the case planner via
evaluate_reaction, the plugin's queue and the metrics scrape). Checked against a reference that applies the
rules of docs/sla.md on the minute-walking ReferenceCalendar, which shares no code with the fast table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_calendar import ReferenceCalendar
from support_operator.domain.calendar import BusinessCalendar, from_epoch_us, to_epoch_us
from support_operator.domain.sla import (
    REACTION_2H,
    REACTION_8H,
    Category,
    Impact,
    PikettCover,
    ReactionClock,
    ReactionPolicy,
    ReactionState,
    evaluate_reaction,
)

US = timedelta(microseconds=1)
BERN = BusinessCalendar()
PIKETT = PikettCover.around_the_clock(REACTION_2H)
POLICIES = {
    "standard 2h": ReactionPolicy(BERN, REACTION_2H),
    "standard 8h with Pikett": ReactionPolicy(BERN, REACTION_8H, PIKETT),
}
KINDS = [
    (Category.INCIDENT, Impact.PRODUCTION),
    (Category.INCIDENT, Impact.NON_PRODUCTION),
    (Category.CONSULTATION, Impact.NON_PRODUCTION),
]
SETTLED = (ReactionState.MET, ReactionState.BREACHED)


def reference_of(calendar: BusinessCalendar) -> ReferenceCalendar:
    windows = {day: [tuple(w) for w in ws] for day, ws in enumerate(calendar.schedule.windows)}
    closed = [day for year in range(2025, 2029) for day, _ in calendar.holidays_in(year)]
    return ReferenceCalendar(calendar.zone_name, windows, closed)


REFERENCES = {BERN: reference_of(BERN), PIKETT.calendar: reference_of(PIKETT.calendar)}


def reference_reading(
    policy: ReactionPolicy,
    reported: datetime,
    kind: tuple[Category, Impact],
    analysis: datetime | None,
    now: datetime,
    previous: ReactionState | None,
) -> tuple[datetime, ReactionState, timedelta, timedelta]:
    """Deadline, state, elapsed and remaining, by the rules, on the slow calendar."""
    calendar, target = policy.clock_for(*kind)
    reference = REFERENCES[calendar]
    deadline = reference.add(reported, target)
    if previous in SETTLED:
        state = previous
    elif analysis is not None:
        state = ReactionState.MET if analysis <= deadline else ReactionState.BREACHED
    else:
        state = ReactionState.BREACHED if now > deadline else ReactionState.PENDING
    stop = now if analysis is None else min(analysis, now)
    elapsed = reference.elapsed(reported, max(stop, reported))
    return deadline, state, elapsed, max(target - elapsed, timedelta(0))


minutes_2026 = st.integers(min_value=0, max_value=365 * 24 * 60).map(
    lambda m: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=m)
)


@st.composite
def cases(draw: st.DrawFn, analysis_within_days: int) -> Case:
    """A case's reaction inputs: policy, report (on a minute), kind, start of analysis, previous result."""
    policy = POLICIES[draw(st.sampled_from(sorted(POLICIES)))]
    reported = draw(minutes_2026)
    seconds = st.integers(min_value=-3600, max_value=analysis_within_days * 24 * 3600)
    analysis = draw(st.none() | seconds.map(lambda s: reported + timedelta(seconds=s)))
    previous = draw(st.sampled_from([None, *ReactionState]))
    return Case(policy, reported, draw(st.sampled_from(KINDS)), analysis, previous)


@dataclass(frozen=True)
class Case:
    policy: ReactionPolicy
    reported: datetime
    kind: tuple[Category, Impact]
    analysis: datetime | None
    previous: ReactionState | None

    def clock(self) -> ReactionClock:
        return ReactionClock.start(self.policy, self.reported, *self.kind, self.analysis, self.previous)


@settings(max_examples=60, deadline=None)
@given(case=cases(analysis_within_days=3), now_after=st.integers(min_value=-3600, max_value=4 * 24 * 3600))
def test_the_clock_agrees_with_the_rules_on_the_reference_calendar(case: Case, now_after: int) -> None:
    now = case.reported + timedelta(seconds=now_after)
    clock = case.clock()
    reading = clock.read(to_epoch_us(now))

    expected = reference_reading(case.policy, case.reported, case.kind, case.analysis, now, case.previous)
    deadline, state, elapsed, remaining = expected
    assert clock.deadline == deadline
    assert reading.state == state
    assert reading.elapsed_us == elapsed // US
    assert reading.remaining == remaining
    assert clock.pikett == (case.policy.pikett is not None and case.kind == KINDS[0])


@settings(max_examples=200, deadline=None)
@given(
    case=cases(analysis_within_days=5),
    now_after=st.lists(st.integers(min_value=-3600, max_value=20 * 24 * 3600), min_size=1, max_size=5),
)
def test_evaluate_reaction_is_the_clock_read_at_now(case: Case, now_after: list[int]) -> None:
    """One clock, read at several instants (as the scrape reads it), answers what a fresh evaluation does."""
    clock = case.clock()
    for seconds in now_after:
        now = case.reported + timedelta(seconds=seconds)
        expected = evaluate_reaction(
            case.policy, case.reported, *case.kind, case.analysis, now, case.previous
        )
        assert clock.status_at(now) == expected
        reading = clock.read(to_epoch_us(now))
        assert (reading.state, reading.remaining) == (expected.state, expected.remaining)
        assert reading.elapsed_us / clock.target_us == expected.used_ratio


def test_the_deadline_instant_is_pending_and_one_microsecond_later_breached() -> None:
    reported = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday 17:00 in Bern: closed
    clock = ReactionClock.start(POLICIES["standard 2h"], reported, Category.INCIDENT, Impact.NON_PRODUCTION)
    assert clock.deadline == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Bern
    assert clock.read(clock.deadline_us) == (ReactionState.PENDING, 2 * 3600 * 10**6, 0)
    assert clock.read(clock.deadline_us + 1).state == ReactionState.BREACHED
    started = ReactionClock.start(
        POLICIES["standard 2h"], reported, Category.INCIDENT, Impact.NON_PRODUCTION, clock.deadline
    )
    assert started.read(clock.deadline_us + 3600 * 10**6).state == ReactionState.MET


def test_analysis_stops_the_clock_and_a_settled_result_stays() -> None:
    reported = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # Wednesday 09:00 in Bern
    started = reported + timedelta(minutes=30)
    clock = ReactionClock.start(
        POLICIES["standard 2h"], reported, Category.INCIDENT, Impact.NON_PRODUCTION, started
    )
    later = to_epoch_us(reported + timedelta(days=3))
    assert clock.read(later) == (ReactionState.MET, 30 * 60 * 10**6, 90 * 60 * 10**6)
    breached = ReactionClock.start(
        POLICIES["standard 2h"],
        reported,
        Category.INCIDENT,
        Impact.NON_PRODUCTION,
        started,
        ReactionState.BREACHED,
    )
    assert breached.read(later).state == ReactionState.BREACHED  # reclassified later: the result stays
    pending = ReactionClock.start(
        POLICIES["standard 2h"],
        reported,
        Category.INCIDENT,
        Impact.NON_PRODUCTION,
        None,
        ReactionState.PENDING,
    )
    assert pending.settled is None


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        ReactionClock.start(POLICIES["standard 2h"], datetime(2026, 11, 25, 9), *KINDS[0])


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=3 * 365 * 24 * 3600 * 10**6),
    span=st.integers(min_value=0, max_value=40 * 24 * 3600 * 10**6),
)
def test_the_calendar_in_microseconds_is_the_calendar_in_datetimes(start: int, span: int) -> None:
    origin = to_epoch_us(datetime(2025, 1, 1, tzinfo=UTC))
    a, b = origin + start, origin + start + span
    assert BERN.elapsed_us(a, b) == BERN.elapsed(from_epoch_us(a), from_epoch_us(b)) // US
    assert from_epoch_us(BERN.add_us(a, span)) == BERN.add(from_epoch_us(a), span * US)
    with pytest.raises(ValueError, match="negative"):
        BERN.add_us(a, -1)
