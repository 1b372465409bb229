"""BusinessCalendar: the boundary table of issue 3, DST, holidays, parsing and hypothesis properties."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference_calendar import ReferenceCalendar
from support_operator.domain.calendar import (
    STANDARD_SCHEDULE,
    BusinessCalendar,
    TimeWindow,
    WeeklySchedule,
    parse_days,
    parse_hours,
)

PROPERTIES = settings.get_profile(os.environ.get("SLA_HYPOTHESIS_PROFILE", "sla-fast"))
US = timedelta(microseconds=1)
H = timedelta(hours=1)

BERN = BusinessCalendar()  # Europe/Zurich, Mon-Fri 08:00-17:00, CH-BE holidays: the offer's support time


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def reference_for(calendar: BusinessCalendar, years: range = range(2024, 2031)) -> ReferenceCalendar:
    windows = {day: [tuple(w) for w in ws] for day, ws in enumerate(calendar.schedule.windows)}
    closed = [day for year in years for day, _ in calendar.holidays_in(year)]
    return ReferenceCalendar(calendar.zone_name, windows, closed)


# -- public holidays of canton Bern, from first principles ----------------------------------------------


def gregorian_easter(year: int) -> date:
    """Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


# Written by hand: Easter Sunday 2026-04-05, 2027-03-28, 2028-04-16.
BERN_HOLIDAYS = {
    2026: ["01-01", "01-02", "04-03", "04-06", "05-14", "05-25", "08-01", "12-25", "12-26"],
    2027: ["01-01", "01-02", "03-26", "03-29", "05-06", "05-17", "08-01", "12-25", "12-26"],
    2028: ["01-01", "01-02", "04-14", "04-17", "05-25", "06-05", "08-01", "12-25", "12-26"],
}


@pytest.mark.parametrize("year", sorted(BERN_HOLIDAYS))
def test_hand_written_holiday_table_follows_from_easter(year):
    easter = gregorian_easter(year)
    movable = {easter + timedelta(days=n) for n in (-2, 1, 39, 50)}  # Good Friday .. Whit Monday
    fixed = {date(year, 1, 1), date(year, 1, 2), date(year, 8, 1), date(year, 12, 25), date(year, 12, 26)}
    assert {date.fromisoformat(f"{year}-{md}") for md in BERN_HOLIDAYS[year]} == movable | fixed


@pytest.mark.parametrize("year", sorted(BERN_HOLIDAYS))
def test_bern_holidays_are_the_hand_written_ones(year):
    listed = BERN.holidays_in(year)
    assert [day for day, _ in listed] == [date.fromisoformat(f"{year}-{md}") for md in BERN_HOLIDAYS[year]]
    names = dict(listed)
    assert "Berchtold" in names[date(year, 1, 2)]
    assert "Good Friday" in names[gregorian_easter(year) - timedelta(days=2)]
    assert all(isinstance(name, str) and name for name in names.values())


def test_24_december_is_not_a_holiday_in_bern():
    assert not BERN.is_closed_date(date(2026, 12, 24))
    assert BERN.is_open(at("2026-12-24T10:00:00+01:00"))


def test_extra_closed_dates_are_listed_and_closed():
    calendar = BusinessCalendar(closed_dates=[date(2026, 12, 24), date(2026, 12, 31)])
    listed = dict(calendar.holidays_in(2026))
    assert listed[date(2026, 12, 24)] == "Closed"
    assert listed[date(2026, 12, 25)] == "Christmas Day"  # the public name wins over "Closed"
    assert not calendar.is_open(at("2026-12-24T10:00:00+01:00"))
    assert calendar.add(at("2026-12-23T16:00:00+01:00"), 2 * H) == at("2026-12-28T09:00:00+01:00")


def test_other_canton_has_other_holidays():
    zurich = BusinessCalendar(subdivision="ZH")
    assert date(2026, 1, 2) not in dict(zurich.holidays_in(2026))
    assert date(2026, 5, 1) in dict(zurich.holidays_in(2026))


def test_no_country_means_no_public_holidays():
    calendar = BusinessCalendar(country=None, subdivision=None)
    assert calendar.holidays_in(2026) == []
    assert calendar.is_open(at("2026-04-03T10:00:00+02:00"))  # Good Friday


# -- the acceptance boundary table ----------------------------------------------------------------------

# (case, reported, reaction hours, expected deadline in the contract's zone) for the offer's support time:
# Mon-Fri 08:00-17:00 Europe/Zurich, public holidays of canton Bern.
BOUNDARY_TABLE = [
    ("issue example: Mon 16:00 + 2h", "2026-11-23T16:00:00+01:00", 2, "2026-11-24T09:00:00+01:00"),
    ("reported 07:59 starts at 08:00", "2026-11-23T07:59:00+01:00", 2, "2026-11-23T10:00:00+01:00"),
    ("reported 08:00", "2026-11-23T08:00:00+01:00", 2, "2026-11-23T10:00:00+01:00"),
    ("reported 16:59:30: 30 s today", "2026-11-23T16:59:30+01:00", 2, "2026-11-24T09:59:30+01:00"),
    ("reported 17:00 starts next day", "2026-11-23T17:00:00+01:00", 2, "2026-11-24T10:00:00+01:00"),
    ("reported Saturday", "2026-11-28T10:00:00+01:00", 2, "2026-11-30T10:00:00+01:00"),
    ("8h from Mon 09:00 ends at closing", "2026-11-23T09:00:00+01:00", 8, "2026-11-23T17:00:00+01:00"),
    ("2h from 15:00 ends at closing", "2026-11-23T15:00:00+01:00", 2, "2026-11-23T17:00:00+01:00"),
    ("8h from 08:00", "2026-11-23T08:00:00+01:00", 8, "2026-11-23T16:00:00+01:00"),
    ("DST spring (Sun 29 Mar) over the weekend", "2026-03-27T16:00:00+01:00", 2, "2026-03-30T09:00:00+02:00"),
    ("DST spring, 8h", "2026-03-27T13:00:00+01:00", 8, "2026-03-30T12:00:00+02:00"),
    ("DST autumn (Sun 25 Oct) over the weekend", "2026-10-23T16:30:00+02:00", 2, "2026-10-26T09:30:00+01:00"),
    ("DST autumn, 8h", "2026-10-23T10:00:00+02:00", 8, "2026-10-26T09:00:00+01:00"),
    ("Good Friday + Easter Monday, 2h", "2026-04-02T16:00:00+02:00", 2, "2026-04-07T09:00:00+02:00"),
    ("Good Friday + Easter Monday, 8h", "2026-04-02T16:00:00+02:00", 8, "2026-04-07T15:00:00+02:00"),
    ("reported on Good Friday", "2027-03-26T11:00:00+01:00", 2, "2027-03-30T10:00:00+02:00"),
    ("New Year + Berchtoldstag", "2025-12-31T16:00:00+01:00", 2, "2026-01-05T09:00:00+01:00"),
    ("Berchtoldstag on a Saturday", "2026-12-31T16:00:00+01:00", 2, "2027-01-04T09:00:00+01:00"),
    ("Ascension Thursday", "2026-05-13T16:00:00+02:00", 2, "2026-05-15T09:00:00+02:00"),
    ("1 August on a Tuesday", "2028-07-31T16:00:00+02:00", 2, "2028-08-02T09:00:00+02:00"),
    ("24 December is a working day", "2026-12-24T08:00:00+01:00", 8, "2026-12-24T16:00:00+01:00"),
    ("24 Dec then 25/26 Dec + weekend", "2026-12-24T16:00:00+01:00", 2, "2026-12-28T09:00:00+01:00"),
    ("25/26 December on weekdays", "2028-12-22T16:00:00+01:00", 8, "2028-12-27T15:00:00+01:00"),
    ("8h over a weekend and Whit Monday", "2026-05-22T15:00:00+02:00", 8, "2026-05-26T14:00:00+02:00"),
    ("reported in UTC", "2026-11-23T15:00:00Z", 2, "2026-11-24T09:00:00+01:00"),
]


@pytest.mark.parametrize(
    ("reported", "hours", "expected"),
    [row[1:] for row in BOUNDARY_TABLE],
    ids=[row[0] for row in BOUNDARY_TABLE],
)
def test_boundary_table(reported, hours, expected):
    deadline = BERN.add(at(reported), timedelta(hours=hours))
    assert deadline.tzinfo is UTC
    assert BERN.local(deadline).isoformat() == expected
    assert BERN.elapsed(at(reported), deadline) == timedelta(hours=hours)


def test_boundary_table_agrees_with_the_slow_reference():
    reference = reference_for(BERN)
    for case, reported, hours, _ in BOUNDARY_TABLE:
        expected = reference.add(at(reported), timedelta(hours=hours))
        assert BERN.add(at(reported), timedelta(hours=hours)) == expected, case


# -- operations -----------------------------------------------------------------------------------------


def test_is_open_is_half_open_per_day():
    assert not BERN.is_open(at("2026-11-23T07:59:59.999999+01:00"))
    assert BERN.is_open(at("2026-11-23T08:00:00+01:00"))
    assert BERN.is_open(at("2026-11-23T16:59:59.999999+01:00"))
    assert not BERN.is_open(at("2026-11-23T17:00:00+01:00"))
    assert not BERN.is_open(at("2026-11-28T10:00:00+01:00"))  # Saturday
    assert not BERN.is_open(at("2026-08-01T10:00:00+02:00"))  # Saturday and National Day
    assert not BERN.is_open(at("2028-08-01T10:00:00+02:00"))  # Tuesday, National Day


def test_next_open():
    assert BERN.next_open(at("2026-11-27T17:00:00+01:00")) == at("2026-11-30T08:00:00+01:00")
    assert BERN.next_open(at("2026-04-02T17:30:00+02:00")) == at("2026-04-07T08:00:00+02:00")
    inside = at("2026-11-23T10:11:12.131415+01:00")
    assert BERN.next_open(inside) == inside
    assert BERN.next_open(inside).tzinfo is UTC


def test_elapsed_counts_support_time_only():
    assert BERN.elapsed(at("2026-11-27T16:00:00+01:00"), at("2026-11-30T09:00:00+01:00")) == 2 * H
    assert BERN.elapsed(at("2026-11-28T00:00:00+01:00"), at("2026-11-29T23:59:00+01:00")) == timedelta(0)
    assert BERN.elapsed(at("2026-11-23T10:00:00+01:00"), at("2026-11-23T10:00:00+01:00")) == timedelta(0)
    # a whole calendar year of support time: 261 weekdays minus 7 holidays on weekdays, 9 h each
    assert BERN.elapsed(at("2026-01-01T00:00:00+01:00"), at("2027-01-01T00:00:00+01:00")) == 254 * 9 * H


def test_add_zero_returns_the_start_and_negative_is_refused():
    start = at("2026-11-28T10:00:00+01:00")
    assert BERN.add(start, timedelta(0)) == start
    with pytest.raises(ValueError, match="negative"):
        BERN.add(start, -US)


def test_elapsed_refuses_reversed_instants():
    with pytest.raises(ValueError, match="before"):
        BERN.elapsed(at("2026-11-24T10:00:00+01:00"), at("2026-11-23T10:00:00+01:00"))


@pytest.mark.parametrize(
    "call",
    [
        lambda t: BERN.add(t, H),
        lambda t: BERN.elapsed(t, t),
        lambda t: BERN.elapsed(at("2026-11-23T10:00:00+01:00"), t),
        BERN.is_open,
        BERN.next_open,
        BERN.local,
    ],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="naive"):
        call(datetime(2026, 11, 23, 10, 0))


def test_microseconds_are_exact():
    start = at("2026-11-23T16:59:59.999999+01:00")
    assert BERN.add(start, 3 * US) == at("2026-11-24T08:00:00.000002+01:00")


def test_far_years_and_long_durations_extend_the_table():
    fresh = BusinessCalendar()
    deadline = fresh.add(at("2026-12-30T10:00:00+01:00"), 2000 * H)  # runs about a year into 2027/2028
    assert fresh.elapsed(at("2026-12-30T10:00:00+01:00"), deadline) == 2000 * H
    assert BusinessCalendar().add(at("2026-12-30T10:00:00+01:00"), 2000 * H) == deadline
    assert fresh.add(at("2041-03-01T16:00:00+01:00"), 2 * H) == at("2041-03-04T09:00:00+01:00")  # Fri -> Mon
    assert fresh.elapsed(at("2026-11-23T08:00:00+01:00"), at("2041-03-04T09:00:00+01:00")) > 30_000 * H


# -- DST days with windows across the night -------------------------------------------------------------


def every_day(hours: str, zone: str = "Europe/Zurich") -> BusinessCalendar:
    return BusinessCalendar(zone, WeeklySchedule.parse("Mon-Sun", hours), country=None, subdivision=None)


@pytest.mark.parametrize(
    ("hours", "day", "expected"),
    [
        ("00:00-24:00", "2026-03-29", 23 * H),  # spring: the local day is 23 h long
        ("00:00-24:00", "2026-10-25", 25 * H),  # autumn: 25 h
        ("00:00-24:00", "2026-03-28", 24 * H),
        ("08:00-17:00", "2026-03-29", 9 * H),  # daytime windows keep their wall-clock length
        ("08:00-17:00", "2026-10-25", 9 * H),
        ("02:00-03:00", "2026-03-29", timedelta(0)),  # this hour does not exist that day
        ("02:00-03:00", "2026-10-25", 2 * H),  # this hour happens twice
        ("01:30-02:30", "2026-03-29", timedelta(minutes=30)),
        ("01:30-02:30", "2026-10-25", timedelta(minutes=90)),
    ],
)
def test_windows_follow_the_wall_clock_on_dst_days(hours, day, expected):
    calendar = every_day(hours)
    midnight = datetime.fromisoformat(f"{day}T00:00:00").replace(tzinfo=calendar.zone)
    next_midnight = (midnight + timedelta(days=1)).replace(tzinfo=calendar.zone)
    assert calendar.elapsed(midnight, next_midnight) == expected
    assert reference_for(calendar).elapsed(midnight, next_midnight) == expected


def test_around_the_clock_counts_real_time_across_dst():
    pikett = BusinessCalendar.around_the_clock()
    assert pikett.holidays_in(2026) == []
    assert pikett.add(at("2026-03-28T23:00:00+01:00"), 8 * H) == at("2026-03-29T08:00:00+02:00")
    assert pikett.add(at("2026-10-24T23:00:00+02:00"), 8 * H) == at("2026-10-25T06:00:00+01:00")
    assert pikett.is_open(at("2026-12-25T03:00:00+01:00"))
    # one merged interval: a deadline at local midnight is not pushed anywhere
    assert pikett.add(at("2026-11-23T23:00:00+01:00"), H) == at("2026-11-24T00:00:00+01:00")


# -- construction and parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"timezone": ""}, "unknown time zone"),
        ({"country": "XX"}, "unknown holiday country"),
        ({"subdivision": "XX"}, "unknown subdivision 'XX'"),
        ({"subdivision": "be"}, "unknown subdivision"),
        ({"country": None}, "subdivision needs a country"),
        ({"schedule": WeeklySchedule.from_mapping({})}, "no support time"),
    ],
)
def test_invalid_calendars_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**kwargs)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("Mon,Wed,Fri", {0, 2, 4}),
        ("mon-wed, sat", {0, 1, 2, 5}),
        ("Sun", {6}),
        ("Fri-Mon", {4, 5, 6, 0}),
        ("Mon-Sun", set(range(7))),
        ("Monday-Tuesday", {0, 1}),
    ],
)
def test_parse_days(text, days):
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["", "Mon-", "Mo-Fr", "Mon,,Fri", "Funday"])
def test_parse_days_refuses(text):
    with pytest.raises(ValueError, match="invalid"):
        parse_days(text)


def test_parse_hours():
    assert parse_hours("08:00-17:00") == (TimeWindow(8 * 3600, 17 * 3600),)
    assert parse_hours("13:00-17:00, 08:00-12:00") == (
        TimeWindow(8 * 3600, 12 * 3600),
        TimeWindow(13 * 3600, 17 * 3600),
    )
    assert parse_hours("00:00-12:00,12:00-24:00") == (TimeWindow(0, 86400),)  # adjacent windows merge
    assert str(parse_hours("8:30-24:00")[0]) == "08:30-24:00"


@pytest.mark.parametrize(
    "text",
    [
        "17:00-08:00",
        "08:00-08:00",
        "08:00",
        "8-17",
        "08:00-24:01",
        "25:00-26:00",
        "08:60-09:00",
        "08:00-12:00,11:00-17:00",
    ],
)
def test_parse_hours_refuses(text):
    with pytest.raises(ValueError):
        parse_hours(text)


def test_schedule_forms():
    assert WeeklySchedule.parse() == STANDARD_SCHEDULE
    combined = WeeklySchedule.from_rules([("Mon-Fri", "08:00-12:00,13:00-17:00"), ("Sat", "09:00-12:00")])
    assert combined.windows[5] == (TimeWindow(9 * 3600, 12 * 3600),)
    assert combined.windows[6] == ()
    assert combined.describe().startswith("Mon 08:00-12:00,13:00-17:00;")
    with pytest.raises(ValueError, match="overlapping"):
        WeeklySchedule.from_rules([("Mon-Fri", "08:00-17:00"), ("Fri", "16:00-18:00")])


def test_split_hours_close_over_lunch():
    lunch = BusinessCalendar(schedule=WeeklySchedule.parse("Mon-Fri", "08:00-12:00,13:00-17:00"))
    assert not lunch.is_open(at("2026-11-23T12:30:00+01:00"))
    assert lunch.add(at("2026-11-23T11:00:00+01:00"), 2 * H) == at("2026-11-23T14:00:00+01:00")
    # exactly at the lunch closing the deadline stays before lunch
    assert lunch.add(at("2026-11-23T10:00:00+01:00"), 2 * H) == at("2026-11-23T12:00:00+01:00")


# -- properties -----------------------------------------------------------------------------------------

SPAN_START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_US = int((datetime(2029, 1, 1, tzinfo=UTC) - SPAN_START) / US)
DST_DAYS = [
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2027, 3, 28, tzinfo=UTC),
    datetime(2027, 10, 31, tzinfo=UTC),
    datetime(2028, 3, 26, tzinfo=UTC),
    datetime(2028, 10, 29, tzinfo=UTC),
]
ZONES = ["Europe/Zurich", "Europe/Zurich", "America/New_York", "Australia/Adelaide", "Asia/Kolkata"]

anywhere = st.integers(0, SPAN_US).map(lambda us: SPAN_START + timedelta(microseconds=us))
near_dst = st.tuples(
    st.sampled_from(DST_DAYS), st.integers(-3 * 86_400, 2 * 86_400), st.integers(0, 999_999)
).map(lambda t: t[0] + timedelta(seconds=t[1], microseconds=t[2]))
on_the_minute = st.integers(0, SPAN_US // 60_000_000).map(lambda m: SPAN_START + timedelta(minutes=m))
instants = st.one_of(anywhere, near_dst, on_the_minute)
durations = st.one_of(
    st.integers(1, 30 * 3600 * 1_000_000).map(lambda us: timedelta(microseconds=us)),
    st.integers(1, 30 * 60).map(lambda m: timedelta(minutes=m)),
    st.sampled_from([2 * H, 8 * H]),
)


@st.composite
def schedules(draw):
    """Random weekly schedules on a 30-minute grid, boundaries in the DST hours included."""
    per_day = {}
    for day in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 48), max_size=6)))
        per_day[day] = [TimeWindow(a * 1800, b * 1800) for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
    schedule = WeeklySchedule.from_mapping(per_day)
    assume(sum(w.close - w.open for ws in schedule.windows for w in ws) >= 4 * 3600)
    return schedule


fixed_calendars = st.sampled_from(
    [
        BERN,
        BusinessCalendar(schedule=WeeklySchedule.parse("Mon-Fri", "08:00-12:00,13:00-17:00")),
        BusinessCalendar.around_the_clock(),
        every_day("06:00-22:00"),
        every_day("00:00-02:30,03:00-05:00,22:00-24:00"),
        BusinessCalendar("America/New_York", country="US", subdivision="NY"),
    ]
)
random_calendars = st.builds(
    BusinessCalendar,
    timezone=st.sampled_from(ZONES),
    schedule=schedules(),
    country=st.just("CH"),
    subdivision=st.sampled_from(["BE", "ZH", "GE"]),
)
calendars = st.one_of(fixed_calendars, random_calendars)


def is_closing_instant(calendar: BusinessCalendar, t: datetime) -> bool:
    return not calendar.is_open(t) and calendar.is_open(t - US)


@settings(PROPERTIES)
@given(calendars, instants, durations)
def test_elapsed_of_add_is_the_duration(calendar, start, duration):
    assert calendar.elapsed(start, calendar.add(start, duration)) == duration


@settings(PROPERTIES)
@given(calendars, instants, instants, durations, durations)
def test_add_is_monotonic_in_both_arguments(calendar, a1, a2, d1, d2):
    a1, a2 = sorted([a1, a2])
    d1, d2 = sorted([d1, d2])
    assert calendar.add(a1, d1) <= calendar.add(a2, d1)
    assert calendar.add(a1, d1) <= calendar.add(a1, d2)
    if d1 < d2:
        assert calendar.add(a1, d1) < calendar.add(a1, d2)


@settings(PROPERTIES)
@given(calendars, instants, durations)
def test_deadlines_lie_in_support_time_or_exactly_at_a_closing(calendar, start, duration):
    deadline = calendar.add(start, duration)
    assert deadline >= start
    assert calendar.is_open(deadline) or is_closing_instant(calendar, deadline)
    if not calendar.is_open(deadline):  # a closing instant: not pushed to the next opening
        assert calendar.elapsed(start, deadline - US) == duration - US


@settings(PROPERTIES)
@given(calendars, instants, durations)
def test_agrees_with_the_slow_reference(calendar, start, duration):
    reference = reference_for(calendar)
    deadline = calendar.add(start, duration)
    assert deadline == reference.add(start, duration)
    assert calendar.is_open(start) == reference.is_open(start)
    assert calendar.is_open(deadline) == reference.is_open(deadline)
    later = start + min(duration, 40 * H)
    assert calendar.elapsed(start, later) == reference.elapsed(start, later)


@settings(PROPERTIES)
@given(calendars, instants)
def test_next_open_is_open_and_nothing_opens_before(calendar, t):
    opening = calendar.next_open(t)
    assert opening >= t
    assert calendar.is_open(opening)
    assert calendar.elapsed(t, opening) == timedelta(0)


zurich_nights = st.one_of(
    st.sampled_from(
        [
            BusinessCalendar.around_the_clock(),
            every_day("00:00-02:30,03:00-05:00,22:00-24:00"),
            every_day("01:00-02:00,02:30-04:00"),
        ]
    ),
    st.builds(BusinessCalendar, schedule=schedules()),
)
before_a_dst_change = st.builds(
    lambda day, seconds: day + timedelta(seconds=seconds),
    st.sampled_from(DST_DAYS),
    st.integers(-30 * 3600, 4 * 3600),
)


@settings(PROPERTIES)
@given(zurich_nights, before_a_dst_change, durations)
def test_agrees_with_the_slow_reference_across_dst_changes(calendar, start, duration):
    reference = reference_for(calendar)
    assert calendar.add(start, duration) == reference.add(start, duration)
    later = start + 30 * H
    assert calendar.elapsed(start, later) == reference.elapsed(start, later)


def test_calendars_configured_alike_are_equal():
    assert BusinessCalendar() == BERN
    assert hash(BusinessCalendar()) == hash(BERN)
    assert BusinessCalendar(subdivision="ZH") != BERN
    assert BusinessCalendar(closed_dates=[date(2026, 12, 24)]) != BERN
    assert BusinessCalendar(schedule=WeeklySchedule.parse("Mon-Fri", "08:00-16:00")) != BERN
    assert BusinessCalendar.around_the_clock() == BusinessCalendar.around_the_clock()
