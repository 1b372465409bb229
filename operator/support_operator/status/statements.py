"""Monthly SupportStatements: which months are due, the statement of a month from the contract, its cases and
the statements already issued, and what they mean for the contract's and each case's status. Pure: the
reconciler creates the objects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from support_operator import constants
from support_operator.api.v1alpha1 import (
    API_VERSION,
    CONTRACT_KIND,
    OPEN_STATES,
    STATEMENT_KIND,
    AdjustmentReason,
    CaseBilling,
    MonthlyUsage,
    Priority,
    ReactionEvidence,
    ReactionState,
    StatementAdjustment,
    StatementCase,
    StatementContract,
    StatementFlatFee,
    StatementMember,
    StatementPackage,
    StatementReaction,
    StatementTotals,
    SupportCase,
    SupportContract,
    SupportStatement,
    SupportStatementSpec,
    statement_name,
)
from support_operator.domain import ledger
from support_operator.domain import statement as domain
from support_operator.status.ledger import packages_of, trainings_of, transfers_of, zone_of

CONTRACT_LABEL = constants.LABEL_CONTRACT
MONTH_LABEL = constants.LABEL_MONTH


@dataclass
class StatementBook:
    """The issued statements the operator knows, by contract (from the watch and its own creates)."""

    by_contract: dict[str, dict[str, SupportStatement]] = field(default_factory=dict)

    def observe(self, event_type: str | None, obj: dict[str, Any]) -> str | None:
        """Records a statement; returns its contract's name (None when unreadable)."""
        try:
            issued = SupportStatement.from_k8s(obj)
        except ValidationError:
            return None
        months = self.by_contract.setdefault(issued.spec.contract_ref.name, {})
        if event_type == "DELETED":
            months.pop(issued.spec.month, None)
        else:
            months[issued.spec.month] = issued
        return issued.spec.contract_ref.name

    def of(self, contract: str) -> list[SupportStatement]:
        return [s for _, s in sorted(self.by_contract.get(contract, {}).items())]


def local_month(contract: SupportContract, now: dt.datetime) -> str:
    return ledger.month_of(now.astimezone(zone_of(contract)).date())


def billing_since(contract: SupportContract, now: dt.datetime) -> str:
    """The first month billed: kept once in status, else the month the operator first serves the contract
    (or the period's start month, if later). Months before it are not re-derived from old cases."""
    if contract.status is not None and contract.status.billing_since:
        return contract.status.billing_since
    current = local_month(contract, now)
    period = contract.spec.period
    start = ledger.month_of(period.start) if period is not None else current
    return max(current, start)


def due_months(contract: SupportContract, issued: Iterable[SupportStatement], now: dt.datetime) -> list[str]:
    """Months over (in the contract's time zone) since billing started that have no statement yet."""
    done = {s.spec.month for s in issued}
    months = domain.months_between(billing_since(contract, now), local_month(contract, now))
    period = contract.spec.period
    if period is not None and period.end is not None:
        months = [m for m in months if m <= ledger.month_of(period.end)]
    return [m for m in months if m not in done]


def month_start(month: str, zone: dt.tzinfo) -> dt.datetime:
    first, _ = ledger.month_bounds(month)
    return dt.datetime.combine(first, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def next_boundary(contract: SupportContract, now: dt.datetime) -> dt.datetime:
    """The first instant of the next month in the contract's time zone: the next statement falls due."""
    return month_start(domain.next_month(local_month(contract, now)), zone_of(contract))


def history(issued: Iterable[SupportStatement]) -> domain.History:
    billed: set[tuple[str, str]] = set()
    used: dict[str, int] = {}
    reactions: set[str] = set()
    for statement in issued:
        spec = statement.spec
        for line in [*(spec.cases or []), *(spec.adjustments or [])]:
            billed |= {(line.uid, entry) for entry in line.entries}
        for package in spec.packages or []:
            used[package.name] = used.get(package.name, 0) + package.used_minutes
        reactions |= {r.uid for r in spec.reactions or []}
    return domain.History(frozenset(billed), used, frozenset(reactions))


def case_record(case: SupportCase) -> domain.CaseRecord:
    reaction = case.status.reaction if case.status else None
    priority = case.status.priority if case.status and case.status.priority else Priority.P3
    return domain.CaseRecord(
        key=f"{case.metadata.namespace}/{case.metadata.name}",
        uid=case.metadata.uid or f"{case.metadata.namespace}/{case.metadata.name}",
        category=case.spec.category,
        entries=tuple(domain.Entry(e.id, e.member, e.date, e.minutes()) for e in case.spec.effort or ()),
        reaction=domain.Reaction(
            priority.value,
            reaction.reported_at,
            reaction.deadline,
            reaction.state.value,
            reaction.analysis_started_at,
            reaction.evidence.value if reaction.evidence else None,
        )
        if reaction is not None
        else None,
    )


def build_statement(
    contract: SupportContract,
    cases: Sequence[SupportCase],
    issued: Sequence[SupportStatement],
    month: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The SupportStatement object of `month`, as the operator creates it."""
    spec = contract.spec
    own = [c for c in cases if c.spec.contract_ref.name == contract.metadata.name]
    result = domain.build(
        month,
        [case_record(c) for c in own],
        history(issued),
        spec.billing.increment_minutes,
        packages_of(contract),
        spec.billing.mode,
        trainings_of(contract),
        transfers_of(contract),
    )
    zone = zone_of(contract)
    statement = SupportStatementSpec(
        contract_ref=StatementContract(name=contract.metadata.name, uid=contract.metadata.uid),
        month=month,
        time_zone=zone_name(contract),
        period_start=month_start(month, zone),
        period_end=month_start(domain.next_month(month), zone),
        issued_at=now,
        billing_mode=spec.billing.mode,
        increment_minutes=spec.billing.increment_minutes,
        cases=[StatementCase(**_figures(line)) for line in result.cases] or None,
        adjustments=[
            StatementAdjustment(**_figures(line), month=line.month, reason=AdjustmentReason.LATE_EFFORT)
            for line in result.adjustments
        ]
        or None,
        members=[StatementMember(member=m, category=c, effort_minutes=v) for m, c, v in result.members]
        or None,
        packages=[
            StatementPackage(
                name=p.name,
                used_minutes=p.used,
                remaining_minutes=p.remaining,
                expires_on=p.expires_on,
                expired=p.expired,
                forfeited_minutes=p.forfeited,
            )
            for p in result.packages
        ]
        or None,
        flat_fees=[
            StatementFlatFee(kind=f.kind, member=f.member, date=f.day, person_days=f.person_days)
            for f in result.flat_fees
        ]
        or None,
        reactions=[_reaction(r) for r in result.reactions] or None,
        totals=_totals(result.totals),
    )
    return {
        "apiVersion": API_VERSION,
        "kind": STATEMENT_KIND,
        "metadata": {
            "name": statement_name(contract.metadata.name, month),
            "labels": {CONTRACT_LABEL: contract.metadata.name, MONTH_LABEL: month},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": CONTRACT_KIND,
                    "name": contract.metadata.name,
                    "uid": contract.metadata.uid,
                }
            ],
        },
        "spec": statement.to_json_dict(),
    }


def _figures(line: domain.Line) -> dict[str, Any]:
    return {
        "case": line.case,
        "uid": line.uid,
        "category": line.category,
        "entries": list(line.entries),
        "effort_minutes": line.effort,
        "billed_minutes": line.billed,
        "package_minutes": line.package,
        "invoiced_minutes": line.invoiced,
    }


def _reaction(line: domain.ReactionLine) -> StatementReaction:
    r = line.reaction
    return StatementReaction(
        case=line.case,
        uid=line.uid,
        priority=Priority(r.priority),
        reported_at=r.reported_at,
        deadline=r.deadline,
        state=ReactionState(r.state),
        analysis_started_at=r.analysis_started_at,
        evidence=ReactionEvidence(r.evidence) if r.evidence else None,
    )


def _totals(totals: domain.Totals) -> StatementTotals:
    return StatementTotals(
        incident_minutes=totals.incident,
        consultation_minutes=totals.consultation,
        package_minutes=totals.package,
        invoiced_minutes=totals.invoiced,
        adjustment_minutes=totals.adjustment,
        reactions_met_observed=totals.met_observed,
        reactions_met_recorded=totals.met_recorded,
        reactions_breached=totals.breached,
    )


def months_status(
    issued: Sequence[SupportStatement], running: Sequence[MonthlyUsage] | None, limit: int
) -> list[MonthlyUsage] | None:
    """status.months: issued months as their statements say (never re-derived from the cases that happen
    to exist), later months from the running ledger."""
    fixed = {
        s.spec.month: MonthlyUsage(
            month=s.spec.month,
            incident_minutes=s.spec.totals.incident_minutes,
            consultation_minutes=s.spec.totals.consultation_minutes,
            package_minutes=s.spec.totals.package_minutes,
            invoiced_minutes=s.spec.totals.invoiced_minutes,
        )
        for s in issued
    }
    last_issued = max(fixed, default="")
    later = [m for m in running or () if m.month > last_issued]
    merged = [fixed[m] for m in sorted(fixed)] + later
    return merged[-limit:] or None


@dataclass(frozen=True)
class CaseBillingView:
    billing: CaseBilling | None
    recheck_at: dt.datetime | None = None


def case_billing(
    case: SupportCase, contract: SupportContract | None, issued: Sequence[SupportStatement], now: dt.datetime
) -> CaseBillingView:
    """Where the case's effort stands: billed entries, the statements holding them, and whether the case
    may be deleted (closed, all billed, retention over); a case without effort needs none of it."""
    entries = {e.id for e in case.spec.effort or ()}
    if not entries:
        return CaseBillingView(None)
    uid = case.metadata.uid
    billed: set[str] = set()
    holding: list[SupportStatement] = []
    for statement in issued:
        lines = [*(statement.spec.cases or []), *(statement.spec.adjustments or [])]
        ids = {e for line in lines if line.uid == uid for e in line.entries}
        if ids & entries:
            billed |= ids & entries
            holding.append(statement)
    retention = dt.timedelta(days=contract.spec.records.retention_days if contract else 0)
    retained_until = max((s.spec.issued_at for s in holding), default=None)
    retained_until = retained_until + retention if retained_until is not None else None
    complete = billed == entries and case.spec.state not in OPEN_STATES
    releasable = complete and retained_until is not None and now >= retained_until
    billing = CaseBilling(
        billed_entries=len(billed),
        statements=[s.metadata.name for s in holding] or None,
        retained_until=retained_until,
        releasable=releasable,
    )
    recheck = retained_until if complete and retained_until is not None and not releasable else None
    return CaseBillingView(billing, recheck)


def zone_name(contract: SupportContract) -> str:
    zone = zone_of(contract)
    return str(getattr(zone, "key", "UTC")) if isinstance(zone, ZoneInfo) else "UTC"
