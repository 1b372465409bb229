"""Server-side apply of plain manifests through the Python client (no kubectl needed at run time).

`apply_manifests` discovers any kind (the dev environment's CRDs, samples); the raw helpers below serve a
fixed set of kinds (`Resource`) without discovery and without deserialising into client models: one HTTP
request each, JSON in and out, which is what a caller counting its requests wants.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from support_operator import constants

FIELD_MANAGER = constants.FIELD_MANAGER
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the body is sent as JSON
LIST_PAGE = 500


def apply_manifests(api_client: client.ApiClient, manifests: Iterable[dict[str, Any]]) -> None:
    """Creates or updates each object the way `kubectl apply --server-side` does."""
    resources = dynamic.DynamicClient(api_client).resources
    for manifest in manifests:
        resource = resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        metadata = manifest["metadata"]
        resource.server_side_apply(
            body=manifest,
            name=metadata["name"],
            namespace=metadata.get("namespace"),
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )


@dataclass(frozen=True)
class Resource:
    """A kind's REST collection, e.g. Resource("rbac.authorization.k8s.io/v1", "rolebindings", True)."""

    api_version: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection (all namespaces when `namespace` is None), or one object when `name` is given."""
        path = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            path += f"/namespaces/{namespace}"
        path += f"/{self.plural}"
        return f"{path}/{name}" if name else path


def server_side_apply(
    api: client.ApiClient, resource: Resource, manifest: dict[str, Any], force: bool
) -> dict[str, Any]:
    """Applies `manifest` with the operator's field manager and returns the object as stored. `force` takes
    over fields another manager set (for objects the operator owns); without it such a conflict is a 409."""
    metadata = manifest["metadata"]
    query: list[tuple[str, str]] = [("fieldManager", FIELD_MANAGER)]
    if force:
        query.append(("force", "true"))
    return _call(
        api,
        resource.path(metadata.get("namespace"), metadata["name"]),
        "PATCH",
        query,
        body=manifest,
        content_type=APPLY_PATCH,
    )


def delete_object(api: client.ApiClient, resource: Resource, namespace: str | None, name: str) -> bool:
    """Deletes one object; False when it was already gone."""
    try:
        _call(api, resource.path(namespace, name), "DELETE", [])
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def get_object(
    api: client.ApiClient, resource: Resource, namespace: str | None, name: str
) -> dict[str, Any] | None:
    """One object; None when there is none."""
    try:
        return _call(api, resource.path(namespace, name), "GET", [])
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def list_pages(
    api: client.ApiClient, resource: Resource, label_selector: str, namespace: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The objects matching `label_selector`, one page (one request) at a time."""
    token: str | None = None
    while True:
        query = [("labelSelector", label_selector), ("limit", str(LIST_PAGE))]
        if token:
            query.append(("continue", token))
        listed = _call(api, resource.path(namespace), "GET", query)
        yield list(listed.get("items") or [])
        token = (listed.get("metadata") or {}).get("continue")
        if not token:
            return


def create_object(api: client.ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A plain POST (subresources such as serviceaccounts/<name>/token)."""
    return _call(api, path, "POST", [], body=body)


def _call(
    api: client.ApiClient,
    path: str,
    method: str,
    query: list[tuple[str, str]],
    body: dict[str, Any] | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    response = api.call_api(
        path,
        method,
        query_params=query,
        header_params={"Accept": "application/json", "Content-Type": content_type},
        body=body,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
    )
    data = response.data
    parsed: dict[str, Any] = json.loads(data) if data else {}
    return parsed
