"""Paths and tools for the deploy tests: helm and the prometheus-operator CRDs come from hack/build-tools.sh
(built from Go modules into ~/.cache/support-operator, nothing in the clone); kubectl comes with the control
plane."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
BASE = DEPLOY / "base"
OVERLAYS = DEPLOY / "overlays"
CHART = REPO / "charts" / "support-operator"
Obj = dict[str, Any]


class ToolError(RuntimeError):
    """A tool could not be built or failed."""


@cache
def tool_folder(tool: str) -> Path:
    """hack/build-tools.sh TOOL: progress on stderr (passed through), the folder on the last stdout line."""
    result = subprocess.run(
        [str(REPO / "hack" / "build-tools.sh"), tool], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise ToolError(f"hack/build-tools.sh {tool} failed; its output above says why")
    return Path(result.stdout.strip().splitlines()[-1])


def helm_binary() -> Path:
    return tool_folder("helm") / "helm"


def monitoring_crd_files() -> list[Path]:
    """The ServiceMonitor and PrometheusRule CRDs, generated from the prometheus-operator Go types."""
    folder = tool_folder("monitoring-crds")
    return [
        folder / f"monitoring.coreos.com_{plural}.yaml" for plural in ("servicemonitors", "prometheusrules")
    ]


def run(
    *command: str | Path, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in command], input=input, capture_output=True, text=True, timeout=300, check=False
    )
    if check and result.returncode != 0:
        raise ToolError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stderr}")
    return result


def helm(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(helm_binary(), *args, check=check)


def helm_template(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart as release support-operator in namespace support-operator."""
    return helm("template", "support-operator", CHART, "--namespace=support-operator", *args, check=check)


def documents(text: str) -> list[Obj]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind_and_name(objects: list[Obj]) -> dict[tuple[str, str], Obj]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def find_keys(node: Any, key: str) -> list[Any]:
    """Every value of `key` anywhere in a parsed document."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [
            x for v in node.values() for x in find_keys(v, key)
        ]
    if isinstance(node, list):
        return [x for v in node for x in find_keys(v, key)]
    return []
