"""A real Prometheus scrapes the running operator with the alert rules of the PrometheusRule loaded: a case
reported long ago shows up as breached and its alert fires; every dashboard query returns data."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from prometheus_client import CollectorRegistry
from support_resources import Resources, iso, now, reaction_state

from monitoring_queries import DASHBOARD_JSON, dashboard, grafana_to_promql
from sla_objects import Store, case_object, contract_object
from support_operator.observability import collector as sla_metrics
from support_operator.observability.exposition import start_metrics_server
from support_operator.testing.controlplane import free_port
from support_operator.testing.operator_process import OperatorProcess
from support_operator.testing.prometheus import JOB, PrometheusServer, write_rule_file
from support_operator.testing.wait import eventually

FIXTURE_JOB = "support-sla-fixture"


def fixture_store() -> Store:
    """A contract whose status has what other controllers write (packages, identities), with a waiting,
    a met and a breached case: data for every dashboard panel even where the operator under test does not
    fill those status fields."""
    status = {
        "conditions": [
            {"type": "TeamStaffed", "status": "True", "reason": "Staffed", "lastTransitionTime": iso(now())},
            {
                "type": "AccessProvisioned",
                "status": "True",
                "reason": "Provisioned",
                "lastTransitionTime": iso(now()),
            },
        ],
        "teamSize": 3,
        "identities": [
            {"member": "anna", "kind": "ServiceAccount", "tokenExpiresAt": iso(now() + dt.timedelta(hours=1))}
        ],
        "packages": [
            {
                "name": "package-2026-a",
                "purchasedMinutes": 2400,
                "usedMinutes": 600,
                "remainingMinutes": 1800,
                "expiresOn": "2027-12-31",
            }
        ],
    }
    store = Store()
    store.add(contract_object("fixture-acme", status=status))
    reported = now() - dt.timedelta(days=3)
    store.add(case_object("fixture", "waiting", "fixture-acme", now(), impact="NonProduction"))
    store.add(
        case_object(
            "fixture",
            "met",
            "fixture-acme",
            reported,
            state="InAnalysis",
            analysis_started=reported + dt.timedelta(minutes=5),
            reaction_state="Met",
        )
    )
    store.add(case_object("fixture", "breached", "fixture-acme", reported, reaction_state="Breached"))
    return store


@pytest.fixture(scope="module")
def fixture_target() -> Iterator[str]:
    registry = CollectorRegistry()
    sla_metrics.install(registry, fixture_store())
    port = free_port()
    server, thread = start_metrics_server(port, "127.0.0.1", registry)
    yield f"127.0.0.1:{port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def prometheus(
    operator: OperatorProcess, fixture_target: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    rules = write_rule_file(tmp_path_factory.mktemp("rules") / "support-operator-rules.yaml")
    operator_target = urlparse(operator.metrics_url).netloc
    with PrometheusServer(
        [operator_target], rule_files=[rules], extra_jobs={FIXTURE_JOB: [fixture_target]}
    ) as server:
        eventually(
            lambda: (
                all(t["health"] == "up" for t in server.active_targets())
                and len(server.active_targets()) == 2
            ),
            timeout=30,
            what="both scrape targets up",
        )
        yield server


def sample_value(result: list[dict]) -> float | None:
    return float(result[0]["value"][1]) if result else None


def test_breach_metric_is_1_and_the_alert_fires(
    prometheus: PrometheusServer, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    resources.case(namespace, contract, name="forgotten", reportedAt=iso(now() - dt.timedelta(days=10)))
    resources.case(
        namespace, contract, name="fresh", category="Consultation", impact=None, reportedAt=iso(now())
    )
    resources.wait_case(namespace, "forgotten", lambda c: reaction_state(c) == "Breached")
    resources.wait_case(namespace, "fresh", lambda c: reaction_state(c) == "Pending")

    def series(name: str, case: str) -> str:
        return f'{name}{{job="{JOB}", namespace="{namespace}", case="{case}"}}'

    breached = eventually(
        lambda: prometheus.query(series("support_case_reaction_breached", "forgotten")),
        timeout=30,
        what="the breach metric in Prometheus",
    )
    assert sample_value(breached) == 1
    labels = breached[0]["metric"]
    assert (labels["contract"], labels["priority"], labels["impact"], labels["category"]) == (
        contract,
        "P1",
        "Production",
        "Incident",
    )
    fresh = eventually(  # its first series may come with the next scrape, 1 s after its first status
        lambda: prometheus.query(series("support_case_reaction_breached", "fresh")),
        timeout=30,
        what="the fresh case's breach metric in Prometheus",
    )
    assert sample_value(fresh) == 0
    ratio = sample_value(prometheus.query(series("support_case_reaction_used_ratio", "forgotten")))
    assert ratio is not None and ratio > 1

    def firing() -> list[dict]:
        return [
            alert
            for alert in prometheus.alerts()
            if alert["labels"]["alertname"] == "SupportReactionBreached"
            and alert["labels"].get("namespace") == namespace
            and alert["state"] == "firing"
        ]

    alerts = eventually(firing, timeout=30, what="SupportReactionBreached firing")
    assert {a["labels"]["case"] for a in alerts} == {"forgotten"}
    assert alerts[0]["labels"]["severity"] == "critical"
    assert alerts[0]["annotations"]["runbook_url"].endswith("docs/runbooks.md#supportreactionbreached")
    active = prometheus.query(
        f'ALERTS{{alertname="SupportReactionBreached", alertstate="firing", namespace="{namespace}"}}'
    )
    assert [a["metric"]["case"] for a in active] == ["forgotten"]

    # Scrapes compute; they do not write: several scrapes later the case object is unchanged.
    version = resources.get_case(namespace, "forgotten")["metadata"]["resourceVersion"]
    scraped = prometheus.query(f'count_over_time(up{{job="{JOB}"}}[1h])')
    time.sleep(5)
    assert sample_value(prometheus.query(f'count_over_time(up{{job="{JOB}"}}[1h])')) > sample_value(scraped)
    assert resources.get_case(namespace, "forgotten")["metadata"]["resourceVersion"] == version


def test_queue_position_gauge_is_the_order_the_status_shows(
    prometheus: PrometheusServer, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    reported = iso(now() - dt.timedelta(minutes=10))
    resources.case(
        namespace, contract, name="question", category="Consultation", impact=None, reportedAt=reported
    )
    resources.case(namespace, contract, name="outage", impact="Production", reportedAt=reported)
    query = f'support_case_queue_position{{job="{JOB}", contract="{contract}"}}'
    found = eventually(
        lambda: (result := prometheus.query(query)) and len(result) == 2 and result,
        timeout=30,
        what="two queue positions in Prometheus",
    )
    gauge = {r["metric"]["case"]: sample_value([r]) for r in found}
    assert gauge == {"outage": 1, "question": 2}
    for name, position in gauge.items():
        resources.wait_case(
            namespace, name, lambda c, p=position: (c.get("status") or {}).get("queuePosition") == p
        )


def test_rules_load_and_evaluate_without_errors(prometheus: PrometheusServer) -> None:
    rules = [rule for group in prometheus.rules() for rule in group["rules"]]
    assert len(rules) >= 6
    time.sleep(2)  # at least one evaluation of every group
    broken = {
        rule["name"]: rule.get("lastError")
        for group in prometheus.rules()
        for rule in group["rules"]
        if rule["health"] == "err"
    }
    assert broken == {}


def test_every_dashboard_query_is_valid_and_returns_data(prometheus: PrometheusServer) -> None:
    board = dashboard()
    targets = [(panel["title"], target) for panel in board["panels"] for target in panel.get("targets", [])]
    assert targets, f"{DASHBOARD_JSON} has no queries"
    for title, target in targets:
        expr = grafana_to_promql(target["expr"])
        run = prometheus.query if target.get("instant") else prometheus.query_range
        result = eventually(
            lambda run=run, expr=expr: run(expr), timeout=30, what=f"data for {title!r}: {expr}"
        )
        assert result, title
