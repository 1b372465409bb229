"""support_case_queue_position: each open case's place in its contract's queue, computed at scrape time from
the objects the operator holds (domain.queue order: priority class, then reaction deadline), sorted again
only when a case changed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sla_objects import Store, case_object, contract_object, touched
from support_operator.api.v1alpha1 import SupportCase, SupportContract
from support_operator.observability import collector as sla_metrics
from support_operator.observability.collector import SlaCollector
from support_operator.status.case import positions

NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=ZoneInfo("Europe/Zurich"))  # a Wednesday, support hours
HOUR = dt.timedelta(hours=1)
NAME = "support_case_queue_position"


def queue(collector: SlaCollector) -> dict[tuple[str, str, str], float]:
    """(contract, namespace, case) -> position, as a scrape exposes it."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.labels["contract"], s.labels["namespace"], s.labels["case"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == NAME
    }


@pytest.fixture
def store() -> Store:
    made = Store()
    made.add(contract_object("acme"))
    made.add(contract_object("globex"))
    made.add(case_object("shop", "question", "acme", NOW - 3 * HOUR, category="Consultation", impact=None))
    made.add(case_object("shop", "staging", "acme", NOW - 2 * HOUR, impact="NonProduction"))
    made.add(case_object("shop", "outage", "acme", NOW - HOUR))
    made.add(case_object("shop", "older-outage", "acme", NOW - 2 * HOUR))
    made.add(case_object("team-b", "analysed", "acme", NOW - HOUR, state="InAnalysis", analysis_started=NOW))
    made.add(case_object("shop", "closed", "acme", NOW - 4 * HOUR, state="Closed", analysis_started=NOW))
    made.add(case_object("team-b", "not-reconciled", "globex", NOW - HOUR, reaction_state=None))
    made.add(case_object("team-b", "orphan", "missing-contract", NOW - HOUR))
    return made


def test_positions_follow_the_queue_order_per_contract(store: Store) -> None:
    got = queue(SlaCollector(store, clock=NOW.timestamp))
    assert got == {
        # P1 by deadline (earlier report first), then P2, then the consultation; closed cases have none
        ("acme", "shop", "older-outage"): 1,
        ("acme", "shop", "outage"): 2,
        ("acme", "team-b", "analysed"): 3,
        ("acme", "shop", "staging"): 4,
        ("acme", "shop", "question"): 5,
        # a case the operator has not statused yet already stands in the queue; no contract, no queue
        ("globex", "team-b", "not-reconciled"): 1,
    }


def test_positions_are_those_the_case_planner_computes(store: Store) -> None:
    got = queue(SlaCollector(store, clock=NOW.timestamp))
    for name, raw in store.contracts.items():
        contract = SupportContract.from_k8s(raw)
        own = [c for c in store.cases.values() if c["spec"]["contractRef"]["name"] == name]
        cases = [SupportCase.from_k8s({**c, "status": {}}) for c in own]  # the order reads no status
        expected = {(name, *key.split("/")): float(p) for key, p in positions(cases, contract).items()}
        assert {k: v for k, v in got.items() if k[0] == name} == expected


def test_the_queue_is_sorted_again_only_when_a_case_changed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sorts: list[int] = []
    original = sla_metrics._queue_rows

    def counting(cases):
        sorts.append(len(cases))
        return original(cases)

    monkeypatch.setattr(sla_metrics, "_queue_rows", counting)
    unreadable = case_object("shop", "unreadable", "acme", NOW - HOUR)
    unreadable["spec"]["category"] = "Question"  # parsed again at every scrape: no series, no new sort
    store.add(unreadable)
    now = [NOW]
    collector = SlaCollector(store, clock=lambda: now[0].timestamp())
    first = queue(collector)
    now[0] = NOW + HOUR  # time alone does not reorder the queue
    assert queue(collector) == first
    assert len(sorts) == 1

    # A contract's status write re-derives nothing, so the queue stays as it was.
    store.contracts["acme"] = touched(store.contracts["acme"], status={"teamSize": 4})
    assert queue(collector) == first and len(sorts) == 1

    # A new production incident reported earlier goes first; the others move down.
    store.add(case_object("shop", "earliest", "acme", NOW - 5 * HOUR))
    moved = queue(collector)
    assert len(sorts) == 2
    assert moved[("acme", "shop", "earliest")] == 1
    assert moved[("acme", "shop", "question")] == 6

    # Closing a case takes it out of the queue.
    key = ("shop", "earliest")
    store.cases[key] = touched(store.cases[key], state="Closed", analysisStartedAt="2026-11-25T09:00:00Z")
    assert queue(collector) == first and len(sorts) == 3

    del store.cases[("shop", "outage")]
    after = queue(collector)
    assert len(sorts) == 4
    assert ("acme", "shop", "outage") not in after and after[("acme", "shop", "question")] == 4
