"""Acceptance: with 10,000 open cases in memory a scrape of /metrics takes less than 250 ms, and scraping
makes no API call (tests/bench/bench_metrics.py prints the full figures)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_metrics


def test_scrape_of_10000_open_cases_is_fast_and_calls_no_api() -> None:
    result = bench_metrics.run(cases=10_000, contracts=100, scrapes=6, stock_scrapes=0)
    fast = result["fast"]
    print(f"first scrape {fast.first_ms:.0f} ms, median {fast.median_ms:.0f} ms, max {fast.max_ms:.0f} ms")
    # Six series per open case (info, deadline, remaining, used ratio, breached, awaiting) plus contracts.
    assert fast.series >= 6 * 10_000
    assert fast.median_ms < bench_metrics.LIMIT_MS
    assert result["api_calls"] == []
    assert result["status_writes"] == 0
