"""The Grafana dashboard: generated from hack/dashboard.py without drift, the panels the issue asks for, and
PromQL that parses and reads only exported metrics. tests/integration/test_prometheus.py runs the queries."""

from __future__ import annotations

import json

import pytest

from monitoring_queries import (
    DASHBOARD_JSON,
    MONITORING,
    dashboard,
    dashboard_module,
    dashboard_queries,
    exported_metric_names,
    metric_names,
    yaml_documents,
)


def test_committed_dashboard_and_configmap_are_generated_from_the_code() -> None:
    module = dashboard_module()
    for path, text in module.outputs().items():
        assert path.read_text() == text, f"{path.name} is stale: run .venv/bin/python hack/dashboard.py"
    assert module.main(["--check"]) == 0


def test_configmap_ships_the_dashboard_to_the_grafana_sidecar() -> None:
    (configmap,) = yaml_documents(MONITORING / "dashboard-configmap.yaml")
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"][DASHBOARD_JSON.name]) == dashboard()


def test_panels_cover_the_sla_views() -> None:
    titles = {panel["title"] for panel in dashboard()["panels"]}
    assert {
        "Open cases by priority",
        "Time left to each reaction deadline",
        "Reaction breaches over time",
        "Reaction compliance",
        "Prepaid package hours",
        "Access token expiry",
    } <= titles
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


@pytest.mark.parametrize(("title", "expr"), dashboard_queries())
def test_every_query_parses_and_reads_exported_metrics(title: str, expr: str) -> None:
    used = metric_names(expr)
    assert used, f"{title}: the query selects no metric"
    assert used <= exported_metric_names(), f"{title}: {used - exported_metric_names()} is not exported"


def test_an_invalid_query_is_refused() -> None:
    with pytest.raises(ValueError):
        metric_names("sum(support_contract_open_cases")
