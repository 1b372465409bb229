"""`support-operator sla`: check reaction deadlines and support time from the command line.

    support-operator sla deadline --reported 2026-11-23T16:00:00+01:00 --reaction 2h
    support-operator sla elapsed --from 2026-11-23T16:00:00+01:00 --to 2026-11-24T10:00:00+01:00

Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

import click

from support_operator.domain.calendar import BusinessCalendar, WeeklySchedule
from support_operator.domain.sla import parse_duration

__all__ = ["sla"]

_USAGE_ERROR = 2


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(_USAGE_ERROR)


def _instant(option: str, text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"invalid {option} {text!r}: expected RFC 3339 such as 2026-11-23T16:00:00+01:00")
    if instant.tzinfo is None:
        _fail(f"invalid {option} {text!r}: naive time, add a UTC offset such as +01:00 or Z")
    return instant


def _date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"invalid {option} {text!r}: expected a date YYYY-MM-DD")


def _calendar(
    timezone: str,
    country: str,
    subdivision: str | None,
    hours: str | None,
    days: str | None,
    closed: tuple[str, ...],
    pikett: bool,
) -> BusinessCalendar:
    """The calendar the options describe; --pikett means 24/7 (or --days/--hours) without holidays."""
    closed_dates = [_date("--closed", text) for text in closed]
    try:
        if pikett:
            schedule = WeeklySchedule.parse(days or "Mon-Sun", hours or "00:00-24:00")
            return BusinessCalendar(
                timezone, schedule, country=None, subdivision=None, closed_dates=closed_dates
            )
        if subdivision is None:
            subdivision = "BE" if country.upper() == "CH" else ""
        return BusinessCalendar(
            timezone,
            WeeklySchedule.parse(days or "Mon-Fri", hours or "08:00-17:00"),
            country=country or None,
            subdivision=subdivision or None,
            closed_dates=closed_dates,
        )
    except ValueError as error:
        _fail(str(error))


def _calendar_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--timezone", default="Europe/Zurich", show_default=True, help="IANA time zone."),
        click.option(
            "--country",
            default="CH",
            show_default=True,
            help="Public holidays of this country ('' for none).",
        ),
        click.option("--subdivision", default=None, help="Canton/state for holidays [default: BE for CH]."),
        click.option(
            "--hours", default=None, help="Support hours, e.g. 08:00-12:00,13:00-17:00 [08:00-17:00]."
        ),
        click.option("--days", default=None, help="Support days, e.g. Mon-Fri or Mon,Wed,Fri [Mon-Fri]."),
        click.option("--closed", multiple=True, metavar="YYYY-MM-DD", help="Extra closed date (repeatable)."),
        click.option(
            "--pikett",
            is_flag=True,
            help="Pikett calendar: 24/7 (or --days/--hours), also on public holidays.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _format_seconds(microseconds: int) -> str:
    seconds, fraction = divmod(microseconds, 1_000_000)
    return str(seconds) if not fraction else f"{seconds}.{fraction:06d}".rstrip("0")


@click.group()
def sla() -> None:
    """Reaction deadlines and support time (business time) of a calendar."""


@sla.command()
@click.option("--reported", required=True, help="When the case was reported (RFC 3339 with offset).")
@click.option("--reaction", required=True, help="Reaction time in support time, e.g. 2h or 8h.")
@_calendar_options
def deadline(
    reported: str,
    reaction: str,
    timezone: str,
    country: str,
    subdivision: str | None,
    hours: str | None,
    days: str | None,
    closed: tuple[str, ...],
    pikett: bool,
) -> None:
    """Print the reaction deadline as one RFC 3339 line in the calendar's time zone."""
    reported_at = _instant("--reported", reported)
    try:
        target = parse_duration(reaction)
    except ValueError as error:
        _fail(f"--reaction: {error}")
    calendar = _calendar(timezone, country, subdivision, hours, days, closed, pikett)
    click.echo(calendar.local(calendar.add(reported_at, target)).isoformat())


@sla.command()
@click.option("--from", "start", required=True, help="Start instant (RFC 3339 with offset).")
@click.option("--to", "end", required=True, help="End instant (RFC 3339 with offset).")
@_calendar_options
def elapsed(
    start: str,
    end: str,
    timezone: str,
    country: str,
    subdivision: str | None,
    hours: str | None,
    days: str | None,
    closed: tuple[str, ...],
    pikett: bool,
) -> None:
    """Print the support time between two instants, in seconds."""
    start_at, end_at = _instant("--from", start), _instant("--to", end)
    if end_at < start_at:
        _fail("--to is before --from")
    calendar = _calendar(timezone, country, subdivision, hours, days, closed, pikett)
    click.echo(_format_seconds(calendar.elapsed(start_at, end_at) // timedelta(microseconds=1)))
