"""The Argo CD health checks (deploy/argocd/health/<group>/<kind>/health.lua) on the sample resources of their
health_test.yaml, run by a real Lua 5.1 (lupa); the Application example and the argocd-cm snippet."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from argocd_health import HEALTH, HealthCase, health, health_cases, script_for

REPO = Path(__file__).resolve().parents[2]
ARGOCD = REPO / "deploy" / "argocd"
STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
CASES = health_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_health_of_sample_resource(case: HealthCase) -> None:
    obj = yaml.safe_load(case.input_path.read_text())
    assert health(case.script, obj) == {"status": case.status, "message": case.message}


def test_every_kind_has_a_check_with_cases_covering_the_useful_statuses() -> None:
    for kind in ("SupportContract", "SupportCase"):
        statuses = {c.status for c in CASES if c.script == script_for("support.puzzle.ch", kind)}
        assert statuses == {"Healthy", "Progressing", "Degraded", "Suspended"}, kind
    assert {c.status for c in CASES} <= STATUSES
    referenced = {c.input_path for c in CASES}
    assert set(HEALTH.glob("*/*/testdata/*.yaml")) == referenced, "testdata files without a test entry"


def test_a_breach_is_degraded_only_while_analysis_has_not_started() -> None:
    script = script_for("support.puzzle.ch", "SupportCase")
    breached = yaml.safe_load((script.parent / "testdata" / "breached-awaiting-analysis.yaml").read_text())
    assert health(script, breached)["status"] == "Degraded"
    for state in ("InAnalysis", "WaitingForCustomer", "Resolved", "Closed"):
        later = copy.deepcopy(breached)
        later["spec"]["state"] = state
        assert health(script, later)["status"] == "Healthy", state


def test_status_written_for_an_older_generation_is_progressing_whatever_it_says() -> None:
    for kind, sample in (("SupportContract", "expired"), ("SupportCase", "contract-expired")):
        script = script_for("support.puzzle.ch", kind)
        obj = yaml.safe_load((script.parent / "testdata" / f"{sample}.yaml").read_text())
        assert health(script, obj)["status"] == "Degraded"
        obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
        assert health(script, obj)["status"] == "Progressing"


def test_scripts_run_without_os_or_io() -> None:
    """Argo CD's Lua sandbox has no os/io: a script using them would fail there, so it fails here."""
    for script in HEALTH.glob("*/*/health.lua"):
        text = script.read_text()
        assert not re.search(r"\b(os|io|require)\s*[.(]", text), script


def test_argocd_cm_snippet_in_docs_is_the_generated_patch() -> None:
    patch = (ARGOCD / "argocd-cm-health.yaml").read_text()
    data = yaml.safe_load(patch)["data"]
    assert set(data) == {
        "resource.customizations.health.support.puzzle.ch_SupportContract",
        "resource.customizations.health.support.puzzle.ch_SupportCase",
    }
    for key, lua in data.items():
        group_kind = key.removeprefix("resource.customizations.health.")
        group, kind = group_kind.split("_")
        assert lua == script_for(group, kind).read_text()
    install = (REPO / "docs" / "install.md").read_text()
    assert patch.split("\n", 1)[1] in install, "docs/install.md must show deploy/argocd/argocd-cm-health.yaml"


def test_application_example_needs_no_ignore_differences() -> None:
    application = yaml.safe_load((ARGOCD / "application.yaml").read_text())
    assert application["kind"] == "Application"
    spec = application["spec"]
    assert "ignoreDifferences" not in spec, "the operator never writes spec: nothing to ignore"
    source = spec["source"]
    assert (REPO / source["path"]).is_dir(), source["path"]
    assert spec["destination"]["namespace"] == "support-operator"
    assert "ServerSideApply=true" in spec["syncPolicy"]["syncOptions"]
