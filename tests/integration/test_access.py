"""Remote access for the support team, proven with the real tokens the operator mints on the real API
server."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from support_resources import Resources, condition, delete_contract, iso, sample

from support_operator.access.plan import ANNOTATION_EXPIRES, LABEL_CONTRACT
from support_operator.access.provisioner import kubeconfig_secret_name
from support_operator.cli.main import main
from support_operator.testing.wait import api_status, eventually

OPERATOR_NAMESPACE = "support-operator"


class Scope:
    """A label only this test's namespaces carry, and the namespaces carrying it."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.core = client.CoreV1Api(api_client)
        self.label = {"support.puzzle.ch/test-scope": secrets.token_hex(4)}
        self.created: list[str] = []
        self.add(namespace)

    def add(self, namespace: str, create: bool = False) -> str:
        if create:
            self.core.create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=self.label))
            )
            self.created.append(namespace)
        else:
            self.core.patch_namespace(namespace, {"metadata": {"labels": self.label}})
        return namespace

    @property
    def selector(self) -> dict[str, object]:
        return {"namespaceSelector": {"matchLabels": self.label}}


@pytest.fixture
def scope(api_client: client.ApiClient, namespace: str) -> Iterator[Scope]:
    made = Scope(api_client, namespace)
    yield made
    for name in made.created:
        made.core.delete_namespace(name)


def access_contract(resources: Resources, scope: Scope, **access: object) -> str:
    spec = {
        "mode": "Personal",
        "scope": scope.selector,
        "baseRoles": ["support-readonly"],
        "elevatedRole": "edit",
        "elevationMaxDuration": "8h",
        "tokenTTL": "1h",
        **access,
    }
    return str(resources.contract(access=spec)["metadata"]["name"])


def provisioned(obj: dict) -> bool:
    return (condition(obj, "AccessProvisioned") or {}).get("status") == "True"


def member_client(api_client: client.ApiClient, contract: str, member: str) -> client.ApiClient:
    """A client from the kubeconfig the operator keeps for the member (what `access kubeconfig` prints)."""
    core = client.CoreV1Api(api_client)

    def read() -> dict | None:
        try:
            secret = core.read_namespaced_secret(kubeconfig_secret_name(contract, member), OPERATOR_NAMESPACE)
        except ApiException:
            return None
        return yaml.safe_load(base64.b64decode(secret.data["kubeconfig"]))

    kubeconfig = eventually(read, what=f"the kubeconfig of {member}")
    return config.new_client_from_config_dict(kubeconfig)


def test_member_token_reads_the_scope_and_nothing_else(
    operator, resources: Resources, api_client: client.ApiClient, namespace: str, scope: Scope
) -> None:
    contract = access_contract(resources, scope)
    status = resources.wait_contract(contract, provisioned)["status"]
    assert sorted(i["member"] for i in status["identities"]) == ["anna", "claire", "luca"]
    assert all(
        dt.datetime.fromisoformat(i["tokenExpiresAt"]) > dt.datetime.now(dt.UTC) for i in status["identities"]
    )
    anna = member_client(api_client, contract, "anna")
    core, apps = client.CoreV1Api(anna), client.AppsV1Api(anna)

    assert api_status(lambda: core.list_namespaced_pod(namespace)) == 200
    assert api_status(lambda: apps.list_namespaced_deployment(namespace)) == 200
    assert api_status(lambda: core.list_namespaced_pod("default")) == 403  # outside the scope
    assert api_status(lambda: core.list_namespaced_secret(namespace)) == 403
    exec_call = lambda: anna.call_api(  # noqa: E731
        f"/api/v1/namespaces/{namespace}/pods/any/exec", "POST", auth_settings=["BearerToken"]
    )
    assert api_status(exec_call) == 403  # authorization comes before the pod lookup
    assert (
        api_status(
            lambda: core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="nope")))
        )
        == 403
    )
    assert (
        api_status(
            lambda: core.create_namespaced_config_map(
                namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
            )
        )
        == 403
    )


def test_namespace_created_later_with_the_label_is_reachable(
    operator, resources: Resources, api_client: client.ApiClient, namespace: str, scope: Scope
) -> None:
    contract = access_contract(resources, scope)
    resources.wait_contract(contract, provisioned)
    luca = client.CoreV1Api(member_client(api_client, contract, "luca"))
    later = scope.add(f"{namespace[:50]}-later", create=True)
    eventually(
        lambda: api_status(lambda: luca.list_namespaced_pod(later)) == 200, what="access to the new namespace"
    )


def test_production_incident_elevates_while_open(
    operator, resources: Resources, api_client: client.ApiClient, namespace: str, scope: Scope
) -> None:
    contract = access_contract(resources, scope)
    resources.wait_contract(contract, provisioned)
    claire = client.CoreV1Api(member_client(api_client, contract, "claire"))

    def write_config_map() -> int:
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="probe-"))
        return api_status(lambda: claire.create_namespaced_config_map(namespace, body))

    assert write_config_map() == 403
    resources.case(
        namespace, contract, name="outage", impact="Production", reportedAt=iso(dt.datetime.now(dt.UTC))
    )
    eventually(lambda: write_config_map() == 200, what="edit during the incident")
    events = eventually(
        lambda: [e for e in resources.events_for("default", contract) if e.reason == "ElevationGranted"]
    )
    assert namespace in events[0].message

    resources.patch_case(
        namespace, "outage", {"state": "Resolved", "analysisStartedAt": iso(dt.datetime.now(dt.UTC))}
    )
    started = time.monotonic()
    eventually(lambda: write_config_map() == 403, timeout=60, what="edit revoked after resolution")
    print(f"elevation removed {time.monotonic() - started:.1f} s after the incident was resolved")


def test_removed_member_loses_access_within_seconds(
    operator, resources: Resources, api_client: client.ApiClient, namespace: str, scope: Scope
) -> None:
    contract = access_contract(resources, scope)
    resources.wait_contract(contract, provisioned)
    luca = client.CoreV1Api(member_client(api_client, contract, "luca"))
    anna = client.CoreV1Api(member_client(api_client, contract, "anna"))
    assert api_status(lambda: luca.list_namespaced_pod(namespace)) == 200

    team = [m for m in sample("supportcontract")["spec"]["team"] if m["name"] != "luca"]
    core = client.CoreV1Api(api_client)
    binding_secret = f"support-{contract}-luca-binding"
    assert api_status(lambda: core.read_namespaced_secret(binding_secret, OPERATOR_NAMESPACE)) == 200
    started = time.monotonic()
    resources.objects.patch_cluster_custom_object(
        "support.puzzle.ch", "v1alpha1", "supportcontracts", contract, {"spec": {"team": team}}
    )
    eventually(
        lambda: api_status(lambda: core.read_namespaced_secret(binding_secret, OPERATOR_NAMESPACE)) == 404,
        interval=0.05,
    )
    revoked_after = time.monotonic() - started
    eventually(
        lambda: api_status(lambda: luca.list_namespaced_pod(namespace)) == 401, timeout=30, interval=0.1
    )
    denied_after = time.monotonic() - started
    # The API server caches a successful token authentication for 10 s, so the 401 follows the
    # revocation by up to that long; the operator's own part is deleting the bound Secret.
    print(f"member removed: bound Secret gone after {revoked_after:.2f} s, 401 after {denied_after:.2f} s")
    assert api_status(lambda: anna.list_namespaced_pod(namespace)) == 200  # the others keep theirs
    revoked = eventually(
        lambda: [e for e in resources.events_for("default", contract) if e.reason == "AccessRevoked"]
    )
    assert any("luca" in e.message for e in revoked)


def test_team_identity_rotates_when_a_member_leaves(
    operator, resources: Resources, api_client: client.ApiClient, namespace: str, scope: Scope
) -> None:
    contract = access_contract(resources, scope, mode="Team")
    status = resources.wait_contract(contract, provisioned)["status"]
    assert [i["member"] for i in status["identities"]] == ["team"]
    old = client.CoreV1Api(member_client(api_client, contract, "team"))
    assert api_status(lambda: old.list_namespaced_pod(namespace)) == 200
    team = [m for m in sample("supportcontract")["spec"]["team"] if m["name"] != "claire"]
    resources.objects.patch_cluster_custom_object(
        "support.puzzle.ch", "v1alpha1", "supportcontracts", contract, {"spec": {"team": team}}
    )
    eventually(lambda: api_status(lambda: old.list_namespaced_pod(namespace)) == 401, timeout=30)
    new = client.CoreV1Api(member_client(api_client, contract, "team"))
    eventually(lambda: api_status(lambda: new.list_namespaced_pod(namespace)) == 200, timeout=30)


def test_deleting_the_contract_leaves_nothing_behind(
    operator, resources: Resources, api_client: client.ApiClient, namespace: str, scope: Scope
) -> None:
    contract = access_contract(resources, scope)
    resources.wait_contract(contract, provisioned)
    resources.case(
        namespace, contract, name="fire", impact="Production", reportedAt=iso(dt.datetime.now(dt.UTC))
    )
    rbac, core = client.RbacAuthorizationV1Api(api_client), client.CoreV1Api(api_client)
    selector = f"{LABEL_CONTRACT}={contract}"

    def labelled() -> int:
        return (
            len(rbac.list_role_binding_for_all_namespaces(label_selector=selector).items)
            + len(core.list_service_account_for_all_namespaces(label_selector=selector).items)
            + len(core.list_secret_for_all_namespaces(label_selector=selector).items)
        )

    eventually(
        lambda: labelled() >= 3 + 3 * 2 + 2, what="identities, secrets and bindings"
    )  # SA, 2 secrets each, 2 bindings
    delete_contract(resources.objects, contract)  # suspended first: it has an open case
    eventually(lambda: labelled() == 0, timeout=60, what="no object labelled with the contract")


def test_forbidden_role_creates_nothing_and_says_why(
    operator, resources: Resources, api_client: client.ApiClient, scope: Scope
) -> None:
    contract = access_contract(resources, scope, baseRoles=["cluster-admin"])
    refused = resources.wait_contract(contract, lambda c: condition(c, "AccessProvisioned") is not None)
    access = condition(refused, "AccessProvisioned")
    assert (access["status"], access["reason"]) == ("False", "Forbidden")
    assert "cluster-admin" in access["message"]
    eventually(lambda: any(e.reason == "Forbidden" for e in resources.events_for("default", contract)))
    selector = f"{LABEL_CONTRACT}={contract}"
    assert (
        not client.RbacAuthorizationV1Api(api_client)
        .list_role_binding_for_all_namespaces(label_selector=selector)
        .items
    )
    assert (
        not client.CoreV1Api(api_client)
        .list_service_account_for_all_namespaces(label_selector=selector)
        .items
    )


def test_operator_identity_cannot_bind_cluster_admin(operator_kubeconfig: Path, namespace: str) -> None:
    as_operator = client.RbacAuthorizationV1Api(
        config.new_client_from_config(config_file=str(operator_kubeconfig))
    )

    def bind(role: str) -> int:
        body = client.V1RoleBinding(
            metadata=client.V1ObjectMeta(generate_name="probe-"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
            subjects=[
                client.RbacV1Subject(kind="User", name="someone", api_group="rbac.authorization.k8s.io")
            ],
        )
        return api_status(lambda: as_operator.create_namespaced_role_binding(namespace, body))

    assert bind("cluster-admin") == 403
    assert bind("admin") == 403
    assert bind("view") == 200  # on its allow-list


def test_cli_prints_a_working_member_kubeconfig(
    operator, resources: Resources, api_client: client.ApiClient, control_plane, namespace: str, scope: Scope
) -> None:
    contract = access_contract(resources, scope)
    resources.wait_contract(contract, provisioned)
    member_client(api_client, contract, "anna")  # waits until the Secret exists
    runner = CliRunner()
    printed = runner.invoke(
        main,
        [
            "access",
            "kubeconfig",
            f"--contract={contract}",
            "--member=anna",
            f"--kubeconfig={control_plane.kubeconfig}",
        ],
    )
    assert printed.exit_code == 0, printed.output
    anna = client.CoreV1Api(config.new_client_from_config_dict(yaml.safe_load(printed.output)))
    assert api_status(lambda: anna.list_namespaced_pod(namespace)) == 200
    missing = runner.invoke(
        main,
        [
            "access",
            "kubeconfig",
            f"--contract={contract}",
            "--member=nobody",
            f"--kubeconfig={control_plane.kubeconfig}",
        ],
    )
    assert missing.exit_code == 1 and "no kubeconfig for member nobody" in missing.output


def test_token_is_rotated_before_it_expires(
    operator, resources: Resources, api_client: client.ApiClient, namespace: str, scope: Scope
) -> None:
    contract = access_contract(resources, scope, tokenTTL="10m")
    resources.wait_contract(contract, provisioned)
    old = member_client(api_client, contract, "anna")
    core = client.CoreV1Api(api_client)
    name = kubeconfig_secret_name(contract, "anna")
    # Pretend the token is about to expire: the operator's record says so (the token itself is untouched).
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).replace(microsecond=0).isoformat()
    core.patch_namespaced_secret(
        name, OPERATOR_NAMESPACE, {"metadata": {"annotations": {ANNOTATION_EXPIRES: soon}}}
    )
    resources.objects.patch_cluster_custom_object(  # any event makes the operator look again
        "support.puzzle.ch", "v1alpha1", "supportcontracts", contract, {"metadata": {"labels": {"poke": "1"}}}
    )

    def rotated() -> str | None:
        annotations = core.read_namespaced_secret(name, OPERATOR_NAMESPACE).metadata.annotations
        return annotations[ANNOTATION_EXPIRES] if annotations[ANNOTATION_EXPIRES] != soon else None

    expires = dt.datetime.fromisoformat(eventually(rotated, what="a rotated token"))
    assert expires > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=9)
    new = client.CoreV1Api(member_client(api_client, contract, "anna"))
    assert api_status(lambda: new.list_namespaced_pod(namespace)) == 200
    assert old.configuration.api_key != new.api_client.configuration.api_key  # a different token
    events = eventually(
        lambda: [e for e in resources.events_for("default", contract) if e.reason == "TokenRotated"]
    )
    assert "anna" in events[0].message
