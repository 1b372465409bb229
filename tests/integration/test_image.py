"""The image built and run for real, without a Docker engine: buildah builds the Dockerfile (chroot isolation,
vfs storage) from a debootstrapped Python base image, and the operator starts from the image's root filesystem
and entrypoint as the chart's Deployment runs it: its args, env and securityContext (read-only root, /tmp
emptyDir, no capabilities, no privilege escalation) under an arbitrary UID with group 0, with the
ServiceAccount token mounted where a pod has it. It then serves a case (status) and /metrics.

Needs root, buildah and debootstrap (skipped without them, failing instead when CI=true; .ci/run installs
them). The first run debootstraps the base image (cached in ~/.cache/support-operator/image/); the built
image is cached by a hash of its inputs. tests/e2e/test_kind.py runs the image in kind where Docker runs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from support_resources import Resources, ready

from deploy_tools import REPO, documents, helm_template
from support_operator.testing.controlplane import ExistingCluster, LocalControlPlane, free_port
from support_operator.testing.image import (
    Buildah,
    BuiltImage,
    ContainerProcess,
    KubernetesService,
    Obj,
    Pod,
    build_image,
    container_port,
    container_spec,
    image_config,
    missing_tools,
    probe_url,
)
from support_operator.testing.operator_process import ARBITRARY_UID, ROOT_GROUP, OperatorProcess
from support_operator.testing.wait import eventually

NAMESPACE = "support-operator"
# A cold first run debootstraps the base image (about 4 min) and builds the image (1-3 min).
pytestmark = pytest.mark.timeout(1500)


@pytest.fixture(scope="module")
def buildah() -> Iterator[Buildah]:
    reason = missing_tools()
    if reason:
        message = f"the image test needs buildah and debootstrap as root: {reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (.ci/run installs them)")
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="support-operator-image-"))
    try:
        yield Buildah(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def image(buildah: Buildah, pytestconfig: pytest.Config) -> BuiltImage:
    built = build_image(buildah, REPO)
    uncompressed, compressed = built.sizes()
    how = "built" if built.built else "loaded from the cache"
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(
            f"\nimage {built.name}: {uncompressed / 1e6:.0f} MB uncompressed, {compressed / 1e6:.0f} MB "
            f"compressed; {how} in {built.seconds:.0f} s ({built.base_seconds:.0f} s of it: base image)"
        )
    return built


@pytest.fixture
def host_operator_stopped(operator: OperatorProcess) -> Iterator[None]:
    """The session's operator (a host process) paused: only the image's operator may serve the case."""
    operator.stop()
    yield
    operator.start()


@pytest.fixture
def deployment() -> Obj:
    """The chart's Deployment, on free ports (several suites may share this machine). One addition: the
    container shares the host's network here, not a pod's, so its endpoints bind loopback only."""
    rendered = helm_template(
        f"--set=metrics.port={free_port()}", f"--set=healthPort={free_port()}",
        "--show-only=templates/deployment.yaml",
    ).stdout  # fmt: skip
    (found,) = documents(rendered)
    (container,) = found["spec"]["template"]["spec"]["containers"]
    container["env"].append({"name": "SUPPORT_OPERATOR_BIND_ADDRESS", "value": "127.0.0.1"})
    return found


def service_account_volume(plane: LocalControlPlane | ExistingCluster, account: str, folder: Path) -> Path:
    """What the kubelet projects into /var/run/secrets/kubernetes.io/serviceaccount: a bound token, the
    cluster CA (from kube-root-ca.crt) and the namespace, readable by any UID."""
    token = plane.kubectl("create", "token", account, f"--namespace={NAMESPACE}", "--duration=1h")
    ca = plane.kubectl("get", "configmap", "kube-root-ca.crt", f"--namespace={NAMESPACE}", "-o=json")
    folder.mkdir(mode=0o755)
    (folder / "token").write_text(token.stdout.strip())
    (folder / "ca.crt").write_text(yaml.safe_load(ca.stdout)["data"]["ca.crt"])
    (folder / "namespace").write_text(NAMESPACE)
    for file in folder.iterdir():
        file.chmod(0o644)
    return folder


@pytest.fixture
def pod(
    image: BuiltImage,
    buildah: Buildah,
    deployment: Obj,
    control_plane: LocalControlPlane | ExistingCluster,
    operator_kubeconfig: Path,  # deploy/'s namespace, ServiceAccount and RBAC
    host_operator_stopped: None,
    tmp_path: Path,
) -> Iterator[ContainerProcess]:
    """The Deployment's container, started from the image like a kubelet would, once its startupProbe
    answers."""
    admin = yaml.safe_load(control_plane.kubeconfig.read_text())
    server = urlsplit(admin["clusters"][0]["cluster"]["server"])
    host, port = server.hostname or "127.0.0.1", server.port or 443
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    volume = service_account_volume(control_plane, account, tmp_path / "serviceaccount")
    name = f"support-operator-{secrets.token_hex(3)}"
    service = KubernetesService((host, port))
    hosts = service.hosts_file(tmp_path / "hosts", name)
    identity = Pod(name, NAMESPACE, host, port, volume, hosts, ARBITRARY_UID)
    container = buildah("from", "--pull=never", image.name)
    rootfs = Path(buildah("mount", container))
    spec = container_spec(deployment, image_config(buildah, image.name), rootfs, identity)
    process = ContainerProcess(spec, tmp_path)
    process.start()
    try:
        wait_until_ready(process, deployment)
        yield process
    finally:
        process.stop()
        service.close()
        buildah("rm", container)
        print(f"container log:\n{process.log_text()[-6000:]}")


def wait_until_ready(process: ContainerProcess, deployment: Obj) -> None:
    """As the kubelet: the startupProbe, then the readinessProbe, each answered with 200."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe"):
        if probe not in container:
            continue
        url = probe_url(deployment, probe)
        eventually(lambda: answers(url) or not process.running(), timeout=120, what=f"{probe} {url}")  # noqa: B023
        assert process.running(), f"the container exited:\n{process.log_text()}"


def answers(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode()) if response.status == 200 else None
    except OSError:
        return None


def test_the_image_serves_a_case_as_the_chart_runs_it(
    pod: ContainerProcess, deployment: Obj, resources: Resources, namespace: str
) -> None:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pod.pid}/status").read_text().splitlines())
    assert status["Uid"].split()[0] == str(ARBITRARY_UID) and status["Gid"].split()[0] == str(ROOT_GROUP)
    assert status["Groups"].split() == [] and status["CapEff"].strip() == "0" * 16
    assert status["NoNewPrivs"].strip() == "1"
    command = Path(f"/proc/{pod.pid}/cmdline").read_text().split("\0")
    assert command[1:3] == ["/opt/support-operator/bin/support-operator", "run"], command
    assert f"--namespace={NAMESPACE}" in command, "the chart's $(POD_NAMESPACE) expanded"
    root = Path(f"/proc/{pod.pid}/root")
    assert str(root.readlink()) == pod.spec["rootfs"]
    with pytest.raises(OSError, match="Read-only file system"):
        (root / "home" / "support-operator" / "probe").write_text("")

    contract = resources.contract()["metadata"]["name"]
    case = resources.case(namespace, contract)["metadata"]["name"]
    tracked = resources.wait_case(namespace, case, ready, timeout=60)
    assert tracked["status"]["priority"] == "P1"

    url = f"http://127.0.0.1:{container_port(deployment, 'metrics')}/metrics"

    def case_in_metrics() -> str | None:
        text = answers(url)
        return text if text and f'case="{case}"' in text else None

    metrics = eventually(case_in_metrics, timeout=30, what=f"case {case} in {url}")
    assert "support_case_info{" in metrics
