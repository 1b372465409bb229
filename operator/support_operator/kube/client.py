"""Kubernetes API client construction: in-cluster service account, else KUBECONFIG / ~/.kube/config."""

from __future__ import annotations

import os
from importlib.metadata import version

from kubernetes import client, config

# The field manager the API server records for our writes (managedFields): only status, Events and the
# objects the operator owns should ever carry it.
USER_AGENT = f"support-operator/{version('support-operator')}"


def new_api_client() -> client.ApiClient:
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config()
        api = client.ApiClient()
    else:
        api = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))
    api.user_agent = USER_AGENT
    return api
