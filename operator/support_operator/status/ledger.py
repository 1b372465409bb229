"""The effort ledger of a contract, from the API models to status fields and the monthly statement. Pure.

The domain (`support_operator.domain.ledger`) does the arithmetic; this module maps SupportContract and
SupportCase to its inputs and its results back to the status models.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from support_operator.api.v1alpha1 import (
    EffortTotals,
    MonthlyUsage,
    PackageBalance,
    PendingKnowledgeTransfer,
    SupportCase,
    SupportContract,
    SupportContractStatus,
    TrainingObligation,
)
from support_operator.domain import ledger
from support_operator.status.conditions import EventNote

MAX_MONTHS = 36  # status.months holds the most recent months only


@dataclass(frozen=True)
class LedgerView:
    """`status_fields`: snake_case SupportContractStatus fields (for model_copy(update=...)); `case_totals`:
    status.effort per case, keyed by namespace/name; `recheck_at`: the next package expiry."""

    status_fields: dict[str, Any]
    case_totals: dict[str, EffortTotals] = field(default_factory=dict)
    events: list[EventNote] = field(default_factory=list)
    recheck_at: dt.datetime | None = None


def case_key(case: SupportCase) -> str:
    return f"{case.metadata.namespace}/{case.metadata.name}"


def efforts_of(case: SupportCase) -> list[ledger.Effort]:
    category = case.spec.category
    return [
        ledger.Effort(case_key(case), category, entry.member, entry.date, entry.minutes())
        for entry in case.spec.effort or ()
    ]


def packages_of(contract: SupportContract) -> list[ledger.Package]:
    return [
        ledger.Package(p.name, p.hours * 60, p.purchased_on, p.expires_on)
        for p in contract.spec.add_ons.packages or ()
    ]


def trainings_of(contract: SupportContract) -> list[ledger.Training]:
    return [ledger.Training(t.member, t.date, t.days) for t in contract.spec.trainings or ()]


def transfers_of(contract: SupportContract) -> list[tuple[str, dt.date]]:
    return [(k.member, k.completed_on) for k in contract.spec.knowledge_transfers or ()]


def effort_totals(case: SupportCase, increment_minutes: int) -> EffortTotals | None:
    """status.effort of a case; None while it has no entries."""
    entries = efforts_of(case)
    if not entries:
        return None
    billed = sum(c.minutes for c in ledger.charges(entries, increment_minutes))
    return EffortTotals(
        entries=len(entries), total_minutes=sum(e.minutes for e in entries), billable_minutes=billed
    )


def zone_of(contract: SupportContract) -> dt.tzinfo:
    try:
        return ZoneInfo(contract.spec.support_hours.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC  # the Ready condition reports the bad zone; the ledger still works in UTC


def contract_ledger(contract: SupportContract, cases: Sequence[SupportCase], now: dt.datetime) -> LedgerView:
    """Package balances, monthly usage, training obligations and pending knowledge transfers of a contract
    whose cases are `cases` (other contracts' cases are ignored)."""
    spec = contract.spec
    previous = contract.status or SupportContractStatus()
    zone = zone_of(contract)
    today = now.astimezone(zone).date()
    own = [c for c in cases if c.spec.contract_ref.name == contract.metadata.name]
    entries = [entry for case in own for entry in efforts_of(case)]
    packages = packages_of(contract)
    bookings = ledger.book(
        ledger.charges(entries, spec.billing.increment_minutes),
        packages,
        spec.billing.mode,
    )
    pending = _pending(contract, previous, now)
    fields: dict[str, Any] = {
        "packages": [_package_status(b) for b in ledger.package_balances(packages, bookings, today)] or None,
        "months": [_month_status(m) for m in ledger.monthly_totals(bookings)][-MAX_MONTHS:] or None,
        "trainings": _trainings(contract, pending, today.year),
        "pending_knowledge_transfers": [
            PendingKnowledgeTransfer(member=p.member, since=p.since) for p in pending
        ]
        or None,
        "observed_team": [m.name for m in spec.team],
    }
    totals = {case_key(c): t for c in own if (t := effort_totals(c, spec.billing.increment_minutes))}
    expiries = [
        dt.datetime.combine(p.expires_on, dt.time(), tzinfo=zone) for p in packages if p.expires_on > today
    ]
    recheck_at = min(expiries).astimezone(dt.UTC) if expiries else None
    return LedgerView(fields, totals, _transfer_events(previous, pending, contract), recheck_at)


def ledger_status(
    contract: SupportContract, cases: Sequence[SupportCase], now: dt.datetime
) -> dict[str, Any]:
    """The contract status fields the ledger owns (snake_case names, status model values)."""
    return contract_ledger(contract, cases, now).status_fields


def statement(contract: SupportContract, cases: Sequence[SupportCase], month: str) -> ledger.Statement:
    """The monthly statement of `month` (YYYY-MM; ValueError otherwise)."""
    own = [c for c in cases if c.spec.contract_ref.name == contract.metadata.name]
    return ledger.monthly_statement(
        month,
        [entry for case in own for entry in efforts_of(case)],
        contract.spec.billing.increment_minutes,
        packages_of(contract),
        contract.spec.billing.mode,
        trainings_of(contract),
        transfers_of(contract),
    )


def _package_status(balance: ledger.PackageBalance) -> PackageBalance:
    return PackageBalance(
        name=balance.name,
        purchased_minutes=balance.purchased,
        used_minutes=balance.used,
        remaining_minutes=balance.remaining,
        expires_on=balance.expires_on,
        expired=balance.expired,
    )


def _month_status(totals: ledger.MonthTotals) -> MonthlyUsage:
    return MonthlyUsage(
        month=totals.month,
        incident_minutes=totals.incident,
        consultation_minutes=totals.consultation,
        package_minutes=totals.package,
        invoiced_minutes=totals.invoiced,
    )


def _pending(
    contract: SupportContract, previous: SupportContractStatus, now: dt.datetime
) -> list[ledger.PendingTransfer]:
    return ledger.pending_transfers(
        team=[m.name for m in contract.spec.team],
        observed_team=previous.observed_team,
        transferred={member for member, _ in transfers_of(contract)},
        previous=[
            ledger.PendingTransfer(p.member, p.since) for p in previous.pending_knowledge_transfers or ()
        ],
        now=now,
    )


def _start_year(contract: SupportContract, today: dt.date) -> int:
    if contract.spec.period is not None:
        return contract.spec.period.start.year
    created = contract.metadata.creation_timestamp
    return created.year if created is not None else today.year


def _trainings(
    contract: SupportContract, pending: Sequence[ledger.PendingTransfer], year: int
) -> list[TrainingObligation]:
    """A member owes trainings from the contract's start year, or from the year they joined (their
    knowledge transfer) when that is later."""
    start = _start_year(contract, dt.date(year, 1, 1))
    joined = {member: day.year for member, day in transfers_of(contract)}
    joined |= {p.member: p.since.year for p in pending}
    first_years = {m.name: max(start, joined.get(m.name, start)) for m in contract.spec.team}
    return [
        TrainingObligation(member=t.member, year=t.year, days=t.days, fulfilled=t.fulfilled)
        for t in ledger.training_obligations(first_years, trainings_of(contract), year)
    ]


def _transfer_events(
    previous: SupportContractStatus, pending: Sequence[ledger.PendingTransfer], contract: SupportContract
) -> list[EventNote]:
    before = {p.member for p in previous.pending_knowledge_transfers or ()}
    now_pending = {p.member for p in pending}
    transferred = {member for member, _ in transfers_of(contract)}
    notes = [
        EventNote(
            "Warning",
            "KnowledgeTransferPending",
            f"new team member {member} has no knowledge transfer recorded; add "
            f"spec.knowledgeTransfers[] {{member: {member}, completedOn}} once it is done",
        )
        for member in sorted(now_pending - before)
    ]
    notes += [
        EventNote("Normal", "KnowledgeTransferCompleted", f"knowledge transfer to {member} recorded")
        for member in sorted((before - now_pending) & transferred)
    ]
    return notes
