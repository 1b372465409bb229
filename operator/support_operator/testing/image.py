"""The container image, built and run for real without a Docker engine: buildah (chroot isolation, vfs
storage) builds the Dockerfile from a Python base image that hack/build-base-image.sh debootstraps, and the
operator starts from the image's root filesystem and entrypoint as the kubelet would start the Deployment's
container (support_operator.testing.container does the mounts, the chroot and the credentials).

The built image is cached as an OCI archive next to the base image, keyed by a hash of the build inputs
(Dockerfile, the context .dockerignore admits, the base image): an unchanged tree builds nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from support_operator.testing.controlplane import stop_process_group

BASE_SUITE, BASE_PYTHON = "bookworm", "3.11"
BASE_IMAGE = f"localhost/python-base:{BASE_SUITE}-{BASE_PYTHON}"
SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
Obj = dict[str, Any]


class ImageError(RuntimeError):
    """The image could not be built or started."""


def missing_tools() -> str | None:
    """Why the image cannot be built here, or None."""
    for tool in ("buildah", "debootstrap"):
        if shutil.which(tool) is None:
            return f"no {tool} on PATH (apt-get install buildah debootstrap)"
    if os.geteuid() != 0:
        return "debootstrap and the chroot need root"
    return None


@dataclass(frozen=True)
class Buildah:
    """buildah with its own vfs storage under `folder`: nothing touches the machine's container storage."""

    folder: Path

    def __call__(self, *args: str, timeout: float = 1200) -> str:
        command = ["buildah", f"--root={self.folder / 'storage'}", f"--runroot={self.folder / 'run'}"]
        command += ["--storage-driver=vfs", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise ImageError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
        return result.stdout.strip()


@dataclass(frozen=True)
class BuiltImage:
    name: str
    archive: Path
    built: bool  # False: the archive of an identical build was reused
    seconds: float  # all of it, the base image's build or lookup included
    base_seconds: float

    def sizes(self) -> tuple[int, int]:
        """(uncompressed, gzip-compressed) bytes of the image's layers, as a node unpacks and a registry
        stores them."""
        with tarfile.open(self.archive) as archive:
            index = json.load(_member(archive, "index.json"))
            manifest = json.load(_blob(archive, index["manifests"][0]["digest"]))
            compressed = uncompressed = 0
            for layer in manifest["layers"]:
                compressed += int(layer["size"])
                data = _blob(archive, layer["digest"])
                data.seek(-4, os.SEEK_END)  # gzip's trailer: the uncompressed size modulo 2**32
                uncompressed += int.from_bytes(data.read(4), "little")
        return uncompressed, compressed


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    member = archive.extractfile(name)
    if member is None:
        raise ImageError(f"the image archive holds no {name}")
    return member


def _blob(archive: tarfile.TarFile, digest: str) -> IO[bytes]:
    return _member(archive, f"blobs/sha256/{digest.removeprefix('sha256:')}")


def base_image_folder(repo: Path) -> Path:
    """hack/build-base-image.sh: the cached base image's folder (debootstrap on the first run)."""
    script = repo / "hack" / "build-base-image.sh"
    result = subprocess.run([str(script)], stdout=subprocess.PIPE, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        raise ImageError(f"{script} failed; its output above says why")
    return Path(result.stdout.strip().splitlines()[-1])


def build_inputs_digest(repo: Path, base_archive: Path) -> str:
    """A hash of what the build reads: Dockerfile, .dockerignore, the context it admits, the base image."""
    digest = hashlib.sha256()
    ignore = (repo / ".dockerignore").read_text().splitlines()
    admitted = sorted(line[1:].rstrip("/") for line in ignore if line.startswith("!"))
    files = [repo / "Dockerfile", repo / ".dockerignore"]
    for name in admitted:
        path = repo / name
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for path in files:
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes() + b"\0")
    with tarfile.open(base_archive) as archive:
        digest.update(_member(archive, "index.json").read())
    return digest.hexdigest()[:16]


def build_image(buildah: Buildah, repo: Path) -> BuiltImage:
    """The project's image in `buildah`'s storage: the cached archive of an identical build, else
    `buildah build` of the Dockerfile with PYTHON_IMAGE set to the local base image."""
    started = time.monotonic()
    folder = base_image_folder(repo)
    base_seconds = time.monotonic() - started
    base_archive = folder / "python-base.oci.tar"
    key = build_inputs_digest(repo, base_archive)
    name = f"localhost/support-operator:{key}"
    archive = folder / f"support-operator-{key}.oci.tar"
    if archive.is_file():
        buildah("pull", "--quiet", f"oci-archive:{archive}")
        return BuiltImage(name, archive, False, time.monotonic() - started, base_seconds)
    buildah("pull", "--quiet", f"oci-archive:{base_archive}")
    buildah(
        "bud", "--isolation=chroot", "--pull=never", f"--build-arg=PYTHON_IMAGE={BASE_IMAGE}",
        *trust_volumes(buildah.folder), f"--tag={name}", str(repo),
    )  # fmt: skip
    partial = archive.with_name(f"{archive.name}.{os.getpid()}.partial")
    buildah("push", "--quiet", name, f"oci-archive:{partial}:{name}")
    for stale in folder.glob("support-operator-*.oci.tar"):
        stale.unlink()
    partial.rename(archive)
    return BuiltImage(name, archive, True, time.monotonic() - started, base_seconds)


def trust_volumes(folder: Path) -> list[str]:
    """Build-time mounts (never in the image) that make pip in RUN trust what this machine trusts: where
    HTTPS goes through an intercepting proxy, its CA is in the host's bundle, not in pip's certifi."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        return []
    pip_conf = folder / "pip.conf"
    pip_conf.write_text(f"[global]\ncert = {bundle}\n")
    return [f"--volume={bundle}:{bundle}:ro", f"--volume={pip_conf}:/etc/pip.conf:ro"]


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    workdir: str
    user: str


def image_config(buildah: Buildah, name: str) -> ImageConfig:
    config = json.loads(buildah("inspect", "--type=image", name))["OCIv1"]["config"]
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    return ImageConfig(
        config.get("Entrypoint") or [], config.get("Cmd") or [], env, config.get("WorkingDir") or "/",
        config.get("User") or "",
    )  # fmt: skip


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command, args and env values; $$ escapes, unknown names stay."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        text,
    )


@dataclass(frozen=True)
class Pod:
    """What the kubelet knows about the pod beyond its spec."""

    name: str
    namespace: str
    service_host: str  # KUBERNETES_SERVICE_HOST/PORT: an address of the API server
    service_port: int
    service_account_dir: Path  # token, ca.crt, namespace
    hosts_file: Path  # the pod's /etc/hosts
    uid: int  # as OpenShift's restricted-v2 SCC assigns it when the spec sets no runAsUser


class KubernetesService:
    """The `kubernetes` Service for a pod on the host network: kubernetes.default.svc:443, which Kopf's
    in-cluster login dials, forwarded to the API server. Its name resolves through the pod's /etc/hosts (in
    place of cluster DNS) to a loopback address of its own, so port 443 is free whatever else runs here."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.address = (
            f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
        )
        self._server = socketserver.ThreadingTCPServer(
            (self.address, 443), self._handler(), bind_and_activate=True
        )
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handler(self) -> type[socketserver.BaseRequestHandler]:
        upstream = self.upstream

        class Forward(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with socket.create_connection(upstream, timeout=10) as server:
                    server.settimeout(None)
                    pipe(self.request, server)

        return Forward

    def hosts_file(self, path: Path, pod_name: str) -> Path:
        path.write_text(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"127.0.0.1\t{pod_name}\n{self.address}\tkubernetes.default.svc kubernetes.default kubernetes\n"
        )
        path.chmod(0o644)
        return path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def pipe(a: socket.socket, b: socket.socket) -> None:
    """Copies bytes both ways until either side closes."""
    sockets = [a, b]
    while True:
        readable, _, _ = select.select(sockets, [], [])
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (b if source is a else a).sendall(data)


def container_spec(deployment: Obj, image: ImageConfig, rootfs: Path, pod: Pod) -> Obj:
    """The launcher's spec (support_operator.testing.container) for the Deployment's single container."""
    pod_spec = deployment["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]
    security = {**pod_spec.get("securityContext", {}), **container.get("securityContext", {})}
    uid = int(security.get("runAsUser", pod.uid))
    if security.get("runAsNonRoot") and uid == 0:
        raise ImageError("runAsNonRoot: the container would run as root")
    env = {**image.env, "HOSTNAME": pod.name}
    env |= {"KUBERNETES_SERVICE_HOST": pod.service_host, "KUBERNETES_SERVICE_PORT": str(pod.service_port)}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = expand(variable["value"], env)
        else:
            env[variable["name"]] = downward_api(variable, pod, pod_spec)
    command = container.get("command") or image.entrypoint
    args = container.get("args") or (image.cmd if not container.get("command") else [])
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    mounts = [volume_mount(m, volumes[m["name"]]) for m in container.get("volumeMounts", [])]
    mounts.append({"target": "/etc/hosts", "type": "bind", "source": str(pod.hosts_file), "read_only": True})
    if pod_spec.get("automountServiceAccountToken", True):
        mounts.append(
            {"target": SERVICE_ACCOUNT_MOUNT, "type": "bind", "source": str(pod.service_account_dir),
             "read_only": True}
        )  # fmt: skip
    return {
        "rootfs": str(rootfs),
        "argv": [expand(word, env) for word in [*command, *args]],
        "env": env,
        "workdir": container.get("workingDir") or image.workdir,
        "uid": uid,
        "gid": int(security.get("runAsGroup", 0)),
        "read_only_root": bool(security.get("readOnlyRootFilesystem")),
        "mounts": mounts,
    }


def downward_api(variable: Obj, pod: Pod, pod_spec: Obj) -> str:
    """An env value from the pod's fields (valueFrom.fieldRef), as the kubelet fills them in."""
    path = (variable["valueFrom"].get("fieldRef") or {}).get("fieldPath")
    fields = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "spec.serviceAccountName": pod_spec.get("serviceAccountName", "default"),
        "spec.nodeName": "localhost",
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    if path not in fields:
        raise ImageError(f"env {variable['name']}: {variable['valueFrom']} is not supported here")
    return str(fields[path])


def volume_mount(mount: Obj, volume: Obj) -> Obj:
    if "emptyDir" not in volume:
        raise ImageError(f"volume {volume['name']}: only emptyDir is supported here")
    size = volume["emptyDir"].get("sizeLimit", "64Mi").replace("Mi", "m").replace("Gi", "g")
    return {"target": mount["mountPath"], "type": "tmpfs", "options": f"size={size},mode=1777"}


def container_port(deployment: Obj, name: str) -> int:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return next(int(p["containerPort"]) for p in container["ports"] if p["name"] == name)


def probe_url(deployment: Obj, probe: str) -> str:
    """The URL the kubelet's httpGet `probe` (startupProbe, readinessProbe, ...) asks, on the host network."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    get = container[probe]["httpGet"]
    port = get["port"] if isinstance(get["port"], int) else container_port(deployment, get["port"])
    return f"http://127.0.0.1:{port}{get.get('path', '/')}"


@dataclass
class ContainerProcess:
    """The container's process, started by the launcher; its log in `workdir`."""

    spec: Obj
    workdir: Path
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / "container.log"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        spec_path = self.workdir / "container.json"
        spec_path.write_text(json.dumps(self.spec))
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "support_operator.testing.container", str(spec_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        if self._process is not None:
            stop_process_group(self._process, grace)
        if self._log is not None:
            self._log.close()

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""
