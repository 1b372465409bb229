"""Translating a contract's spec into the domain's calendars and reaction policy (pure, cached)."""

from __future__ import annotations

from functools import lru_cache

from support_operator.api.v1alpha1 import SupportContractSpec
from support_operator.api.v1alpha1.contract import SupportHours
from support_operator.domain.calendar import BusinessCalendar, WeeklySchedule
from support_operator.domain.sla import PikettCover, ReactionPolicy, parse_duration


def calendar_for(hours: SupportHours, *, public_holidays: bool = True) -> BusinessCalendar:
    """Raises ValueError (unknown zone, country or subdivision) with a message fit for a condition."""
    return _calendar(hours.model_dump_json(), public_holidays)


@lru_cache(maxsize=256)
def _calendar(hours_json: str, public_holidays: bool) -> BusinessCalendar:
    # Keyed by the JSON form, so unchanged hours reuse the calendar and its precomputed tables.
    hours = SupportHours.model_validate_json(hours_json)
    windows = ",".join(f"{i.start}-{i.end}" for i in hours.intervals)
    schedule = WeeklySchedule.from_rules([(",".join(d.value for d in hours.days), windows)])
    return BusinessCalendar(
        timezone=hours.time_zone,
        schedule=schedule,
        country=hours.holidays.country if public_holidays else None,
        subdivision=hours.holidays.subdivision if public_holidays else None,
        closed_dates=hours.closed_dates or (),
    )


@lru_cache(maxsize=64)
def _around_the_clock(timezone: str) -> BusinessCalendar:
    # Shared: each calendar builds its own tables on first use (milliseconds), so build them once.
    return BusinessCalendar.around_the_clock(timezone)


_POLICIES: dict[int, tuple[SupportContractSpec, ReactionPolicy]] = {}
_MAX_POLICIES = 1024


def reaction_policy(spec: SupportContractSpec) -> ReactionPolicy:
    """The policy of this spec object: the cache holds one parsed contract per version, so every case
    reconcile asks with the same object, and the answer is a dictionary lookup, not a JSON dump."""
    known = _POLICIES.get(id(spec))
    if known is not None and known[0] is spec:  # the reference kept makes the id unique
        return known[1]
    policy = _reaction_policy(spec)
    if len(_POLICIES) >= _MAX_POLICIES:
        _POLICIES.pop(next(iter(_POLICIES)))
    _POLICIES[id(spec)] = (spec, policy)
    return policy


def _reaction_policy(spec: SupportContractSpec) -> ReactionPolicy:
    calendar = calendar_for(spec.support_hours)
    pikett = spec.add_ons.pikett
    cover = None
    if pikett is not None and pikett.enabled:
        reaction = parse_duration(pikett.reaction_time)
        if pikett.hours is None:
            cover = PikettCover(_around_the_clock(spec.support_hours.time_zone), reaction)
        else:
            # On-call standby exists for the hours support time does not cover: holidays do not stop it.
            cover = PikettCover(calendar_for(pikett.hours, public_holidays=False), reaction)
    return ReactionPolicy(calendar, parse_duration(spec.reaction_time.value), cover)
