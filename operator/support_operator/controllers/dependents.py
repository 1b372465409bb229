"""What a change re-queues, decided from the facts each controller reads, never from whole objects: a
status write of our own changes no facts and re-queues nothing; a new case re-queues itself, its contract's
summary and the queue order of that contract, not its neighbours. Pure; tests/unit/test_dependents.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from support_operator.domain.queue import priority_class
from support_operator.domain.sla import Category, Impact

OPEN_STATES = frozenset({"New", "InAnalysis", "WaitingForCustomer"})


@dataclass(frozen=True)
class CaseFacts:
    """What of a SupportCase the controllers read, taken from the raw object without parsing it."""

    contract: str
    open: bool
    priority: str | None  # P1..P3; None when category or impact are unreadable
    generation: int | None
    queue_inputs: tuple[Any, ...] = ()  # category/impact and report time: the deadline, so the order
    ledger_inputs: tuple[Any, ...] = ()  # effort entries (append-only: their count), namespaces, approval
    meta: tuple[Any, ...] = ()  # labels and annotations (snapshot requests, intake threads)


@dataclass(frozen=True)
class ContractFacts:
    generation: int | None
    ready_reason: str | None  # the reason in status (Ready): cases follow the contract's usability
    access: bool


@dataclass
class Requeue:
    """Keys to re-queue, by controller."""

    case_status: bool = False  # the changed case itself
    all_cases_of: set[str] = field(default_factory=set)  # contracts whose every case reconciles again
    contract_status: set[str] = field(default_factory=set)
    access: set[str] = field(default_factory=set)
    queue_order: set[str] = field(default_factory=set)


def case_facts(obj: dict[str, Any] | None) -> CaseFacts | None:
    if obj is None:
        return None
    spec, metadata = obj.get("spec") or {}, obj.get("metadata") or {}
    category, impact = spec.get("category", "Incident"), spec.get("impact") or "NonProduction"
    try:
        priority: str | None = priority_class(Category(category), Impact(impact)).label
    except ValueError:
        priority = None
    return CaseFacts(
        contract=(spec.get("contractRef") or {}).get("name", ""),
        open=spec.get("state", "New") in OPEN_STATES,
        priority=priority,
        generation=metadata.get("generation"),
        queue_inputs=(
            category,
            spec.get("impact"),
            spec.get("reportedAt"),
            metadata.get("creationTimestamp"),
        ),
        ledger_inputs=(
            len(spec.get("effort") or []),
            tuple(spec.get("affectedNamespaces") or ()),
            repr(spec.get("elevationApproval")),
            spec.get("state"),
        ),
        meta=(repr(metadata.get("labels")), repr(metadata.get("annotations"))),
    )


def contract_facts(obj: dict[str, Any] | None) -> ContractFacts | None:
    if obj is None:
        return None
    ready = next(
        (
            c.get("reason")
            for c in (obj.get("status") or {}).get("conditions") or []
            if c.get("type") == "Ready"
        ),
        None,
    )
    return ContractFacts(
        obj["metadata"].get("generation"), ready, bool((obj.get("spec") or {}).get("access"))
    )


def case_dependents(old: CaseFacts | None, new: CaseFacts | None) -> Requeue:
    """A case appeared, changed or went. `old` is None for a new case, `new` None for a deleted one."""
    due = Requeue()
    if new is not None and (old is None or (old.generation, old.meta) != (new.generation, new.meta)):
        due.case_status = True
    contracts = {f.contract for f in (old, new) if f is not None}
    summary = _summary(old) != _summary(new)  # open-case counts
    ordered = _order(old) != _order(new)  # the queue
    ledger = _ledger(old) != _ledger(new)  # effort, elevation
    if summary or ledger:
        due.contract_status |= contracts
    if summary or ordered:
        due.queue_order |= contracts
    if summary or ledger or ordered:
        due.access |= contracts  # an open production incident elevates; its end revokes
    return due


def contract_dependents(old: ContractFacts | None, new: ContractFacts | None, name: str) -> Requeue:
    """A contract appeared, changed (spec or status) or went."""
    due = Requeue()
    if new is None or old is None or old.generation != new.generation:
        # Deadlines, entitlement and availability follow the spec: everything reads it.
        due.all_cases_of.add(name)
        due.queue_order.add(name)
        due.access.add(name)
        if new is not None:
            due.contract_status.add(name)
    elif old.ready_reason != new.ready_reason:
        due.all_cases_of.add(name)  # became usable or unusable (expired, suspended): cases wait or resume
        due.access.add(name)
    return due


def _summary(facts: CaseFacts | None) -> tuple[Any, ...] | None:
    return None if facts is None else (facts.contract, facts.open, facts.priority)


def _order(facts: CaseFacts | None) -> tuple[Any, ...] | None:
    return None if facts is None or not facts.open else (facts.contract, facts.queue_inputs)


def _ledger(facts: CaseFacts | None) -> tuple[Any, ...] | None:
    return None if facts is None else (facts.contract, facts.ledger_inputs)
