"""Monthly statements (pure): what a month bills given earlier statements, adjustments for late effort, a
deleted case changing nothing issued, due months in the contract's time zone; acknowledgement evidence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from support_operator.api.v1alpha1 import ReactionEvidence, SupportCase, SupportContract, SupportStatement
from support_operator.domain import ledger
from support_operator.domain import statement as domain
from support_operator.domain.sla import Category
from support_operator.status import evidence
from support_operator.status import statements as billing

UTC = dt.UTC
INCIDENT = Category.INCIDENT


def case(uid: str, *entries: tuple[str, str, int], category: Category = INCIDENT) -> domain.CaseRecord:
    return domain.CaseRecord(
        f"shop/{uid}",
        uid,
        category,
        tuple(domain.Entry(i, "anna", dt.date.fromisoformat(day), m) for i, day, m in entries),
    )


def build(month: str, cases: list[domain.CaseRecord], history: domain.History | None = None) -> Any:
    return domain.build(month, cases, history or domain.History(), 15, [], ledger.BillingMode.MONTHLY)


def billed_history(*statements: domain.MonthStatement) -> domain.History:
    ids = {(line.uid, e) for s in statements for line in [*s.cases, *s.adjustments] for e in line.entries}
    return domain.History(frozenset(ids))


def test_a_month_bills_its_own_entries_rounded_per_case() -> None:
    october = build("2026-10", [case("a", ("e-1", "2026-10-03", 80), ("e-2", "2026-11-02", 30))])
    assert [(line.case, line.entries, line.effort, line.billed) for line in october.cases] == [
        ("shop/a", ("e-1",), 80, 90)
    ]
    assert october.adjustments == [] and october.totals.invoiced == 90


def test_late_effort_becomes_an_adjustment_of_the_next_statement_once() -> None:
    october = build("2026-10", [case("a", ("e-1", "2026-10-03", 60))])
    late = case("a", ("e-1", "2026-10-03", 60), ("e-2", "2026-10-20", 20), ("e-3", "2026-11-04", 10))
    november = build("2026-11", [late], billed_history(october))
    assert [(a.month, a.entries, a.effort, a.billed) for a in november.adjustments] == [
        ("2026-10", ("e-2",), 20, 30)
    ]
    assert [(c.entries, c.billed) for c in november.cases] == [(("e-3",), 15)]
    assert november.totals.adjustment == 30 and november.totals.invoiced == 45
    december = build("2026-12", [late], billed_history(october, november))
    assert december.adjustments == [] and december.cases == []


def test_a_late_correction_is_credited_on_the_invoice() -> None:
    october = build("2026-10", [case("a", ("e-1", "2026-10-03", 60))])
    corrected = case("a", ("e-1", "2026-10-03", 60), ("e-2", "2026-10-03", -20))
    (credit,) = build("2026-11", [corrected], billed_history(october)).adjustments
    assert (credit.effort, credit.billed, credit.invoiced) == (-20, -15, -15)


def test_a_case_deleted_after_billing_changes_nothing_issued_and_bills_nothing_again() -> None:
    kept, gone = case("a", ("e-1", "2026-10-03", 60)), case("b", ("e-1", "2026-10-04", 30))
    october = build("2026-10", [kept, gone])
    november = build("2026-11", [kept], billed_history(october))
    assert october.totals.invoiced == 90
    assert november.cases == [] and november.adjustments == [] and november.totals.invoiced == 0


def test_packages_start_from_what_earlier_statements_used() -> None:
    package = ledger.Package("p", 120, dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    first = domain.build(
        "2026-10",
        [case("a", ("e-1", "2026-10-03", 90))],
        domain.History(),
        15,
        [package],
        ledger.BillingMode.PACKAGE,
    )
    assert [(p.used, p.remaining) for p in first.packages] == [(90, 30)]
    history = domain.History(billed_history(first).billed, {"p": 90})
    second = domain.build(
        "2026-11", [case("b", ("e-1", "2026-11-03", 60))], history, 15, [package], ledger.BillingMode.PACKAGE
    )
    assert [(p.used, p.remaining) for p in second.packages] == [(30, 0)]
    assert (second.totals.package, second.totals.invoiced) == (30, 30)


def test_reactions_are_listed_once_with_their_evidence() -> None:
    at = dt.datetime(2026, 10, 3, 9, tzinfo=UTC)
    reaction = domain.Reaction("P1", at, at + dt.timedelta(hours=2), "Met", at, "Recorded")
    pending = domain.Reaction("P2", at, at + dt.timedelta(hours=8), "Pending", None, None)
    cases = [
        domain.CaseRecord("shop/a", "a", INCIDENT, (), reaction),
        domain.CaseRecord("shop/b", "b", INCIDENT, (), pending),
    ]
    october = build("2026-10", cases)
    assert [r.uid for r in october.reactions] == ["a"]
    assert (october.totals.met_recorded, october.totals.met_observed) == (1, 0)
    assert build("2026-11", cases, domain.History(reactions=frozenset({"a"}))).reactions == []


def test_months_between_and_next_month() -> None:
    assert domain.months_between("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01"]
    assert domain.next_month("2026-12") == "2027-01"


def contract(**spec: Any) -> SupportContract:
    body = {
        "metadata": {"name": "acme", "uid": "u-1"},
        "spec": {
            "customer": {"name": "ACME"},
            "reactionTime": "2h",
            "team": [{"name": "anna", "email": "anna@puzzle.ch", "languages": ["de"]}],
            **spec,
        },
    }
    return SupportContract.model_validate(body)


def test_a_month_falls_due_when_it_ends_in_the_contracts_time_zone() -> None:
    zurich = contract(period={"start": "2026-10-01"})
    before = dt.datetime(2026, 10, 31, 22, 59, 59, tzinfo=UTC)  # 23:59:59 in Zurich
    after = dt.datetime(2026, 10, 31, 23, 0, 0, tzinfo=UTC)
    assert billing.billing_since(zurich, before) == "2026-10"
    assert billing.billing_since(zurich, dt.datetime(2026, 12, 5, tzinfo=UTC)) == "2026-12"  # no backfill
    stamped = SupportContract.model_validate(
        {**zurich.model_dump(by_alias=True, mode="json"), "status": {"billingSince": "2026-10"}}
    )
    assert billing.due_months(stamped, [], before) == []
    assert billing.due_months(stamped, [], after) == ["2026-10"]
    assert billing.next_boundary(stamped, before) == after


def test_an_unknown_time_zone_bills_in_utc_instead_of_failing() -> None:
    mars = contract(supportHours={"timeZone": "Mars/Olympus"})
    assert billing.next_boundary(mars, dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) == dt.datetime(
        2026, 11, 1, tzinfo=UTC
    )


def support_case(**spec: Any) -> SupportCase:
    body = {
        "metadata": {"name": "c", "namespace": "shop", "uid": "case-1", **spec.pop("metadata", {})},
        "spec": {
            "contractRef": {"name": "acme"},
            "title": "t",
            "category": "Incident",
            "impact": "Production",
            "reporter": {"name": "P", "email": "p@x.ch"},
            **spec,
        },
    }
    return SupportCase.model_validate(body)


def managed(time: str) -> dict[str, Any]:
    return {
        "managedFields": [
            {"manager": "kubectl", "time": time, "fieldsV1": {"f:spec": {"f:analysisStartedAt": {}}}}
        ]
    }


@pytest.mark.parametrize(
    ("claimed", "written", "grade", "ahead"),
    [
        ("2026-10-03T09:02:00Z", "2026-10-03T09:03:00Z", ReactionEvidence.OBSERVED, False),
        ("2026-10-03T09:02:00Z", "2026-10-03T12:00:00Z", ReactionEvidence.RECORDED, False),
        ("2026-10-03T12:00:00Z", "2026-10-03T09:00:00Z", ReactionEvidence.RECORDED, True),
    ],
    ids=["live", "entered-later", "ahead"],
)
def test_evidence_follows_the_managed_fields_time_of_the_write(
    claimed: str, written: str, grade: ReactionEvidence, ahead: bool
) -> None:
    claim = support_case(state="InAnalysis", analysisStartedAt=claimed, metadata=managed(written))
    now = dt.datetime(2026, 10, 3, 13, tzinfo=UTC)
    ack = evidence.acknowledgement(claim, None, "5m", now)
    assert ack is not None and (ack.evidence, ack.ahead) == (grade, ahead)
    assert ack.observed == dt.datetime.fromisoformat(written.replace("Z", "+00:00"))
    reason = ack.condition("5m").reason
    assert reason == ("ClaimedInFuture" if ahead else grade.value)


def test_without_managed_fields_the_watch_event_is_the_observation() -> None:
    claim = support_case(state="InAnalysis", analysisStartedAt="2026-10-03T09:02:00Z")
    now = dt.datetime(2026, 10, 3, 9, 3, tzinfo=UTC)
    ack = evidence.acknowledgement(claim, None, "5m", now)
    assert ack is not None and ack.observed == now and ack.evidence == ReactionEvidence.OBSERVED


def test_case_billing_releases_a_closed_case_once_all_effort_is_billed_and_retention_is_over() -> None:
    effort = [{"id": "e-1", "member": "anna", "date": "2026-10-03", "duration": 30}]
    closed = support_case(
        state="Closed",
        analysisStartedAt="2026-10-03T09:00:00Z",
        reportedAt="2026-10-03T08:00:00Z",
        effort=effort,
    )
    issued_at = dt.datetime(2026, 11, 1, 0, 0, 5, tzinfo=UTC)
    statement = SupportStatement.model_validate(
        {
            "metadata": {"name": "acme-2026-10"},
            "spec": {
                "contractRef": {"name": "acme"},
                "month": "2026-10",
                "timeZone": "Europe/Zurich",
                "periodStart": "2026-09-30T22:00:00Z",
                "periodEnd": "2026-10-31T23:00:00Z",
                "issuedAt": issued_at.isoformat(),
                "billingMode": "Monthly",
                "incrementMinutes": 15,
                "cases": [
                    {
                        "case": "shop/c",
                        "uid": "case-1",
                        "category": "Incident",
                        "entries": ["e-1"],
                        "effortMinutes": 30,
                        "billedMinutes": 30,
                    }
                ],
                "totals": {},
            },
        }
    )
    kept = contract(records={"retentionDays": 30})
    view = billing.case_billing(closed, kept, [statement], issued_at + dt.timedelta(days=1))
    assert view.billing is not None and view.billing.billed_entries == 1 and not view.billing.releasable
    assert view.recheck_at == issued_at + dt.timedelta(days=30)
    later = billing.case_billing(closed, kept, [statement], issued_at + dt.timedelta(days=30))
    assert later.billing is not None and later.billing.releasable
    unbilled = billing.case_billing(closed, kept, [], issued_at)
    assert unbilled.billing is not None and unbilled.billing.billed_entries == 0
    assert billing.case_billing(support_case(), kept, [statement], issued_at).billing is None


def test_the_operator_may_create_statements_but_never_change_or_delete_them() -> None:
    import yaml

    rbac = Path(__file__).resolve().parents[2] / "deploy" / "base" / "rbac" / "operator.yaml"
    role = next(d for d in yaml.safe_load_all(rbac.read_text()) if d["kind"] == "ClusterRole")
    verbs = {v for r in role["rules"] if "supportstatements" in r["resources"] for v in r["verbs"]}
    assert verbs == {"get", "list", "watch", "create"}
