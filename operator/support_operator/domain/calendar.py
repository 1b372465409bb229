"""Business calendars: when the SLA clock runs.

A calendar is a time zone, a weekly schedule of half-open [open, close) windows on the local wall clock,
the public holidays of a country/subdivision (from the `holidays` package) and extra closed dates.

Definition (the one every operation follows): an instant is *open* when its local wall-clock time lies in
a window of its local date, and that date is a scheduled weekday that is neither a holiday nor closed.
On DST change days this is taken literally: a window boundary that falls into the skipped hour takes effect
at the transition, and wall-clock times in the repeated hour count each time they occur.

For speed, the open time is precomputed (lazily, by local year) as a sorted list of disjoint UTC intervals
in integer microseconds since the epoch, with a running total of business time; `add` and `elapsed` are then
two bisections and some integer arithmetic. Nothing is ever rounded: instants and durations stay exact.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "STANDARD_SCHEDULE",
    "BusinessCalendar",
    "TimeWindow",
    "WeeklySchedule",
    "from_epoch_us",
    "parse_days",
    "parse_hours",
    "to_epoch_us",
]

_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SECOND_US = 1_000_000
_DAY_SECONDS = 86_400
_DAY_US = _DAY_SECONDS * _SECOND_US
# Offsets are sampled this often to find DST transitions; real zones never change twice within 6 hours.
_OFFSET_SAMPLE_SECONDS = 6 * 3600
# An `add` that finds no support time this many years past its start gives up instead of looping.
_MAX_SEARCH_YEARS = 30

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


class TimeWindow(NamedTuple):
    """Half-open support window [open, close) in seconds after local midnight; close may be 86400 (24:00)."""

    open: int
    close: int

    def __str__(self) -> str:
        return f"{_format_clock(self.open)}-{_format_clock(self.close)}"


def _format_clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _parse_clock(text: str) -> int:
    match = _CLOCK.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid time of day {text!r}: expected HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        raise ValueError(f"invalid time of day {text!r}: expected 00:00 to 24:00")
    return hours * 3600 + minutes * 60


def _parse_day(text: str) -> int:
    name = text.strip().lower()
    if name in _DAY_NAMES:
        return _DAY_NAMES.index(name)
    if name in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(name)
    raise ValueError(f"invalid weekday {text!r}: expected Mon, Tue, Wed, Thu, Fri, Sat or Sun")


def parse_days(text: str) -> frozenset[int]:
    """Weekdays (0 = Monday) from forms like "Mon-Fri", "Mon,Wed,Fri", "Mon-Wed,Sat" or "Fri-Mon" (wraps)."""
    days: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            raise ValueError(f"invalid days {text!r}: empty entry")
        first, dash, last = part.partition("-")
        if not dash:
            days.add(_parse_day(first))
            continue
        start, end = _parse_day(first), _parse_day(last)
        days.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return frozenset(days)


def parse_hours(text: str) -> tuple[TimeWindow, ...]:
    """Windows from forms like "08:00-17:00" or "08:00-12:00,13:00-17:00"; "24:00" ends a day.

    Windows must be non-empty and must not overlap; adjacent windows are allowed (and merged).
    """
    windows: list[TimeWindow] = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if not dash:
            raise ValueError(f"invalid hours {part.strip()!r}: expected HH:MM-HH:MM")
        window = TimeWindow(_parse_clock(first), _parse_clock(last))
        if window.open >= window.close:
            raise ValueError(f"invalid hours {part.strip()!r}: opening must be before closing")
        windows.append(window)
    return _normalise_windows(windows)


def _normalise_windows(windows: Iterable[TimeWindow]) -> tuple[TimeWindow, ...]:
    merged: list[TimeWindow] = []
    for window in sorted(windows):
        if not 0 <= window.open < window.close <= _DAY_SECONDS:
            raise ValueError(f"invalid window {window}: expected 00:00 <= open < close <= 24:00")
        if merged and window.open < merged[-1].close:
            raise ValueError(f"overlapping windows {merged[-1]} and {window}")
        if merged and window.open == merged[-1].close:
            merged[-1] = TimeWindow(merged[-1].open, window.close)
        else:
            merged.append(window)
    return tuple(merged)


@dataclass(frozen=True)
class WeeklySchedule:
    """Support windows per weekday: `windows[0]` is Monday, `windows[6]` Sunday (local wall clock)."""

    windows: tuple[tuple[TimeWindow, ...], ...]

    def __post_init__(self) -> None:
        if len(self.windows) != 7:
            raise ValueError("a weekly schedule needs exactly 7 days of windows")
        object.__setattr__(self, "windows", tuple(_normalise_windows(day) for day in self.windows))

    @classmethod
    def from_mapping(cls, windows: Mapping[int, Sequence[TimeWindow]]) -> WeeklySchedule:
        """From {weekday: windows}; weekdays not mentioned are closed."""
        unknown = set(windows) - set(range(7))
        if unknown:
            raise ValueError(f"invalid weekday numbers {sorted(unknown)}: expected 0 (Monday) to 6 (Sunday)")
        return cls(tuple(tuple(windows.get(day, ())) for day in range(7)))

    @classmethod
    def parse(cls, days: str = "Mon-Fri", hours: str = "08:00-17:00") -> WeeklySchedule:
        """The CLI/CRD form: the same `hours` on each of `days`, e.g. parse("Mon-Fri", "08:00-17:00")."""
        return cls.from_rules([(days, hours)])

    @classmethod
    def from_rules(cls, rules: Iterable[tuple[str, str]]) -> WeeklySchedule:
        """Several (days, hours) rules combined, e.g. [("Mon-Fri", "08:00-17:00"), ("Sat", "09:00-12:00")]."""
        per_day: dict[int, list[TimeWindow]] = {day: [] for day in range(7)}
        for days, hours in rules:
            windows = parse_hours(hours)
            for day in parse_days(days):
                per_day[day].extend(windows)
        return cls.from_mapping(per_day)

    @classmethod
    def around_the_clock(cls) -> WeeklySchedule:
        """Open every day, 00:00-24:00."""
        return cls.parse("Mon-Sun", "00:00-24:00")

    @property
    def is_empty(self) -> bool:
        return not any(self.windows)

    def describe(self) -> str:
        """Human-readable form, e.g. "Mon 08:00-17:00; Tue 08:00-17:00; ..."."""
        return "; ".join(
            f"{_DAY_NAMES[day].title()} {','.join(map(str, windows))}"
            for day, windows in enumerate(self.windows)
            if windows
        )


STANDARD_SCHEDULE = WeeklySchedule.parse("Mon-Fri", "08:00-17:00")
"""The offer's support time: Monday to Friday, 08:00-17:00."""


class _Table(NamedTuple):
    """Open time of local years first_year..last_year as disjoint, sorted UTC intervals (microseconds)."""

    first_year: int
    last_year: int
    safe_from: int  # instants in [safe_from, safe_until) are fully described by the table
    safe_until: int
    starts: list[int]
    ends: list[int]
    before: list[int]  # business time before interval i, counted from the table's start
    through: list[int]  # business time up to the end of interval i


def to_epoch_us(instant: datetime) -> int:
    """Exact microseconds since the epoch of an aware datetime; naive datetimes are refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()} refused: give a time zone or UTC offset")
    return (instant - _EPOCH) // _US


def from_epoch_us(us: int) -> datetime:
    """The aware UTC datetime of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=us)


def _wall_us(day: date) -> int:
    """Local midnight of `day` on the wall clock, as if the wall clock were UTC."""
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY_US


class BusinessCalendar:
    """Support time of a contract: time zone, weekly schedule, public holidays and extra closed dates.

    Every operation takes aware datetimes (any zone) and returns aware UTC datetimes; show them to people
    with `local()`. Naive datetimes raise ValueError. Instances are immutable and safe to share.
    """

    def __init__(
        self,
        timezone: str = "Europe/Zurich",
        schedule: WeeklySchedule = STANDARD_SCHEDULE,
        country: str | None = "CH",
        subdivision: str | None = "BE",
        closed_dates: Iterable[date] = (),
        holiday_language: str = "en_US",
    ) -> None:
        """Raises ValueError for an unknown time zone, country or subdivision, or an empty schedule."""
        self._zone = _load_zone(timezone)
        if schedule.is_empty:
            raise ValueError("the weekly schedule has no support time")
        if country is None and subdivision is not None:
            raise ValueError("a subdivision needs a country")
        self.schedule = schedule
        self.country = country
        self.subdivision = subdivision
        self.closed_dates = frozenset(closed_dates)
        self.holiday_language = holiday_language
        self._holiday_source = _holiday_source(country, subdivision, holiday_language)
        self._holidays_by_year: dict[int, tuple[tuple[date, str], ...]] = {}
        self._table: _Table | None = None

    @classmethod
    def around_the_clock(cls, timezone: str = "Europe/Zurich") -> BusinessCalendar:
        """24/7, no holidays: the default Pikett calendar."""
        return cls(timezone, WeeklySchedule.around_the_clock(), country=None, subdivision=None)

    def _spec(self) -> tuple[object, ...]:
        return (
            self.zone_name,
            self.schedule,
            self.country,
            self.subdivision,
            self.closed_dates,
            self.holiday_language,
        )

    def __eq__(self, other: object) -> bool:
        """Calendars are equal when configured alike (so a controller can tell whether a calendar changed)."""
        return isinstance(other, BusinessCalendar) and self._spec() == other._spec()

    def __hash__(self) -> int:
        return hash(self._spec())

    def __repr__(self) -> str:
        region = "-".join(part for part in (self.country, self.subdivision) if part) or "no holidays"
        return f"BusinessCalendar({self.zone_name}, {self.schedule.describe()}, {region})"

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def zone_name(self) -> str:
        return self._zone.key

    def local(self, instant: datetime) -> datetime:
        """`instant` in the calendar's time zone, for display (RFC 3339 via `.isoformat()`)."""
        to_epoch_us(instant)
        return instant.astimezone(self._zone)

    # -- holidays ---------------------------------------------------------------------------------------

    def holidays_in(self, year: int) -> list[tuple[date, str]]:
        """Every date of `year` closed all day: public holidays by name, extra closed dates as "Closed".

        Holidays falling on days without support time are listed too (they are still holidays).
        """
        return list(self._closures(year))

    def is_closed_date(self, day: date) -> bool:
        """True when `day` is a public holiday or an extra closed date (whatever its weekday)."""
        return day in dict(self._closures(day.year))

    def _closures(self, year: int) -> tuple[tuple[date, str], ...]:
        cached = self._holidays_by_year.get(year)
        if cached is None:
            named: dict[date, str] = {}
            if self._holiday_source is not None:
                named.update(self._holiday_source(year))
            for day in self.closed_dates:
                if day.year == year:
                    named.setdefault(day, "Closed")
            cached = tuple(sorted(named.items()))
            self._holidays_by_year[year] = cached
        return cached

    # -- operations -------------------------------------------------------------------------------------

    def is_open(self, instant: datetime) -> bool:
        """True when support time runs at `instant` (opening instants are open, closing instants are not)."""
        t = to_epoch_us(instant)
        table = self._table_covering(t)
        i = bisect_right(table.starts, t) - 1
        return i >= 0 and t < table.ends[i]

    def next_open(self, instant: datetime) -> datetime:
        """`instant` itself when open, else the next opening instant (UTC)."""
        t = to_epoch_us(instant)
        table = self._table_covering(t)
        i = bisect_right(table.ends, t)
        while i == len(table.starts):
            table = self._extend(table, t)
            i = bisect_right(table.ends, t)
        return from_epoch_us(max(t, table.starts[i]))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant (UTC) by which `duration` of support time has run since `start`.

        The clock starts at `start`, or at the next opening when `start` is outside support time. Being the
        earliest such instant, a deadline that falls exactly at a closing time stays on that day. A zero
        duration returns `start` itself. Negative durations raise ValueError.
        """
        if duration < timedelta(0):
            raise ValueError(f"negative duration {duration} refused")
        return from_epoch_us(self.add_us(to_epoch_us(start), duration // _US))

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Support time in [start, end). Raises ValueError when `end` is before `start`."""
        a, b = to_epoch_us(start), to_epoch_us(end)
        if b < a:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        return timedelta(microseconds=self.elapsed_us(a, b))

    # -- the same in microseconds since the epoch, for hot paths (a metrics scrape, the case queue) ------

    def add_us(self, start: int, amount: int) -> int:
        """`add` on epoch microseconds: the earliest instant by which `amount` (>= 0) µs of support time
        have run since `start`."""
        if amount < 0:
            raise ValueError(f"negative duration of {amount} µs refused")
        if amount == 0:
            return start
        table = self._table_covering(start)
        target = self._position(table, start) + amount
        while True:
            j = bisect_left(table.through, target)
            if j < len(table.starts):
                deadline = table.starts[j] + (target - table.before[j])
                if deadline < table.safe_until:
                    return deadline
            table = self._extend(table, start)

    def elapsed_us(self, start: int, end: int) -> int:
        """`elapsed` on epoch microseconds: support time in [start, end), for start <= end; two bisections
        in the precomputed table (built once per calendar, extended by whole years when needed)."""
        table = self._table
        if table is None or not (table.safe_from <= start and end < table.safe_until):
            table = self._table_covering(start, end)
        return self._position(table, end) - self._position(table, start)

    # -- the precomputed table --------------------------------------------------------------------------

    @staticmethod
    def _position(table: _Table, t: int) -> int:
        """Business time from the table's start up to `t` (t must lie inside the table's safe range)."""
        i = bisect_right(table.ends, t)
        if i == len(table.starts):
            return table.through[-1] if table.starts else 0
        return table.before[i] + max(0, t - table.starts[i])

    def _table_covering(self, *instants: int) -> _Table:
        """A table whose safe range holds all `instants`, built (one year of margin each side) if needed."""
        table = self._table
        if table is not None and all(table.safe_from <= t < table.safe_until for t in instants):
            return table
        years = [from_epoch_us(t).year for t in instants]
        first, last = min(years) - 1, max(years) + 1
        if table is not None:
            first, last = min(first, table.first_year), max(last, table.last_year)
        return self._build(first, last)

    def _extend(self, table: _Table, origin: int) -> _Table:
        """One more year of table, for operations that run past its end."""
        if table.last_year - from_epoch_us(origin).year > _MAX_SEARCH_YEARS:
            raise ValueError(f"no support time within {_MAX_SEARCH_YEARS} years: check the calendar")
        # Same first year: positions computed in `table` stay valid in the extended one.
        return self._build(table.first_year, table.last_year + 1)

    def _build(self, first_year: int, last_year: int) -> _Table:
        span_from = _wall_us(date(first_year, 1, 1))
        span_until = _wall_us(date(last_year + 1, 1, 1))
        segments = _offset_segments(self._zone, span_from - 2 * _DAY_US, span_until + 2 * _DAY_US)
        pieces: list[tuple[int, int]] = []
        for year in range(first_year, last_year + 1):
            closed = {day for day, _ in self._closures(year)}
            day = date(year, 1, 1)
            while day.year == year:
                if day not in closed:
                    midnight = _wall_us(day)
                    for window in self.schedule.windows[day.weekday()]:
                        wall_from = midnight + window.open * _SECOND_US
                        wall_until = midnight + window.close * _SECOND_US
                        pieces.extend(_wall_preimage(segments, wall_from, wall_until))
                day += timedelta(days=1)
        starts, ends, before, through = _merge(pieces)
        # Offsets are far below a day, so instants one day inside the span have their local date inside it.
        table = _Table(
            first_year, last_year, span_from + _DAY_US, span_until - _DAY_US, starts, ends, before, through
        )
        self._table = table
        return table


def _merge(pieces: list[tuple[int, int]]) -> tuple[list[int], list[int], list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(pieces):
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    before: list[int] = []
    through: list[int] = []
    total = 0
    for start, end in zip(starts, ends, strict=True):
        before.append(total)
        total += end - start
        through.append(total)
    return starts, ends, before, through


class _Segment(NamedTuple):
    start: int  # UTC microseconds
    end: int
    offset: int  # microseconds to add to UTC for the wall clock


def _offset_segments(zone: ZoneInfo, span_from: int, span_until: int) -> list[_Segment]:
    """The zone's UTC offset over [span_from, span_until) as constant pieces, split at exact transitions."""

    def offset_at(second: int) -> int:
        offset = datetime.fromtimestamp(second, zone).utcoffset()
        assert offset is not None
        return offset // _US

    first_second = span_from // _SECOND_US
    last_second = span_until // _SECOND_US
    segments: list[_Segment] = []
    segment_start, offset = first_second, offset_at(first_second)
    probe = first_second
    while probe < last_second:
        following = min(probe + _OFFSET_SAMPLE_SECONDS, last_second)
        following_offset = offset_at(following)
        if following_offset != offset:
            low, high = probe, following  # offset(low) == offset, offset(high) differs
            while high - low > 1:
                middle = (low + high) // 2
                if offset_at(middle) == offset:
                    low = middle
                else:
                    high = middle
            segments.append(_Segment(segment_start * _SECOND_US, high * _SECOND_US, offset))
            segment_start, offset = high, offset_at(high)
        probe = following
    segments.append(_Segment(segment_start * _SECOND_US, last_second * _SECOND_US, offset))
    # Unbounded outer ends: instants outside the span keep the outer offsets.
    segments[0] = segments[0]._replace(start=-(2**62))
    segments[-1] = segments[-1]._replace(end=2**62)
    return segments


def _wall_preimage(segments: list[_Segment], wall_from: int, wall_until: int) -> Iterable[tuple[int, int]]:
    """The UTC instants whose wall-clock time lies in [wall_from, wall_until): one piece per offset segment.

    On a DST change day this may be empty (a window inside the skipped hour) or two pieces (a window
    covering the repeated hour counts it twice).
    """
    for segment in segments:
        start = max(wall_from - segment.offset, segment.start)
        end = min(wall_until - segment.offset, segment.end)
        if start < end:
            yield start, end


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def _holiday_source(
    country: str | None, subdivision: str | None, language: str
) -> Callable[[int], Mapping[date, str]] | None:
    """A function year -> {date: name} for the region, validated now (unknown region -> ValueError)."""
    if country is None:
        return None
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=[], language=language)
    except NotImplementedError as error:
        supported = holidays.list_supported_countries().get(country.upper())
        if supported is None:
            raise ValueError(f"unknown holiday country {country!r}") from error
        raise ValueError(
            f"unknown subdivision {subdivision!r} of {country}: expected one of {', '.join(supported)}"
        ) from error

    def named_holidays(year: int) -> Mapping[date, str]:
        return dict(holidays.country_holidays(country, subdiv=subdivision, years=[year], language=language))

    return named_holidays
