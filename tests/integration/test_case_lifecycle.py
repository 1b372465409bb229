"""The case lifecycle on the real API server with the operator running: status, queue, SLA, recovery."""

from __future__ import annotations

import datetime as dt
import time

from support_resources import Resources, condition, iso, now, reaction_state, ready, sample

from support_operator.testing.wait import eventually


def test_queue_orders_production_then_non_production_then_consultation(
    operator, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    reported = now() - dt.timedelta(minutes=5)
    # Created lowest priority first; the consultation was even reported earliest.
    resources.case(
        namespace,
        contract,
        name="consultation",
        category="Consultation",
        impact=None,
        reportedAt=iso(reported - dt.timedelta(hours=1)),
    )
    resources.case(namespace, contract, name="staging-late", impact="NonProduction", reportedAt=iso(reported))
    resources.case(
        namespace,
        contract,
        name="staging-early",
        impact="NonProduction",
        reportedAt=iso(reported - dt.timedelta(minutes=30)),
    )
    resources.case(namespace, contract, name="production", impact="Production", reportedAt=iso(reported))

    expected = {
        "production": (1, "P1"),
        "staging-early": (2, "P2"),
        "staging-late": (3, "P2"),
        "consultation": (4, "P3"),
    }
    for name, (position, priority) in expected.items():
        case = resources.wait_case(
            namespace, name, lambda c, p=position: ready(c) and c["status"].get("queuePosition") == p
        )
        assert case["status"]["priority"] == priority
        assert case["status"]["observedGeneration"] == case["metadata"]["generation"]
        assert condition(case, "Ready") == case["status"]["conditions"][0]  # Ready first

    counts = resources.wait_contract(
        contract, lambda c: (c.get("status") or {}).get("openCases", {}).get("total") == 4
    )
    assert counts["status"]["openCases"] == {"p1": 1, "p2": 2, "p3": 1, "total": 4}

    # Closing the production case moves everybody up.
    resources.patch_case(namespace, "production", {"state": "Resolved", "analysisStartedAt": iso(now())})
    resources.wait_case(namespace, "consultation", lambda c: c["status"].get("queuePosition") == 3)
    closed = resources.get_case(namespace, "production")
    assert "queuePosition" not in closed["status"] and closed["status"]["resolvedAt"]


def test_reaction_met_or_breached_by_when_analysis_started(
    operator, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    reported = now() - dt.timedelta(days=10)
    resources.case(
        namespace,
        contract,
        name="in-time",
        state="InAnalysis",
        reportedAt=iso(reported),
        analysisStartedAt=iso(reported + dt.timedelta(minutes=1)),
    )
    resources.case(
        namespace,
        contract,
        name="late",
        state="InAnalysis",
        reportedAt=iso(reported),
        analysisStartedAt=iso(reported + dt.timedelta(days=9)),
    )
    resources.case(namespace, contract, name="unanswered", reportedAt=iso(reported))

    assert reaction_state(resources.wait_case(namespace, "in-time", ready)) == "Met"
    assert reaction_state(resources.wait_case(namespace, "late", ready)) == "Breached"
    unanswered = resources.wait_case(namespace, "unanswered", ready)
    assert reaction_state(unanswered) == "Breached"  # the deadline passed long ago, no edit needed
    assert [h["type"] for h in unanswered["status"]["history"]] == ["Accepted", "ReactionBreached"]
    breach_events = eventually(
        lambda: [e for e in resources.events_for(namespace, "unanswered") if e.reason == "ReactionBreached"],
        what="the ReactionBreached Event",
    )
    assert [e.type for e in breach_events] == ["Warning"]

    # Acknowledging a pending case in time (what `kubectl support ack` does) meets the reaction.
    resources.case(namespace, contract, name="fresh", impact="NonProduction", reportedAt=iso(now()))
    assert reaction_state(resources.wait_case(namespace, "fresh", ready)) == "Pending"
    resources.patch_case(namespace, "fresh", {"state": "InAnalysis", "analysisStartedAt": iso(now())})
    met = resources.wait_case(namespace, "fresh", lambda c: reaction_state(c) == "Met")
    assert met["status"]["reaction"]["analysisStartedAt"]


def test_breach_is_written_once_at_the_deadline_without_polling(
    operator, resources: Resources, namespace: str
) -> None:
    # Pikett around the clock with a 20 s reaction time: a deadline that passes while the test watches.
    add_ons = {
        **sample("supportcontract")["spec"]["addOns"],
        "pikett": {"enabled": True, "reactionTime": "20s"},
    }
    contract = resources.contract(addOns=add_ons)["metadata"]["name"]
    reported = now().replace(microsecond=0)
    resources.case(namespace, contract, name="outage", reportedAt=iso(reported))
    # Pending, and the intake snapshot (written once, in its own queue) recorded.
    pending = resources.wait_case(
        namespace, "outage", lambda c: reaction_state(c) == "Pending" and "diagnosis" in c["status"]
    )
    assert pending["status"]["reaction"]["calendar"] == "Pikett"
    deadline = dt.datetime.fromisoformat(pending["status"]["reaction"]["deadline"])
    assert deadline == reported + dt.timedelta(seconds=20)

    # While pending, nothing is written: the resourceVersion stays put.
    version = resources.get_case(namespace, "outage")["metadata"]["resourceVersion"]
    time.sleep(min(8.0, max((deadline - now()).total_seconds() - 3, 0)))
    assert resources.get_case(namespace, "outage")["metadata"]["resourceVersion"] == version

    breached = resources.wait_case(namespace, "outage", lambda c: reaction_state(c) == "Breached", timeout=40)
    assert now() >= deadline
    breaches = [h for h in breached["status"]["history"] if h["type"] == "ReactionBreached"]
    assert len(breaches) == 1
    assert dt.datetime.fromisoformat(breaches[0]["at"]) >= deadline


def test_case_waits_for_a_missing_contract_and_recovers(
    operator, resources: Resources, namespace: str
) -> None:
    missing = f"later-{namespace[-6:]}"
    resources.case(namespace, missing, name="early-bird", impact="NonProduction", reportedAt=iso(now()))
    waiting = resources.wait_case(
        namespace, "early-bird", lambda c: (condition(c, "Ready") or {}).get("reason") == "ContractNotFound"
    )
    assert condition(waiting, "Ready")["status"] == "False"
    assert "reaction" not in waiting["status"]
    eventually(
        lambda: any(e.reason == "ContractNotFound" for e in resources.events_for(namespace, "early-bird"))
    )

    resources.contract(name=missing)
    recovered = resources.wait_case(namespace, "early-bird", ready)
    assert reaction_state(recovered) == "Pending"


def test_suspended_contract_holds_its_cases(operator, resources: Resources, namespace: str) -> None:
    contract = resources.contract(suspended=True)["metadata"]["name"]
    suspended = resources.wait_contract(
        contract, lambda c: (condition(c, "Ready") or {}).get("reason") == "Suspended"
    )
    assert condition(suspended, "Ready")["status"] == "False"
    resources.case(namespace, contract, name="on-hold", impact="NonProduction", reportedAt=iso(now()))
    held = resources.wait_case(
        namespace, "on-hold", lambda c: (condition(c, "Ready") or {}).get("reason") == "ContractSuspended"
    )
    assert condition(held, "Ready")["status"] == "False"

    resources.objects.patch_cluster_custom_object(
        "support.puzzle.ch", "v1alpha1", "supportcontracts", contract, {"spec": {"suspended": False}}
    )
    resources.wait_case(namespace, "on-hold", ready)


def test_understaffed_contract_is_reported(operator, resources: Resources) -> None:
    team = [
        {"name": "anna", "email": "anna@puzzle.ch", "languages": ["de"]},
        {"name": "luca", "email": "luca@puzzle.ch", "languages": ["it", "de"]},
        {"name": "marc", "email": "marc@puzzle.ch", "languages": ["fr"]},
    ]
    contract = resources.contract(team=team)["metadata"]["name"]
    staffed = resources.wait_contract(contract, lambda c: condition(c, "TeamStaffed") is not None)
    assert condition(staffed, "TeamStaffed")["status"] == "False"
    assert condition(staffed, "TeamStaffed")["reason"] == "TooFewSpeakers"
    assert condition(staffed, "Ready")["status"] == "True"  # understaffing is our problem, not the customer's
    eventually(lambda: any(e.reason == "TooFewSpeakers" for e in resources.events_for("default", contract)))


def test_the_operator_never_writes_spec(operator, resources: Resources, namespace: str) -> None:
    """managedFields record who wrote which field: the operator's writes are all status."""
    contract = resources.contract()["metadata"]["name"]
    resources.case(namespace, contract, name="watched", impact="Production", reportedAt=iso(now()))
    resources.wait_case(namespace, "watched", ready)
    resources.patch_case(namespace, "watched", {"state": "InAnalysis", "analysisStartedAt": iso(now())})
    resources.wait_case(namespace, "watched", lambda c: reaction_state(c) == "Met")
    resources.wait_contract(
        contract, lambda c: (c.get("status") or {}).get("openCases", {}).get("total") == 1
    )
    for obj in (resources.get_case(namespace, "watched"), resources.get_contract(contract)):
        ours = [m for m in obj["metadata"]["managedFields"] if m["manager"].startswith("support-operator")]
        assert ours, "the operator wrote this object's status"
        assert all(m.get("subresource") == "status" for m in ours), ours
        assert all(set(m["fieldsV1"]) <= {"f:status"} for m in ours), ours
