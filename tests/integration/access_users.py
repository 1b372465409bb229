"""Real users for access tests: a customer (a ServiceAccount of the tenant namespace bound to `admin` there,
so the aggregated support-case-reporter applies) and a supporter's own provisioned kubeconfig, each with a
TokenRequest token, as kubeconfig files the plugin and kubectl can use."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from support_operator.access.provisioner import kubeconfig_secret_name
from support_operator.testing.wait import eventually

OPERATOR_NAMESPACE = "support-operator"


def supporter_kubeconfig(api_client: client.ApiClient, contract: str, member: str) -> dict[str, Any]:
    """The kubeconfig the operator keeps for the member (what `access kubeconfig` prints)."""
    core = client.CoreV1Api(api_client)

    def read() -> dict[str, Any] | None:
        try:
            secret = core.read_namespaced_secret(kubeconfig_secret_name(contract, member), OPERATOR_NAMESPACE)
        except ApiException:
            return None
        loaded: dict[str, Any] = yaml.safe_load(base64.b64decode(secret.data["kubeconfig"]))
        return loaded

    found: dict[str, Any] = eventually(read, what=f"the kubeconfig of {member}")
    return found


def customer_kubeconfig(
    api_client: client.ApiClient, admin_kubeconfig: Path, namespace: str, user: str = "alice"
) -> dict[str, Any]:
    """A customer of `namespace`: ServiceAccount `user` there, bound to the built-in `admin` role."""
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata={"name": user}))
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=f"{user}-admin"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="admin"
            ),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=user, namespace=namespace)],
        ),
    )
    minted = core.create_namespaced_service_account_token(
        user, namespace, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    )
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    kubeconfig = _token_kubeconfig(admin, user, minted.status.token, namespace)
    customer = client.AuthorizationV1Api(api_of(kubeconfig))
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                group="support.puzzle.ch", resource="supportcases", verb="create", namespace=namespace
            )
        )
    )
    # support-case-reporter reaches `admin` through the aggregation controller: a moment after install.
    eventually(
        lambda: customer.create_self_subject_access_review(review).status.allowed,
        what="support-case-reporter aggregated into admin",
    )
    return kubeconfig


def _token_kubeconfig(admin: dict[str, Any], user: str, token: str, namespace: str) -> dict[str, Any]:
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": user, "context": {"cluster": cluster["name"], "user": user, "namespace": namespace}}
        ],
        "current-context": user,
    }


def username(namespace: str, account: str) -> str:
    return f"system:serviceaccount:{namespace}:{account}"


def api_of(kubeconfig: dict[str, Any]) -> client.ApiClient:
    return config.new_client_from_config_dict(kubeconfig)


def write(kubeconfig: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    return path


def denial(call: Any) -> tuple[int, str]:
    """(HTTP status, message) of a refused API call; (200, "") when it succeeded."""
    try:
        call()
    except ApiException as error:
        import json

        try:
            message = str(json.loads(error.body).get("message", ""))
        except (TypeError, ValueError):
            message = str(error.body)
        return int(error.status), message
    return 200, ""
