"""The PromQL of the alerts and the dashboard, for the tests that check it: parsed with promql-parser,
the metric names it reads, and the Grafana variables replaced by what a query to Prometheus needs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import promql_parser
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from support_operator.observability.collector import FAMILIES
from support_operator.observability.metrics import OperatorMetrics
from support_operator.testing.prometheus import rule_groups

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "deploy" / "base" / "monitoring"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD_JSON = MONITORING / "dashboards" / "support-operator.json"
# What Grafana puts in for its variables when every contract is selected.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$contract": ".*"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (raises ValueError when it does not parse)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def exported_metric_names() -> set[str]:
    """Every metric name the operator exposes (SLA collector and operator health), plus Prometheus's `up`."""
    text = generate_latest(OperatorMetrics().registry).decode()
    families = list(text_string_to_metric_families(text))
    names = {s.name for family in families for s in family.samples}
    # Labelled gauges with no series yet (one per contract, e.g. the intake mailbox) export no sample.
    names |= {family.name for family in families if family.type == "gauge"}
    return names | {family.name for family in FAMILIES} | {"up"}


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups(PROMETHEUS_RULE)["groups"] for rule in group["rules"]]


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_JSON.read_text())
    return loaded


def dashboard_queries(board: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(panel title, PromQL with the variables replaced) of every panel target."""
    board = board or dashboard()
    return [
        (panel["title"], grafana_to_promql(target["expr"]))
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def dashboard_module() -> ModuleType:
    """hack/dashboard.py, imported from its path (hack/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "support_operator_dashboard", REPO / "hack" / "dashboard.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
