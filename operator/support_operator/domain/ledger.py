"""The effort ledger: what a contract's effort costs, month by month, and its yearly obligations.

Pure functions from effort entries, prepaid packages and billing settings to billed time. The rules, which
docs/billing.md states for customers:

1. Corrections settle first. A case's entries are added up per day. A day whose sum is negative (a
   correction booked on another day than the work) offsets the same case's effort of the preceding days,
   most recent first, then of the following days. A case never bills less than nothing.
2. Rounding: per case and calendar month, the settled effort is rounded up to the billing increment
   (15 minutes unless the contract says otherwise). The rounding lands on the case's last day of effort in
   that month, so it is charged like the work it belongs to.
3. Packages: in billing mode Package, the billed time of each case and day is charged in date order to the
   packages valid on that day (purchased on or before it, expiring after it), the one expiring first
   first. What no package covers is invoiced with the month. Unused time of a package is lost when it
   expires. In billing mode Monthly everything is invoiced and packages stay untouched.
4. Obligations: one training person-day per team member and calendar year (billed as a flat fee), and a
   knowledge transfer (flat fee) for every member who joins the team after the start.

All figures are whole minutes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from support_operator.domain.sla import Category

__all__ = [
    "TRAINING_DAYS_PER_YEAR",
    "BillingMode",
    "Booking",
    "CaseLine",
    "Charge",
    "Effort",
    "FeeKind",
    "FlatFee",
    "MemberLine",
    "MonthTotals",
    "Package",
    "PackageBalance",
    "PackageLine",
    "PendingTransfer",
    "Statement",
    "Training",
    "TrainingStatus",
    "book",
    "charges",
    "flat_fees",
    "month_bounds",
    "month_of",
    "monthly_statement",
    "monthly_totals",
    "package_balances",
    "pending_transfers",
    "round_up",
    "settle_corrections",
    "training_obligations",
]

TRAINING_DAYS_PER_YEAR = 1  # the offer: one person-day per team member and year


class BillingMode(StrEnum):
    """Package: effort is charged to prepaid packages first. Monthly: all effort is invoiced monthly."""

    PACKAGE = "Package"
    MONTHLY = "Monthly"


@dataclass(frozen=True)
class Effort:
    """One effort entry; `case` is unique per case (e.g. "namespace/name"), `minutes` negative for
    corrections."""

    case: str
    category: Category
    member: str
    day: dt.date
    minutes: int


@dataclass(frozen=True)
class Package:
    """A prepaid package; `expires_on` is exclusive (the first day it can no longer be used)."""

    name: str
    minutes: int
    purchased_on: dt.date
    expires_on: dt.date

    def valid_on(self, day: dt.date) -> bool:
        return self.purchased_on <= day < self.expires_on


@dataclass(frozen=True)
class Charge:
    """Billed time of one case on one day, after corrections and rounding (always positive)."""

    case: str
    category: Category
    day: dt.date
    minutes: int


@dataclass(frozen=True)
class Booking:
    """Part of a charge booked to a package, or with `package` None to the monthly invoice."""

    charge: Charge
    package: str | None
    minutes: int


# --- rounding and corrections --------------------------------------------------------------------------


def round_up(minutes: int, increment: int) -> int:
    """`minutes` rounded up to a multiple of `increment` (nothing stays nothing)."""
    if increment < 1:
        raise ValueError(f"the billing increment must be at least 1 minute, got {increment}")
    return -(-minutes // increment) * increment


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of a month given as YYYY-MM; ValueError otherwise."""
    problem = ValueError(f"invalid month {month!r}: expected YYYY-MM, e.g. 2026-11")
    if len(month) != 7 or month[4] != "-":
        raise problem
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise problem from None
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def settle_corrections(daily: Mapping[dt.date, int]) -> dict[dt.date, int]:
    """One case's net minutes per day with negative days offset against its other days (rule 1).

    The result has the same days, none negative, and adds up to max(0, sum of the input)."""
    settled = {day: max(minutes, 0) for day, minutes in daily.items()}
    days = sorted(daily)
    for index, day in enumerate(days):
        debt = -daily[day]
        for other in (*reversed(days[:index]), *days[index + 1 :]):
            if debt <= 0:
                break
            taken = min(debt, settled[other])
            settled[other] -= taken
            debt -= taken
    return settled


def charges(entries: Iterable[Effort], increment: int) -> list[Charge]:
    """Billed time per case and day (rules 1 and 2), in booking order: by day, then case."""
    daily: dict[tuple[str, Category], dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for entry in entries:
        daily[(entry.case, entry.category)][entry.day] += entry.minutes
    result: list[Charge] = []
    for (case, category), days in daily.items():
        by_month: dict[str, list[tuple[dt.date, int]]] = defaultdict(list)
        for day, minutes in sorted(settle_corrections(days).items()):
            if minutes > 0:
                by_month[month_of(day)].append((day, minutes))
        for worked in by_month.values():
            total = sum(minutes for _, minutes in worked)
            *earlier, (last_day, last_minutes) = worked
            result += [Charge(case, category, day, minutes) for day, minutes in earlier]
            result.append(Charge(case, category, last_day, last_minutes + round_up(total, increment) - total))
    return sorted(result, key=_booking_order)


def _booking_order(charge: Charge) -> tuple[dt.date, str, str]:
    return charge.day, charge.case, charge.category.value


# --- packages and the monthly invoice --------------------------------------------------------------------


def book(charges: Iterable[Charge], packages: Sequence[Package], mode: BillingMode) -> list[Booking]:
    """Books each charge to packages or the invoice (rule 3), in date order."""
    names = [p.name for p in packages]
    if len(set(names)) != len(names):
        raise ValueError(f"package names must be unique, got {names}")
    left = {p.name: p.minutes for p in packages}
    by_expiry = sorted(packages, key=lambda p: (p.expires_on, p.purchased_on, p.name))
    bookings: list[Booking] = []
    for charge in sorted(charges, key=_booking_order):
        due = charge.minutes
        for package in by_expiry if mode == BillingMode.PACKAGE else ():
            if due == 0:
                break
            taken = min(due, left[package.name]) if package.valid_on(charge.day) else 0
            if taken > 0:
                left[package.name] -= taken
                due -= taken
                bookings.append(Booking(charge, package.name, taken))
        if due > 0:
            bookings.append(Booking(charge, None, due))
    return bookings


@dataclass(frozen=True)
class PackageBalance:
    """A package as of a day: `remaining` is usable time (nothing once expired), `forfeited` what expired
    unused."""

    name: str
    purchased: int
    used: int
    remaining: int
    expires_on: dt.date
    expired: bool
    forfeited: int


def package_balances(
    packages: Sequence[Package], bookings: Iterable[Booking], today: dt.date
) -> list[PackageBalance]:
    """Balances in consumption order (expiry first)."""
    used: dict[str, int] = defaultdict(int)
    for booking in bookings:
        if booking.package is not None:
            used[booking.package] += booking.minutes
    balances = []
    for package in sorted(packages, key=lambda p: (p.expires_on, p.purchased_on, p.name)):
        unused = package.minutes - used[package.name]
        expired = today >= package.expires_on
        balances.append(
            PackageBalance(
                name=package.name,
                purchased=package.minutes,
                used=used[package.name],
                remaining=0 if expired else unused,
                expires_on=package.expires_on,
                expired=expired,
                forfeited=unused if expired else 0,
            )
        )
    return balances


@dataclass(frozen=True)
class MonthTotals:
    """Billed time of a month: by category, and by where it is charged (packages or the invoice)."""

    month: str
    incident: int = 0
    consultation: int = 0
    package: int = 0
    invoiced: int = 0

    @property
    def billed(self) -> int:
        return self.incident + self.consultation


def monthly_totals(bookings: Iterable[Booking]) -> list[MonthTotals]:
    """One entry per month with billed time, oldest first."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for booking in bookings:
        month = sums[month_of(booking.charge.day)]
        category = "incident" if booking.charge.category == Category.INCIDENT else "consultation"
        month[category] += booking.minutes
        month["package" if booking.package is not None else "invoiced"] += booking.minutes
    return [MonthTotals(month, **figures) for month, figures in sorted(sums.items())]


# --- yearly obligations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Training:
    member: str
    day: dt.date
    days: int


@dataclass(frozen=True)
class TrainingStatus:
    member: str
    year: int
    days: int
    fulfilled: bool


def training_obligations(
    first_years: Mapping[str, int], trainings: Iterable[Training], current_year: int, history: int = 5
) -> list[TrainingStatus]:
    """Per member and year: training days recorded and whether the person-day is done.

    `first_years` maps each current team member to the first year they owe a training. Years run up to
    `current_year`, at most `history` years back; recorded trainings of other members or years in that
    window (and next year's, already planned) are listed too. Sorted by year, then member."""
    oldest = current_year - history + 1
    days: dict[tuple[str, int], int] = defaultdict(int)
    for member, first in first_years.items():
        for year in range(max(first, oldest), current_year + 1):
            days[(member, year)] += 0
    for training in trainings:
        if oldest <= training.day.year <= current_year + 1:
            days[(training.member, training.day.year)] += training.days
    return [
        TrainingStatus(member, year, total, total >= TRAINING_DAYS_PER_YEAR)
        for (member, year), total in sorted(days.items(), key=lambda item: (item[0][1], item[0][0]))
    ]


@dataclass(frozen=True)
class PendingTransfer:
    member: str
    since: dt.datetime


def pending_transfers(
    team: Sequence[str],
    observed_team: Collection[str] | None,
    transferred: Collection[str],
    previous: Iterable[PendingTransfer],
    now: dt.datetime,
) -> list[PendingTransfer]:
    """Members who joined the team and have no completed knowledge transfer yet.

    A member is new when `observed_team` (the team as seen before) lacks them; with no earlier observation
    the whole team is the initial one and owes nothing. Once pending, a member stays pending (with the
    original `since`) until a transfer is recorded or they leave the team."""
    before = {p.member: p for p in previous}
    pending = []
    for member in team:
        if member in transferred:
            continue
        if member in before:
            pending.append(before[member])
        elif observed_team is not None and member not in observed_team:
            pending.append(PendingTransfer(member, now))
    return pending


class FeeKind(StrEnum):
    """A flat-fee item: a training (person-days) or a knowledge transfer."""

    TRAINING = "Training"
    KNOWLEDGE_TRANSFER = "KnowledgeTransfer"


@dataclass(frozen=True)
class FlatFee:
    """A flat-fee item of the statement: a training (`person_days`) or a knowledge transfer."""

    kind: FeeKind
    member: str
    day: dt.date
    person_days: int = 0


def flat_fees(
    trainings: Iterable[Training], transfers: Iterable[tuple[str, dt.date]], month: str
) -> list[FlatFee]:
    """Flat-fee items falling due in `month`: trainings held and knowledge transfers completed in it."""
    items = [
        FlatFee(FeeKind.TRAINING, t.member, t.day, t.days) for t in trainings if month_of(t.day) == month
    ]
    items += [FlatFee(FeeKind.KNOWLEDGE_TRANSFER, m, day) for m, day in transfers if month_of(day) == month]
    return sorted(items, key=lambda fee: (fee.day, fee.kind.value, fee.member))


# --- the monthly statement -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseLine:
    """A case in the statement: effort as booked (`effort`, signed sum of the month's entries) and billed."""

    case: str
    category: Category
    effort: int
    billed: int
    package: int
    invoiced: int


@dataclass(frozen=True)
class MemberLine:
    member: str
    category: Category
    effort: int


@dataclass(frozen=True)
class PackageLine:
    """A package in the statement: used in the month, and its balance at the end of the month."""

    name: str
    used_in_month: int
    balance: PackageBalance


@dataclass(frozen=True)
class Statement:
    month: str
    cases: list[CaseLine]
    members: list[MemberLine]
    packages: list[PackageLine]
    totals: MonthTotals
    flat_fees: list[FlatFee]


def monthly_statement(
    month: str,
    entries: Sequence[Effort],
    increment: int,
    packages: Sequence[Package],
    mode: BillingMode,
    trainings: Iterable[Training] = (),
    transfers: Iterable[tuple[str, dt.date]] = (),
) -> Statement:
    """The statement of one month: the same bookings as the contract status, seen from that month."""
    first, last = month_bounds(month)
    bookings = book(charges(entries, increment), packages, mode)
    in_month = [b for b in bookings if first <= b.charge.day <= last]

    effort: dict[tuple[str, Category], int] = defaultdict(int)
    per_member: dict[tuple[str, Category], int] = defaultdict(int)
    for entry in entries:
        if first <= entry.day <= last:
            effort[(entry.case, entry.category)] += entry.minutes
            per_member[(entry.member, entry.category)] += entry.minutes
    billed: dict[tuple[str, Category], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for booking in in_month:
        figures = billed[(booking.charge.case, booking.charge.category)]
        figures["package" if booking.package is not None else "invoiced"] += booking.minutes
    cases = [
        CaseLine(
            case,
            category,
            effort.get((case, category), 0),
            sum(billed[(case, category)].values()),
            billed[(case, category)]["package"],
            billed[(case, category)]["invoiced"],
        )
        for case, category in sorted({*effort, *billed}, key=lambda key: (key[0], key[1].value))
    ]
    members = [
        MemberLine(member, category, minutes)
        for (member, category), minutes in sorted(per_member.items(), key=lambda i: (i[0][0], i[0][1].value))
    ]
    used_in_month: dict[str, int] = defaultdict(int)
    for booking in in_month:
        if booking.package is not None:
            used_in_month[booking.package] += booking.minutes
    through_month = [b for b in bookings if b.charge.day <= last]
    package_lines = [
        PackageLine(balance.name, used_in_month[balance.name], balance)
        for balance in package_balances(packages, through_month, last)
    ]
    totals = next(iter(monthly_totals(in_month)), MonthTotals(month))
    return Statement(month, cases, members, package_lines, totals, flat_fees(trainings, transfers, month))
