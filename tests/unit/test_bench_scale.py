"""The pure helpers of the scale benchmark (tests/bench/bench_scale.py): percentiles, the Prometheus text,
/proc stat lines, audit log lines and the table."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_scale as bench


def test_percentile_interpolates_between_ranks() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert bench.percentile(values, 50) == 3.0
    assert bench.percentile(values, 0) == 1.0
    assert bench.percentile(values, 100) == 5.0
    assert bench.percentile(values, 99) == pytest.approx(4.96)
    assert bench.percentile([7.0], 99) == 7.0
    assert math.isnan(bench.percentile([], 50))


def test_metric_values_by_labels_and_not_prefix_sharing_metrics() -> None:
    text = "\n".join(
        [
            "# HELP support_operator_status_writes_total Status patches written to the API server.",
            "# TYPE support_operator_status_writes_total counter",
            'support_operator_status_writes_total{kind="SupportContract"} 12.0',
            'support_operator_status_writes_total{kind="SupportCase"} 3401.0',
            'support_operator_status_writes_created{kind="SupportCase"} 1.7e+09',
            "support_operator_confirmation_emails_sent_total 42.0",
        ]
    )
    writes = bench.metric_values(text, bench.STATUS_WRITES_METRIC)
    assert writes == {'kind="SupportContract"': 12.0, 'kind="SupportCase"': 3401.0}
    assert bench.metric_values(text, bench.EMAILS_SENT_METRIC) == {"": 42.0}
    assert bench.metric_values(text, "support_operator_status") == {}
    assert bench.label_value('kind="SupportCase"') == "SupportCase"


def test_stat_fields_read_past_a_command_name_with_spaces_and_parentheses() -> None:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ... rss
    rest = ["S", "1", "4242", "4242", "0", "-1", "0", "0", "0", "0", "0", "150", "50"]
    rest += ["0", "0", "20", "0", "4", "0", "1000", "123456789", "3072"]
    line = "4242 (support (op) r) " + " ".join(rest)
    assert bench.stat_fields(line) == (4242, 200, 3072)


def test_audit_requests_count_completed_requests_of_one_user() -> None:
    def line(user: str, verb: str, resource: str | None, stage: str = "ResponseComplete") -> str:
        event = {"stage": stage, "verb": verb, "user": {"username": user}, "requestURI": "/version"}
        if resource:
            event["objectRef"] = {"resource": resource}
        return json.dumps(event)

    other = "system:serviceaccount:kube-system:namespace-controller"
    lines = [
        line(bench.OPERATOR_USER, "get", "secrets"),
        line(bench.OPERATOR_USER, "get", "secrets"),
        line(bench.OPERATOR_USER, "watch", "supportcases", stage="ResponseStarted"),
        line(bench.OPERATOR_USER, "get", None),
        line(other, "get", "secrets"),
        "not json " + bench.OPERATOR_USER,
    ]
    counted = bench.audit_requests(lines, bench.OPERATOR_USER)
    assert counted == {("get", "secrets"): 2, ("get", "/version"): 1}


def test_table_is_markdown_with_measured_and_goal_aligned_right() -> None:
    rows = [("raw creates", "448/s", "—"), ("operator CPU per case", "60.0 ms", "≤ 3 ms")]
    assert bench.format_table(rows).splitlines() == [
        "| figure                | measured |   goal |",
        "|-----------------------|---------:|-------:|",
        "| raw creates           |    448/s |      — |",
        "| operator CPU per case |  60.0 ms | ≤ 3 ms |",
    ]


def test_quick_sizes_and_phase_selection() -> None:
    args = bench.arguments(["--quick", "--only", "raw, latency", "--cases", "300"])
    assert (args.cases, args.cold_cases, args.scope_namespaces) == (300, 1000, 200)
    assert args.only == ["raw", "latency"]
    full = bench.arguments([])
    sizes = (full.cases, full.cold_cases, full.closed_cases, full.churn_seconds)
    assert sizes == (10_000, 50_000, 10_000, 60)
    with pytest.raises(SystemExit):
        bench.arguments(["--only", "raw,nope"])
