"""SLA engine benchmark (`make bench`): reaction deadlines per second on one core, compared with
businesstimedelta and checked against the slow minute-walk reference. Prints figures, asserts no timings.

    .venv/bin/python tests/bench/bench_sla.py [--reports 100000] [--reference-sample 2000] [--btd-sample N]

Calendar: the offer's support time, Mon-Fri 08:00-17:00 Europe/Zurich with the public holidays of canton Bern.
Reports: uniformly random instants (whole seconds) over 2026-2028, reaction 2h or 8h, fixed seed.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from datetime import time as clock
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import businesstimedelta
import holidays
import pytz

from support_operator.domain.calendar import BusinessCalendar

ZONE = ZoneInfo("Europe/Zurich")
SPAN_FROM = datetime(2026, 1, 1, tzinfo=ZONE)
SPAN_UNTIL = datetime(2029, 1, 1, tzinfo=ZONE)
BTD_CALL_TIMEOUT_SECONDS = 2.0

Report = tuple[datetime, timedelta]


def random_reports(count: int, seed: int) -> list[Report]:
    rng = random.Random(seed)
    span = int((SPAN_UNTIL - SPAN_FROM).total_seconds())
    return [
        (
            (SPAN_FROM + timedelta(seconds=rng.randrange(span))).astimezone(ZONE),
            timedelta(hours=rng.choice((2, 8))),
        )
        for _ in range(count)
    ]


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    return "not pinned (no sched_setaffinity)"


def timed(function: Callable[[], list[Any]]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    results = function()
    return time.perf_counter() - started, results


class CallTimeoutError(Exception):
    pass


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise CallTimeoutError


def businesstimedelta_deadlines(reports: Sequence[Report]) -> tuple[list[datetime | None], dict[str, int]]:
    """Deadlines by businesstimedelta (None for a failure), and failures by kind."""
    tz = pytz.timezone("Europe/Zurich")
    rules = businesstimedelta.Rules(
        [
            businesstimedelta.WorkDayRule(
                start_time=clock(8), end_time=clock(17), working_days=[0, 1, 2, 3, 4], tz=tz
            ),
            businesstimedelta.HolidayRule(holidays.country_holidays("CH", subdiv="BE"), tz=tz),
        ]
    )
    failures: dict[str, int] = {}
    results: list[datetime | None] = []
    signal.signal(signal.SIGALRM, _on_alarm)
    for reported, reaction in reports:
        signal.setitimer(signal.ITIMER_REAL, BTD_CALL_TIMEOUT_SECONDS)
        try:
            results.append(reported + businesstimedelta.BusinessTimeDelta(rules, timedelta=reaction))
        except CallTimeoutError:
            failures["timeout (loops)"] = failures.get("timeout (loops)", 0) + 1
            results.append(None)
        except Exception as error:
            failures[type(error).__name__] = failures.get(type(error).__name__, 0) + 1
            results.append(None)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return results, failures


def load_reference() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from reference_calendar import ReferenceCalendar

    calendar = BusinessCalendar()
    windows = {day: [tuple(w) for w in ws] for day, ws in enumerate(calendar.schedule.windows)}
    closed = [day for year in range(2025, 2031) for day, _ in calendar.holidays_in(year)]
    return ReferenceCalendar("Europe/Zurich", windows, closed)


def disagreements(expected: Sequence[datetime], actual: Sequence[datetime | None]) -> int:
    return sum(1 for e, a in zip(expected, actual, strict=True) if a is not None and a != e)


def timed_btd(reports: Sequence[Report]) -> tuple[float, tuple[list[datetime | None], dict[str, int]]]:
    started = time.perf_counter()
    outcome = businesstimedelta_deadlines(reports)
    return time.perf_counter() - started, outcome


def rate_line(label: str, count: int, seconds: float, unit: str = "deadlines/s") -> str:
    return f"  {label + ':':<27}{count / seconds:>12,.0f} {unit}  ({seconds * 1e6 / count:,.2f} µs each)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--reference-sample", type=int, default=2_000, help="reports walked by the reference")
    parser.add_argument("--btd-sample", type=int, default=None, help="give businesstimedelta N reports only")
    options = parser.parse_args()

    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, {pin_to_one_core()}, python {platform.python_version()}")
    reports = random_reports(options.reports, options.seed)
    print(f"{len(reports):,} random reports over 2026-2028 (seed {options.seed}), reaction 2h or 8h\n")

    # A fresh calendar, so the first run includes building the tables lazily.
    calendar = BusinessCalendar()
    runs = [
        timed(lambda: [calendar.add(reported, reaction) for reported, reaction in reports]) for _ in range(3)
    ]
    ours = runs[0][1]
    assert all(run[1] == ours for run in runs)
    best = min(seconds for seconds, _ in runs)
    print("support_operator BusinessCalendar.add")
    print(rate_line("first run (builds tables)", len(reports), runs[0][0]))
    print(rate_line("best of 3", len(reports), best))
    pairs = [(reported, deadline) for (reported, _), deadline in zip(reports, ours, strict=True)]
    elapsed_seconds, _ = timed(lambda: [calendar.elapsed(a, b) for a, b in pairs])
    print(rate_line("elapsed(report, deadline)", len(pairs), elapsed_seconds, "calls/s") + "\n")

    btd_reports = reports[: options.btd_sample] if options.btd_sample else reports
    btd_seconds, (btd_results, btd_failures) = timed_btd(btd_reports)
    print(f"businesstimedelta {version('businesstimedelta')} (WorkDayRule + HolidayRule(holidays CH-BE))")
    print(rate_line(f"{len(btd_reports):,} reports", len(btd_reports), btd_seconds))
    print(f"  ours (best of 3) is {btd_seconds / len(btd_reports) / (best / len(reports)):,.1f}x faster")
    print(f"  failures: {sum(btd_failures.values())} {btd_failures or ''}")
    print(f"  disagreements with ours: {disagreements(ours[: len(btd_results)], btd_results)}\n")

    reference = load_reference()
    sample_size = min(options.reference_sample, len(reports))
    sample = random.Random(options.seed + 1).sample(range(len(reports)), sample_size)
    reference_seconds, expected = timed(lambda: [reference.add(*reports[i]) for i in sample])
    print("slow reference (minute walk)")
    print(rate_line(f"random sample of {sample_size:,}", sample_size, reference_seconds))
    ours_sampled = [ours[i] for i in sample]
    print(f"  disagreements, ours vs reference:              {disagreements(expected, ours_sampled)}")
    btd_sampled = [btd_results[i] if i < len(btd_results) else None for i in sample]
    answered = sum(1 for result in btd_sampled if result is not None)
    print(
        f"  disagreements, businesstimedelta vs reference: {disagreements(expected, btd_sampled)}"
        f" (of {answered} it answered)"
    )


if __name__ == "__main__":
    main()
