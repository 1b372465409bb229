"""Phone intake: `kubectl support open` through the real kubectl plugin mechanism, as a supporter with a real
token (TokenRequest), against the real API server with the operator running."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from support_resources import Resources, ready

from support_operator.access.provisioner import kubeconfig_secret_name
from support_operator.testing.wait import eventually

VENV_BIN = Path(sys.executable).parent
ZURICH = ZoneInfo("Europe/Zurich")  # the sample contract's time zone


def kubectl_support_as(control_plane, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`kubectl support ARGS` with only `kubeconfig`'s credentials (no KUBECONFIG, no admin kubeconfig)."""
    environment = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    environment.pop("KUBECONFIG", None)
    return subprocess.run(
        [str(control_plane.kubectl_path), "support", *args, f"--kubeconfig={kubeconfig}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def token_kubeconfig(control_plane, token: str, namespace: str, path: Path) -> Path:
    """A kubeconfig holding only `token`, its context defaulting to `namespace`."""
    admin = yaml.safe_load(control_plane.kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": "supporter", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "supporter",
                        "context": {"cluster": cluster["name"], "user": "supporter", "namespace": namespace},
                    }
                ],
                "current-context": "supporter",
            }
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def supporter_kubeconfig(
    control_plane, api_client: client.ApiClient, namespace: str, resources: Resources, tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """A contract and a ServiceAccount with what a supporter needs at phone intake: create and read cases in
    the namespace, read that one contract (resourceNames) - and nothing else. Its token is a real one."""
    contract = resources.contract()["metadata"]["name"]
    rbac = client.RbacAuthorizationV1Api(api_client)
    client.CoreV1Api(api_client).create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="supporter"))
    )
    subject = client.RbacV1Subject(kind="ServiceAccount", name="supporter", namespace=namespace)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="phone-intake"),
            rules=[
                client.V1PolicyRule(
                    api_groups=["support.puzzle.ch"], resources=["supportcases"], verbs=["create", "get"]
                )
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="phone-intake"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="phone-intake"
            ),
            subjects=[subject],
        ),
    )
    reader = f"read-{contract}"
    rbac.create_cluster_role(
        client.V1ClusterRole(
            metadata=client.V1ObjectMeta(name=reader),
            rules=[
                client.V1PolicyRule(
                    api_groups=["support.puzzle.ch"],
                    resources=["supportcontracts"],
                    resource_names=[contract],
                    verbs=["get"],
                )
            ],
        )
    )
    rbac.create_cluster_role_binding(
        client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name=reader),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=reader),
            subjects=[subject],
        )
    )
    token = control_plane.kubectl(
        "create", "token", "supporter", f"--namespace={namespace}", "--duration=1h"
    ).stdout.strip()
    try:
        yield contract, token_kubeconfig(control_plane, token, namespace, tmp_path / "supporter")
    finally:
        rbac.delete_cluster_role_binding(reader)
        rbac.delete_cluster_role(reader)


def test_a_phone_case_opened_by_a_supporter_gets_priority_and_deadline(
    operator, control_plane, resources: Resources, namespace: str, supporter_kubeconfig: tuple[str, Path]
) -> None:
    contract, kubeconfig = supporter_kubeconfig
    called = dt.datetime.now(ZURICH).replace(second=0, microsecond=0) - dt.timedelta(minutes=7)
    opened = kubectl_support_as(
        control_plane,
        kubeconfig,
        "open",
        "--contract",
        contract,
        "--title",
        "Shop ingress answers 503",
        "--impact",
        "Production",
        "--reporter-name",
        "Petra Keller",
        "--phone",
        "+41 31 370 22 00",
        "--reported-at",
        called.strftime("%Y-%m-%d %H:%M"),  # the wall clock of the call, in the contract's zone
        "--affected",
        namespace,
    )
    assert opened.returncode == 0, opened.stderr
    first, second = opened.stdout.splitlines()
    reference = first.split()[0]
    assert reference.startswith(f"{namespace}/shop-ingress-answers-503-")
    name = reference.split("/")[1]

    case = resources.wait_case(namespace, name, ready)
    spec = case["spec"]
    assert spec["reportedVia"] == "Phone" and spec["category"] == "Incident"
    assert dt.datetime.fromisoformat(spec["reportedAt"]) == called
    assert spec["reporter"] == {"name": "Petra Keller", "phone": "+41 31 370 22 00"}
    assert spec["affectedNamespaces"] == [namespace]
    assert called.strftime("%Y-%m-%d %H:%M") in first

    deadline = dt.datetime.fromisoformat(case["status"]["reaction"]["deadline"]).astimezone(ZURICH)
    assert second.startswith(f"priority {case['status']['priority']}, reaction by ")
    assert case["status"]["priority"] == "P1"
    assert f"{deadline.strftime('%Y-%m-%d %H:%M %Z')} (Europe/Zurich)" in second


def test_open_refuses_what_cannot_become_a_case_and_writes_nothing(
    operator, control_plane, resources: Resources, namespace: str, supporter_kubeconfig: tuple[str, Path]
) -> None:
    contract, kubeconfig = supporter_kubeconfig
    base = ["open", "--title", "Disk full", "--impact", "NonProduction", "--reporter-name", "Petra Keller"]

    # This identity may read only its own contract: whether "nope" exists, only the operator can tell.
    unknown = kubectl_support_as(
        control_plane,
        kubeconfig,
        *base,
        "--contract",
        "nope",
        "--phone",
        "+41 1",
        "--wait",
        "3",
        "-n",
        namespace,
    )
    assert unknown.returncode == 1, unknown.stdout
    assert "is not tracked: ContractNotFound: SupportContract nope does not exist" in unknown.stderr

    unreachable = kubectl_support_as(control_plane, kubeconfig, *base, "--contract", contract)
    assert unreachable.returncode == 2 and "--phone or --email" in unreachable.stderr

    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    later = kubectl_support_as(
        control_plane,
        kubeconfig,
        *base,
        "--contract",
        contract,
        "--email",
        "p@acme.example",
        "--reported-at",
        future,
    )
    assert later.returncode == 2 and "is in the future" in later.stderr

    elsewhere = kubectl_support_as(
        control_plane, kubeconfig, *base, "--contract", contract, "--email", "p@acme.example", "-n", "default"
    )
    assert elsewhere.returncode == 1 and "no permission" in elsewhere.stderr  # only its own namespace
    listed = resources.objects.list_namespaced_custom_object(
        "support.puzzle.ch", "v1alpha1", namespace, "supportcases"
    )
    assert [c["spec"]["contractRef"]["name"] for c in listed["items"]] == ["nope"]  # only the first one


def test_a_supporter_opens_a_phone_case_with_the_provisioned_kubeconfig(
    operator,
    control_plane,
    api_client: client.ApiClient,
    resources: Resources,
    namespace: str,
    tmp_path: Path,
) -> None:
    access = {
        "mode": "Personal",
        "scope": {"namespaces": [namespace]},
        "baseRoles": ["support-readonly"],
        "elevatedRole": "edit",
        "elevationMaxDuration": "8h",
        "tokenTTL": "1h",
    }
    contract = resources.contract(access=access)["metadata"]["name"]
    secret = kubeconfig_secret_name(contract, "anna")

    def kubeconfig() -> str | None:
        try:
            found = client.CoreV1Api(api_client).read_namespaced_secret(secret, "support-operator")
        except ApiException:
            return None
        return base64.b64decode(found.data["kubeconfig"]).decode()

    path = tmp_path / "anna"
    path.write_text(eventually(kubeconfig, timeout=60, what=f"the kubeconfig Secret {secret}"))
    opened = kubectl_support_as(
        control_plane,
        path,
        "open",
        "--contract",
        contract,
        "--title",
        "Called about the shop",
        "--impact",
        "NonProduction",
        "--reporter-name",
        "Petra Keller",
        "--email",
        "petra.keller@acme.example",
        "-n",
        namespace,
    )
    assert opened.returncode == 0, opened.stderr
    assert "priority P2, reaction by " in opened.stdout and "(Europe/Zurich)" in opened.stdout
