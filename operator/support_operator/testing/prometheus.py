"""A real Prometheus server (and promtool) for tests: built from the Prometheus Go module by
`hack/build-prometheus.sh` (cached outside the clone) or taken from PROMETHEUS_ASSETS.

The alerting rules have one source, the PrometheusRule in deploy/base/monitoring/; `write_rule_file()`
extracts its groups into the plain rule file Prometheus and promtool read.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
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

BINARIES = ("prometheus", "promtool")
JOB = "support-operator-metrics"  # the job name the Prometheus Operator derives from the Service's name


class PrometheusError(ControlPlaneError):
    """Prometheus could not be built, started or queried; the message says why."""


def locate_prometheus() -> Path:
    """The folder holding `prometheus` and `promtool`; builds them if needed."""
    assets = os.environ.get("PROMETHEUS_ASSETS")
    if assets:
        missing = [b for b in BINARIES if not os.access(Path(assets) / b, os.X_OK)]
        if missing:
            raise PrometheusError(f"PROMETHEUS_ASSETS={assets} lacks {', '.join(missing)}")
        return Path(assets)
    root = repo_root()
    if root is None or not (root / "hack" / "build-prometheus.sh").is_file():
        raise PrometheusError(
            "no Prometheus binaries: set PROMETHEUS_ASSETS to a folder with prometheus and promtool, "
            "or run from a source checkout (hack/build-prometheus.sh builds them)"
        )
    # The script prints progress on stderr (passed through) and the folder on its last stdout line.
    result = subprocess.run(
        [str(root / "hack" / "build-prometheus.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise PrometheusError("hack/build-prometheus.sh failed; its output above says why")
    return Path(result.stdout.strip().splitlines()[-1])


def prometheus_rule_path() -> Path:
    root = repo_root()
    if root is None:
        raise PrometheusError("the PrometheusRule lives in the source checkout, which was not found")
    return root / "deploy" / "base" / "monitoring" / "prometheusrule.yaml"


def rule_groups(prometheus_rule: Path) -> dict[str, Any]:
    """The rule file (`{"groups": [...]}`) of a monitoring.coreos.com/v1 PrometheusRule manifest."""
    manifest = yaml.safe_load(prometheus_rule.read_text())
    if manifest.get("kind") != "PrometheusRule":
        raise PrometheusError(f"{prometheus_rule} is not a PrometheusRule")
    return {"groups": manifest["spec"]["groups"]}


def write_rule_file(destination: Path, prometheus_rule: Path | None = None) -> Path:
    groups = rule_groups(prometheus_rule or prometheus_rule_path())
    destination.write_text(yaml.safe_dump(groups, sort_keys=False, width=1000))
    return destination


@dataclass
class PrometheusServer(LoopbackServer):
    """Prometheus on a free loopback port with a temporary data folder, scraping `targets` (host:port) as
    job support-operator-metrics (and `extra_jobs`, job name to targets) every `interval`, evaluating
    `rule_files` as often. Killed with the process that started it. Use `with PrometheusServer(...) as
    prom:` or `start()`/`stop()`."""

    targets: Sequence[str]
    rule_files: Sequence[Path] = ()
    extra_jobs: Mapping[str, Sequence[str]] = field(default_factory=dict)
    interval: str = "1s"
    bin_dir: Path | None = None
    port: int = 0
    workdir: Path | None = None
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    _owns_workdir: bool = field(default=False, repr=False)
    binary: ClassVar[str] = "prometheus"
    error: ClassVar[type[ControlPlaneError]] = PrometheusError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        self.bin_dir = self.bin_dir or locate_prometheus()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="support-operator-prometheus-"))
            self._owns_workdir = True
        self.port = self.port or free_port()
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config(), sort_keys=False))
        self._launch(
            [
                str(self.bin_dir / "prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            timeout,
        )
        return self

    def _config(self) -> dict[str, Any]:
        return {
            "global": {"scrape_interval": self.interval, "evaluation_interval": self.interval},
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(targets)}]}
                for job, targets in {JOB: self.targets, **self.extra_jobs}.items()
            ],
        }

    # -- the HTTP API ------------------------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns `data`. Raises PrometheusError with Prometheus's message on errors
        (a query that does not parse is a 400 with errorType bad_data)."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise PrometheusError(f"GET {url}: {error.code} {detail}") from error
        if body.get("status") != "success":
            raise PrometheusError(f"GET {url}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result vector (or a one-element list for scalars and strings)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, seconds: float = 30.0, step: str = "1s") -> list[dict[str, Any]]:
        """A range query over the last `seconds`; the result matrix."""
        end = time.time()
        data = self.api("query_range", query=expr, start=f"{end - seconds:.3f}", end=f"{end:.3f}", step=step)
        result: list[dict[str, Any]] = data["result"]
        return result

    def rules(self) -> list[dict[str, Any]]:
        """The loaded rule groups with each rule's health and last error."""
        groups: list[dict[str, Any]] = self.api("rules")["groups"]
        return groups

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts."""
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts

    def active_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return targets


def promtool(
    *args: str, bin_dir: Path | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs promtool; never raises for its exit code (tests show its output)."""
    binary = (bin_dir or locate_prometheus()) / "promtool"
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=300
    )
