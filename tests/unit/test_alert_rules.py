"""The PrometheusRule through the real promtool (`check rules`, `test rules` with tests/promtool/), its
conventions, its runbook links, and the ServiceMonitor."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from monitoring_queries import (
    MONITORING,
    PROMETHEUS_RULE,
    REPO,
    alert_rules,
    exported_metric_names,
    metric_names,
    yaml_documents,
)
from support_operator.testing.prometheus import locate_prometheus, promtool, write_rule_file

PROMTOOL_TESTS = REPO / "tests" / "promtool"
RULE_FILE_NAME = "support-operator-rules.yaml"  # what tests/promtool/*.yaml load
RUNBOOKS = REPO / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/puzzle/support-operator/blob/main/docs/runbooks.md#"


@pytest.fixture(scope="module")
def prometheus_bin() -> Path:
    return locate_prometheus()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The rule file extracted from the PrometheusRule, beside copies of the promtool unit tests."""
    write_rule_file(tmp_path / RULE_FILE_NAME, PROMETHEUS_RULE)
    for test_file in PROMTOOL_TESTS.glob("*.yaml"):
        shutil.copy(test_file, tmp_path / test_file.name)
    return tmp_path


def test_promtool_check_rules(prometheus_bin: Path, rules_dir: Path) -> None:
    result = promtool("check", "rules", str(rules_dir / RULE_FILE_NAME), bin_dir=prometheus_bin)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_test_rules(prometheus_bin: Path, rules_dir: Path) -> None:
    tests = sorted(p.name for p in rules_dir.glob("*.yaml") if p.name != RULE_FILE_NAME)
    assert tests, "tests/promtool holds no unit tests"
    result = promtool("test", "rules", *tests, bin_dir=prometheus_bin, cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)


def test_promtool_test_rules_fails_on_a_broken_rule(prometheus_bin: Path, rules_dir: Path) -> None:
    """The unit tests can fail: with the approaching threshold moved, promtool reports it."""
    rule_file = rules_dir / RULE_FILE_NAME
    rule_file.write_text(rule_file.read_text().replace(">= 0.75", ">= 0.7"))
    result = promtool("test", "rules", "reaction.yaml", bin_dir=prometheus_bin, cwd=rules_dir)
    assert result.returncode != 0
    assert "SupportReactionDeadlineApproaching" in result.stdout + result.stderr


def promtool_cases() -> dict[str, dict[str, int]]:
    """Per alert: how many promtool cases expect it to fire and how many expect silence."""
    counts: dict[str, dict[str, int]] = {}
    for path in PROMTOOL_TESTS.glob("*.yaml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "fires" if case.get("exp_alerts") else "silent"
                counts.setdefault(case["alertname"], {"fires": 0, "silent": 0})[kind] += 1
    return counts


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    cases = promtool_cases()
    for rule in alert_rules():
        name = rule["alert"]
        assert cases.get(name, {}).get("fires"), f"{name}: no promtool case where it fires"
        assert cases.get(name, {}).get("silent"), f"{name}: no promtool case where it must not fire"
    assert set(cases) <= {rule["alert"] for rule in alert_rules()}, "a promtool case tests an unknown alert"


def test_alerts_follow_the_conventions() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    required = {
        "SupportReactionDeadlineApproaching",
        "SupportReactionBreached",
        "SupportTeamUnderstaffed",
        "SupportPackageHoursLow",
        "SupportAccessProvisioningFailing",
        "SupportOperatorAbsent",
    }
    assert required <= set(names)
    assert len(names) == len(set(names))
    anchors = runbook_anchors()
    for rule in rules:
        assert re.fullmatch(r"Support([A-Z][a-z]+)+", rule["alert"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        assert annotations["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()
        assert rule["alert"].lower() in anchors, f"docs/runbooks.md has no section {rule['alert']}"


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the level-2 headings of docs/runbooks.md."""
    headings = re.findall(r"^## (.+)$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_rules_read_only_metrics_the_operator_exports() -> None:
    exported = exported_metric_names()
    for rule in alert_rules():
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= exported, f"{rule['alert']} reads {used - exported}, which nothing exports"


def test_service_monitor_selects_the_metrics_service() -> None:
    (monitor,) = yaml_documents(MONITORING / "servicemonitor.yaml")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] == "ServiceMonitor"
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "support-operator",
        "app.kubernetes.io/component": "metrics",
    }
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    (rule,) = yaml_documents(PROMETHEUS_RULE)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    # The rules' job label is the Service's name, which the Prometheus Operator uses as job.
    assert 'job="support-operator-metrics"' in PROMETHEUS_RULE.read_text()
