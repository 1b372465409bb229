"""Scraping /metrics makes no API call and no status write: the figures come from the objects the operator
already holds. The speed target (10,000 open cases in under 250 ms) is measured by
tests/bench/bench_metrics.py, which prints its figures; speed is never asserted in the test suite."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_metrics


def test_scrapes_call_no_api_and_write_no_status() -> None:
    result = bench_metrics.run(cases=600, contracts=6, scrapes=3, stock_scrapes=0)
    fast = result["fast"]
    # Six series per open case (info, deadline, remaining, used ratio, breached, awaiting) plus contracts.
    assert fast.series >= 6 * 600
    assert result["api_calls"] == []
    assert result["status_writes"] == 0
