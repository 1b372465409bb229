"""Access planning: identities, scope, elevation and refusals, as pure data."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from support_operator.access.plan import (
    AccessRequest,
    OpenIncident,
    PlatformTraits,
    object_name,
    plan_access,
)
from support_operator.access.protected import ProtectedNamespaces
from support_operator.api.v1alpha1 import AccessSpec, TeamMember
from support_operator.config import DEFAULT_ALLOWED_ROLES

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
TEAM = (
    TeamMember(name="anna", email="anna@puzzle.ch", languages=["de"], platform_username="ameier"),
    TeamMember(name="luca", email="luca@puzzle.ch", languages=["de"]),
    TeamMember(
        name="claire", email="claire@puzzle.ch", languages=["de"], rancher_principal="local://u-claire"
    ),
)
NAMESPACES = {
    "shop": {"support.puzzle.ch/supported": "true", "tier": "prod"},
    "ci": {"support.puzzle.ch/supported": "true", "tier": "dev"},
    "kube-system": {},
}


def request(access: dict[str, Any] | None = None, **changes: Any) -> AccessRequest:
    spec = {"scope": {"namespaceSelector": {"matchLabels": {"support.puzzle.ch/supported": "true"}}}}
    spec.update(access or {})
    values: dict[str, Any] = {
        "contract": "acme",
        "access": AccessSpec.model_validate(spec),
        "team": TEAM,
        "namespaces": NAMESPACES,
        "allowed_roles": frozenset(DEFAULT_ALLOWED_ROLES),
    }
    values.update(changes)
    return AccessRequest(**values)


def test_personal_mode_gives_each_member_a_service_account_bound_in_every_scoped_namespace() -> None:
    plan = plan_access(request(), NOW)
    assert [(i.name, i.service_account) for i in plan.identities] == [
        ("anna", "support-acme-anna"),
        ("claire", "support-acme-claire"),
        ("luca", "support-acme-luca"),
    ]
    assert sorted((b.namespace, b.role) for b in plan.bindings) == [
        ("ci", "support-case-worker"),
        ("ci", "support-readonly"),
        ("shop", "support-case-worker"),
        ("shop", "support-readonly"),
    ]
    assert plan.reader is not None and plan.reader.contract == "acme"
    assert plan.reader.subjects == plan.bindings[0].subjects
    assert {s.name for s in plan.bindings[0].subjects} == {i.service_account for i in plan.identities}


def test_team_mode_shares_one_identity_whose_fingerprint_follows_the_members() -> None:
    plan = plan_access(request({"mode": "Team"}), NOW)
    assert [i.service_account for i in plan.identities] == ["support-acme-team"]
    smaller = plan_access(request({"mode": "Team"}, team=TEAM[:2]), NOW)
    assert smaller.identities[0].fingerprint != plan.identities[0].fingerprint


def test_selector_expressions_and_listed_namespaces() -> None:
    selector = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["prod"]}]}
    plan = plan_access(request({"scope": {"namespaceSelector": selector}}), NOW)
    assert {b.namespace for b in plan.bindings} == {"shop"}
    listed = plan_access(request({"scope": {"namespaces": ["ci", "later"]}}), NOW)
    assert {b.namespace for b in listed.bindings} == {"ci"}
    assert listed.missing_namespaces == ("later",)


def test_platform_users_replace_tokens_where_the_platform_has_them() -> None:
    plan = plan_access(request(platform=PlatformTraits(openshift_users=True, rancher_principals=True)), NOW)
    kinds = {i.name: i.kind for i in plan.identities}
    assert kinds == {"anna": "OpenShiftUser", "claire": "RancherPrincipal", "luca": "ServiceAccount"}
    assert plan.group is not None and plan.group.users == ("ameier",)
    subjects = {(s.kind, s.name) for s in plan.bindings[0].subjects}
    assert subjects == {
        ("Group", "support-acme"),
        ("User", "local://u-claire"),
        ("ServiceAccount", "support-acme-luca"),
    }


@pytest.mark.parametrize(
    ("access", "team", "why"),
    [
        ({"baseRoles": ["cluster-admin"]}, TEAM, "cluster-admin is never granted"),
        ({"elevatedRole": "admin"}, TEAM, "admin is not on the operator's allow-list"),
        ({"baseRoles": ["view", "secret-reader"]}, TEAM, "secret-reader is not on the operator's allow-list"),
        (
            {},
            (TeamMember(name="x", email="x@puzzle.ch", languages=["de"], platform_username="system:admin"),),
            "system identity",
        ),
    ],
)
def test_forbidden_requests_plan_nothing(
    access: dict[str, Any], team: tuple[TeamMember, ...], why: str
) -> None:
    plan = plan_access(request(access, team=team), NOW)
    assert plan.refused and any(why in reason for reason in plan.refusals)
    assert plan.identities == () and plan.bindings == ()


def test_open_production_incident_elevates_its_namespaces_within_scope_until_the_maximum() -> None:
    incident = OpenIncident("shop", "outage", ("shop", "kube-system"), since=NOW - dt.timedelta(hours=1))
    plan = plan_access(request({"elevationMaxDuration": "4h"}, incidents=(incident,)), NOW)
    elevated = [b for b in plan.bindings if b.purpose == "elevated"]
    assert [(b.namespace, b.role, b.case) for b in elevated] == [
        ("shop", "edit", "shop/outage")
    ]  # not kube-system
    assert elevated[0].expires_at == NOW + dt.timedelta(hours=3)
    assert plan.next_change_at == elevated[0].expires_at
    expired = plan_access(request({"elevationMaxDuration": "1h"}, incidents=(incident,)), NOW)
    assert not [b for b in expired.bindings if b.purpose == "elevated"]


def test_token_ttl_is_clamped() -> None:
    assert plan_access(request({"tokenTTL": "48h"}), NOW).token_ttl == dt.timedelta(hours=24)
    assert plan_access(request({"tokenTTL": "30m"}), NOW).token_ttl == dt.timedelta(minutes=30)


def test_long_names_are_shortened_stably() -> None:
    long = object_name("a" * 40, "b" * 40)
    assert len(long) == 63 and long == object_name("a" * 40, "b" * 40)
    assert long != object_name("a" * 40, "b" * 39 + "c")


def test_protected_namespaces_get_no_binding_whatever_scope_or_case_say() -> None:
    everything = {"namespaceSelector": {"matchExpressions": [{"key": "all", "operator": "Exists"}]}}
    namespaces = {n: {"all": "1"} for n in ("shop", "kube-system", "support-operator", "openshift-etcd")}
    incident = OpenIncident("shop", "outage", ("support-operator", "kube-system", "shop"), since=NOW)
    plan = plan_access(request({"scope": everything}, namespaces=namespaces, incidents=(incident,)), NOW)
    assert {b.namespace for b in plan.bindings} == {"shop"}
    assert [name for name, _ in plan.skipped] == ["kube-system", "openshift-etcd", "support-operator"]
    assert "operator's own namespace" in dict(plan.skipped)["support-operator"]
    custom = ProtectedNamespaces("ops", ("shop",))
    other = plan_access(request({"scope": everything}, namespaces=namespaces, protected=custom), NOW)
    assert "shop" not in {b.namespace for b in other.bindings}
    assert "kube-system" in {b.namespace for b in other.bindings}  # the list is configurable


def test_approval_required_elevates_only_inside_the_approved_window() -> None:
    required = {"elevationMaxDuration": "8h", "elevation": {"approval": "Required"}}
    waiting = OpenIncident("shop", "outage", ("shop",), since=NOW - dt.timedelta(hours=1))
    assert not [
        b
        for b in plan_access(request(required, incidents=(waiting,)), NOW).bindings
        if b.purpose == "elevated"
    ]
    approved = dataclasses.replace(
        waiting, approved_at=NOW - dt.timedelta(minutes=5), approved_until=NOW + dt.timedelta(hours=2)
    )
    plan = plan_access(request(required, incidents=(approved,)), NOW)
    elevated = [b for b in plan.bindings if b.purpose == "elevated"]
    assert [b.namespace for b in elevated] == ["shop"]
    assert elevated[0].expires_at == NOW + dt.timedelta(hours=2) == plan.next_change_at
    ended = dataclasses.replace(approved, approved_until=NOW)
    assert not [
        b for b in plan_access(request(required, incidents=(ended,)), NOW).bindings if b.purpose == "elevated"
    ]
    later = dataclasses.replace(approved, approved_at=NOW + dt.timedelta(minutes=30))
    planned = plan_access(request(required, incidents=(later,)), NOW)
    assert not [b for b in planned.bindings if b.purpose == "elevated"]
    assert planned.next_change_at == NOW + dt.timedelta(minutes=30)
