"""`support-operator sla deadline|elapsed`: output, options, bad input (exit 2, one line on stderr)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from support_operator.cli.main import main


def run(*args: str):
    return CliRunner().invoke(main, ["sla", *args])


def deadline(*args: str) -> str:
    result = run("deadline", *args)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1  # exactly one line
    return result.stdout.strip()


def test_issue_example():
    assert (
        deadline("--reported", "2026-11-23T16:00:00+01:00", "--reaction", "2h") == "2026-11-24T09:00:00+01:00"
    )


def test_prints_in_the_calendar_zone_whatever_the_input_offset():
    assert deadline("--reported", "2026-11-23T15:00:00Z", "--reaction", "2h") == "2026-11-24T09:00:00+01:00"
    assert deadline("--reported", "2026-03-27T15:00:00Z", "--reaction", "2h") == "2026-03-30T09:00:00+02:00"


def test_eight_hours_over_easter():
    assert (
        deadline("--reported", "2026-04-02T16:00:00+02:00", "--reaction", "8h") == "2026-04-07T15:00:00+02:00"
    )


def test_subdivision_changes_the_holidays():
    reported = ("--reported", "2025-12-31T16:00:00+01:00", "--reaction", "2h")
    assert deadline(*reported) == "2026-01-05T09:00:00+01:00"  # BE: 1 and 2 January closed
    assert deadline(*reported, "--subdivision", "ZH") == "2026-01-02T09:00:00+01:00"
    assert deadline(*reported, "--country", "") == "2026-01-01T09:00:00+01:00"  # no public holidays


def test_other_time_zone_and_country():
    args = ("--reported", "2026-11-25T16:00:00-05:00", "--reaction", "2h", "--timezone", "America/New_York")
    assert (
        deadline(*args, "--country", "US", "--subdivision", "NY") == "2026-11-27T09:00:00-05:00"
    )  # Thanksgiving


def test_hours_days_and_closed_dates():
    reported = ("--reported", "2026-11-23T16:00:00+01:00", "--reaction", "2h")
    assert deadline(*reported, "--days", "Mon,Wed,Fri") == "2026-11-25T09:00:00+01:00"
    assert deadline(*reported, "--hours", "08:00-12:00,13:00-16:30") == "2026-11-24T09:30:00+01:00"
    closed = ("--closed", "2026-11-24", "--closed", "2026-11-25")
    assert deadline(*reported, *closed) == "2026-11-26T09:00:00+01:00"


def test_pikett_is_around_the_clock_even_on_holidays():
    assert deadline("--reported", "2026-11-23T16:00:00+01:00", "--reaction", "2h", "--pikett") == (
        "2026-11-23T18:00:00+01:00"
    )
    assert deadline("--reported", "2026-12-25T03:00:00+01:00", "--reaction", "2h", "--pikett") == (
        "2026-12-25T05:00:00+01:00"
    )
    hours = ("--pikett", "--hours", "06:00-22:00", "--days", "Mon-Sun")
    assert deadline("--reported", "2026-12-25T21:00:00+01:00", "--reaction", "4h", *hours) == (
        "2026-12-26T09:00:00+01:00"
    )


def test_elapsed_prints_business_seconds():
    result = run("elapsed", "--from", "2026-11-27T16:00:00+01:00", "--to", "2026-11-30T09:00:00+01:00")
    assert (result.exit_code, result.stdout) == (0, "7200\n")
    result = run("elapsed", "--from", "2026-11-23T16:59:59.5+01:00", "--to", "2026-11-24T08:00:00.25+01:00")
    assert (result.exit_code, result.stdout) == (0, "0.75\n")
    result = run(
        "elapsed", "--from", "2026-11-27T16:00:00+01:00", "--to", "2026-11-30T09:00:00+01:00", "--pikett"
    )
    assert (result.exit_code, result.stdout) == (0, str(65 * 3600) + "\n")


DEADLINE_2H = ("deadline", "--reported", "2026-11-23T16:00:00Z", "--reaction", "2h")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deadline", "--reported", "2026-11-23T16:00:00", "--reaction", "2h"], "naive"),
        (["deadline", "--reported", "yesterday", "--reaction", "2h"], "RFC 3339"),
        (["deadline", "--reported", "2026-11-23T16:00:00Z", "--reaction", "0h"], "positive"),
        (["deadline", "--reported", "2026-11-23T16:00:00Z", "--reaction", "-2h"], "duration"),
        (["deadline", "--reported", "2026-11-23T16:00:00Z", "--reaction", "2 hours"], "duration"),
        (
            [*DEADLINE_2H, "--timezone", "Mars/Base"],
            "zone",
        ),
        ([*DEADLINE_2H, "--subdivision", "XX"], "XX"),
        ([*DEADLINE_2H, "--country", "XX"], "XX"),
        (
            [*DEADLINE_2H, "--hours", "17:00-08:00"],
            "hours",
        ),
        (
            [*DEADLINE_2H, "--days", "Mo-Fr"],
            "weekday",
        ),
        (
            [*DEADLINE_2H, "--closed", "24.12.2026"],
            "closed",
        ),
        (["elapsed", "--from", "2026-11-24T10:00:00Z", "--to", "2026-11-23T10:00:00Z"], "before"),
        (["elapsed", "--from", "2026-11-23T10:00:00", "--to", "2026-11-24T10:00:00Z"], "naive"),
    ],
)
def test_bad_input_exits_2_with_one_line_on_stderr(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr


def test_installed_console_script():
    script = Path(sys.executable).with_name("support-operator")
    assert script.exists(), f"{script} missing: run make (pip install -e .)"
    ok = subprocess.run(
        [str(script), "sla", "deadline", "--reported", "2026-11-23T16:00:00+01:00", "--reaction", "2h"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "2026-11-24T09:00:00+01:00\n", "")
    bad = subprocess.run(
        [str(script), "sla", "deadline", "--reported", "2026-11-23T16:00:00", "--reaction", "2h"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1
