"""Installing the operator's CRDs, admission policies and RBAC into a control plane, and a kubeconfig of its
ServiceAccount: what the test session does once, and reliability tests and `make chaos` do for a control
plane of their own (one they may stop and restart)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import yaml

from support_operator import constants
from support_operator.testing.controlplane import ControlPlaneError, repo_root

OPERATOR_NAMESPACE = constants.DEFAULT_NAMESPACE


class Kubectl(Protocol):
    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120.0
    ) -> object: ...


def _repo() -> Path:
    root = repo_root()
    if root is None:
        raise ControlPlaneError("installing the CRDs needs a source checkout (crds/, deploy/)")
    return root


def install_crds(plane: Kubectl) -> list[str]:
    """Applies crds/ server-side, waits until each is Established, then deploy/'s admission policies."""
    files = sorted((_repo() / "crds").glob("*.yaml"))
    if not files:
        raise ControlPlaneError("crds/ holds no CRD manifests")
    plane.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={f}" for f in files])
    names = [f"crd/{yaml.safe_load(f.read_text())['metadata']['name']}" for f in files]
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    install_admission_policies(plane)
    return names


def install_admission_policies(plane: Kubectl) -> None:
    """Applies deploy/'s ValidatingAdmissionPolicies and bindings, as an install does with the CRDs."""
    folder = _repo() / "deploy" / "base" / "admission"
    files = [f for f in sorted(folder.glob("*.yaml")) if f.name != "kustomization.yaml"]
    if files:
        plane.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={f}" for f in files])


def operator_kubeconfig(plane: Kubectl, admin_kubeconfig: Path, path: Path) -> Path:
    """Applies deploy/'s namespace and RBAC and writes a kubeconfig holding a token of its ServiceAccount:
    the operator runs with exactly the permissions we ship, not as cluster admin."""
    deploy = _repo() / "deploy" / "base"
    manifests = [deploy / "namespace.yaml", *sorted((deploy / "rbac").glob("*.yaml"))]
    plane.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={m}" for m in manifests])
    result = plane.kubectl(
        "create", "token", "support-operator", f"--namespace={OPERATOR_NAMESPACE}", "--duration=24h"
    )
    token = str(getattr(result, "stdout", "")).strip()
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "support-operator", "user": {"token": token}}],
        "contexts": [
            {"name": "operator", "context": {"cluster": cluster["name"], "user": "support-operator"}}
        ],
        "current-context": "operator",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path
