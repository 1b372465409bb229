"""Server-side apply of plain manifests through the Python client (no kubectl needed at run time)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubernetes import client, dynamic

from support_operator import constants

FIELD_MANAGER = constants.FIELD_MANAGER


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
