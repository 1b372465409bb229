"""A real Alertmanager for tests: built from its Go module by `hack/build-alertmanager.sh` (cached outside the
clone) or taken from ALERTMANAGER_ASSETS. Alerts go in through its API (POST /api/v2/alerts), as Prometheus
sends them; notifications go out through its webhook notifier, as in production."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar

import yaml

from support_operator.testing.controlplane import (
    ControlPlaneError,
    free_port,
    repo_root,
)
from support_operator.testing.loopback import LoopbackServer


class AlertmanagerError(ControlPlaneError):
    """Alertmanager could not be built, started or called; the message says why."""


def locate_alertmanager() -> Path:
    """The folder holding `alertmanager`; builds it if needed."""
    assets = os.environ.get("ALERTMANAGER_ASSETS")
    if assets:
        if not os.access(Path(assets) / "alertmanager", os.X_OK):
            raise AlertmanagerError(f"ALERTMANAGER_ASSETS={assets} has no executable alertmanager")
        return Path(assets)
    root = repo_root()
    if root is None or not (root / "hack" / "build-alertmanager.sh").is_file():
        raise AlertmanagerError(
            "no Alertmanager binary: set ALERTMANAGER_ASSETS to a folder with alertmanager, "
            "or run from a source checkout (hack/build-alertmanager.sh builds it)"
        )
    result = subprocess.run(
        [str(root / "hack" / "build-alertmanager.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise AlertmanagerError("hack/build-alertmanager.sh failed; its output above says why")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class AlertmanagerServer(LoopbackServer):
    """Alertmanager on a free loopback port, without clustering, with `config` (its YAML configuration as
    a dict) and a temporary data folder. Use `with AlertmanagerServer(config) as am:`."""

    config: dict[str, Any]
    bin_dir: Path | None = None
    port: int = 0
    workdir: Path | None = None
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    _owns_workdir: bool = field(default=False, repr=False)
    binary: ClassVar[str] = "alertmanager"
    error: ClassVar[type[ControlPlaneError]] = AlertmanagerError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AlertmanagerServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> AlertmanagerServer:
        self.bin_dir = self.bin_dir or locate_alertmanager()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="support-operator-alertmanager-"))
            self._owns_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config = self.workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self._launch(
            [
                str(self.bin_dir / "alertmanager"),
                f"--config.file={config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # a single instance: no gossip port
                "--log.level=info",
            ],
            timeout,
        )
        return self

    def post_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """POST /api/v2/alerts, as Prometheus does: labels, annotations, startsAt, endsAt, generatorURL."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise AlertmanagerError(f"POST /api/v2/alerts: {error.code} {detail}") from error

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples with these labels, from Alertmanager's own /metrics."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            metric, _, rest = series.partition("{")
            if metric == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
                total += float(value)
        return total
