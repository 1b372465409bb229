"""Shared fixtures: one real control plane per session, CRDs, a fresh namespace per test, the operator.

`--use-existing-cluster` (or SUPPORT_OPERATOR_USE_EXISTING_CLUSTER=true) runs the same suite against the
cluster in KUBECONFIG instead of starting kube-apiserver + etcd locally.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from support_operator.testing.controlplane import (
    ExistingCluster,
    LocalControlPlane,
    locate_binaries,
)
from support_operator.testing.operator_process import ARBITRARY_UID, ROOT_GROUP, OperatorProcess

REPO = Path(__file__).resolve().parents[1]
CRD_DIR = REPO / "crds"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--use-existing-cluster",
        action="store_true",
        default=os.environ.get("SUPPORT_OPERATOR_USE_EXISTING_CLUSTER", "").lower() in ("1", "true", "yes"),
        help="run integration tests against the cluster in KUBECONFIG instead of a local control plane",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Iterator[LocalControlPlane | ExistingCluster]:
    if request.config.getoption("--use-existing-cluster"):
        kubeconfig = os.environ.get("KUBECONFIG")
        if not kubeconfig:
            pytest.exit("--use-existing-cluster needs KUBECONFIG", returncode=2)
        kubectl = locate_binaries() / "kubectl"
        yield ExistingCluster(Path(kubeconfig), kubectl)
        return
    with LocalControlPlane() as plane:
        yield plane


@pytest.fixture(scope="session")
def api_client(control_plane: LocalControlPlane | ExistingCluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(control_plane.kubeconfig))


@pytest.fixture(scope="session")
def crds(control_plane: LocalControlPlane | ExistingCluster) -> list[str]:
    """Applies every CRD in crds/ (server-side, as GitOps tools do) and waits until each is Established."""
    files = sorted(CRD_DIR.glob("*.yaml"))
    if not files:
        pytest.fail("crds/ holds no CRD manifests")
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={f}" for f in files])
    crd_names = [f"crd/{yaml.safe_load(f.read_text())['metadata']['name']}" for f in files]
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *crd_names)
    install_admission_policies(control_plane)
    return crd_names


ADMISSION_DIR = REPO / "deploy" / "base" / "admission"


def install_admission_policies(control_plane: LocalControlPlane | ExistingCluster) -> None:
    """Applies deploy/'s ValidatingAdmissionPolicies and bindings, as an install does with the CRDs."""
    files = [f for f in sorted(ADMISSION_DIR.glob("*.yaml")) if f.name != "kustomization.yaml"]
    if files:
        control_plane.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={f}" for f in files])


@pytest.fixture
def namespace(
    control_plane: LocalControlPlane | ExistingCluster, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (the namespace controller cleans it up)."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"t-{stem}-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


OPERATOR_NAMESPACE = "support-operator"
DEPLOY = REPO / "deploy" / "base"


@pytest.fixture(scope="session")
def operator_kubeconfig(
    control_plane: LocalControlPlane | ExistingCluster,
    crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A kubeconfig holding a token of deploy/'s ServiceAccount: the operator runs with exactly the
    permissions we ship (deploy/base/rbac), not as cluster admin."""
    manifests = [DEPLOY / "namespace.yaml", *sorted((DEPLOY / "rbac").glob("*.yaml"))]
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={m}" for m in manifests])
    token = control_plane.kubectl(
        "create", "token", "support-operator", f"--namespace={OPERATOR_NAMESPACE}", "--duration=24h"
    ).stdout.strip()
    admin = yaml.safe_load(control_plane.kubeconfig.read_text())
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
    path = tmp_path_factory.mktemp("operator-identity") / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def operator(
    operator_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator, started as the container image starts it (`support-operator run`), as deploy/'s
    ServiceAccount, for the session. Run as root (CI), it runs as OpenShift runs the image: an arbitrary
    non-root UID with group 0 and a HOME writable only through that group."""
    as_root = os.geteuid() == 0
    process = OperatorProcess(
        kubeconfig=operator_kubeconfig,
        workdir=tmp_path_factory.mktemp("operator"),
        uid=ARBITRARY_UID if as_root else None,
        gid=ROOT_GROUP if as_root else None,
    )
    try:
        process.start()
        yield process
    finally:
        process.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test that ran with the operator shows the tail of the operator's log."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    process = getattr(item, "funcargs", {}).get("operator")
    if report.failed and isinstance(process, OperatorProcess):
        tail = "\n".join(process.log_text().splitlines()[-120:])
        report.sections.append(("operator log (last 120 lines)", tail))
