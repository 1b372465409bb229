"""What a change re-queues (controllers/dependents.py), row by row: the facts of the old and the new object
in, the keys per controller out. A status write of our own must re-queue nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from support_operator.controllers.dependents import (
    Requeue,
    case_dependents,
    case_facts,
    contract_dependents,
    contract_facts,
)

Obj = dict[str, Any]
EFFORT = {"id": "e-1", "member": "anna", "date": "2026-11-03", "duration": "1h"}
APPROVAL = {"approvedBy": "ops@acme.example", "approvedAt": "2026-11-03T10:00:00Z", "duration": "2h"}


def case(**spec: Any) -> Obj:
    return {
        "kind": "SupportCase",
        "metadata": {
            "name": "outage",
            "namespace": "shop",
            "generation": 1,
            "resourceVersion": "10",
            "creationTimestamp": "2026-11-03T08:00:00Z",
            "labels": {"team": "web"},
        },
        "spec": {
            "contractRef": {"name": "a"},
            "title": "Shop down",
            "category": "Incident",
            "impact": "Production",
            "state": "New",
            "reportedAt": "2026-11-03T09:00:00+01:00",
            **spec,
        },
    }


def spec_edit(obj: Obj, **spec: Any) -> Obj:
    new = copy.deepcopy(obj)
    new["spec"].update(spec)
    new["metadata"]["generation"] += 1
    new["metadata"]["resourceVersion"] = "11"
    return new


def meta_edit(obj: Obj, **metadata: Any) -> Obj:
    new = copy.deepcopy(obj)
    new["metadata"].update(metadata)
    new["metadata"]["resourceVersion"] = "11"
    return new


def own_status_write(obj: Obj) -> Obj:
    new = copy.deepcopy(obj)
    new["status"] = {"observedGeneration": 1, "priority": "P1", "queuePosition": 3, "conditions": []}
    new["metadata"]["resourceVersion"] = "11"
    return new


BASE = case()
CLOSED = case(state="Closed")
ALL_OF_A = {"contract_status": {"a"}, "queue_order": {"a"}, "access": {"a"}}
LEDGER_OF_A = {"contract_status": {"a"}, "access": {"a"}}

CASE_ROWS = [
    pytest.param(None, BASE, Requeue(case_status=True, **ALL_OF_A), id="new case"),
    pytest.param(BASE, None, Requeue(**ALL_OF_A), id="deleted case"),
    pytest.param(CLOSED, None, Requeue(**ALL_OF_A), id="deleted closed case"),
    pytest.param(BASE, own_status_write(BASE), Requeue(), id="own status write: same facts, nothing"),
    pytest.param(
        BASE, spec_edit(BASE, impact="NonProduction"), Requeue(True, **ALL_OF_A), id="priority change"
    ),
    pytest.param(
        BASE,
        spec_edit(BASE, reportedAt="2026-11-03T07:00:00+01:00"),
        Requeue(True, queue_order={"a"}, access={"a"}),
        id="report time change: the order, not the counts",
    ),
    pytest.param(
        BASE, spec_edit(BASE, effort=[EFFORT]), Requeue(True, **LEDGER_OF_A), id="effort entry added"
    ),
    pytest.param(
        CLOSED, spec_edit(CLOSED, effort=[EFFORT]), Requeue(True, **LEDGER_OF_A), id="effort on a closed case"
    ),
    pytest.param(
        BASE,
        spec_edit(BASE, affectedNamespaces=["shop-prod"]),
        Requeue(True, **LEDGER_OF_A),
        id="affected ns",
    ),
    pytest.param(
        BASE, spec_edit(BASE, elevationApproval=APPROVAL), Requeue(True, **LEDGER_OF_A), id="approval given"
    ),
    pytest.param(BASE, spec_edit(BASE, state="Closed"), Requeue(True, **ALL_OF_A), id="closed"),
    pytest.param(
        BASE, spec_edit(BASE, state="InAnalysis"), Requeue(True, **LEDGER_OF_A), id="open to open: no queue"
    ),
    pytest.param(
        BASE,
        spec_edit(BASE, contractRef={"name": "b"}),
        Requeue(True, contract_status={"a", "b"}, queue_order={"a", "b"}, access={"a", "b"}),
        id="contractRef moved: both contracts",
    ),
    pytest.param(BASE, spec_edit(BASE, title="Shop slow"), Requeue(True), id="title: the case itself only"),
    pytest.param(BASE, meta_edit(BASE, labels={"team": "shop"}), Requeue(True), id="labels: the case only"),
    pytest.param(
        BASE,
        meta_edit(BASE, annotations={"support.puzzle.ch/snapshot": "requested"}),
        Requeue(True),
        id="annotations: the case only",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CASE_ROWS)
def test_case_dependents(old: Obj | None, new: Obj | None, expected: Requeue) -> None:
    assert case_dependents(case_facts(old), case_facts(new)) == expected


def test_case_facts_of_unreadable_category_have_no_priority() -> None:
    facts = case_facts(case(category="Gossip"))
    assert facts is not None and facts.priority is None and facts.open
    assert case_facts(case(category="Consultation", impact=None)).priority == "P3"  # type: ignore[union-attr]
    assert case_facts(None) is None


def contract(generation: int = 1, ready: str | None = "Active", access: bool = True, rv: str = "5") -> Obj:
    obj: Obj = {
        "kind": "SupportContract",
        "metadata": {"name": "a", "generation": generation, "resourceVersion": rv},
        "spec": {"reactionTime": "2h", **({"access": {"mode": "Personal"}} if access else {})},
    }
    if ready is not None:
        obj["status"] = {
            "openCases": {"p1": 1, "total": 1},
            "conditions": [{"type": "Staffed", "reason": "Staffed"}, {"type": "Ready", "reason": ready}],
        }
    return obj


EVERYTHING = Requeue(all_cases_of={"a"}, contract_status={"a"}, access={"a"}, queue_order={"a"})
CONTRACT_ROWS = [
    pytest.param(None, contract(), EVERYTHING, id="new contract"),
    pytest.param(contract(), contract(generation=2), EVERYTHING, id="generation: all cases, queue, access"),
    pytest.param(
        contract(ready=None),
        contract(ready="Active"),
        Requeue(all_cases_of={"a"}, access={"a"}),
        id="first Ready: cases and access",
    ),
    pytest.param(
        contract(),
        contract(ready="Suspended"),
        Requeue(all_cases_of={"a"}, access={"a"}),
        id="ready reason: cases and access",
    ),
    pytest.param(contract(), contract(rv="6"), Requeue(), id="own status write (counts): nothing"),
    pytest.param(
        contract(),
        None,
        Requeue(all_cases_of={"a"}, access={"a"}, queue_order={"a"}),
        id="deleted: everything but its own status",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CONTRACT_ROWS)
def test_contract_dependents(old: Obj | None, new: Obj | None, expected: Requeue) -> None:
    assert contract_dependents(contract_facts(old), contract_facts(new), "a") == expected


def test_contract_facts() -> None:
    facts = contract_facts(contract(access=False, ready="Expired"))
    assert facts is not None and (facts.generation, facts.ready_reason, facts.access) == (1, "Expired", False)
    assert contract_facts(contract(ready=None)).ready_reason is None  # type: ignore[union-attr]
