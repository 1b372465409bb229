"""The operator's own permissions in deploy/: least privilege, checked statically (the integration suite
runs the operator with exactly these and proves they are enough)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from support_operator.config import DEFAULT_ALLOWED_ROLES

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "base" / "rbac"


def rules(kind: str) -> list[dict[str, Any]]:
    found = []
    for path in RBAC.glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document["kind"] == kind and document["metadata"]["name"] == "support-operator":
                found += document["rules"]
    return found


def all_operator_rules() -> list[dict[str, Any]]:
    return rules("ClusterRole") + rules("Role")


def test_no_wildcards_escalate_or_impersonate() -> None:
    for rule in all_operator_rules():
        for key in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(key, []), rule
        assert not {"escalate", "impersonate"} & set(rule["verbs"]), rule


def test_bind_only_on_the_allowed_roles() -> None:
    binds = [r for r in all_operator_rules() if "bind" in r["verbs"]]
    assert binds, "the operator needs bind to grant roles it does not hold"
    for rule in binds:
        assert rule["verbs"] == ["bind"] and rule["resources"] == ["clusterroles"]
    assert {tuple(sorted(rule["resourceNames"])) for rule in binds} == {
        tuple(sorted(DEFAULT_ALLOWED_ROLES)),
        ("support-case-worker",),  # shipped with the operator, bound next to the base roles
    }


def test_cluster_wide_rbac_writes_are_held_by_an_admission_policy() -> None:
    """The operator creates one ClusterRole + ClusterRoleBinding per contract; RBAC alone would let it
    bind `edit` cluster-wide, so operator-rbac-guard.yaml must constrain exactly those writes."""
    writes = {
        res
        for rule in rules("ClusterRole")
        if rule["apiGroups"] == ["rbac.authorization.k8s.io"] and "create" in rule["verbs"]
        for res in rule["resources"]
    }
    assert writes == {"rolebindings", "clusterroles", "clusterrolebindings"}
    guard = RBAC.parent / "admission" / "operator-rbac-guard.yaml"
    policy = next(
        d for d in yaml.safe_load_all(guard.read_text()) if d["kind"] == "ValidatingAdmissionPolicy"
    )
    guarded = {
        res for rule in policy["spec"]["matchConstraints"]["resourceRules"] for res in rule["resources"]
    }
    assert guarded == {"clusterroles", "clusterrolebindings"}


def test_case_roles_write_only_cases() -> None:
    for name in ("support-case-worker", "support-case-reporter"):
        role = yaml.safe_load((RBAC / f"{name}.yaml").read_text())
        assert [(r["apiGroups"], r["resources"]) for r in role["rules"]] == [
            (["support.puzzle.ch"], ["supportcases"])
        ]
        assert "delete" not in role["rules"][0]["verbs"]
    reporter = yaml.safe_load((RBAC / "support-case-reporter.yaml").read_text())
    labels = reporter["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"


def test_secrets_and_tokens_only_in_its_own_namespace() -> None:
    cluster_wide = {res for rule in rules("ClusterRole") for res in rule["resources"]}
    assert not {"secrets", "serviceaccounts", "serviceaccounts/token"} & cluster_wide
    namespaced = {res for rule in rules("Role") for res in rule["resources"]}
    assert {"secrets", "serviceaccounts", "serviceaccounts/token"} <= namespaced


def test_support_readonly_never_reads_secrets_or_execs() -> None:
    role = yaml.safe_load((RBAC / "support-readonly.yaml").read_text())
    granted = {
        (group, res) for rule in role["rules"] for group in rule["apiGroups"] for res in rule["resources"]
    }
    forbidden = {
        "secrets",
        "pods/exec",
        "pods/attach",
        "pods/portforward",
        "nodes/proxy",
        "serviceaccounts/token",
    }
    assert not {res for _, res in granted} & forbidden
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in role["rules"])
