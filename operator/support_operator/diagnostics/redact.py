"""Redaction you can trust, as pure functions over plain dicts and strings.

Secrets are never read at all (collect.py has no code path to them). Everything else passes through a
`Redactor` before it is stored or written: ConfigMap values become their length (unless allow-listed),
literal env values are dropped (references such as secretKeyRef stay), last-applied-configuration
annotations and managedFields are removed (they repeat values), and the rules - built-in and the
contract's - replace secret-looking values and the values of secret-looking field names everywhere.
The Redactor counts what it did for the snapshot's manifest.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from support_operator.api.v1alpha1.diagnostics import DiagnosticsSpec, RedactionRule

REDACTED = "[redacted]"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_REDACTED_PATHS = 50


class RedactionRuleError(ValueError):
    """A contract's redaction rule is not a valid regular expression."""


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str] | None = None  # over values: every match is replaced
    key: re.Pattern[str] | None = None  # over field names: the whole value is replaced


def _value_rule(name: str, regex: str) -> Rule:
    return Rule(name, pattern=re.compile(regex))


# Common credential shapes. The assignment rule keeps the name (`password=`) and drops what follows it.
BUILTIN_RULES: tuple[Rule, ...] = (
    _value_rule(
        "private-key", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)"
    ),
    _value_rule("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    _value_rule("bearer-token", r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    _value_rule("url-credentials", r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    _value_rule("aws-access-key", r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    _value_rule(
        "vendor-token", r"\b(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,})"
    ),
    _value_rule(
        "assignment",
        r"(?i)(?<![A-Za-z0-9])(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
        r"client[_-]?secret)([\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+",
    ),
    Rule(
        "secret-field-name",
        key=re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|credential|private[_-]?key|auth)"),
    ),
)


@dataclass(frozen=True)
class RedactionPolicy:
    rules: tuple[Rule, ...] = BUILTIN_RULES
    keep_config_map_values: frozenset[str] = frozenset()

    @classmethod
    def from_spec(cls, spec: DiagnosticsSpec | None) -> RedactionPolicy:
        """The built-in rules plus the contract's; RedactionRuleError names the rule that does not compile."""
        if spec is None:
            return cls()
        custom = []
        for rule in spec.redaction or []:
            source = rule.pattern if rule.pattern is not None else rule.key
            try:
                compiled = re.compile(source or "", 0 if rule.pattern is not None else re.IGNORECASE)
            except re.error as error:
                raise RedactionRuleError(
                    f"redaction rule {rule.name}: {source!r} is not a valid regular expression ({error})"
                ) from None
            custom.append(
                Rule(rule.name, pattern=compiled)
                if rule.pattern is not None
                else Rule(rule.name, key=compiled)
            )
        return cls(BUILTIN_RULES + tuple(custom), frozenset(spec.keep_config_map_values or ()))

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> RedactionPolicy:
        """The policy an intake snapshot was taken with (its manifest records the rules), so that `gather`
        redacts alike without reading the contract."""
        builtin = {rule.name for rule in BUILTIN_RULES}
        custom = [
            RedactionRule.model_validate(rule)
            for rule in manifest.get("rules") or []
            if rule.get("name") not in builtin
        ]
        keep = manifest.get("keepConfigMapValues") or None
        return cls.from_spec(DiagnosticsSpec(redaction=custom or None, keep_config_map_values=keep))

    def describe(self) -> list[dict[str, str]]:
        """The rules as the manifest records them (names and expressions: no values)."""
        return [
            {"name": r.name, ("pattern" if r.pattern else "key"): (r.pattern or r.key).pattern}  # type: ignore[union-attr]
            for r in self.rules
        ]


@dataclass
class Redactor:
    policy: RedactionPolicy = field(default_factory=RedactionPolicy)
    counts: Counter[str] = field(default_factory=Counter)
    paths: list[str] = field(default_factory=list)

    # -- entry points ------------------------------------------------------------------------------------

    def object(self, obj: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
        """A redacted copy of one API object (as JSON): metadata cleaned, ConfigMap values and literal env
        values removed, then every rule applied."""
        kind = kind or obj.get("kind")
        where = _where(obj, kind)
        cleaned = self._metadata(obj, where)
        if kind == "ConfigMap":
            cleaned = self._config_map(cleaned, where)
        return self._walk(cleaned, where)  # type: ignore[no-any-return]

    def text(self, value: str, where: str = "") -> str:
        """A redacted copy of free text (an Event message, a log)."""
        for rule in self.policy.rules:
            if rule.pattern is None:
                continue
            value, replaced = rule.pattern.subn(functools.partial(_replacement, rule=rule), value)
            if replaced:
                self._count(rule.name, where, replaced)
        return value

    def report(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "paths": list(self.paths)}

    # -- parts -------------------------------------------------------------------------------------------

    def _metadata(self, obj: dict[str, Any], where: str) -> dict[str, Any]:
        metadata = dict(obj.get("metadata") or {})
        metadata.pop("managedFields", None)
        annotations = dict(metadata.get("annotations") or {})
        if LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = REDACTED
            self._count("last-applied-configuration", where)
        if annotations:
            metadata["annotations"] = annotations
        return {**obj, "metadata": metadata} if metadata or "metadata" in obj else dict(obj)

    def _config_map(self, obj: dict[str, Any], where: str) -> dict[str, Any]:
        name = (obj.get("metadata") or {}).get("name", "")
        cleaned = dict(obj)
        data = {}
        for key, value in (obj.get("data") or {}).items():
            if (
                key in self.policy.keep_config_map_values
                or f"{name}/{key}" in self.policy.keep_config_map_values
            ):
                data[key] = value
            else:
                data[key] = f"[{len(str(value).encode())} bytes]"
                self._count("config-map-value", f"{where}.data.{key}")
        if "data" in obj:
            cleaned["data"] = data
        if obj.get("binaryData"):
            cleaned["binaryData"] = {
                key: f"[{len(value) * 3 // 4} bytes, binary]" for key, value in obj["binaryData"].items()
            }
            self._count("config-map-value", f"{where}.binaryData", len(obj["binaryData"]))
        return cleaned

    def _env(self, entries: list[Any], where: str) -> list[Any]:
        kept = []
        for entry in entries:
            if isinstance(entry, dict) and "value" in entry:
                entry = {k: v for k, v in entry.items() if k != "value"}
                entry["value"] = "[removed: literal value]"
                self._count("env-value", f"{where}.env.{entry.get('name')}")
            kept.append(entry)
        return kept

    def _walk(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            walked = {}
            for key, item in value.items():
                path = f"{where}.{key}"
                if key == "env" and isinstance(item, list):
                    item = self._env(item, where)
                if isinstance(item, str) and self._secret_key(str(key), path):
                    walked[key] = REDACTED
                else:
                    walked[key] = self._walk(item, path)
            return walked
        if isinstance(value, list):
            return [self._walk(item, where) for item in value]
        if isinstance(value, str):
            return self.text(value, where)
        return value

    def _secret_key(self, key: str, path: str) -> bool:
        for rule in self.policy.rules:
            if rule.key is not None and rule.key.search(key):
                self._count(rule.name, path)
                return True
        return False

    def _count(self, rule: str, where: str, times: int = 1) -> None:
        self.counts[rule] += times
        if len(self.paths) < MAX_REDACTED_PATHS and where:
            self.paths.append(f"{rule}: {where}")


def _replacement(match: re.Match[str], rule: Rule) -> str:
    if rule.name == "assignment":  # keep `password=` so the reader knows what was there
        return f"{match.group(1)}{match.group(2)}{REDACTED}"
    return REDACTED


def _where(obj: dict[str, Any], kind: str | None) -> str:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    name = metadata.get("name", "?")
    return f"{kind or 'Object'} {namespace + '/' if namespace else ''}{name}"
