"""A slow, obviously correct business calendar: the yardstick for the fast one.

It applies the definition literally, minute by minute: an instant is open when its local wall-clock time
lies in a window of its local date and that date is a scheduled weekday that is not closed. Schedule windows
start and end on whole minutes and the zones used change offset on whole minutes, so whether support time
runs is constant within each UTC minute; walking minutes is therefore exact, just slow.

Shares nothing with support_operator.domain.calendar except the inputs (zone name, windows, closed dates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTE = timedelta(minutes=1)


class ReferenceCalendar:
    """`windows` maps weekday (0 = Monday) to (open, close) pairs in seconds after local midnight."""

    def __init__(
        self,
        zone: str,
        windows: Mapping[int, Sequence[tuple[int, int]]],
        closed: Iterable[date] = (),
    ) -> None:
        self.zone = ZoneInfo(zone)
        self.windows = {day: list(windows.get(day, ())) for day in range(7)}
        self.closed = frozenset(closed)

    def is_open(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        if local.date() in self.closed:
            return False
        second_of_day = local.hour * 3600 + local.minute * 60 + local.second
        return any(start <= second_of_day < end for start, end in self.windows[local.weekday()])

    def add(self, start: datetime, duration: timedelta, limit_days: int = 400) -> datetime:
        """The earliest instant by which `duration` of support time has run since `start`."""
        t = start.astimezone(UTC)
        left = duration
        if left == timedelta(0):
            return t
        stop = t + timedelta(days=limit_days)
        while t < stop:
            minute_end = t.replace(second=0, microsecond=0) + MINUTE
            if self.is_open(t):
                available = minute_end - t
                if left <= available:
                    return t + left
                left -= available
            t = minute_end
        raise RuntimeError("no deadline within the walk limit")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Support time in [start, end)."""
        t = start.astimezone(UTC)
        end = end.astimezone(UTC)
        total = timedelta(0)
        while t < end:
            minute_end = min(t.replace(second=0, microsecond=0) + MINUTE, end)
            if self.is_open(t):
                total += minute_end - t
            t = minute_end
        return total
