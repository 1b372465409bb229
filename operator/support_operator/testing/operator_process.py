"""The operator as a child process, started as the container image starts it: `support-operator run`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from support_operator.testing.controlplane import ControlPlaneError, _die_with_parent, free_port


@dataclass
class OperatorProcess:
    kubeconfig: Path
    workdir: Path
    extra_args: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)
    liveness_port: int = 0
    metrics_port: int = 0
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    _starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"operator-{self._starts}.log"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self, timeout: float = 60.0) -> None:
        self._starts += 1
        self.liveness_port = self.liveness_port or free_port()
        self.metrics_port = self.metrics_port or free_port()
        executable = Path(sys.executable).parent / "support-operator"
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.extra_env}
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [
                str(executable),
                "run",
                f"--liveness-port={self.liveness_port}",
                f"--metrics-port={self.metrics_port}",
                *self.extra_args,
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._wait_alive(timeout)

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
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        if self._log is not None:
            self._log.close()
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""
