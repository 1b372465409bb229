"""The operator as a child process, started as the container image starts it: `support-operator run`.

With `uid`/`gid` (the test process must be root) it runs as OpenShift's restricted-v2 SCC runs the image: an
arbitrary UID with group 0, no supplementary groups, and a HOME (also its working directory) that is writable
only through group 0 with the owner's permissions (g=u), as the Dockerfile prepares /home/support-operator.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from support_operator.testing.controlplane import (
    ControlPlaneError,
    _die_with_parent,
    free_port,
    stop_process_group,
)

# The image's ENTRYPOINT (Dockerfile); tests/unit/test_dockerfile.py checks they agree.
ENTRYPOINT = ("support-operator", "run")
# A UID as OpenShift assigns it from a namespace's range (openshift.io/sa.scc.uid-range); not in /etc/passwd.
ARBITRARY_UID = 1000680000
ROOT_GROUP = 0
# A container has none of these, and an arbitrary UID has no /etc/passwd entry: getpass.getuser() fails
# there. Kopf names itself by getpass.getuser() unless POD_ID is set, which the Deployment sets from the
# pod name (deploy/base/deployment.yaml) - and so does this harness.
LOGIN_NAME_VARIABLES = frozenset({"LOGNAME", "USER", "LNAME", "USERNAME"})


@dataclass
class OperatorProcess:
    kubeconfig: Path
    workdir: Path
    extra_args: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)
    liveness_port: int = 0
    metrics_port: int = 0
    alert_receiver_port: int = 0
    uid: int | None = None
    gid: int | None = None
    _home: Path | None = None
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    _starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"operator-{self._starts}.log"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def alert_receiver_url(self) -> str:
        return f"http://127.0.0.1:{self.alert_receiver_port}/alerts"

    def start(self, timeout: float = 60.0) -> None:
        self._starts += 1
        self.liveness_port = self.liveness_port or free_port()
        self.metrics_port = self.metrics_port or free_port()
        self.alert_receiver_port = self.alert_receiver_port or free_port()
        executable = Path(sys.executable).parent / ENTRYPOINT[0]
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.extra_env}
        home = self._prepare_home() if self.uid is not None else None
        if home is not None:
            env = {k: v for k, v in env.items() if k not in LOGIN_NAME_VARIABLES}
            env |= {
                "HOME": str(home),
                "KUBECONFIG": str(home / "kubeconfig"),
                "POD_ID": f"support-operator-{os.getpid()}",
                **self.extra_env,
            }
            executable = self._entrypoint_for_uid(executable, home)
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [
                str(executable),
                *ENTRYPOINT[1:],
                f"--liveness-port={self.liveness_port}",
                f"--metrics-port={self.metrics_port}",
                f"--alert-receiver-port={self.alert_receiver_port}",
                "--bind-address=127.0.0.1",  # test servers listen on loopback only
                *self.extra_args,
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            user=self.uid,
            group=self.gid if home is not None else None,
            extra_groups=[] if home is not None else None,  # drop root's supplementary groups
            cwd=home,
        )
        self._wait_alive(timeout)

    def _prepare_home(self) -> Path:
        """A HOME owned by root, group `gid`, mode g=u (0770), holding a group-readable copy of the
        kubeconfig: the process can use both only through its group, like the image's HOME on OpenShift."""
        if os.geteuid() != 0:
            raise ControlPlaneError("running the operator under another uid needs a root test process")
        gid = ROOT_GROUP if self.gid is None else self.gid
        self.gid = gid
        if self._home is None:
            # Outside pytest's basetemp, whose folders only root may enter.
            self._home = Path(tempfile.mkdtemp(prefix="support-operator-home-"))
        os.chown(self._home, 0, gid)
        self._home.chmod(0o770)
        kubeconfig = self._home / "kubeconfig"
        shutil.copyfile(self.kubeconfig, kubeconfig)
        os.chown(kubeconfig, 0, gid)
        kubeconfig.chmod(0o640)
        return self._home

    def _entrypoint_for_uid(self, script: Path, home: Path) -> Path:
        """The entrypoint script as `uid` can execute it. This venv's interpreter may lie where that uid
        cannot reach (pyenv under /root, mode 0700): then a venv in HOME pairs an interpreter of the same
        Python minor version it can reach with this venv's site-packages and runs a copy of the script."""
        assert self.uid is not None and self.gid is not None
        interpreter = Path(os.path.realpath(sys.executable))
        if reachable(script, self.uid, self.gid) and reachable(interpreter, self.uid, self.gid):
            return script
        minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
        candidates = [Path(p) / minor for p in ("/usr/local/bin", "/usr/bin")]
        usable = [c for c in candidates if c.is_file() and reachable(c, self.uid, self.gid)]
        if not usable:
            raise ControlPlaneError(
                f"uid {self.uid} can reach neither {interpreter} nor a {minor} in /usr/local/bin or /usr/bin"
            )
        venv = home / "venv"
        (venv / "bin").mkdir(parents=True, exist_ok=True)
        (venv / "lib" / minor).mkdir(parents=True, exist_ok=True)
        (venv / "pyvenv.cfg").write_text(f"home = {usable[0].parent}\ninclude-system-site-packages = false\n")
        for link, target in (
            (venv / "bin" / "python3", usable[0]),
            (venv / "lib" / minor / "site-packages", Path(sysconfig.get_paths()["purelib"])),
        ):
            if not link.is_symlink():
                link.symlink_to(target)
        launcher = venv / "bin" / script.name
        body = script.read_text().split("\n", 1)[1]
        launcher.write_text(f"#!{venv / 'bin' / 'python3'}\n{body}")
        launcher.chmod(0o755)
        return launcher

    def _wait_alive(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ControlPlaneError(
                    f"the operator exited with {self._process.returncode}:\n{self.log_text()}"
                )
            url = f"http://127.0.0.1:{self.liveness_port}/healthz"
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=2) as r,
            ):
                if r.status == 200:
                    return
            time.sleep(0.2)
        raise ControlPlaneError(f"the operator was not alive within {timeout:.0f} s:\n{self.log_text()}")

    def stop(self, grace: float = 15.0) -> None:
        if self._process is not None:
            stop_process_group(self._process, grace)
        if self._log is not None:
            self._log.close()
        self._process = None

    def cleanup(self) -> None:
        """Stops the process and removes the HOME made for another uid."""
        self.stop()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def credentials(self) -> tuple[int, int, tuple[int, ...]]:
        """(uid, gid, supplementary groups) of the running process, as the kernel reports them."""
        assert self._process is not None
        status = Path(f"/proc/{self._process.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        groups = tuple(int(g) for g in fields["Groups"].split())
        return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0]), groups

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: no cleanup handler runs."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""


def reachable(path: Path, uid: int, gid: int) -> bool:
    """Whether a process with this uid and (only) this gid may execute `path`: search permission on every
    folder above it and read + execute on the file, by the owner, group or other bits that apply."""

    def allowed(target: Path, bits: tuple[int, int, int]) -> bool:
        info = target.stat()
        if info.st_uid == uid:
            return bool(info.st_mode & bits[0])
        if info.st_gid == gid:
            return bool(info.st_mode & bits[1])
        return bool(info.st_mode & bits[2])

    search = (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)
    read = (stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH)
    absolute = Path(os.path.realpath(path))
    if not all(allowed(folder, search) for folder in absolute.parents):
        return False
    return allowed(absolute, read) and allowed(absolute, search)
