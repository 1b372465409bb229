"""`support-operator dev`: a local control plane (or the given cluster) with CRDs and samples installed."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from support_operator.api.crdgen import generate_crds
from support_operator.config import OperatorConfig
from support_operator.devmail import DevMail
from support_operator.kube.apply import apply_manifests
from support_operator.testing.controlplane import LocalControlPlane, repo_root

log = logging.getLogger(__name__)
# Where the stable kubeconfig of the local control plane goes (the export line stays the same each run).
DEV_HOME = Path(
    os.environ.get("SUPPORT_OPERATOR_DEV_HOME", Path.home() / ".cache" / "support-operator" / "dev")
)


@contextmanager
def dev_environment(
    kubeconfig: Path | None, settings: OperatorConfig, *, apply_samples: bool, mail: DevMail | None = None
) -> Iterator[Path]:
    """Yields the kubeconfig to use; stops the local control plane (if it started one) on exit. `mail`
    (the local mail catcher) gets its Secrets installed and the sample contract pointed at it."""
    if kubeconfig is not None:
        _install(kubeconfig, settings, apply_samples, mail)
        yield kubeconfig
        return
    with LocalControlPlane() as plane:
        DEV_HOME.mkdir(parents=True, exist_ok=True)
        stable = DEV_HOME / "kubeconfig"  # the same export line every time
        shutil.copyfile(plane.kubeconfig, stable)
        stable.chmod(0o600)
        _install(stable, settings, apply_samples, mail)
        yield stable


def _install(kubeconfig: Path, settings: OperatorConfig, apply_samples: bool, mail: DevMail | None) -> None:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": settings.namespace}}
    apply_manifests(api, [namespace, *generate_crds()])
    _wait_established(api, [crd["metadata"]["name"] for crd in generate_crds()])
    root = repo_root()
    if mail is not None:
        apply_manifests(api, mail.secrets(settings.namespace))
    if root is None:
        log.warning("not in a checkout: the shipped roles and admission policies are not installed")
        return
    apply_manifests(api, shipped_access_manifests(root))
    if apply_samples:
        samples = _samples(root / "crds" / "samples")
        for document in samples:
            if mail is not None and document["kind"] == "SupportContract":
                mail.configure(document, settings.namespace)
        apply_manifests(api, samples)


def shipped_access_manifests(root: Path) -> list[dict[str, Any]]:
    """The ClusterRoles the operator binds (support-readonly, support-case-worker) or ships for the
    customer (support-case-reporter) and the admission policies: without them every binding the operator
    makes points at a role that does not exist."""
    base = root / "deploy" / "base"
    files = sorted((base / "rbac").glob("support-*.yaml")) + [
        path for path in sorted((base / "admission").glob("*.yaml")) if path.name != "kustomization.yaml"
    ]
    return [d for path in files for d in yaml.safe_load_all(path.read_text()) if d]


def _samples(folder: Path) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for document in documents:  # the samples leave the namespace to `kubectl apply -n`
        if document["kind"] == "SupportCase":
            document["metadata"].setdefault("namespace", "default")
    # Contracts (cluster-scoped) first, then cases: each applies cleanly in one pass.
    order = {"Namespace": 0, "SupportContract": 1}
    return sorted(documents, key=lambda d: order.get(d["kind"], 2))


def _wait_established(api: client.ApiClient, names: list[str], timeout: float = 60.0) -> None:
    extensions = client.ApiextensionsV1Api(api)
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            crd = extensions.read_custom_resource_definition(name)
            conditions = crd.status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not Established after {timeout:.0f} s")
            time.sleep(0.2)
