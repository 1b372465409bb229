"""Runs the Argo CD health checks of deploy/argocd/health/ the way Argo CD does: a Lua 5.1 chunk (Argo CD
embeds gopher-lua, a Lua 5.1) with the resource as the global `obj`, returning {status, message}."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lupa import lua51

HEALTH = Path(__file__).resolve().parents[1] / "deploy" / "argocd" / "health"
# Argo CD runs health scripts without file, process or module access.
UNSAFE_GLOBALS = ("os", "io", "require", "dofile", "loadfile", "load", "loadstring", "package", "debug")


@dataclass(frozen=True)
class HealthCase:
    """One entry of a health_test.yaml (Argo CD's format): the input resource and the expected health."""

    script: Path
    input_path: Path
    status: str
    message: str

    @property
    def id(self) -> str:
        return f"{self.script.parent.name}/{self.input_path.stem}"


def script_for(group: str, kind: str) -> Path:
    return HEALTH / group / kind / "health.lua"


def health(script: Path, obj: dict[str, Any]) -> dict[str, str]:
    """The health Argo CD would show for `obj`."""
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    lua_globals = runtime.globals()
    for name in UNSAFE_GLOBALS:
        lua_globals[name] = None
    lua_globals.obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script.read_text(encoding="utf-8"))
    if result is None:
        raise AssertionError(f"{script} returned nothing")
    return {"status": str(result["status"]), "message": str(result["message"] or "")}


def health_cases() -> list[HealthCase]:
    cases = []
    for test_file in sorted(HEALTH.glob("*/*/health_test.yaml")):
        folder = test_file.parent
        for entry in yaml.safe_load(test_file.read_text())["tests"]:
            expected = entry["healthStatus"]
            cases.append(
                HealthCase(
                    folder / "health.lua",
                    folder / entry["inputPath"],
                    expected["status"],
                    expected.get("message", ""),
                )
            )
    return cases
