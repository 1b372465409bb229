"""The pure planners behind the controllers: spec + clock -> desired status, without an API server."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from support_operator.api.v1alpha1 import ConfirmationStatus, OpenCases, SupportCase, SupportContract
from support_operator.controllers.workqueue import WorkQueue
from support_operator.kube.patch import merge_patch
from support_operator.notify.confirmation import CaseConfirmation, render
from support_operator.notify.smtp import SmtpSettings
from support_operator.status.case import MailOutcome, plan_case, positions
from support_operator.status.contract import availability, plan_contract

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)  # Thursday 11:00 in Zurich


def contract(**changes: Any) -> SupportContract:
    raw = yaml.safe_load((SAMPLES / "supportcontract.yaml").read_text())
    raw["metadata"].update(generation=1, uid="c-uid")
    raw["spec"].update(changes)
    return SupportContract.from_k8s(raw)


def case(name: str = "outage", status: dict[str, Any] | None = None, **spec: Any) -> SupportCase:
    raw: dict[str, Any] = {
        "apiVersion": "support.puzzle.ch/v1alpha1",
        "kind": "SupportCase",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": "2026-11-26T09:00:00Z",
        },
        "spec": {
            "contractRef": {"name": "acme-openshift"},
            "title": "Shop down",
            "category": "Incident",
            "impact": "NonProduction",
            "reporter": {"name": "Petra", "email": "petra@acme.example"},
            **spec,
        },
    }
    if status is not None:
        raw["status"] = status
    return SupportCase.from_k8s(raw)


def replan(previous: SupportCase, now: dt.datetime, **spec: Any) -> SupportCase:
    """The case as the API server would hold it after the operator wrote the planned status."""
    the_contract = contract()
    plan = plan_case(previous, the_contract, availability(the_contract, now), 1, None, now)
    raw = previous.to_json_dict()
    raw["status"] = plan.status.to_json_dict()
    raw["spec"].update(spec)
    return SupportCase.from_k8s(raw)


def test_new_case_gets_priority_deadline_and_history() -> None:
    the_contract = contract()
    plan = plan_case(case(), the_contract, availability(the_contract, NOW), 1, None, NOW)
    status = plan.status
    assert status.priority == "P2"
    assert status.reaction is not None and status.reaction.state == "Pending"
    # Reported Thursday 10:00 Zurich (the creation time), 2h of support time later.
    assert status.reaction.deadline == dt.datetime(2026, 11, 26, 11, 0, tzinfo=dt.UTC)
    assert plan.recheck_at is not None and plan.recheck_at > status.reaction.deadline
    assert [h.type for h in status.history or []] == ["Accepted"]
    assert [c.type for c in status.conditions or []] == ["Ready", "Confirmed"]
    assert plan.wants_confirmation


def test_unchanged_inputs_plan_the_same_status() -> None:
    first = replan(case(), NOW)
    the_contract = contract()
    later = NOW + dt.timedelta(minutes=10)
    again = plan_case(first, the_contract, availability(the_contract, later), 1, None, later)
    assert merge_patch(first.status.to_json_dict(), again.status.to_json_dict()) == {}  # type: ignore[union-attr]
    assert again.events == []


def test_breach_at_the_deadline_is_recorded_once() -> None:
    pending = replan(case(), NOW)
    after = dt.datetime(2026, 11, 26, 11, 0, 1, tzinfo=dt.UTC)
    breached = replan(pending, after)
    assert breached.status and breached.status.reaction and breached.status.reaction.state == "Breached"
    again = replan(breached, after + dt.timedelta(hours=1))
    assert [h.type for h in again.status.history or []].count("ReactionBreached") == 1  # type: ignore[union-attr]


def test_settled_result_survives_reclassification() -> None:
    met = replan(case(state="InAnalysis", analysisStartedAt="2026-11-26T09:30:00Z"), NOW)
    assert met.status and met.status.reaction and met.status.reaction.state == "Met"
    raw = met.to_json_dict()
    raw["spec"]["impact"] = "Production"  # now a Pikett case with a 1h reaction
    later = replan(SupportCase.from_k8s(raw), NOW)
    assert later.status and later.status.reaction
    assert later.status.reaction.state == "Met"
    assert later.status.reaction.calendar == "Pikett"


def test_closed_case_keeps_its_reaction_when_the_calendar_changes() -> None:
    closed = replan(case(state="Closed", analysisStartedAt="2026-11-26T09:30:00Z"), NOW)
    assert closed.status and closed.status.reaction
    before = closed.status.reaction
    edited = contract(reactionTime="8h")
    plan = plan_case(closed, edited, availability(edited, NOW), None, None, NOW)
    assert plan.status.reaction == before
    assert plan.status.queue_position is None and plan.status.closed_at == NOW


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"suspended": True}, "ContractSuspended"),
        ({"period": {"start": "2027-01-01"}}, "ContractNotStarted"),
        ({"period": {"start": "2025-01-01", "end": "2026-06-30"}}, "ContractExpired"),
    ],
)
def test_unusable_contract_holds_the_case(changes: dict[str, Any], reason: str) -> None:
    held = contract(**changes)
    plan = plan_case(case(), held, availability(held, NOW), None, None, NOW)
    ready = (plan.status.conditions or [])[0]
    assert (ready.type, ready.status, ready.reason) == ("Ready", "False", reason)
    assert plan.status.reaction is None and not plan.wants_confirmation
    assert any(e.reason == reason and e.type == "Warning" for e in plan.events)


def test_missing_contract() -> None:
    plan = plan_case(case(), None, None, None, None, NOW)
    assert (plan.status.conditions or [])[0].reason == "ContractNotFound"


def test_mail_outcomes_become_conditions() -> None:
    the_contract = contract()
    usable = availability(the_contract, NOW)
    failed = plan_case(case(), the_contract, usable, 1, MailOutcome(error="SMTP down"), NOW)
    confirmed = next(c for c in failed.status.conditions or [] if c.type == "Confirmed")
    assert (confirmed.status, confirmed.reason) == ("False", "EmailFailed")
    sent = ConfirmationStatus(sent_at=NOW, message_id="<m@x>", recipients=["petra@acme.example"])
    done = plan_case(case(), the_contract, usable, 1, MailOutcome(sent=sent), NOW)
    assert done.status.confirmation == sent and not done.wants_confirmation
    assert "ConfirmationSent" in [h.type for h in done.status.history or []]


def test_queue_positions_follow_priority_then_deadline() -> None:
    the_contract = contract()
    cases = [
        case("question", category="Consultation", impact=None, reportedAt="2026-11-26T07:00:00Z"),
        case("staging", impact="NonProduction", reportedAt="2026-11-26T08:00:00Z"),
        case("prod", impact="Production", reportedAt="2026-11-26T09:00:00Z"),
        case("closed", impact="Production", state="Closed", analysisStartedAt="2026-11-26T09:00:00Z"),
    ]
    assert positions(cases, the_contract) == {"shop/prod": 1, "shop/staging": 2, "shop/question": 3}


def test_contract_status_conditions_and_holidays() -> None:
    plan = plan_contract(contract(), None, OpenCases(p1=1, total=1), NOW)
    status = plan.status
    assert [c.type for c in status.conditions or []] == ["Ready", "TeamStaffed"]
    assert all(c.status == "True" for c in status.conditions or [])
    days = {h.date for h in status.holidays or []}
    assert dt.date(2026, 12, 25) in days and dt.date(2027, 1, 2) in days  # this year and the next
    assert dt.date(2026, 12, 24) in days  # the sample's extra closed date
    assert status.team_size == 3 and status.open_cases == OpenCases(p1=1, total=1)
    assert plan.recheck_at == dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC)  # New Year in Zurich


def test_team_must_be_three_who_speak_the_customer_language() -> None:
    raw = contract().to_json_dict()["spec"]["team"]
    two = plan_contract(contract(team=raw[:2]), None, OpenCases(), NOW)
    assert (two.status.conditions or [])[1].reason == "TooFewMembers"
    french = copy.deepcopy(raw)
    for member in french[:2]:
        member["languages"] = ["fr"]
    speakers = plan_contract(contract(team=french, language="de"), None, OpenCases(), NOW)
    assert (speakers.status.conditions or [])[1].reason == "TooFewSpeakers"


def test_merge_patch_removes_dropped_keys_and_replaces_lists() -> None:
    current = {"a": 1, "b": {"x": 1, "y": 2}, "c": [1, 2], "gone": True}
    desired = {"a": 1, "b": {"x": 1}, "c": [1]}
    assert merge_patch(current, desired) == {"b": {"y": None}, "c": [1], "gone": None}
    assert merge_patch(desired, desired) == {}


def test_work_queue_collapses_retries_and_keeps_the_earliest_timer() -> None:
    seen: list[str] = []
    failures = {"flaky": 1}

    async def reconcile(key: str) -> None:
        seen.append(key)
        if failures.get(key):
            failures[key] -= 1
            raise RuntimeError("transient")

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue(reconcile, workers=1, base_backoff=0.05)
        queue.start()
        for _ in range(3):
            queue.add("a")  # collapses into one reconcile
        queue.add("flaky")
        queue.add_after("timed", 0.05)
        queue.add_after("timed", 10)  # a later schedule does not push the earlier one back
        await asyncio.sleep(0.4)
        await queue.stop()

    asyncio.run(scenario())
    assert seen.count("a") == 1
    assert seen.count("flaky") == 2  # failed once, retried after backoff
    assert seen.count("timed") == 1


def test_confirmation_mail_in_the_contract_language() -> None:
    confirmation = CaseConfirmation(
        case_uid="1234",
        namespace="shop",
        case="outage",
        title="Shop down",
        priority="P1",
        reported_at=NOW,
        deadline=NOW + dt.timedelta(hours=1),
        time_zone="Europe/Zurich",
        language="de",
        sender="support@puzzle.ch",
        reporter_name="Petra",
        recipients=("petra@acme.example", "anna@puzzle.ch"),
    )
    message = render(confirmation)
    assert message["Subject"] == "[Case shop/outage] Supportfall outage bestätigt (P1): Shop down"
    assert message["Message-ID"] == "<case-1234@support-operator.local>"
    assert "Reaktion bis:    2026-11-26 12:00 CET" in message.get_content()
    english = render(CaseConfirmation(**{**confirmation.__dict__, "language": "en"}))
    assert english["Subject"].startswith("[Case shop/outage] Support case outage confirmed")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "no 'host'"),
        ({"host": "h", "security": "ssl3"}, "security"),
        ({"host": "h", "port": "x"}, "port"),
    ],
)
def test_smtp_settings_refuse_bad_secrets(data: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SmtpSettings.from_secret_data(data)


def test_smtp_settings_defaults() -> None:
    assert SmtpSettings.from_secret_data({"host": "mail"}).port == 587
    assert SmtpSettings.from_secret_data({"host": "mail", "security": "tls"}).port == 465


def test_a_scope_of_2000_namespaces_fits_the_status_the_api_accepts() -> None:
    """Found by the scale benchmark: 2,000 granted namespaces made every contract status write a 422."""
    from support_operator.api.v1alpha1 import SupportContractStatus
    from support_operator.api.v1alpha1.contract import SkippedNamespace
    from support_operator.api.v1alpha1.reasons import ACCESS_PROVISIONED, PROVISIONED
    from support_operator.status.access import AccessResult
    from support_operator.status.conditions import Desired

    granted = [f"team-{i:04d}" for i in range(2000)]
    skipped = [SkippedNamespace(name=f"kube-{i}", reason="protected") for i in range(150)]
    access = AccessResult(
        Desired(ACCESS_PROVISIONED, True, PROVISIONED, "3 identities in 2000 namespace(s)"),
        [],
        granted_namespaces=granted,
        skipped=skipped,
    )
    status = plan_contract(contract(), None, OpenCases(p1=0, p2=0, p3=0, total=0), NOW, access=access).status
    accepted = SupportContractStatus.model_validate(status.to_json_dict())  # the CRD's limits, from the model
    assert accepted.granted_namespaces == granted[:1000]
    assert accepted.skipped_namespaces is not None and len(accepted.skipped_namespaces) == 100
