"""Kubernetes API client construction: in-cluster service account, else KUBECONFIG / ~/.kube/config."""

from __future__ import annotations

import os
import socket
from importlib.metadata import version

from kubernetes import client, config

# The field manager the API server records for our writes (managedFields): only status, Events and the
# objects the operator owns should ever carry it.
USER_AGENT = f"support-operator/{version('support-operator')}"


def new_api_client(instance: str | None = None) -> client.ApiClient:
    """`instance` (the replica's identity) goes into the User-Agent after the version: the API server's
    audit log then tells the two replicas apart, and the field manager (the part before the first /) stays
    support-operator."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config()
        api = client.ApiClient()
    else:
        api = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))
    api.user_agent = f"{USER_AGENT} ({instance})" if instance else USER_AGENT
    return api


def replica_identity() -> str:
    """Kopf names itself after the login user, which an arbitrary UID (OpenShift's restricted SCC) lacks in
    /etc/passwd: prefer the pod name (POD_ID, set by our manifests), else UID and host. Also the holder
    identity in the leader Lease: a restarted container keeps its pod name and so its leadership."""
    return os.environ.get("POD_ID") or f"support-operator-{os.getuid()}@{socket.gethostname()}"
