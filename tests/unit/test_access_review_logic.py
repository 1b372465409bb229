"""Pure parts of issue 11: protected namespaces, case entitlement, the approval condition, the audit trail
(credential ids, the audit log filter and the elevation window)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

from support_operator.access import approval
from support_operator.access.entitlement import entitled
from support_operator.access.protected import ProtectedNamespaces
from support_operator.access.provisioner import token_credential_id
from support_operator.api.v1alpha1 import SupportCase, SupportContract
from support_operator.cli.access_audit import (
    SupportIdentities,
    audit_rows,
    elevation_window,
    parse_since,
    read_events,
)
from support_operator.cli.plugin.access import approval_patch, revocation_patch

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


def contract(**spec: Any) -> SupportContract:
    body = {
        "apiVersion": "support.puzzle.ch/v1alpha1",
        "kind": "SupportContract",
        "metadata": {"name": "acme"},
        "spec": {
            "customer": {"name": "ACME"},
            "reactionTime": "2h",
            "team": [{"name": "anna", "email": "anna@puzzle.ch", "languages": ["de"]}],
            "access": {"scope": {"namespaces": ["shop"]}, "elevationMaxDuration": "8h"},
            **spec,
        },
        "status": {
            "identities": [
                {
                    "member": "anna",
                    "kind": "ServiceAccount",
                    "serviceAccount": {"namespace": "support-operator", "name": "support-acme-anna"},
                },
                {"member": "luca", "kind": "OpenShiftUser", "username": "lrossi"},
            ],
            "tokens": [
                {
                    "credentialID": "JTI=old",
                    "member": "anna",
                    "serviceAccount": "support-operator/support-acme-anna",
                    "issuedAt": "2026-11-26T08:00:00Z",
                    "expiresAt": "2026-11-26T09:00:00Z",
                }
            ],
        },
    }
    return SupportContract.from_k8s(body)


def case(**spec: Any) -> SupportCase:
    return SupportCase.from_k8s(
        {
            "apiVersion": "support.puzzle.ch/v1alpha1",
            "kind": "SupportCase",
            "metadata": {"name": "down", "namespace": "shop"},
            "spec": {
                "contractRef": {"name": "acme"},
                "title": "down",
                "category": "Incident",
                "impact": "Production",
                "reporter": {"name": "Petra", "email": "petra@acme.example"},
                "reportedAt": "2026-11-26T09:00:00Z",
                **spec,
            },
        }
    )


def test_protected_namespaces_are_the_operators_own_and_the_patterns() -> None:
    protected = ProtectedNamespaces("support-operator")
    allowed, skipped = protected.split(
        ["shop", "support-operator", "kube-system", "openshift-ingress", "cattle-system", "kubeflow"]
    )
    assert allowed == ["kubeflow", "shop"]  # kube-* needs the dash
    assert set(skipped) == {"support-operator", "kube-system", "openshift-ingress", "cattle-system"}
    assert ProtectedNamespaces("ops", ()).reason("kube-system") is None


def test_case_namespaces_by_list_or_selector() -> None:
    listed = contract(caseNamespaces={"namespaces": ["shop"]})
    assert entitled(listed, "shop", {}) and not entitled(listed, "tenant-b", {})
    selected = contract(caseNamespaces={"namespaceSelector": {"matchLabels": {"tenant": "acme"}}})
    labels = {"shop": {"tenant": "acme"}, "other": {"tenant": "globex"}}
    assert entitled(selected, "shop", labels) and not entitled(selected, "other", labels)
    assert not entitled(selected, "unknown", labels)
    assert entitled(contract(), "anywhere", {})


def record(**changes: Any) -> dict[str, Any]:
    base = {
        "approver": "alice",
        "reason": "checkout down",
        "approvedAt": "2026-11-26T09:30:00Z",
        "expiresAt": "2026-11-26T11:30:00Z",
    }
    return {**base, **changes}


def test_approval_condition_follows_the_record() -> None:
    required = contract(access={"scope": {"namespaces": ["shop"]}, "elevation": {"approval": "Required"}})
    waiting, _ = approval.condition(case(), required, NOW)
    assert waiting is not None and (waiting.ok, waiting.reason) == (False, approval.AWAITING_APPROVAL)
    approved, change = approval.condition(case(elevationApproval=record()), required, NOW)
    assert approved is not None and (approved.ok, approved.reason) == (True, approval.APPROVED)
    assert change == dt.datetime(2026, 11, 26, 11, 30, tzinfo=dt.UTC)
    expired, _ = approval.condition(case(elevationApproval=record()), required, NOW + dt.timedelta(hours=2))
    assert expired is not None and expired.reason == approval.APPROVAL_EXPIRED
    revoked = record(revokedAt="2026-11-26T09:45:00Z", revokedBy="alice")
    gone, _ = approval.condition(case(elevationApproval=revoked), required, NOW)
    assert gone is not None and gone.reason == approval.APPROVAL_REVOKED
    assert approval.condition(case(), contract(), NOW) == (None, None)  # not required
    assert approval.condition(case(impact="NonProduction"), required, NOW) == (None, None)


def test_credential_id_is_the_tokens_jti_as_the_audit_log_names_it() -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"jti": "abc-123"}).encode()).decode().rstrip("=")
    assert token_credential_id(f"header.{payload}.signature") == "JTI=abc-123"
    assert token_credential_id("not-a-jwt") is None


def event(user: str, verb: str, at: str, credential: str | None = None, **ref: str) -> dict[str, Any]:
    extra = {"authentication.kubernetes.io/credential-id": [credential]} if credential else {}
    return {
        "stage": "ResponseComplete",
        "verb": verb,
        "user": {"username": user, "extra": extra},
        "objectRef": ref,
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": at,
    }


def test_audit_lists_support_identities_only_within_the_window(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    lines = [
        event(
            "system:serviceaccount:support-operator:support-acme-anna",
            "list",
            "2026-11-26T09:10:00Z",
            "JTI=new",
            resource="pods",
            namespace="shop",
        ),
        event("lrossi", "get", "2026-11-26T09:20:00Z", resource="configmaps", namespace="shop", name="app"),
        event("alice", "list", "2026-11-26T09:15:00Z", resource="pods", namespace="shop"),
        event("x", "get", "2026-11-26T09:16:00Z", "JTI=old", resource="secrets", namespace="shop"),
        {**event("lrossi", "watch", "2026-11-26T09:21:00Z"), "stage": "ResponseStarted"},
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    identities = SupportIdentities.of([contract()])
    rows = audit_rows(read_events(log), identities)
    assert [(r.member, r.verb, r.resource, r.name) for r in rows] == [
        ("anna", "list", "pods", ""),
        ("luca", "get", "configmaps", "app"),
        ("anna", "get", "secrets", ""),  # a recorded credential id, whoever the user name says
    ]
    since = dt.datetime(2026, 11, 26, 9, 12, tzinfo=dt.UTC)
    assert [r.member for r in audit_rows(read_events(log), identities, since)] == ["luca", "anna"]
    only_anna = SupportIdentities.of([contract()], member="anna")
    assert {r.member for r in audit_rows(read_events(log), only_anna)} == {"anna"}


def test_elevation_window_of_a_case() -> None:
    open_case = case()
    assert elevation_window(open_case, contract(), NOW) == (dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), NOW)
    required = contract(access={"scope": {"namespaces": ["shop"]}, "elevation": {"approval": "Required"}})
    assert elevation_window(case(elevationApproval=record()), required, NOW + dt.timedelta(hours=5)) == (
        dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 26, 11, 30, tzinfo=dt.UTC),
    )
    start, end = elevation_window(case(), required, NOW)
    assert start == end  # never approved: no window


def test_since_takes_a_duration_or_a_time() -> None:
    assert parse_since("2h", NOW) == NOW - dt.timedelta(hours=2)
    assert parse_since("2026-11-26T08:00:00Z", NOW) == dt.datetime(2026, 11, 26, 8, tzinfo=dt.UTC)
    assert parse_since(None, NOW) is None


def test_approve_and_revoke_patches() -> None:
    patch = approval_patch("alice", "why", dt.timedelta(hours=2), NOW)["spec"]["elevationApproval"]
    assert patch["approver"] == "alice" and patch["expiresAt"] == "2026-11-26T12:00:00Z"
    assert patch["revokedAt"] is None  # a merge patch that clears an earlier revocation
    revoke = revocation_patch("alice", NOW)["spec"]["elevationApproval"]
    assert revoke == {"revokedAt": "2026-11-26T10:00:00Z", "revokedBy": "alice"}


def test_protected_namespaces_from_flag_and_environment(monkeypatch: Any) -> None:
    from support_operator.cli.main import run

    defaults = run.make_context("run", []).params["protected_namespaces"]
    assert tuple(defaults) == ("kube-*", "openshift-*", "cattle-*")
    flagged = run.make_context("run", ["--protected-namespace=ops", "--protected-namespace=db-*"])
    assert tuple(flagged.params["protected_namespaces"]) == ("ops", "db-*")
    monkeypatch.setenv("SUPPORT_OPERATOR_PROTECTED_NAMESPACES", "ops kube-*")
    assert tuple(run.make_context("run", []).params["protected_namespaces"]) == ("ops", "kube-*")
