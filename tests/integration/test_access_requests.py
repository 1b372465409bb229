"""Declarative access on the real API server: what a namespace event costs in API requests (counted on the
wire), that a binding no longer planned is pruned, and that a restart lists instead of reading each object.
The provisioner is driven directly, as the operator's identity, with a ClusterRole standing in for the
contract (the session's operator ignores it)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from support_operator.access.manifests import KINDS
from support_operator.access.plan import LABEL_CONTRACT, AccessPlan, AccessRequest, plan_access
from support_operator.access.provisioner import Provisioner
from support_operator.api.v1alpha1 import AccessSpec, TeamMember
from support_operator.config import DEFAULT_ALLOWED_ROLES
from support_operator.testing.wait import api_status

OPERATOR_NAMESPACE = "support-operator"
IN_SCOPE = 20
TEAM = (
    TeamMember(name="anna", email="anna@puzzle.ch", languages=["de"]),
    TeamMember(name="luca", email="luca@puzzle.ch", languages=["de"]),
)


class Wire:
    """Counts the HTTP requests an API client sends."""

    def __init__(self, api: client.ApiClient) -> None:
        self.sent: list[tuple[str, str]] = []
        inner = api.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            self.sent.append((method, url.split("?")[0]))
            return inner(method, url, *args, **kwargs)

        api.request = request

    def take(self) -> list[tuple[str, str]]:
        sent, self.sent = self.sent, []
        return sent


class Cluster:
    """Namespaces carrying a label only this test uses, and a stand-in owner."""

    def __init__(self, admin: client.ApiClient) -> None:
        self.core = client.CoreV1Api(admin)
        self.rbac = client.RbacAuthorizationV1Api(admin)
        self.tag = secrets.token_hex(3)
        self.label = {"support.puzzle.ch/ssa-scope": self.tag}
        self.created: list[str] = []
        owner = self.rbac.create_cluster_role(
            client.V1ClusterRole(metadata=client.V1ObjectMeta(generate_name="owner-"))
        )
        self.contract = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": owner.metadata.name, "uid": owner.metadata.uid},
        }
        self.name = owner.metadata.name

    def create(self, index: int) -> str:
        name = f"ssa-{self.tag}-{index:02}"
        self.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=self.label))
        )
        self.created.append(name)
        return name

    def namespaces(self) -> dict[str, dict[str, str]]:
        listed = self.core.list_namespace(label_selector=f"support.puzzle.ch/ssa-scope={self.tag}")
        return {
            n.metadata.name: dict(n.metadata.labels or {})
            for n in listed.items
            if n.status.phase != "Terminating"
        }

    def plan(self) -> AccessPlan:
        request = AccessRequest(
            contract=self.name,
            access=AccessSpec.model_validate(
                {
                    "scope": {"namespaceSelector": {"matchLabels": self.label}},
                    "baseRoles": ["support-readonly"],
                    "tokenTTL": "1h",
                }
            ),
            team=TEAM,
            namespaces=self.namespaces(),
            allowed_roles=frozenset(DEFAULT_ALLOWED_ROLES),
        )
        return plan_access(request, dt.datetime.now(dt.UTC))

    def bound(self) -> set[str]:
        listed = self.rbac.list_role_binding_for_all_namespaces(
            label_selector=f"{LABEL_CONTRACT}={self.name}"
        )
        return {b.metadata.namespace for b in listed.items}

    def cleanup(self) -> None:
        for name in self.created:
            self.core.delete_namespace(name)
        self.rbac.delete_cluster_role(self.name)


@pytest.fixture
def cluster(api_client: client.ApiClient, crds: list[str]) -> Iterator[Cluster]:
    made = Cluster(api_client)
    yield made
    made.cleanup()


def test_a_namespace_event_costs_a_few_requests_and_a_pruned_binding_disappears(
    cluster: Cluster, operator_kubeconfig: Path
) -> None:
    as_operator = config.new_client_from_config(config_file=str(operator_kubeconfig))
    wire = Wire(as_operator)
    provisioner = Provisioner(as_operator, OPERATOR_NAMESPACE)
    scoped = [cluster.create(i) for i in range(IN_SCOPE)]

    def apply() -> list[tuple[str, str]]:
        now = dt.datetime.now(dt.UTC)
        counted = provisioner.applier.total_requests
        provisioner.apply(cluster.contract, cluster.plan(), None, now)
        sent = wire.take()
        assert provisioner.applier.total_requests - counted == len(sent)  # the counter sees them all
        return sent

    first = apply()
    assert cluster.bound() == set(scoped)
    print(f"first apply, {IN_SCOPE} namespaces: {len(first)} requests")
    steady = apply()
    assert steady == [
        ("GET", f"{as_operator.configuration.host}/api/v1/namespaces/{OPERATOR_NAMESPACE}/secrets")
    ]

    created = cluster.create(IN_SCOPE)
    joined = apply()
    print(f"namespace created in scope ({IN_SCOPE} present): {len(joined)} requests: {joined}")
    assert len(joined) <= 4
    assert [method for method, _ in joined].count("PATCH") == 2  # its two bindings, nothing else
    assert created in cluster.bound()

    leaving = scoped[0]
    cluster.core.patch_namespace(leaving, {"metadata": {"labels": {"support.puzzle.ch/ssa-scope": None}}})
    left = apply()
    print(f"namespace left the scope: {len(left)} requests: {left}")
    assert len(left) <= 4
    assert leaving not in cluster.bound()
    rbac = client.RbacAuthorizationV1Api(as_operator)
    name = f"support-{cluster.name}-support-readonly"
    assert api_status(lambda: rbac.read_namespaced_role_binding(name, leaving)) == 404
    wire.take()

    cluster.core.delete_namespace(scoped[1])
    deleted = apply()
    print(f"namespace deleted: {len(deleted)} requests: {deleted}")
    assert len(deleted) <= 4

    restarted = Provisioner(as_operator, OPERATOR_NAMESPACE)
    restarted.apply(cluster.contract, cluster.plan(), None, dt.datetime.now(dt.UTC))
    relisted = wire.take()
    print(f"restart: {len(relisted)} requests: {relisted}")
    assert [method for method, _ in relisted] == ["GET"] * len(KINDS)  # one list per kind, no writes

    restarted.revoke(cluster.name)
    assert cluster.bound() == set()
    core = client.CoreV1Api(as_operator)
    selector = f"{LABEL_CONTRACT}={cluster.name}"
    assert not core.list_namespaced_secret(OPERATOR_NAMESPACE, label_selector=selector).items
    assert not core.list_namespaced_service_account(OPERATOR_NAMESPACE, label_selector=selector).items
