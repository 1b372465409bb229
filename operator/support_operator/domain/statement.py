"""Monthly statements that never change: what one month bills, given what earlier statements billed. Pure.

A statement bills every effort entry not billed before: entries dated in its month as regular lines
(corrected and rounded per case, as `ledger` does), entries dated in an earlier month whose statement is
already issued as adjustment lines (rounded per case and month of origin; a net correction is credited on
the invoice). Prepaid packages start from what earlier statements left. Reactions settled since the last
statement are listed with their evidence. Entries are identified by case UID and entry ID, so a case
deleted after billing changes nothing issued, and a late entry is billed exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from support_operator.domain import ledger
from support_operator.domain.sla import Category


@dataclass(frozen=True)
class Entry:
    id: str
    member: str
    day: dt.date
    minutes: int


@dataclass(frozen=True)
class Reaction:
    priority: str
    reported_at: dt.datetime
    deadline: dt.datetime
    state: str  # Met | Breached (settled) or Pending
    analysis_started_at: dt.datetime | None
    evidence: str | None


@dataclass(frozen=True)
class CaseRecord:
    """What a statement needs of a case; `key` is namespace/name, `uid` identifies it for good."""

    key: str
    uid: str
    category: Category
    entries: tuple[Entry, ...]
    reaction: Reaction | None = None


@dataclass(frozen=True)
class History:
    """What issued statements already hold."""

    billed: frozenset[tuple[str, str]] = frozenset()  # (case uid, entry id)
    package_used: Mapping[str, int] = field(default_factory=dict)
    reactions: frozenset[str] = frozenset()  # case uids whose settled reaction was listed


@dataclass(frozen=True)
class Line:
    case: str
    uid: str
    category: Category
    entries: tuple[str, ...]
    effort: int
    billed: int
    package: int = 0
    invoiced: int = 0
    month: str | None = None  # adjustments: the month the effort is dated in


@dataclass(frozen=True)
class PackageLine:
    name: str
    used: int
    remaining: int
    expires_on: dt.date
    expired: bool
    forfeited: int


@dataclass(frozen=True)
class ReactionLine:
    case: str
    uid: str
    reaction: Reaction


@dataclass(frozen=True)
class Totals:
    incident: int = 0
    consultation: int = 0
    package: int = 0
    invoiced: int = 0
    adjustment: int = 0
    met_observed: int = 0
    met_recorded: int = 0
    breached: int = 0


@dataclass(frozen=True)
class MonthStatement:
    month: str
    cases: list[Line]
    adjustments: list[Line]
    members: list[tuple[str, Category, int]]
    packages: list[PackageLine]
    flat_fees: list[ledger.FlatFee]
    reactions: list[ReactionLine]
    totals: Totals


def next_month(month: str) -> str:
    _, last = ledger.month_bounds(month)
    return ledger.month_of(last + dt.timedelta(days=1))


def months_between(first: str, until: str) -> list[str]:
    """Months from `first` up to, not including, `until` (both YYYY-MM)."""
    months = []
    month = first
    while month < until:
        months.append(month)
        month = next_month(month)
    return months


def build(
    month: str,
    cases: Sequence[CaseRecord],
    history: History,
    increment: int,
    packages: Sequence[ledger.Package],
    mode: ledger.BillingMode,
    trainings: Iterable[ledger.Training] = (),
    transfers: Iterable[tuple[str, dt.date]] = (),
) -> MonthStatement:
    first, last = ledger.month_bounds(month)
    regular: list[tuple[CaseRecord, list[Entry]]] = []
    late: list[tuple[CaseRecord, str, list[Entry]]] = []
    for case in sorted(cases, key=lambda c: (c.key, c.uid)):
        new = [e for e in case.entries if (case.uid, e.id) not in history.billed and e.day <= last]
        in_month = [e for e in new if e.day >= first]
        if in_month:
            regular.append((case, in_month))
        by_origin: dict[str, list[Entry]] = defaultdict(list)
        for entry in new:
            if entry.day < first:
                by_origin[ledger.month_of(entry.day)].append(entry)
        late += [(case, origin, entries) for origin, entries in sorted(by_origin.items())]

    charges, adjustment_charges = _charges(regular, late, increment)
    remaining = [
        ledger.Package(
            p.name, max(p.minutes - history.package_used.get(p.name, 0), 0), p.purchased_on, p.expires_on
        )
        for p in packages
    ]
    bookings = ledger.book([*charges, *adjustment_charges], remaining, mode)
    split = _split(bookings)
    lines = [_line(case, entries, split.get((case.uid, None), {}), None) for case, entries in regular]
    adjustments = [_adjustment(case, origin, entries, increment, split) for case, origin, entries in late]
    reactions = [
        ReactionLine(c.key, c.uid, c.reaction)
        for c in sorted(cases, key=lambda c: (c.key, c.uid))
        if c.reaction is not None
        and c.reaction.state in ("Met", "Breached")
        and c.uid not in history.reactions
    ]
    package_lines = _package_lines(packages, history, bookings, last)
    members = _members([*[(c, e) for c, e in regular], *[(c, e) for c, _, e in late]])
    totals = _totals([*lines, *adjustments], sum(a.billed for a in adjustments), reactions)
    return MonthStatement(
        month,
        lines,
        adjustments,
        members,
        package_lines,
        ledger.flat_fees(trainings, transfers, month),
        reactions,
        totals,
    )


def _charges(
    regular: Sequence[tuple[CaseRecord, list[Entry]]],
    late: Sequence[tuple[CaseRecord, str, list[Entry]]],
    increment: int,
) -> tuple[list[ledger.Charge], list[ledger.Charge]]:
    """Charges keyed by case UID (so bookings can be told apart): regular ones through the ledger's
    corrections and rounding; each positive adjustment group as one rounded charge on its last day."""
    efforts = [
        ledger.Effort(case.uid, case.category, e.member, e.day, e.minutes)
        for case, entries in regular
        for e in entries
    ]
    regular_charges = ledger.charges(efforts, increment)
    adjustment_charges = []
    for case, origin, entries in late:
        minutes = sum(e.minutes for e in entries)
        if minutes > 0:
            day = max(e.day for e in entries)
            adjustment_charges.append(
                ledger.Charge(f"{case.uid}@{origin}", case.category, day, ledger.round_up(minutes, increment))
            )
    return regular_charges, adjustment_charges


def _split(bookings: Iterable[ledger.Booking]) -> dict[tuple[str, str | None], dict[str, int]]:
    """Package and invoiced minutes per (case uid, month of origin or None for regular lines)."""
    figures: dict[tuple[str, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for booking in bookings:
        uid, _, origin = booking.charge.case.partition("@")
        where = "package" if booking.package is not None else "invoiced"
        figures[(uid, origin or None)][where] += booking.minutes
    return figures


def _line(case: CaseRecord, entries: Sequence[Entry], figures: Mapping[str, int], origin: str | None) -> Line:
    package, invoiced = figures.get("package", 0), figures.get("invoiced", 0)
    return Line(
        case.key,
        case.uid,
        case.category,
        tuple(e.id for e in entries),
        sum(e.minutes for e in entries),
        package + invoiced,
        package,
        invoiced,
        origin,
    )


def _adjustment(
    case: CaseRecord,
    origin: str,
    entries: Sequence[Entry],
    increment: int,
    split: Mapping[tuple[str, str | None], Mapping[str, int]],
) -> Line:
    minutes = sum(e.minutes for e in entries)
    if minutes > 0:
        return _line(case, entries, split.get((case.uid, origin), {}), origin)
    # Rounded towards zero: the credit never exceeds what the corrected effort saves after rounding up.
    credit = -((-minutes) // increment) * increment
    return Line(
        case.key, case.uid, case.category, tuple(e.id for e in entries), minutes, credit, 0, credit, origin
    )


def _package_lines(
    packages: Sequence[ledger.Package], history: History, bookings: Iterable[ledger.Booking], last: dt.date
) -> list[PackageLine]:
    used: dict[str, int] = defaultdict(int)
    for booking in bookings:
        if booking.package is not None:
            used[booking.package] += booking.minutes
    lines = []
    for package in sorted(packages, key=lambda p: (p.expires_on, p.purchased_on, p.name)):
        unused = package.minutes - history.package_used.get(package.name, 0) - used[package.name]
        expired = last >= package.expires_on
        lines.append(
            PackageLine(
                package.name,
                used[package.name],
                0 if expired else unused,
                package.expires_on,
                expired,
                unused if expired else 0,
            )
        )
    return lines


def _members(groups: Iterable[tuple[CaseRecord, Sequence[Entry]]]) -> list[tuple[str, Category, int]]:
    sums: dict[tuple[str, Category], int] = defaultdict(int)
    for case, entries in groups:
        for entry in entries:
            sums[(entry.member, case.category)] += entry.minutes
    return [(m, c, v) for (m, c), v in sorted(sums.items(), key=lambda i: (i[0][0], i[0][1].value))]


def _totals(lines: Iterable[Line], adjustment: int, reactions: Iterable[ReactionLine]) -> Totals:
    incident = consultation = package = invoiced = 0
    for line in lines:
        if line.category == Category.INCIDENT:
            incident += line.billed
        else:
            consultation += line.billed
        package += line.package
        invoiced += line.invoiced
    met_observed = met_recorded = breached = 0
    for r in reactions:
        if r.reaction.state == "Breached":
            breached += 1
        elif r.reaction.evidence == "Observed":
            met_observed += 1
        else:
            met_recorded += 1
    return Totals(incident, consultation, package, invoiced, adjustment, met_observed, met_recorded, breached)
