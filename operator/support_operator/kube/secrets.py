"""Reading a Secret's data with errors that name what is missing (not just "Not Found")."""

from __future__ import annotations

import base64

from kubernetes import client
from kubernetes.client.rest import ApiException


class SecretUnavailableError(ValueError):
    """The Secret is missing or unreadable; the message names it and the cause."""


def read_secret_data(api: client.ApiClient, namespace: str, name: str) -> dict[str, str]:
    try:
        secret = client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    except ApiException as error:
        if error.status == 404:
            raise SecretUnavailableError(f"Secret {namespace}/{name} not found") from error
        if error.status == 403:
            raise SecretUnavailableError(
                f"Secret {namespace}/{name} cannot be read: the operator may read Secrets only in its own "
                "namespace"
            ) from error
        raise SecretUnavailableError(f"Secret {namespace}/{name}: {error.status} {error.reason}") from error
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
