"""Kubernetes API client construction: in-cluster service account, else KUBECONFIG / ~/.kube/config."""

from __future__ import annotations

import os

from kubernetes import client, config


def new_api_client() -> client.ApiClient:
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config()
        return client.ApiClient()
    return config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))
