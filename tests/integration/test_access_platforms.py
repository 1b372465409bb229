"""Platform identities on the real API server: the OpenShift Group the operator maintains and Rancher
principals bound with plain RBAC. The provisioner is driven directly, so the session's operator (which
detected a plain Kubernetes platform at startup) is not involved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.access.plan import AccessRequest, PlatformTraits, plan_access
from support_operator.access.provisioner import OPENSHIFT_USER_GROUP, Provisioner
from support_operator.api.v1alpha1 import AccessSpec, TeamMember
from support_operator.config import DEFAULT_ALLOWED_ROLES

GROUP_CRD = Path(__file__).resolve().parents[2] / "crds" / "testing" / "openshift-user-groups.yaml"
OPERATOR_NAMESPACE = "support-operator"


@pytest.fixture
def openshift_groups(control_plane) -> Iterator[None]:
    control_plane.kubectl("apply", "--server-side", f"-f={GROUP_CRD}")
    control_plane.kubectl("wait", "--for=condition=Established", "crd/groups.user.openshift.io")
    yield
    control_plane.kubectl("delete", f"-f={GROUP_CRD}", "--wait=true")


def test_openshift_group_and_rancher_principals(
    openshift_groups: None, api_client: client.ApiClient, namespace: str, operator_kubeconfig: Path
) -> None:
    # A cluster-scoped owner stands in for the contract (the garbage collector deletes dependents whose
    # owner is missing); a ClusterRole without rules is one nobody else cares about.
    rbac = client.RbacAuthorizationV1Api(api_client)
    owner = rbac.create_cluster_role(
        client.V1ClusterRole(metadata=client.V1ObjectMeta(generate_name="owner-"))
    )
    contract = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": owner.metadata.name, "uid": owner.metadata.uid},
    }
    team = (
        TeamMember(name="anna", email="anna@puzzle.ch", languages=["de"], platform_username="ameier"),
        TeamMember(name="luca", email="luca@puzzle.ch", languages=["de"], platform_username="lrossi"),
        TeamMember(
            name="claire", email="claire@puzzle.ch", languages=["fr"], rancher_principal="local://u-claire"
        ),
    )
    request = AccessRequest(
        contract=contract["metadata"]["name"],
        access=AccessSpec.model_validate({"scope": {"namespaces": [namespace]}}),
        team=team,
        namespaces={namespace: {}},
        allowed_roles=frozenset(DEFAULT_ALLOWED_ROLES),
        platform=PlatformTraits(openshift_users=True, rancher_principals=True),
    )
    now = dt.datetime.now(dt.UTC)
    plan = plan_access(request, now)
    from kubernetes import config

    as_operator = config.new_client_from_config(config_file=str(operator_kubeconfig))
    provisioner = Provisioner(as_operator, OPERATOR_NAMESPACE)
    outcome = provisioner.apply(contract, plan, None, now)

    assert sorted((i.member, i.kind) for i in outcome.identities) == [
        ("anna", "OpenShiftUser"),
        ("claire", "RancherPrincipal"),
        ("luca", "OpenShiftUser"),
    ]
    group, version, plural = OPENSHIFT_USER_GROUP
    objects = client.CustomObjectsApi(api_client)
    found = objects.get_cluster_custom_object(
        group, version, plural, f"support-{contract['metadata']['name']}"
    )
    assert found["users"] == ["ameier", "lrossi"]
    binding = rbac.read_namespaced_role_binding(
        f"support-{contract['metadata']['name']}-support-readonly", namespace
    )
    assert sorted((s.kind, s.name) for s in binding.subjects) == [
        ("Group", f"support-{contract['metadata']['name']}"),
        ("User", "local://u-claire"),
    ]
    # The group grants what the binding says: impersonating a member of it proves RBAC honours it.
    impersonating = client.ApiClient(api_client.configuration)
    impersonating.set_default_header("Impersonate-User", "ameier")
    impersonating.set_default_header("Impersonate-Group", f"support-{contract['metadata']['name']}")
    assert client.CoreV1Api(impersonating).list_namespaced_pod(namespace).items == []
    assert_support_identities_are_recognised(api_client, namespace, contract["metadata"]["name"])

    provisioner.revoke(contract["metadata"]["name"])
    with pytest.raises(ApiException) as gone:
        objects.get_cluster_custom_object(group, version, plural, f"support-{contract['metadata']['name']}")
    assert gone.value.status == 404
    rbac.delete_cluster_role(owner.metadata.name)


def assert_support_identities_are_recognised(
    api_client: client.ApiClient, namespace: str, contract: str
) -> None:
    """The admission policies recognise an OpenShift Group member and a Rancher principal as support
    identities too (the custom verb `support` the contract reader grants): both may work on a case and
    neither may change the customer's title."""
    reader = client.RbacAuthorizationV1Api(api_client).read_cluster_role_binding(
        f"support-contract-{contract}"
    )
    assert sorted((s.kind, s.name) for s in reader.subjects) == [
        ("Group", f"support-{contract}"),
        ("User", "local://u-claire"),
    ]
    cases = client.CustomObjectsApi(api_client)
    body = {
        "apiVersion": "support.puzzle.ch/v1alpha1",
        "kind": "SupportCase",
        "metadata": {"name": "platform"},
        "spec": {
            "contractRef": {"name": contract},
            "title": "Slow",
            "category": "Incident",
            "impact": "NonProduction",
            "reporter": {"name": "Petra", "email": "petra@acme.example"},
        },
    }
    cases.create_namespaced_custom_object("support.puzzle.ch", "v1alpha1", namespace, "supportcases", body)
    for headers in (
        {"Impersonate-User": "ameier", "Impersonate-Group": f"support-{contract}"},
        {"Impersonate-User": "local://u-claire"},
    ):
        member = client.ApiClient(api_client.configuration)
        for key, value in headers.items():
            member.set_default_header(key, value)
        as_member = client.CustomObjectsApi(member)
        with pytest.raises(ApiException) as refused:
            as_member.patch_namespaced_custom_object(
                "support.puzzle.ch",
                "v1alpha1",
                namespace,
                "supportcases",
                "platform",
                {"spec": {"title": "x"}},
            )
        assert refused.value.status == 403 and "spec.title is the customer's" in refused.value.body, headers
