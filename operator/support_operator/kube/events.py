"""Kubernetes Events on our resources: what `kubectl describe` and `kubectl events` show users."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator import constants

log = logging.getLogger(__name__)
COMPONENT = constants.EVENT_COMPONENT


def post_event(api: client.ApiClient, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
    """Best effort: a failed Event is logged, never fails a reconcile. Cluster-scoped objects' Events go
    to `default`, where kubectl looks for them."""
    metadata = obj["metadata"]
    namespace = metadata.get("namespace") or "default"
    now = dt.datetime.now(dt.UTC)
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=f"{metadata['name']}.{secrets.token_hex(8)}", namespace=namespace),
        involved_object=client.V1ObjectReference(
            api_version=obj["apiVersion"],
            kind=obj["kind"],
            name=metadata["name"],
            namespace=metadata.get("namespace"),
            uid=metadata.get("uid"),
            resource_version=metadata.get("resourceVersion"),
        ),
        type=type_,
        reason=reason,
        message=message[:1024],
        first_timestamp=now,
        last_timestamp=now,
        count=1,
        source=client.V1EventSource(component=COMPONENT),
        reporting_component=COMPONENT,
        reporting_instance=COMPONENT,
    )
    try:
        client.CoreV1Api(api).create_namespaced_event(namespace, event)
    except ApiException as error:
        log.warning("could not post Event %s on %s: %s", reason, metadata["name"], error.reason)
