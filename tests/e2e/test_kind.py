"""End to end in kind (pytest-kind-ng): build the image, load it into a kind cluster, install the Helm chart
into a restricted namespace, create a contract and a case, and check their status, their Argo CD health and
the operator's /metrics through its Service.

Needs a Docker engine (`docker info` must work) and Go (kind is built from its Go module by
hack/build-tools.sh, kubectl comes with the control plane build); without an engine every test here is
skipped with the reason. In CI: `.venv/bin/pytest tests/e2e` on a runner with Docker (docs/install.md);
`--keep-cluster` keeps the cluster for debugging, `--cluster-name` names it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from pytest_kind import KindCluster

from argocd_health import health, script_for
from deploy_tools import CHART, REPO, helm, monitoring_crd_files, tool_folder
from support_operator.testing.controlplane import locate_binaries

NAMESPACE = "support-operator"
Obj = dict[str, Any]


def docker_unavailable() -> str | None:
    """Why no Docker engine can be used here, or None when `docker info` works."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH"
    result = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return f"`docker info` failed: {lines[-1] if lines else result.returncode}"
    return None


@pytest.fixture(scope="module")
def image() -> str:
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"needs a Docker engine to build the image and run kind ({reason})")
    tag = f"support-operator:e2e-{secrets.token_hex(4)}"
    subprocess.run(["docker", "build", "--tag", tag, str(REPO)], check=True, timeout=1800)
    return tag


@pytest.fixture(scope="module")
def cluster(
    image: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module
) -> Iterator[KindCluster]:
    workdir = tmp_path_factory.mktemp("kind")
    monkeypatch_module.chdir(workdir)  # pytest-kind keeps its files in ./.pytest-kind
    kind = KindCluster(
        request.config.getoption("cluster_name"),
        kubeconfig=workdir / "kubeconfig",
        kind_path=tool_folder("kind") / "kind",
        kubectl_path=locate_binaries() / "kubectl",
    )
    kind.create()
    try:
        kind.load_docker_image(image)
        yield kind
    finally:
        if not request.config.getoption("keep_cluster"):
            kind.delete()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def installed(cluster: KindCluster, image: str) -> KindCluster:
    """The chart, as a platform team installs it: prometheus-operator CRDs present, restricted namespace."""
    cluster.kubectl("apply", "--server-side", *[f"-f={f}" for f in monitoring_crd_files()])
    cluster.kubectl("create", "namespace", NAMESPACE)
    cluster.kubectl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted")
    repository, tag = image.split(":")
    helm(
        "install", "support-operator", CHART,
        f"--namespace={NAMESPACE}", f"--kubeconfig={cluster.kubeconfig_path.resolve()}",
        f"--set=image.repository={repository}", f"--set=image.tag={tag}", "--set=image.pullPolicy=Never",
        "--wait", "--timeout=5m",
    )  # fmt: skip
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/support-operator", "--timeout=120s")
    return cluster


def get(cluster: KindCluster, *args: str) -> Obj:
    found: Obj = json.loads(cluster.kubectl("get", *args, "-o=json"))
    return found


def wait_for(read: Callable[[], Obj], check: Callable[[Obj], bool], timeout: float = 120) -> Obj:
    deadline = time.monotonic() + timeout
    while True:
        current = read()
        if check(current):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"not as expected within {timeout:.0f} s: {current.get('status')}")
        time.sleep(1)


def ready(obj: Obj) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_operator_image_serves_a_contract_and_a_case(installed: KindCluster) -> None:
    sample = yaml.safe_load((REPO / "crds" / "samples" / "supportcontract.yaml").read_text())
    contract = copy.deepcopy(sample)
    contract["spec"].pop("notification", None)  # no SMTP server in the cluster
    installed.kubectl("create", "-f=-", input=yaml.safe_dump(contract))
    name = contract["metadata"]["name"]
    served = wait_for(lambda: get(installed, "supportcontract", name), ready)
    assert health(script_for("support.puzzle.ch", "SupportContract"), served)["status"] == "Healthy"

    installed.kubectl("create", "namespace", "shop-prod")
    case = {
        "apiVersion": "support.puzzle.ch/v1alpha1",
        "kind": "SupportCase",
        "metadata": {"name": "shop-ingress-503", "namespace": "shop-prod"},
        "spec": {
            "contractRef": {"name": name},
            "title": "Ingress returns 503 for shop.acme.ch",
            "category": "Incident",
            "impact": "Production",
            "reportedAt": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "reporter": {"name": "Petra Keller", "email": "petra.keller@acme.example"},
        },
    }
    installed.kubectl("create", "-f=-", input=yaml.safe_dump(case))
    tracked = wait_for(
        lambda: get(installed, "-n", "shop-prod", "supportcase", "shop-ingress-503"),
        lambda o: ready(o) and "reaction" in o["status"],
    )
    assert tracked["status"]["priority"] == "P1"
    assert tracked["status"]["reaction"]["state"] in ("Pending", "Met")
    assert health(script_for("support.puzzle.ch", "SupportCase"), tracked)["status"] == "Healthy"

    with (
        installed.port_forward("service/support-operator-metrics", 8080, "-n", NAMESPACE) as port,
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response,
    ):
        metrics = response.read().decode()
    assert any(
        line.startswith("support_case_info{") and 'case="shop-ingress-503"' in line
        for line in metrics.splitlines()
    ), metrics[:2000]


def test_operator_pod_runs_restricted_and_non_root(installed: KindCluster) -> None:
    pods = get(installed, "-n", NAMESPACE, "pods", "-l", "app.kubernetes.io/component=operator")["items"]
    (pod,) = pods
    assert pod["status"]["phase"] == "Running"
    uid = installed.kubectl("-n", NAMESPACE, "exec", pod["metadata"]["name"], "--", "id", "-u").strip()
    assert uid != "0"
    written = installed.kubectl(
        "-n", NAMESPACE, "exec", pod["metadata"]["name"], "--",
        "python", "-c", "import pathlib; pathlib.Path('/tmp/x').write_text('x'); print('ok')",
    )  # fmt: skip
    assert written.strip() == "ok"
    readonly = subprocess.run(
        [str(installed.kubectl_path), f"--kubeconfig={installed.kubeconfig_path}", "-n", NAMESPACE, "exec",
         pod["metadata"]["name"], "--", "python", "-c", "open('/opt/x', 'w')"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert readonly.returncode != 0 and "Read-only file system" in readonly.stderr
