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
from kubernetes import client, config

from support_operator.testing.controlplane import (
    ExistingCluster,
    LocalControlPlane,
    locate_binaries,
)
from support_operator.testing.install import install_crds
from support_operator.testing.install import operator_kubeconfig as operator_kubeconfig_for
from support_operator.testing.operator_process import ARBITRARY_UID, ROOT_GROUP, OperatorProcess


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
    """Applies every CRD in crds/ (server-side, as GitOps tools do), waits until each is Established, and
    applies deploy/'s admission policies."""
    return install_crds(control_plane)


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


@pytest.fixture(scope="session")
def operator_kubeconfig(
    control_plane: LocalControlPlane | ExistingCluster,
    crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A kubeconfig holding a token of deploy/'s ServiceAccount: the operator runs with exactly the
    permissions we ship (deploy/base/rbac), not as cluster admin."""
    path = tmp_path_factory.mktemp("operator-identity") / "kubeconfig"
    return operator_kubeconfig_for(control_plane, control_plane.kubeconfig, path)


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
