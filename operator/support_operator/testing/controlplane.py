"""A real, local Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager), envtest style.

Used by the test suite and by `support-operator dev`. The binaries come from `hack/build-controlplane.sh`
(built from Go modules, cached outside the clone) or from `KUBEBUILDER_ASSETS`. Every child process runs in
its own process group and is killed when this process dies (PR_SET_PDEATHSIG), so an interrupted or crashed
run leaves nothing behind.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import yaml

from support_operator.testing.pki import CertificateAuthority, CertPair, service_account_keys

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# Only the controllers whose behaviour the operator relies on; there are no nodes, so nothing else is useful.
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "clusterrole-aggregation-controller",
    "root-ca-certificate-publisher-controller",
    "serviceaccount-controller",
)
_PR_SET_PDEATHSIG = 1


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or reached; the message says what to do."""


def repo_root() -> Path | None:
    """The source checkout this package runs from, if any (the build script lives there)."""
    candidate = Path(__file__).resolve().parents[3]
    return candidate if (candidate / "hack" / "build-controlplane.sh").is_file() else None


def locate_binaries() -> Path:
    """The folder holding etcd, kube-apiserver, kube-controller-manager and kubectl; builds them if needed."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        missing = [b for b in BINARIES if not os.access(Path(assets) / b, os.X_OK)]
        if missing:
            raise ControlPlaneError(f"KUBEBUILDER_ASSETS={assets} lacks {', '.join(missing)}")
        return Path(assets)
    root = repo_root()
    if root is None:
        raise ControlPlaneError(
            "no control plane binaries: set KUBEBUILDER_ASSETS to a folder with "
            + ", ".join(BINARIES)
            + ", or run from a source checkout (hack/build-controlplane.sh builds them)"
        )
    # The script prints progress on stderr (passed through) and the folder on its last stdout line.
    result = subprocess.run(
        [str(root / "hack" / "build-controlplane.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise ControlPlaneError("hack/build-controlplane.sh failed; its output above says why")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the child's process group, SIGKILL after `grace` seconds; waits until it is gone."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel kills it when the process that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Component:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    args: list[str] = field(default_factory=list)  # to start it again as it was (same ports, same data)
    ready: Any = None  # () -> bool, raising OSError while it is not up yet

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        stop_process_group(self.process, grace)
        self.log_file.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


@dataclass
class LocalControlPlane:
    """Use as `with LocalControlPlane() as cp:` (or start()/stop()); `cp.kubeconfig` is the admin config."""

    bin_dir: Path | None = None
    workdir: Path | None = None
    keep_workdir: bool = False
    components: list[Component] = field(default_factory=list)
    server: str = ""
    kubeconfig: Path = Path()
    etcd_url: str = ""
    _ssl_context: ssl.SSLContext | None = None
    _owns_workdir: bool = False

    def __enter__(self) -> LocalControlPlane:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> LocalControlPlane:
        self.bin_dir = self.bin_dir or locate_binaries()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="support-operator-cp-"))
            self._owns_workdir = True
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        try:
            pki = self._write_pki()
            self._start_etcd(timeout)
            self._start_apiserver(pki, timeout)
            self._start_controller_manager(pki, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for component in reversed(self.components):
            component.stop()
        self.components.clear()
        if self.workdir and self._owns_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- outages, for reliability tests ---------------------------------------------------------------------

    def component(self, name: str) -> Component:
        found = [c for c in self.components if c.name == name]
        if not found:
            raise ControlPlaneError(f"no component {name}; there are {[c.name for c in self.components]}")
        return found[0]

    def stop_component(self, name: str, kill: bool = True) -> None:
        """Stops etcd or kube-apiserver as a crash would (SIGKILL) or gracefully; start_component() brings it
        back with the same ports and data."""
        component = self.component(name)
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(component.process.pid, signal.SIGKILL)
            component.process.wait()
            component.log_file.close()
        else:
            component.stop()

    def start_component(self, name: str, timeout: float = 60.0) -> float:
        """Starts a stopped component again and waits until it is ready; returns the seconds that took."""
        started = time.monotonic()
        old = self.component(name)
        if old.alive():
            raise ControlPlaneError(f"{name} is still running")
        index = self.components.index(old)
        log_file = old.log_path.open("ab")
        process = subprocess.Popen(
            [str(self._binary(name)), *old.args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.components[index] = Component(name, process, old.log_path, log_file, old.args, old.ready)
        if old.ready is not None:
            self._wait(self.components[index], old.ready, timeout)
        return time.monotonic() - started

    def _binary(self, name: str) -> Path:
        assert self.bin_dir is not None
        return self.bin_dir / name

    # -- helpers for tests and the dev command -----------------------------------------------------------

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(
            self.kubectl_path, self.kubeconfig, *args, check=check, input=input, timeout=timeout
        )

    @property
    def kubectl_path(self) -> Path:
        assert self.bin_dir is not None
        return self.bin_dir / "kubectl"

    # -- components --------------------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        assert self.workdir is not None
        return self.workdir / name

    def _write_pki(self) -> dict[str, CertPair | Path]:
        pki_dir = self._path("pki")
        pki_dir.mkdir(exist_ok=True)
        ca = CertificateAuthority(pki_dir)
        serving = ca.issue(
            pki_dir / "apiserver",
            "kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=("127.0.0.1", "10.0.0.1"),
            server=True,
        )
        admin = ca.issue(pki_dir / "admin", "admin", organization="system:masters")
        # One identity for all controllers (no --use-service-account-credentials), so it needs full rights.
        kcm = ca.issue(
            pki_dir / "kube-controller-manager",
            "system:kube-controller-manager",
            organization="system:masters",
        )
        return {
            "ca": ca.cert_path,
            "serving": serving,
            "admin": admin,
            "kcm": kcm,
            "sa": service_account_keys(pki_dir),
        }

    def _spawn(self, name: str, args: list[str]) -> Component:
        assert self.bin_dir is not None
        log_path = self._path("logs") / f"{name}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            [str(self.bin_dir / name), *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        component = Component(name, process, log_path, log_file, args)
        self.components.append(component)
        return component

    def _wait(self, component: Component, ready: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not component.alive():
                raise self._failure(f"{component.name} exited with code {component.process.returncode}")
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                if ready():
                    return
            time.sleep(0.2)
        raise self._failure(f"{component.name} was not ready within {timeout:.0f} s")

    def _failure(self, headline: str) -> ControlPlaneError:
        logs = "\n\n".join(f"--- {c.name} ({c.log_path}) ---\n{c.log_tail()}" for c in self.components)
        return ControlPlaneError(f"{headline}\n{logs}")

    def _start_etcd(self, timeout: float) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        etcd = self._spawn(
            "etcd",
            [
                f"--data-dir={self._path('etcd')}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as response:
                return b'"health":"true"' in response.read()

        etcd.ready = healthy
        self._wait(etcd, healthy, timeout)

    def _start_apiserver(self, pki: dict[str, CertPair | Path], timeout: float) -> None:
        serving, sa, admin = pki["serving"], pki["sa"], pki["admin"]
        assert isinstance(serving, CertPair) and isinstance(sa, CertPair) and isinstance(admin, CertPair)
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        apiserver = self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={pki['ca']}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--profiling=false",
                "--endpoint-reconciler-type=none",  # loopback cannot back the kubernetes Service
                f"--cert-dir={self._path('pki')}",
                f"--audit-policy-file={self._write_audit_policy()}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",  # a test reads the log right after the request
            ],
        )
        self.kubeconfig = self._write_kubeconfig("kubeconfig", admin, pki["ca"])
        context = ssl.create_default_context(cafile=str(pki["ca"]))
        context.load_cert_chain(str(admin.cert), str(admin.key))

        def ready() -> bool:
            with urllib.request.urlopen(f"{self.server}/readyz", timeout=5, context=context) as response:
                return bool(response.status == 200)

        apiserver.ready = ready
        self._wait(apiserver, ready, timeout)
        self._ssl_context = context

    @property
    def audit_log(self) -> Path:
        """kube-apiserver's audit log (JSON lines), as a cluster's control plane writes it."""
        return self._path("logs") / "audit.log"

    def _write_audit_policy(self) -> Path:
        """Metadata of every request but the noisiest read-only system traffic: who did what, when, and the
        answer; never request or response bodies (Secrets would end up in the log)."""
        path = self._path("audit-policy.yaml")
        path.write_text(AUDIT_POLICY, encoding="utf-8")
        return path

    def _start_controller_manager(self, pki: dict[str, CertPair | Path], timeout: float) -> None:
        kcm_cert, sa = pki["kcm"], pki["sa"]
        assert isinstance(kcm_cert, CertPair) and isinstance(sa, CertPair)
        kcm_kubeconfig = self._write_kubeconfig("kube-controller-manager.kubeconfig", kcm_cert, pki["ca"])
        manager = self._spawn(
            "kube-controller-manager",
            [
                f"--kubeconfig={kcm_kubeconfig}",
                f"--authentication-kubeconfig={kcm_kubeconfig}",
                f"--authorization-kubeconfig={kcm_kubeconfig}",
                "--controllers=" + ",".join(CONTROLLERS),
                f"--root-ca-file={pki['ca']}",
                f"--service-account-private-key-file={sa.key}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--cert-dir={self._path('pki')}",
            ],
        )

        # The root CA publisher writes this ConfigMap into every namespace: proof the manager works.
        def publishing() -> bool:
            url = f"{self.server}/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
            with urllib.request.urlopen(url, timeout=5, context=self._ssl_context) as response:
                return bool(response.status == 200)

        self._wait(manager, publishing, timeout)

    def _write_kubeconfig(self, name: str, client: CertPair, ca: CertPair | Path) -> Path:
        assert isinstance(ca, Path)
        path = self._path(name)
        path.write_text(
            kubeconfig_yaml(self.server, ca.read_bytes(), client.cert.read_bytes(), client.key.read_bytes())
        )
        path.chmod(0o600)
        return path


AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:kube-controller-manager", "system:apiserver"]
    verbs: [get, list, watch]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version", "/openapi*"]
  - level: Metadata
"""


def kubeconfig_yaml(server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, name: str = "local") -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}
        ],
        "users": [
            {
                "name": name,
                "user": {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)},
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    return yaml.safe_dump(config, sort_keys=False)


def run_kubectl(
    kubectl: Path | str,
    kubeconfig: Path,
    *args: str,
    check: bool = True,
    input: str | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Runs kubectl against `kubeconfig`; with check=True a failure raises with kubectl's own stderr."""
    result = subprocess.run(
        [str(kubectl), f"--kubeconfig={kubeconfig}", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise ControlPlaneError(
            f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


@dataclass
class ExistingCluster:
    """An existing cluster from KUBECONFIG (opt-in), with the same interface the tests use."""

    kubeconfig: Path
    kubectl_path: Path | str = "kubectl"

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(
            self.kubectl_path, self.kubeconfig, *args, check=check, input=input, timeout=timeout
        )

    def stop(self) -> None:
        """Nothing to stop: the cluster is not ours."""
