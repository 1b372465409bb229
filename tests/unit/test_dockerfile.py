"""The image, checked statically (no Docker engine here; tests/e2e/test_kind.py builds and runs it where one
runs): hadolint-like rules, non-root with an arbitrary UID in group 0, no privileged ports, the same
entrypoint the integration suite starts, pinned dependencies, a small build context."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockerfile_lint import env, exec_form, final_stage, lint, parse, stages
from support_operator.cli.main import main as cli
from support_operator.testing.operator_process import ENTRYPOINT

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_dockerfile_passes_the_linter() -> None:
    assert lint(DOCKERFILE) == []


@pytest.mark.parametrize(
    ("dockerfile", "finding"),
    [
        ("FROM python\nUSER 1001:0\n", "DL3006"),
        ("FROM python:latest AS b\nFROM b\nUSER 1001:0\n", "DL3007"),
        ("FROM a:1 AS b\nFROM a:1\nCOPY --from=b /x /x\nADD app.tar /app\nUSER 1001:0\n", "DL3020"),
        (
            "FROM a:1 AS b\nFROM a:1\nCOPY --from=b /x /x\nENTRYPOINT support-operator run\nUSER 1:0\n",
            "DL3025",
        ),
        ("FROM a:1 AS b\nFROM a:1\nCOPY --from=b /x /x\n", "DL3002"),
        ("FROM a:1 AS b\nFROM a:1\nCOPY --from=b /x /x\nUSER root\n", "DL3002"),
        ("FROM a:1 AS b\nFROM a:1\nCOPY --from=b /x /x\nUSER app:0\n", "SO003"),
        ("FROM a:1 AS b\nFROM a:1\nCOPY --from=b /x /x\nUSER 1001\n", "SO004"),
        ("FROM a:1 AS b\nFROM a:1\nCOPY --from=b /x /x\nUSER 1001:0\nEXPOSE 80\n", "SO005"),
        ("FROM a:1 AS b\nRUN pip install kopf\nFROM a:1\nCOPY --from=b /x /x\nUSER 1:0\n", "DL3042"),
        (
            "FROM a:1 AS b\nRUN pip install --no-cache-dir kopf\nFROM a:1\nCOPY --from=b /x /x\nUSER 1:0\n",
            "DL3013",
        ),
        ("FROM a:1 AS b\nRUN apt-get install -y curl\nFROM a:1\nCOPY --from=b /x /x\nUSER 1:0\n", "DL3008"),
        ("FROM a:1 AS b\nRUN curl x | sh\nFROM a:1\nCOPY --from=b /x /x\nUSER 1:0\n", "DL4006"),
        ("FROM a:1\nUSER 1001:0\n", "SO002"),
        (
            "FROM a:1 AS b\nFROM a:1\nCOPY --from=b /x /x\n"
            "RUN mkdir -p /data \\\n && chmod 777 /data\nUSER 1:0\n",
            "SO008",
        ),
        ("FROM a:1 AS b\nFROM a:1\nRUN pip install -c c.txt --no-cache-dir x\nUSER 1:0\n", "SO006"),
    ],
)
def test_linter_finds_what_it_checks(dockerfile: str, finding: str) -> None:
    assert any(p.startswith(finding) for p in lint(dockerfile)), lint(dockerfile)


def test_multi_stage_and_the_final_stage_carries_no_build_tooling() -> None:
    found = stages(parse(DOCKERFILE))
    assert len(found) == 2 and found[0].name == "build"
    assert found[0].image == found[1].image, "the venv's interpreter path must exist in the final stage"
    final = found[-1]
    copies = [i.arguments for i in final.all("COPY")]
    assert copies == ["--from=build /opt/support-operator /opt/support-operator"]


def test_entrypoint_is_the_command_the_integration_suite_starts() -> None:
    (entrypoint,) = final_stage(DOCKERFILE).all("ENTRYPOINT")
    command = exec_form(entrypoint.arguments)
    assert command == list(ENTRYPOINT) == ["support-operator", "run"]
    assert command[0] in PYPROJECT["project"]["scripts"]
    assert CliRunner().invoke(cli, [command[1], "--help"]).exit_code == 0


def test_runs_as_an_arbitrary_uid_with_group_zero_and_writable_home() -> None:
    final = final_stage(DOCKERFILE)
    user, group = final.all("USER")[-1].arguments.split(":")
    assert int(user) >= 1000 and group == "0"
    home = env(final)["HOME"]
    runs = " ".join(i.arguments for i in final.all("RUN"))
    assert f"mkdir -p {home}" in runs and f"chmod -R g=u {home}" in runs and f":0 {home}" in runs
    assert env(final)["PYTHONDONTWRITEBYTECODE"] == "1", "the root filesystem is read-only at run time"


def test_exposes_the_cli_default_ports_none_privileged() -> None:
    (expose,) = final_stage(DOCKERFILE).all("EXPOSE")
    ports = sorted(int(p) for p in expose.arguments.split())
    run = cli.commands["run"]
    names = ("metrics_port", "liveness_port", "alert_receiver_port")
    defaults = sorted(p.default for p in run.params if p.name in names)
    assert ports == defaults == [8080, 8081, 8082]


def test_every_runtime_dependency_is_pinned_by_constraints() -> None:
    constraints = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, version = requirement.split("==")
        assert constraints[name.lower().replace("_", "-")] == version, requirement
    build = stages(parse(DOCKERFILE))[0]
    assert any("--constraint constraints.txt" in i.arguments for i in build.all("RUN"))


def test_build_context_is_small_and_complete() -> None:
    ignore = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert ignore[0] == "*", "allow-list: nothing enters the context unless named"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    build = stages(parse(DOCKERFILE))[0]
    copied = {
        source.rstrip("/")
        for i in build.all("COPY")
        for source in i.arguments.split()[:-1]
        if source[0] != "-"
    }
    assert copied == allowed
    readme = PYPROJECT["project"]["readme"]
    assert readme in copied, "pyproject.toml names the README: the build needs it"
