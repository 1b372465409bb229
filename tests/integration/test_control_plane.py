"""The test control plane is a real Kubernetes API server: RBAC, TokenRequest, bound tokens, GC, kubectl."""

from __future__ import annotations

import copy

from kubernetes import client

from support_operator.testing.wait import api_status, eventually


def token_client(admin: client.ApiClient, token: str) -> client.ApiClient:
    configuration = copy.copy(admin.configuration)
    configuration.cert_file = None
    configuration.key_file = None
    configuration.api_key = {"authorization": f"Bearer {token}"}
    configuration.api_key_prefix = {}
    return client.ApiClient(configuration)


def test_bound_service_account_token_is_authorized_by_rbac_and_revoked_with_its_secret(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="probe"))
    )
    secret = core.create_namespaced_secret(
        namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="probe-binding"), type="Opaque")
    )
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(
            audiences=[],
            expiration_seconds=600,
            bound_object_ref=client.V1BoundObjectReference(
                api_version="v1", kind="Secret", name=secret.metadata.name, uid=secret.metadata.uid
            ),
        )
    )
    minted = core.create_namespaced_service_account_token("probe", namespace, request)
    assert minted.status.expiration_timestamp is not None
    as_probe = client.CoreV1Api(token_client(api_client, minted.status.token))
    list_pods = lambda: as_probe.list_namespaced_pod(namespace)  # noqa: E731

    assert api_status(list_pods) == 403

    client.RbacAuthorizationV1Api(api_client).create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="probe-view"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="view"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="probe", namespace=namespace)],
        ),
    )
    eventually(lambda: api_status(list_pods) == 200)
    assert api_status(lambda: as_probe.list_namespaced_secret(namespace)) == 403  # view never reads Secrets

    core.delete_namespaced_secret("probe-binding", namespace)
    eventually(lambda: api_status(list_pods) == 401)


def test_garbage_collector_deletes_dependents(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    owner = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    reference = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="child", owner_references=[reference])),
    )
    core.delete_namespaced_config_map("owner", namespace)
    eventually(
        lambda: api_status(lambda: core.read_namespaced_config_map("child", namespace)) == 404, timeout=60
    )


def test_controller_manager_publishes_root_ca_and_default_service_account(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    eventually(
        lambda: api_status(lambda: core.read_namespaced_config_map("kube-root-ca.crt", namespace)) == 200
    )
    eventually(lambda: api_status(lambda: core.read_namespaced_service_account("default", namespace)) == 200)


def test_kubectl_server_side_apply_and_get(control_plane, namespace: str) -> None:
    manifest = f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: {namespace}
data:
  greeting: grüezi
"""
    applied = control_plane.kubectl("apply", "--server-side", "-f", "-", input=manifest)
    assert "serverside-applied" in applied.stdout
    got = control_plane.kubectl(
        "get", "configmap", "applied", "-n", namespace, "-o", "jsonpath={.data.greeting}"
    )
    assert got.stdout == "grüezi"
    managed = control_plane.kubectl(
        "get",
        "configmap",
        "applied",
        "-n",
        namespace,
        "-o",
        "jsonpath={.metadata.managedFields[0].operation}",
    )
    assert managed.stdout == "Apply"
