"""SupportContract: from spec (and what the operator observed) to the desired status. Pure: no API calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from support_operator.api.v1alpha1 import (
    Condition,
    Holiday,
    OpenCases,
    PlatformRecord,
    SupportCase,
    SupportContract,
    SupportContractStatus,
    reasons,
)
from support_operator.status.conditions import Desired, EventNote, flipped, merge_conditions
from support_operator.status.ledger import contract_ledger, zone_of
from support_operator.status.policy import calendar_for, reaction_policy

if TYPE_CHECKING:
    from support_operator.status.access import AccessResult

MIN_TEAM = 3  # the offer: at least three engineers who speak the customer's language


@dataclass(frozen=True)
class Availability:
    """Whether cases may be served under the contract now; `reason` is a condition reason when not."""

    usable: bool
    reason: str
    message: str


@dataclass(frozen=True)
class ContractPlan:
    status: SupportContractStatus
    availability: Availability
    events: list[EventNote] = field(default_factory=list)
    recheck_at: dt.datetime | None = None


def availability(contract: SupportContract, now: dt.datetime) -> Availability:
    spec = contract.spec
    try:
        reaction_policy(spec)
    except ValueError as error:
        return Availability(False, reasons.INVALID_CALENDAR, f"support hours cannot be used: {error}")
    today = now.astimezone(zone_of(contract)).date()
    if spec.suspended:
        return Availability(
            False, reasons.SUSPENDED, "the contract is suspended (spec.suspended); cases wait"
        )
    if spec.period is not None and today < spec.period.start:
        return Availability(False, reasons.NOT_STARTED, f"the contract starts on {spec.period.start}")
    if spec.period is not None and spec.period.end is not None and today > spec.period.end:
        return Availability(False, reasons.EXPIRED, f"the contract ended on {spec.period.end}")
    return Availability(
        True, reasons.ACTIVE, f"serving cases with a {spec.reaction_time.value} reaction time"
    )


def staffing(contract: SupportContract) -> Desired:
    spec = contract.spec
    speakers = [m.name for m in spec.team if spec.language in m.languages]
    if len(spec.team) < MIN_TEAM:
        return Desired(
            reasons.TEAM_STAFFED,
            False,
            reasons.TOO_FEW_MEMBERS,
            f"{len(spec.team)} team member(s) declared; the offer promises at least {MIN_TEAM}",
        )
    if len(speakers) < MIN_TEAM:
        return Desired(
            reasons.TEAM_STAFFED,
            False,
            reasons.TOO_FEW_SPEAKERS,
            f"only {len(speakers)} team member(s) speak {spec.language.value} (the customer language); "
            f"the offer promises at least {MIN_TEAM}",
        )
    return Desired(
        reasons.TEAM_STAFFED, True, reasons.STAFFED, f"{len(speakers)} members speak {spec.language.value}"
    )


def holidays(contract: SupportContract, now: dt.datetime) -> list[Holiday]:
    """Public holidays and closed dates of this year and the next, in the contract's time zone."""
    hours = contract.spec.support_hours
    calendar = calendar_for(hours)
    year = calendar.local(now).year
    listed = {day: name for y in (year, year + 1) for day, name in calendar.holidays_in(y)}
    for day in hours.closed_dates or ():
        if day.year in (year, year + 1):
            listed.setdefault(day, "closed")
    return [Holiday(date=day, name=name[:128]) for day, name in sorted(listed.items())]


def _recheck_at(contract: SupportContract, now: dt.datetime) -> dt.datetime:
    """Next instant the status changes with no edit: period start or end, or New Year (holiday list)."""
    zone = zone_of(contract)  # UTC for an unknown zone: Ready already says InvalidCalendar
    local_now = now.astimezone(zone)
    candidates = [dt.datetime(local_now.year + 1, 1, 1, tzinfo=zone)]
    period = contract.spec.period
    if period is not None:
        candidates.append(dt.datetime.combine(period.start, dt.time(), tzinfo=zone))
        if period.end is not None:
            candidates.append(dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), tzinfo=zone))
    return min(c for c in candidates if c > local_now).astimezone(dt.UTC)


def plan_contract(
    contract: SupportContract,
    platform: PlatformRecord | None,
    open_cases: OpenCases,
    now: dt.datetime,
    cases: Sequence[SupportCase] | None = None,
    access: AccessResult | None = None,
    intake: Desired | None = None,
) -> ContractPlan:
    """`cases` (the contract's SupportCases) adds the effort ledger and `access` what was provisioned;
    None leaves those fields as they are. `intake` is the e-mail intake's health (None: no mailbox)."""
    previous = contract.status or SupportContractStatus()
    generation = contract.metadata.generation
    usable = availability(contract, now)
    desired = [Desired(reasons.READY, usable.usable, usable.reason, usable.message), staffing(contract)]
    if access is not None:
        desired.append(access.condition)
    elif previous.conditions:  # keep a condition this reconcile did not evaluate
        desired += [_kept(c) for c in previous.conditions if c.type == reasons.ACCESS_PROVISIONED]
    if intake is not None:
        desired.append(intake)
    conditions = merge_conditions(previous.conditions, desired, generation, now)
    record = _platform_record(contract, platform, previous.platform)
    ledger = contract_ledger(contract, cases, now) if cases is not None else None
    status = previous.model_copy(
        update={
            "observed_generation": generation,
            "conditions": conditions,
            "holidays": holidays(contract, now)
            if usable.reason != reasons.INVALID_CALENDAR
            else previous.holidays,
            "open_cases": open_cases,
            "team_size": len(contract.spec.team),
            "platform": record,
            **(ledger.status_fields if ledger else {}),
            **(_access_fields(access, previous) if access is not None else {}),
        }
    )
    events = [
        EventNote("Normal" if c.status == "True" else "Warning", c.reason, c.message)
        for c in flipped(previous.conditions, conditions)
    ]
    events += ledger.events if ledger else []
    events += access.events if access is not None else []
    # A package expiring, a token to rotate or an elevation ending changes the status with no edit.
    later = [ledger.recheck_at if ledger else None, access.recheck_at if access else None]
    recheck = min([_recheck_at(contract, now), *[t for t in later if t is not None]])
    return ContractPlan(status, usable, events, recheck)


MAX_TOKEN_RECORDS = 200
MAX_GRANTED_NAMESPACES = 1000  # = the CRD's maxItems of status.grantedNamespaces
MAX_SKIPPED_NAMESPACES = 100  # = the CRD's maxItems of status.skippedNamespaces


def _access_fields(access: AccessResult, previous: SupportContractStatus) -> dict[str, object]:
    """Identities, where access was granted and skipped, and the audit trail of minted tokens (the
    newest MAX_TOKEN_RECORDS, appended to what the status already holds)."""
    tokens = list(previous.tokens or [])
    known = {t.credential_id for t in tokens}
    tokens += [t for t in access.minted if t.credential_id not in known]
    return {
        "identities": access.identities or None,
        # The API caps these lists (status must stay well under etcd's object limit): the first ones, sorted;
        # the AccessProvisioned message gives the full count.
        "granted_namespaces": (access.granted_namespaces or [])[:MAX_GRANTED_NAMESPACES] or None,
        "skipped_namespaces": (access.skipped or [])[:MAX_SKIPPED_NAMESPACES] or None,
        "tokens": tokens[-MAX_TOKEN_RECORDS:] or None,
    }


def _kept(condition: Condition) -> Desired:
    ok = None if condition.status == "Unknown" else condition.status == "True"
    return Desired(condition.type, ok, condition.reason, condition.message)


def _platform_record(
    contract: SupportContract, detected: PlatformRecord | None, previous: PlatformRecord | None
) -> PlatformRecord | None:
    if detected is None:
        return previous
    declared = contract.spec.distribution
    record = detected.model_copy(update={"distribution": declared or detected.distribution})
    # detectedAt only moves when the record itself changes, so an unchanged platform writes nothing.
    if previous is not None and previous.model_copy(update={"detected_at": None}) == record.model_copy(
        update={"detected_at": None}
    ):
        return previous
    return record
