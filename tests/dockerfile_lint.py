"""A small Dockerfile linter: the hadolint rules that matter for this image, plus the project's own (arbitrary
UID with group 0, no privileged ports). No Docker engine needed; tests/unit/test_dockerfile.py runs it."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

PRIVILEGED_PORT_LIMIT = 1024


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    arguments: str


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse(text: str) -> list[Instruction]:
    """Instructions with their first line number; continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        continued = line.endswith("\\")
        pending.append(line[:-1].strip() if continued else line)
        if not continued:
            keyword, _, arguments = " ".join(pending).partition(" ")
            instructions.append(Instruction(start, keyword.upper(), arguments.strip()))
            pending = []
    return instructions


def stages(instructions: list[Instruction]) -> list[Stage]:
    """The build stages, FROM images with global ARG defaults substituted."""
    args: dict[str, str] = {}
    found: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "ARG" and not found:
            name, _, default = instruction.arguments.partition("=")
            args[name.strip()] = default.strip()
        elif instruction.keyword == "FROM":
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else None
            found.append(Stage(image, name))
        elif found:
            found[-1].instructions.append(instruction)
    return found


def exec_form(arguments: str) -> list[str] | None:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def user_and_group(arguments: str) -> tuple[str, str | None]:
    user, _, group = arguments.partition(":")
    return user, group or None


def lint(text: str) -> list[str]:
    """Findings as `DLxxxx/SOxxx line: message`; empty when the Dockerfile passes."""
    instructions = parse(text)
    found = stages(instructions)
    problems: list[str] = []
    if not found:
        return ["SO001 1: no FROM instruction"]
    problems += _base_images(found)
    problems += _instructions(instructions)
    problems += _final_stage(found)
    return problems


def _tag(image: str) -> str | None:
    """The tag of an image reference ("@sha256:..." counts as pinned), None without one."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return last.split("@", 1)[1]
    return last.split(":", 1)[1] if ":" in last else None


def _base_images(found: list[Stage]) -> list[str]:
    problems = []
    names = {s.name for s in found if s.name}
    for stage in found:
        if stage.image in names or stage.image == "scratch":
            continue
        tag = _tag(stage.image)
        if tag is None:
            problems.append(f"DL3006 FROM {stage.image}: always tag the image explicitly")
        elif tag == "latest":
            problems.append(f"DL3007 FROM {stage.image}: do not use the latest tag")
    if len(found) < 2:
        problems.append("SO002: not multi-stage: build tools and caches end up in the image")
    return problems


def _instructions(instructions: list[Instruction]) -> list[str]:
    problems = []
    shell_has_pipefail = False
    for i in instructions:
        if i.keyword == "ADD":
            problems.append(f"DL3020 {i.line}: use COPY instead of ADD for files and folders")
        if i.keyword in ("ENTRYPOINT", "CMD") and exec_form(i.arguments) is None:
            problems.append(f"DL3025 {i.line}: use the JSON (exec) form of {i.keyword}")
        if i.keyword == "SHELL" and "pipefail" in i.arguments:
            shell_has_pipefail = True
        if i.keyword != "RUN":
            continue
        for command in re.split(r"&&|;", i.arguments):
            words = shlex.split(command) if command.strip() else []
            problems += _run_command(i.line, words)
        if re.search(r"[^|]\|[^|]", i.arguments) and not shell_has_pipefail:
            problems.append(f"DL4006 {i.line}: set SHELL -o pipefail before RUN with a pipe")
    return problems


def _run_command(line: int, words: list[str]) -> list[str]:
    problems = []
    if "pip" in [w.rsplit("/", 1)[-1] for w in words[:1]] and "install" in words:
        if "--no-cache-dir" not in words:
            problems.append(f"DL3042 {line}: pip install without --no-cache-dir")
        constrained = any(w in ("-c", "--constraint") or w.startswith("--constraint=") for w in words)
        if not constrained:
            problems.append(f"DL3013 {line}: pip install without a constraints file: versions are not pinned")
    if words[:1] in (["apt-get"], ["apt"]) and "install" in words:
        if "--no-install-recommends" not in words:
            problems.append(f"DL3015 {line}: apt-get install without --no-install-recommends")
        packages = [w for w in words[words.index("install") + 1 :] if not w.startswith("-")]
        for package in packages:
            if "=" not in package:
                problems.append(f"DL3008 {line}: pin {package} (apt-get install {package}=<version>)")
    if words[:1] == ["sudo"]:
        problems.append(f"DL3004 {line}: do not use sudo")
    return problems


def _final_stage(found: list[Stage]) -> list[str]:
    final = found[-1]
    problems = []
    users = final.all("USER")
    if not users:
        problems.append("DL3002: the final stage runs as root (no USER)")
    else:
        user, group = user_and_group(users[-1].arguments)
        if user in ("0", "root"):
            problems.append(f"DL3002 {users[-1].line}: the last USER is root")
        elif not user.isdigit():
            problems.append(
                f"SO003 {users[-1].line}: USER must be numeric (runAsNonRoot cannot verify names)"
            )
        if group != "0":
            problems.append(f"SO004 {users[-1].line}: the group must be 0 (arbitrary UIDs run with group 0)")
    for expose in final.all("EXPOSE"):
        for port in expose.arguments.split():
            number = int(port.split("/")[0])
            if number < PRIVILEGED_PORT_LIMIT:
                problems.append(f"SO005 {expose.line}: port {number} < {PRIVILEGED_PORT_LIMIT} needs root")
    problems += _writable_paths(final)
    if any(
        i.keyword == "RUN" and re.search(r"\bpip\b.*\binstall\b", i.arguments) for i in final.instructions
    ):
        problems.append("SO006: pip install in the final stage: install in the build stage and copy")
    if not any(i.keyword == "COPY" and "--from=" in i.arguments for i in final.instructions):
        problems.append("SO007: the final stage copies nothing from a build stage")
    return problems


def _writable_paths(final: Stage) -> list[str]:
    """Every folder the final stage creates must be group 0 with the owner's permissions (g=u), so an
    arbitrary UID in group 0 can write it."""
    problems = []
    runs = " && ".join(i.arguments for i in final.all("RUN"))
    created = re.findall(r"mkdir\s+(?:-\w+\s+)*([^\s&;]+)", runs)
    for path in created:
        escaped = re.escape(path)
        group_owned = re.search(rf"(chgrp\s+(-R\s+)?0|chown\s+(-R\s+)?\w*:0)\s+{escaped}\b", runs)
        group_equals_user = re.search(rf"chmod\s+(-R\s+)?g=u\s+{escaped}\b", runs)
        if not (group_owned and group_equals_user):
            problems.append(f"SO008: {path} is created but not group 0 with g=u permissions")
    return problems


def final_stage(text: str) -> Stage:
    return stages(parse(text))[-1]


def env(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for word in shlex.split(instruction.arguments):
            name, _, value = word.partition("=")
            values[name] = value
    return values
