"""Reaction SLA: which clock a case runs on, its reaction deadline, and whether the reaction is met.

The contract promises that analysis of a case starts within the reaction time (2h or 8h) of support time,
counted from the report. With the Pikett add-on, production incidents run on the Pikett calendar (24/7 by
default) with Pikett's own reaction time; every other case keeps the standard calendar.

Everything here is a pure function of its inputs, so controllers can recompute at will; `next_transition_at`
tells them when to look again instead of polling. `ReactionClock` is the one evaluator: built once per case,
read at any instant in O(log n) of the calendar's table (the metrics scrape reads 10,000 of them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from support_operator.domain.calendar import BusinessCalendar, from_epoch_us, to_epoch_us

__all__ = [
    "REACTION_2H",
    "REACTION_8H",
    "Category",
    "Impact",
    "PikettCover",
    "ReactionClock",
    "ReactionPolicy",
    "ReactionReading",
    "ReactionState",
    "ReactionStatus",
    "evaluate_reaction",
    "format_duration",
    "next_transition_at",
    "parse_duration",
]

REACTION_2H = timedelta(hours=2)
REACTION_8H = timedelta(hours=8)

_RESOLUTION = timedelta(microseconds=1)
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class Category(StrEnum):
    """Incident: something does not work. Consultation: a technical or professional question."""

    INCIDENT = "Incident"
    CONSULTATION = "Consultation"


class Impact(StrEnum):
    """Whether production is affected."""

    PRODUCTION = "Production"
    NON_PRODUCTION = "NonProduction"


class ReactionState(StrEnum):
    """Pending: analysis not started, deadline ahead. Met: started in time. Breached: deadline passed."""

    PENDING = "Pending"
    MET = "Met"
    BREACHED = "Breached"


def parse_duration(text: str) -> timedelta:
    """A positive duration such as "2h", "8h", "90m", "1h30m", "45s" or "1d" (a day is 24 hours).

    Raises ValueError for anything else, including zero.
    """
    match = _DURATION.fullmatch(text.strip())
    if not match or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 2h, 8h, 90m or 1h30m")
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise ValueError(f"invalid duration {text!r}: must be positive")
    return duration


def format_duration(duration: timedelta) -> str:
    """The inverse of parse_duration, in hours, minutes and seconds: 2h, 1h30m, 45s (0s for nothing)."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (
        (f"{hours}h" if hours else "")
        + (f"{minutes}m" if minutes else "")
        + (f"{seconds}s" if seconds else "")
    )
    return text or "0s"


def _require_positive(duration: timedelta, what: str) -> None:
    if duration <= timedelta(0):
        raise ValueError(f"{what} must be a positive duration, got {duration}")


@dataclass(frozen=True)
class PikettCover:
    """The Pikett add-on: its calendar (24/7 unless configured) and its own reaction time."""

    calendar: BusinessCalendar
    reaction: timedelta

    def __post_init__(self) -> None:
        _require_positive(self.reaction, "the Pikett reaction time")

    @classmethod
    def around_the_clock(cls, reaction: timedelta, timezone: str = "Europe/Zurich") -> PikettCover:
        return cls(BusinessCalendar.around_the_clock(timezone), reaction)


@dataclass(frozen=True)
class ReactionPolicy:
    """A contract's reaction promise: standard calendar and reaction time, optionally Pikett."""

    calendar: BusinessCalendar
    reaction: timedelta = REACTION_8H
    pikett: PikettCover | None = None

    def __post_init__(self) -> None:
        _require_positive(self.reaction, "the reaction time")

    def uses_pikett(self, category: Category, impact: Impact) -> bool:
        """Pikett covers production incidents only, and only when the contract has it."""
        return self.pikett is not None and category == Category.INCIDENT and impact == Impact.PRODUCTION

    def clock_for(self, category: Category, impact: Impact) -> tuple[BusinessCalendar, timedelta]:
        """The calendar and reaction time that apply to a case of this category and impact."""
        if self.pikett is not None and self.uses_pikett(category, impact):
            return self.pikett.calendar, self.pikett.reaction
        return self.calendar, self.reaction

    def deadline(self, reported_at: datetime, category: Category, impact: Impact) -> datetime:
        """The reaction deadline (UTC) of a case reported at `reported_at`."""
        calendar, reaction = self.clock_for(category, impact)
        return calendar.add(reported_at, reaction)

    def threshold_at(
        self, reported_at: datetime, category: Category, impact: Impact, fraction: float
    ) -> datetime:
        """The instant (UTC) at which `fraction` (0 < fraction <= 1, e.g. 0.5) of the target has run."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
        calendar, reaction = self.clock_for(category, impact)
        return calendar.add(reported_at, reaction * fraction)


@dataclass(frozen=True)
class ReactionStatus:
    """The reaction SLA of one case at one moment.

    `elapsed` is support time since the report, up to the start of analysis when there is one;
    `remaining` is what is left of the target (zero once used up); `used_ratio` = elapsed / target and
    exceeds 1 once breached.
    """

    deadline: datetime
    state: ReactionState
    target: timedelta
    elapsed: timedelta
    remaining: timedelta
    pikett: bool

    @property
    def used_ratio(self) -> float:
        return self.elapsed / self.target

    @property
    def elapsed_seconds(self) -> float:
        return self.elapsed.total_seconds()

    @property
    def remaining_seconds(self) -> float:
        return self.remaining.total_seconds()


class ReactionReading(NamedTuple):
    """A reaction clock read at one instant: state, support time elapsed and left (microseconds)."""

    state: ReactionState
    elapsed_us: int
    remaining_us: int

    @property
    def remaining(self) -> timedelta:
        return timedelta(microseconds=self.remaining_us)


@dataclass(frozen=True, slots=True)
class ReactionClock:
    """The reaction SLA of one case, everything but the instant it is read at: the one evaluator.

    `start` does the work that depends on the case alone (its calendar and target, the deadline); `read`
    answers for an instant with one lookup in the calendar's precomputed table and integer arithmetic, so
    a caller may keep the clock per object version and read it often: the case planner (through
    `evaluate_reaction`), the plugin's queue and the metrics scrape all read it. Instants are microseconds
    since the epoch; `analysis_us` and `settled` are as given to `start`.
    """

    calendar: BusinessCalendar
    target_us: int
    reported_us: int
    deadline_us: int
    analysis_us: int | None
    settled: ReactionState | None  # a previous Met or Breached: final
    pikett: bool

    @classmethod
    def start(
        cls,
        policy: ReactionPolicy,
        reported_at: datetime,
        category: Category,
        impact: Impact,
        analysis_started_at: datetime | None = None,
        previous_state: ReactionState | None = None,
    ) -> ReactionClock:
        """The clock of a case; naive datetimes raise ValueError."""
        calendar, target = policy.clock_for(category, impact)
        reported_us = to_epoch_us(reported_at)
        target_us = target // _RESOLUTION
        return cls(
            calendar=calendar,
            target_us=target_us,
            reported_us=reported_us,
            deadline_us=calendar.add_us(reported_us, target_us),
            analysis_us=to_epoch_us(analysis_started_at) if analysis_started_at is not None else None,
            settled=previous_state if previous_state in _SETTLED else None,
            pikett=policy.uses_pikett(category, impact),
        )

    @property
    def deadline(self) -> datetime:
        return from_epoch_us(self.deadline_us)

    @property
    def target(self) -> timedelta:
        return timedelta(microseconds=self.target_us)

    def state_at(self, now_us: int) -> ReactionState:
        """Met when analysis started at or before the deadline; Breached once past it without (or with a
        late) analysis; a previous Met or Breached stays."""
        if self.settled is not None:
            return self.settled
        if self.analysis_us is not None:
            return ReactionState.MET if self.analysis_us <= self.deadline_us else ReactionState.BREACHED
        return ReactionState.BREACHED if now_us > self.deadline_us else ReactionState.PENDING

    def elapsed_at(self, now_us: int) -> int:
        """Support time since the report, up to now or the start of analysis, whichever is first."""
        stop = now_us if self.analysis_us is None else min(self.analysis_us, now_us)
        return self.calendar.elapsed_us(self.reported_us, max(stop, self.reported_us))

    def read(self, now_us: int) -> ReactionReading:
        elapsed = self.elapsed_at(now_us)
        return ReactionReading(self.state_at(now_us), elapsed, max(self.target_us - elapsed, 0))

    def status_at(self, now: datetime) -> ReactionStatus:
        reading = self.read(to_epoch_us(now))
        return ReactionStatus(
            deadline=self.deadline,
            state=reading.state,
            target=self.target,
            elapsed=timedelta(microseconds=reading.elapsed_us),
            remaining=reading.remaining,
            pikett=self.pikett,
        )


_SETTLED = (ReactionState.MET, ReactionState.BREACHED)


def evaluate_reaction(
    policy: ReactionPolicy,
    reported_at: datetime,
    category: Category,
    impact: Impact,
    analysis_started_at: datetime | None,
    now: datetime,
    previous_state: ReactionState | None = None,
) -> ReactionStatus:
    """The reaction status of a case: `ReactionClock.start(...).status_at(now)`.

    The deadline always follows the current category and impact, counted from the original report time.
    The reaction is met when analysis started at or before the deadline, breached as soon as `now` is past
    the deadline without analysis (or analysis started late). A previous Met or Breached result is final:
    reclassifying the case later changes the deadline shown, never the result.
    """
    to_epoch_us(now)  # refuses a naive `now` before any work
    clock = ReactionClock.start(policy, reported_at, category, impact, analysis_started_at, previous_state)
    return clock.status_at(now)


def next_transition_at(status: ReactionStatus) -> datetime | None:
    """When the state would change with no further input: the first instant after the deadline while
    Pending (at the deadline itself the reaction can still be met), None once Met or Breached.

    A controller schedules one timer for this instant instead of polling.
    """
    if status.state == ReactionState.PENDING:
        return status.deadline + _RESOLUTION
    return None
