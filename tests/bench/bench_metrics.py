"""Metrics benchmark: /metrics with 10,000 open cases in the operator's cache, no API server needed.

    .venv/bin/python tests/bench/bench_metrics.py [--cases 10000] [--contracts 100] [--scrapes 10]

A real Manager (never started: its API client is a stub that counts and refuses every call) holds the
cases and contracts as the watch would deliver them. The operator's registry, with the SLA collector
installed as at start-up, is served twice: by the operator's fast endpoint (observability.exposition) and,
for comparison, by prometheus_client's own server. Each is scraped over HTTP as Prometheus does (gzip);
the first scrape parses every object, the following ones reuse the cache. Prints the figures and exits 1
when the median scrape of the fast endpoint takes 250 ms or more, or when any API call was made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import platform
import random
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prometheus_client
from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sla_objects import case_object, contract_object
from support_operator.config import OperatorConfig
from support_operator.controllers.manager import Manager
from support_operator.observability import collector as sla_metrics
from support_operator.observability.exposition import start_metrics_server
from support_operator.observability.metrics import OperatorMetrics
from support_operator.testing.controlplane import free_port

LIMIT_MS = 250.0
NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.UTC)


class CountingApiClient(client.ApiClient):  # type: ignore[misc]
    """Counts every request the operator would send and refuses it: between scrapes there must be none."""

    def __init__(self) -> None:
        super().__init__(client.Configuration(host="http://127.0.0.1:9"))
        self.calls: list[tuple[str, str]] = []

    def call_api(self, resource_path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, resource_path))
        raise RuntimeError(f"unexpected API call during the metrics benchmark: {method} {resource_path}")


def load(reconciler: Manager, cases: int, contracts: int, seed: int = 7) -> None:
    """Open cases over the last five days: 60 % awaiting analysis (their clocks run at every scrape),
    the rest in analysis; every category and impact; spread over 50 namespaces."""
    rng = random.Random(seed)
    names = [f"customer-{i:03d}" for i in range(contracts)]
    for name in names:
        status = {
            "teamSize": 3,
            "identities": [
                {"member": m, "kind": "ServiceAccount", "tokenExpiresAt": "2026-11-25T11:00:00Z"}
                for m in ("anna", "luca", "claire")
            ],
            "packages": [
                {
                    "name": "package-2026-a",
                    "purchasedMinutes": 2400,
                    "usedMinutes": 600,
                    "remainingMinutes": 1800,
                    "expiresOn": "2026-12-31",
                }
            ],
        }
        reconciler.cache.put_contract(contract_object(name, status=status))
    kinds = [("Incident", "Production"), ("Incident", "NonProduction"), ("Consultation", None)]
    for i in range(cases):
        reported = NOW - dt.timedelta(seconds=rng.randrange(5 * 24 * 3600))
        category, impact = rng.choice(kinds)
        started = None if rng.random() < 0.6 else reported + dt.timedelta(seconds=rng.randrange(3 * 3600))
        started = started if started is None or started <= NOW else NOW
        obj = case_object(
            f"team-{i % 50:02d}",
            f"case-{i:05d}",
            rng.choice(names),
            reported,
            category=category,
            impact=impact,
            state="New" if started is None else "InAnalysis",
            analysis_started=started,
            reaction_state="Pending",
        )
        reconciler.cache.put_case(obj)


@dataclass
class Timings:
    first_ms: float
    median_ms: float
    max_ms: float
    body_bytes: int
    series: int


def scrape_over_http(url: str, scrapes: int) -> Timings:
    durations, body = [], b""
    for _ in range(scrapes):
        request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read()
        durations.append((time.perf_counter() - started) * 1000)
        body = gzip.decompress(raw) if response.headers.get("Content-Encoding") == "gzip" else raw
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    rest = durations[1:] or durations
    return Timings(durations[0], statistics.median(rest), max(rest), len(body), series)


def run(
    cases: int = 10_000, contracts: int = 100, scrapes: int = 10, stock_scrapes: int = 3
) -> dict[str, Any]:
    api = CountingApiClient()
    metrics = OperatorMetrics()
    reconciler = Manager(api, OperatorConfig(), metrics)
    collector = sla_metrics.install(metrics.registry, reconciler)
    collector.clock = NOW.timestamp
    started = time.perf_counter()
    load(reconciler, cases, contracts)
    load_ms = (time.perf_counter() - started) * 1000

    port = free_port()
    server, thread = start_metrics_server(port, "127.0.0.1", metrics.registry)
    try:
        fast_timings = scrape_over_http(f"http://127.0.0.1:{port}/metrics", scrapes)
    finally:
        server.shutdown()
        thread.join(5)
    stock_timings = None
    if stock_scrapes:  # for comparison: prometheus_client's own server formats every sample anew
        port = free_port()
        stock, stock_thread = prometheus_client.start_http_server(port, "127.0.0.1", metrics.registry)
        try:
            stock_timings = scrape_over_http(f"http://127.0.0.1:{port}/metrics", stock_scrapes)
        finally:
            stock.shutdown()
            stock_thread.join(5)
    return {
        "cases": cases,
        "contracts": contracts,
        "load_ms": load_ms,
        "fast": fast_timings,
        "stock": stock_timings,
        "api_calls": list(api.calls),
        "status_writes": sum(
            metrics.registry.get_sample_value("support_operator_status_writes_total", {"kind": kind}) or 0
            for kind in ("SupportCase", "SupportContract")
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--contracts", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=10)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu'}")
    result = run(args.cases, args.contracts, args.scrapes)
    fast, stock = result["fast"], result["stock"]
    print(
        f"{result['cases']} open cases, {result['contracts']} contracts loaded in {result['load_ms']:.0f} ms"
    )
    print(f"{'endpoint':<40} {'first ms':>9} {'median ms':>10} {'max ms':>8} {'series':>8} {'bytes':>10}")
    for label, t in (
        ("operator endpoint (exposition.py)", fast),
        ("prometheus_client.start_http_server", stock),
    ):
        if t is None:
            continue
        figures = f"{t.first_ms:>9.0f} {t.median_ms:>10.0f} {t.max_ms:>8.0f} {t.series:>8} {t.body_bytes:>10}"
        print(f"{label:<40} {figures}")
    calls, writes = len(result["api_calls"]), result["status_writes"]
    print(f"API calls during all scrapes: {calls}; status writes counted: {writes:.0f}")
    ok = fast.median_ms < LIMIT_MS and not result["api_calls"]
    print(("OK" if ok else "FAILED") + f": median scrape {fast.median_ms:.0f} ms (limit {LIMIT_MS:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
