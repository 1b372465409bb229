"""Issue 11, access that passes a security review, on the real API server with real tokens: the tenant
boundary, protected namespaces, the supporters' and customers' own identities doing their part of a case,
the customer's approval of an elevation and the audit trail from kube-apiserver's audit log."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from pathlib import Path

import pytest
from access_users import (
    OPERATOR_NAMESPACE,
    api_of,
    customer_kubeconfig,
    denial,
    supporter_kubeconfig,
    username,
    write,
)
from click.testing import CliRunner
from kubernetes import client
from support_resources import Resources, condition, iso
from test_access import Scope, access_contract, provisioned, scope  # noqa: F401  (scope: a fixture)

from support_operator.access.plan import LABEL_CONTRACT
from support_operator.access.provisioner import kubeconfig_secret_name
from support_operator.api.v1alpha1 import CASE_PLURAL, GROUP, VERSION
from support_operator.cli.main import main as operator_cli
from support_operator.cli.plugin import main as plugin
from support_operator.testing.wait import api_status, eventually

MATCH_EVERYTHING = {
    "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}
}


ROLES = Path(__file__).resolve().parents[2] / "deploy" / "base" / "rbac"


@pytest.fixture(scope="module", autouse=True)
def shipped_roles(control_plane, crds) -> None:
    """The ClusterRoles an install ships (support-readonly, support-case-worker, support-case-reporter)."""
    files = sorted(ROLES.glob("support-*.yaml"))
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={f}" for f in files])


def case_body(namespace: str, contract: str, name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SupportCase",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "contractRef": {"name": contract},
            "title": "Checkout fails",
            "category": "Incident",
            "impact": "Production",
            "reporter": {"name": "Petra Keller", "email": "petra.keller@acme.example"},
            **spec,
        },
    }


def cases_as(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def elevated_bindings(api_client: client.ApiClient, contract: str) -> dict[str, str]:
    """namespace -> role of the contract's RoleBindings with purpose elevated."""
    listed = client.RbacAuthorizationV1Api(api_client).list_role_binding_for_all_namespaces(
        label_selector=f"{LABEL_CONTRACT}={contract},support.puzzle.ch/purpose=elevated"
    )
    return {b.metadata.namespace: b.role_ref.name for b in listed.items}


def run(cli: object, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))  # type: ignore[arg-type]
    return result.exit_code, result.output


# --- finding 1: a tenant aims vendor edit rights at another tenant -------------------------------------


def test_case_naming_a_namespace_the_user_may_not_open_cases_in_is_refused(
    crds, api_client: client.ApiClient, control_plane, namespace: str
) -> None:
    other = f"{namespace[:50]}-b"
    client.CoreV1Api(api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=other))
    )
    try:
        tenant = cases_as(api_of(customer_kubeconfig(api_client, control_plane.kubeconfig, namespace)))
        code, message = denial(
            lambda: tenant.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                CASE_PLURAL,
                case_body(namespace, "any", "aim", affectedNamespaces=[other]),
            )
        )
        assert code == 403, message
        assert f"may not create SupportCases in namespace {other}" in message
        assert username(namespace, "alice") in message
        tenant.create_namespaced_custom_object(  # its own namespace is fine
            GROUP,
            VERSION,
            namespace,
            CASE_PLURAL,
            case_body(namespace, "any", "own", affectedNamespaces=[namespace]),
        )
        code, message = denial(
            lambda: tenant.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                CASE_PLURAL,
                "own",
                {"spec": {"affectedNamespaces": [namespace, other]}},
            )
        )
        assert code == 403 and other in message
    finally:
        client.CoreV1Api(api_client).delete_namespace(other)


# --- finding 2: an elevation into the operator's own namespace hands over the operator -----------------


def test_match_everything_selector_never_binds_the_operator_namespace_or_kube_system(
    operator, resources: Resources, api_client: client.ApiClient, namespace: str
) -> None:
    contract = str(
        resources.contract(access={"scope": MATCH_EVERYTHING, "tokenTTL": "1h"})["metadata"]["name"]
    )
    rbac = client.RbacAuthorizationV1Api(api_client)
    selector = f"{LABEL_CONTRACT}={contract}"

    def bound_namespaces() -> set[str]:
        return {
            b.metadata.namespace
            for b in rbac.list_role_binding_for_all_namespaces(label_selector=selector).items
        }

    status = resources.wait_contract(contract, provisioned, timeout=60)["status"]
    skipped = {s["name"]: s["reason"] for s in status["skippedNamespaces"]}
    assert {OPERATOR_NAMESPACE, "kube-system", "kube-public"} <= set(skipped)
    assert "operator's own namespace" in skipped[OPERATOR_NAMESPACE]
    assert "kube-*" in skipped["kube-system"]
    assert namespace in bound_namespaces()
    anna = api_of(supporter_kubeconfig(api_client, contract, "anna"))
    assert_no_hold_on_the_operator(anna, contract)

    resources.case(
        namespace,
        contract,
        name="everywhere",
        impact="Production",
        reportedAt=iso(dt.datetime.now(dt.UTC)),
        affectedNamespaces=[namespace, OPERATOR_NAMESPACE, "kube-system"],
    )
    eventually(lambda: elevated_bindings(api_client, contract) == {namespace: "edit"}, what="elevation")
    assert not bound_namespaces() & {OPERATOR_NAMESPACE, "kube-system", "kube-public", "kube-node-lease"}
    assert_no_hold_on_the_operator(anna, contract)
    message = condition(resources.get_contract(contract), "AccessProvisioned")["message"]  # type: ignore[index]
    assert "protected, never bound" in message and OPERATOR_NAMESPACE in message


def assert_no_hold_on_the_operator(member: client.ApiClient, contract: str) -> None:
    """A member's own token can neither read the others' kubeconfigs nor mint tokens nor change anything in
    the operator's namespace."""
    core, apps = client.CoreV1Api(member), client.AppsV1Api(member)
    other = kubeconfig_secret_name(contract, "luca")
    assert api_status(lambda: core.read_namespaced_secret(other, OPERATOR_NAMESPACE)) == 403
    assert api_status(lambda: core.list_namespaced_secret(OPERATOR_NAMESPACE)) == 403
    token = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    assert (
        api_status(
            lambda: core.create_namespaced_service_account_token(
                "support-operator", OPERATOR_NAMESPACE, token
            )
        )
        == 403
    )
    patch = {"metadata": {"labels": {"owned": "yes"}}}
    assert (
        api_status(lambda: apps.patch_namespaced_deployment("support-operator", OPERATOR_NAMESPACE, patch))
        == 403
    )
    assert (
        api_status(
            lambda: core.patch_namespaced_service_account("support-operator", OPERATOR_NAMESPACE, patch)
        )
        == 403
    )
    assert api_status(lambda: core.list_namespaced_pod("kube-system")) == 403


# --- finding 3: the supporters' own identities cannot do the supporters' job ---------------------------


def test_supporter_kubeconfig_does_the_support_side_and_nothing_of_the_customers(
    operator,
    resources: Resources,
    api_client: client.ApiClient,
    control_plane,
    namespace: str,
    scope: Scope,  # noqa: F811
    tmp_path: Path,
) -> None:
    contract = access_contract(resources, scope)
    resources.wait_contract(contract, provisioned)
    resources.case(
        namespace, contract, name="slow", impact="NonProduction", reportedAt=iso(dt.datetime.now(dt.UTC))
    )
    supporter = write(supporter_kubeconfig(api_client, contract, "luca"), tmp_path / "luca")
    as_luca = f"--kubeconfig={supporter}"

    code, output = run(plugin, "queue", as_luca)
    assert code == 0 and "slow" in output, output
    for args in (("ack", f"{namespace}/slow"), ("state", f"{namespace}/slow", "WaitingForCustomer")):
        code, output = run(plugin, *args, as_luca)
        assert code == 0, output
    code, output = run(plugin, "log", f"{namespace}/slow", "30m", "looked at the ingress logs", as_luca)
    assert code == 0 and "for luca" in output, output  # the member comes from the kubeconfig
    spec = resources.get_case(namespace, "slow")["spec"]
    assert spec["state"] == "WaitingForCustomer" and spec["effort"][0]["member"] == "luca"

    luca = cases_as(api_of(yaml_load(supporter)))

    def change(field: str, value: object) -> tuple[int, str]:
        return denial(
            lambda: luca.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, CASE_PLURAL, "slow", {"spec": {field: value}}
            )
        )

    for field, value in (("title", "Nothing to see"), ("impact", "Production"), ("category", "Consultation")):
        code, message = change(field, value)
        assert code == 403 and f"spec.{field} is the customer's" in message, (field, code, message)
    # reportedAt is immutable for everyone: the CRD refuses the change before admission policies run.
    code, message = change("reportedAt", iso(dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))
    assert code == 422 and "reportedAt" in message, message

    customer = cases_as(api_of(customer_kubeconfig(api_client, control_plane.kubeconfig, namespace)))
    customer.create_namespaced_custom_object(
        GROUP, VERSION, namespace, CASE_PLURAL, case_body(namespace, contract, "mine")
    )
    started = iso(dt.datetime.now(dt.UTC))
    effort = {"id": "e-1", "member": "luca", "date": "2026-11-26", "duration": "1h"}
    for patch, field in (
        ({"analysisStartedAt": started, "state": "InAnalysis"}, "analysisStartedAt"),
        ({"effort": [effort]}, "effort"),
    ):
        code, message = denial(
            lambda p=patch: customer.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, CASE_PLURAL, "mine", {"spec": p}
            )
        )
        assert code == 403 and f"spec.{field} is the support team's" in message, (field, code, message)
    code, message = denial(
        lambda: customer.create_namespaced_custom_object(
            GROUP, VERSION, namespace, CASE_PLURAL, case_body(namespace, contract, "billed", effort=[effort])
        )
    )
    assert code == 403 and "spec.effort is the support team's" in message
    customer.patch_namespaced_custom_object(  # the customer's own fields stay the customer's
        GROUP, VERSION, namespace, CASE_PLURAL, "mine", {"spec": {"title": "Checkout fails for some users"}}
    )


def yaml_load(path: Path) -> dict:
    import yaml

    loaded: dict = yaml.safe_load(path.read_text())
    return loaded


# --- spec.caseNamespaces --------------------------------------------------------------------------------


def test_case_from_a_namespace_the_contract_does_not_serve_is_not_entitled(
    operator,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    scope: Scope,  # noqa: F811
) -> None:
    contract = access_contract(resources, scope)
    resources.objects.patch_cluster_custom_object(
        GROUP,
        VERSION,
        "supportcontracts",
        contract,
        {"spec": {"caseNamespaces": {"namespaces": ["elsewhere"]}}},
    )
    resources.wait_contract(contract, provisioned)
    resources.case(
        namespace,
        contract,
        name="foreign",
        impact="Production",
        reportedAt=iso(dt.datetime.now(dt.UTC)),
        analysisStartedAt=iso(dt.datetime.now(dt.UTC)),
        state="InAnalysis",
        effort=[{"id": "e-1", "member": "anna", "date": dt.date.today().isoformat(), "duration": "2h"}],
    )
    case = resources.wait_case(namespace, "foreign", lambda c: condition(c, "Ready") is not None)
    ready = condition(case, "Ready")
    assert ready is not None and (ready["status"], ready["reason"]) == ("False", "NotEntitled")
    assert "spec.caseNamespaces" in ready["message"]
    assert (condition(case, "Confirmed") or {}).get("reason") == "WaitingForContract"  # no e-mail
    time.sleep(3)  # the contract reconciled the case (it is in its index): still no elevation, no billing
    assert elevated_bindings(api_client, contract) == {}
    months = resources.get_contract(contract)["status"].get("months") or []
    assert sum(m.get("incidentMinutes", 0) for m in months) == 0


def test_a_namespace_relabelled_into_case_namespaces_entitles_its_cases(
    operator,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    scope: Scope,  # noqa: F811
) -> None:
    """Entitlement follows the namespace's labels, not only the case's own changes."""
    contract = access_contract(resources, scope)
    selector = {"namespaceSelector": {"matchLabels": {"support.example/served": "yes"}}}
    resources.objects.patch_cluster_custom_object(
        GROUP, VERSION, "supportcontracts", contract, {"spec": {"caseNamespaces": selector}}
    )
    resources.wait_contract(contract, provisioned)
    resources.case(namespace, contract, name="relabelled", category="Consultation")

    def ready_reason(case: dict) -> str | None:
        return (condition(case, "Ready") or {}).get("reason")

    resources.wait_case(namespace, "relabelled", lambda c: ready_reason(c) == "NotEntitled")
    core = client.CoreV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {"support.example/served": "yes"}}})
    resources.wait_case(namespace, "relabelled", lambda c: ready_reason(c) == "Tracking")
    core.patch_namespace(namespace, {"metadata": {"labels": {"support.example/served": None}}})
    resources.wait_case(namespace, "relabelled", lambda c: ready_reason(c) == "NotEntitled")


# --- customer approval of elevation ---------------------------------------------------------------------


def test_elevation_waits_for_the_customers_approval_and_ends_with_it(
    operator,
    resources: Resources,
    api_client: client.ApiClient,
    control_plane,
    namespace: str,
    scope: Scope,  # noqa: F811
    tmp_path: Path,
) -> None:
    contract = access_contract(resources, scope, elevation={"approval": "Required"})
    resources.wait_contract(contract, provisioned)
    claire_config = write(supporter_kubeconfig(api_client, contract, "claire"), tmp_path / "claire")
    claire = client.CoreV1Api(api_of(yaml_load(claire_config)))
    customer_config = write(
        customer_kubeconfig(api_client, control_plane.kubeconfig, namespace), tmp_path / "alice"
    )
    customer = cases_as(api_of(yaml_load(customer_config)))
    customer.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        CASE_PLURAL,
        case_body(namespace, contract, "down", reportedAt=iso(dt.datetime.now(dt.UTC))),
    )

    def can_edit() -> bool:
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="probe-"))
        return api_status(lambda: claire.create_namespaced_config_map(namespace, body)) == 200

    waiting = resources.wait_case(
        namespace,
        "down",
        lambda c: (condition(c, "ElevationApproved") or {}).get("reason") == "AwaitingApproval",
    )
    assert "kubectl support approve" in condition(waiting, "ElevationApproved")["message"]  # type: ignore[index]
    assert not can_edit() and elevated_bindings(api_client, contract) == {}

    code, output = run(
        plugin, "approve", f"{namespace}/down", "--reason", "self-service", f"--kubeconfig={claire_config}"
    )
    assert code == 1 and "is a support identity" in output, output
    forged = {
        "approver": "someone-else",
        "reason": "forged",
        "approvedAt": iso(dt.datetime.now(dt.UTC)),
        "expiresAt": iso(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)),
    }
    code, message = denial(
        lambda: customer.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, CASE_PLURAL, "down", {"spec": {"elevationApproval": forged}}
        )
    )
    assert code == 403 and "approver must be the approving user" in message, message
    assert not can_edit()

    code, output = run(
        plugin,
        "approve",
        f"{namespace}/down",
        "--for",
        "2h",
        "--reason",
        "checkout down",
        f"--kubeconfig={customer_config}",
    )
    assert code == 0 and f"approved by {username(namespace, 'alice')}" in output, output
    started = time.monotonic()
    eventually(can_edit, timeout=30, what="edit after the approval")
    print(f"edit granted {time.monotonic() - started:.1f} s after the approval")
    approved = resources.wait_case(
        namespace, "down", lambda c: (condition(c, "ElevationApproved") or {}).get("reason") == "Approved"
    )
    assert username(namespace, "alice") in condition(approved, "ElevationApproved")["message"]  # type: ignore[index]
    columns = control_plane.kubectl("get", "supportcase", "down", "-n", namespace, "-o", "wide").stdout
    assert "APPROVAL" in columns and "Approved" in columns

    code, output = run(plugin, "approve", f"{namespace}/down", "--revoke", f"--kubeconfig={customer_config}")
    assert code == 0 and "revoked" in output, output
    eventually(lambda: not can_edit(), timeout=30, what="edit gone after --revoke")
    resources.wait_case(
        namespace,
        "down",
        lambda c: (condition(c, "ElevationApproved") or {}).get("reason") == "ApprovalRevoked",
    )

    code, output = run(
        plugin,
        "approve",
        f"{namespace}/down",
        "--for",
        "20s",
        "--reason",
        "one more look",
        f"--kubeconfig={customer_config}",
    )
    assert code == 0, output
    eventually(can_edit, timeout=30, what="edit after the second approval")
    eventually(lambda: not can_edit(), timeout=60, what="edit gone after the approval expired")
    resources.wait_case(
        namespace,
        "down",
        lambda c: (condition(c, "ElevationApproved") or {}).get("reason") == "ApprovalExpired",
    )
    reasons = {e.reason for e in resources.events_for(namespace, "down")}
    assert {"AwaitingApproval", "Approved", "ApprovalRevoked", "ApprovalExpired"} <= reasons
    with urllib.request.urlopen(operator.metrics_url, timeout=10) as response:
        metrics = response.read().decode()
    assert 'support_operator_elevation_approval_transitions_total{reason="Approved"}' in metrics


# --- audit trail ------------------------------------------------------------------------------------------


def test_audit_lists_exactly_what_the_supporter_did_under_the_elevation(
    operator,
    resources: Resources,
    api_client: client.ApiClient,
    control_plane,
    namespace: str,
    scope: Scope,  # noqa: F811
) -> None:
    audit_log = getattr(control_plane, "audit_log", None)
    if audit_log is None:
        pytest.skip("the audit log of an existing cluster is not readable from here")
    contract = access_contract(resources, scope)
    resources.wait_contract(contract, provisioned)
    anna = api_of(supporter_kubeconfig(api_client, contract, "anna"))
    alice = api_of(customer_kubeconfig(api_client, control_plane.kubeconfig, namespace))
    resources.case(
        namespace, contract, name="fire", impact="Production", reportedAt=iso(dt.datetime.now(dt.UTC))
    )
    eventually(lambda: elevated_bindings(api_client, contract) == {namespace: "edit"}, what="elevation")

    client.CoreV1Api(anna).list_namespaced_pod(namespace)
    client.CoreV1Api(anna).read_namespaced_config_map("kube-root-ca.crt", namespace)
    client.CoreV1Api(alice).list_namespaced_pod(namespace)  # a customer: never listed

    status = resources.get_contract(contract)["status"]
    credential = next(i["credentialID"] for i in status["identities"] if i["member"] == "anna")
    assert credential.startswith("JTI=") and credential in {t["credentialID"] for t in status["tokens"]}
    code, output = run(
        operator_cli,
        "access",
        "audit",
        f"--audit-log={audit_log}",
        f"--case={namespace}/fire",
        "--output=json",
        f"--kubeconfig={control_plane.kubeconfig}",
    )
    assert code == 0, output
    rows = json.loads(output)
    assert [(r["member"], r["verb"], r["resource"], r["namespace"], r["name"], r["code"]) for r in rows] == [
        ("anna", "list", "pods", namespace, "", 200),
        ("anna", "get", "configmaps", namespace, "kube-root-ca.crt", 200),
    ]
    assert {r["credential_id"] for r in rows} == {credential}
    code, output = run(
        plugin,
        "access",
        "audit",
        f"--audit-log={audit_log}",
        f"--case={namespace}/fire",
        "--member=luca",
        f"--kubeconfig={control_plane.kubeconfig}",
    )
    assert code == 0 and "No requests by support identities." in output, output


# --- the operator's own RBAC ------------------------------------------------------------------------------


def test_operator_may_bind_only_its_contract_reader_cluster_wide(operator_kubeconfig: Path, crds) -> None:
    from kubernetes import config

    rbac = client.RbacAuthorizationV1Api(config.new_client_from_config(config_file=str(operator_kubeconfig)))
    subject = client.RbacV1Subject(kind="User", name="someone", api_group="rbac.authorization.k8s.io")
    code, message = denial(
        lambda: rbac.create_cluster_role_binding(
            client.V1ClusterRoleBinding(
                metadata=client.V1ObjectMeta(generate_name="probe-"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="edit"
                ),
                subjects=[subject],
            )
        )
    )
    assert code == 403 and "support-contract-*" in message, message
    wide = client.V1PolicyRule(
        api_groups=["support.puzzle.ch"], resources=["supportcontracts"], verbs=["get"]
    )
    code, message = denial(
        lambda: rbac.create_cluster_role(
            client.V1ClusterRole(metadata=client.V1ObjectMeta(name="support-contract-probe"), rules=[wide])
        )
    )
    assert code == 403 and "read one" in message, message
