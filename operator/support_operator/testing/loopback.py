"""What the test servers built from Go modules (Prometheus, Alertmanager) share: one process on a loopback
port with a log file in its work folder, ready when `/-/ready` answers 200, killed with the test process."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, ClassVar

from support_operator.testing.controlplane import ControlPlaneError, _die_with_parent, stop_process_group


class LoopbackServer:
    """Mixin of the server dataclasses; they declare the fields used here (`workdir`, `_process`, `_log`,
    `_owns_workdir`) and the `url` property, and name the binary and their error class."""

    binary: ClassVar[str]
    error: ClassVar[type[ControlPlaneError]]
    workdir: Path | None
    _process: subprocess.Popen[bytes] | None
    _log: IO[bytes] | None
    _owns_workdir: bool

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _launch(self, argv: list[str], timeout: float) -> None:
        """Starts `argv` logging to `<binary>.log` and waits until it is ready; stops it if it is not."""
        assert self.workdir is not None
        self._log = (self.workdir / f"{self.binary}.log").open("wb")
        self._process = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise self.error(f"{self.binary} exited with {self._process.returncode}:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise self.error(f"{self.binary} was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> None:
        if self._process is not None:
            stop_process_group(self._process, grace)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.workdir is not None and self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def log_tail(self, lines: int = 40) -> str:
        if self.workdir is None:
            return "(no log)"
        with contextlib.suppress(OSError):
            text = (self.workdir / f"{self.binary}.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"
