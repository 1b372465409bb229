"""The intake snapshot: the contract's settings (spec.diagnostics) and the case's findings (status.diagnosis).

Kept in their own module so that the contract and case models only gain one field each."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from support_operator.api.v1alpha1.common import (
    ApiModel,
    DnsLabel,
    Duration,
    ObjectName,
    cel,
    duration_rules,
    schema_extra,
)

DEFAULT_WINDOW = "2h"
DEFAULT_MAX_SNAPSHOT_BYTES = 256 * 1024
# A ConfigMap holds at most 1 MiB; binaryData is base64 (4/3), so the compressed snapshot stays below this.
MAX_SNAPSHOT_BYTES = 700_000
MIN_SNAPSHOT_BYTES = 8 * 1024
MAX_STATUS_FINDINGS = 20

ConfigMapKeyRef = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=507, pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[-._a-zA-Z0-9]+$"
    ),
]


class RedactionRule(ApiModel):
    """A redaction rule applied to everything the snapshot and the gather bundle hold: `pattern` replaces
    every match in any value (messages, annotations, arguments, logs); `key` replaces the whole value of
    every field whose name matches (ConfigMap keys, env names, annotation and label keys)."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "has(self.pattern) != has(self.key)",
                "a redaction rule needs exactly one of pattern (over values) or key (over field names)",
            )
        )
    )

    name: DnsLabel = Field(description="Name of the rule; the snapshot's manifest counts redactions by it.")
    pattern: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Regular expression (Python syntax); every match in any value is replaced.",
    )
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Regular expression over field names (full match, case-insensitive); the value of every "
        "matching field is replaced.",
    )


class DiagnosticsSpec(ApiModel):
    """The diagnostic snapshot the operator takes of the affected namespaces when a case is accepted."""

    enabled: bool = Field(default=True, description="Whether new cases get an intake snapshot.")
    window: Duration = Field(
        default=DEFAULT_WINDOW,
        description="How far before the case's reportedAt Events are collected, e.g. 2h.",
        json_schema_extra=duration_rules("window", longer_than="0s"),
    )
    max_snapshot_bytes: int = Field(
        default=DEFAULT_MAX_SNAPSHOT_BYTES,
        ge=MIN_SNAPSHOT_BYTES,
        le=MAX_SNAPSHOT_BYTES,
        description="Largest compressed snapshot; a larger one is trimmed (oldest Events first) with a note.",
    )
    keep_config_map_values: list[ConfigMapKeyRef] | None = Field(
        default=None,
        max_length=64,
        description="ConfigMap keys whose values are kept (KEY, or CONFIGMAP/KEY); every other ConfigMap "
        "value is replaced by its length. Redaction rules still apply to kept values.",
        json_schema_extra=schema_extra(list_set=True),
    )
    redaction: list[RedactionRule] | None = Field(
        default=None,
        max_length=32,
        description="Redaction rules added to the built-in ones (tokens, keys, passwords, credentials).",
        json_schema_extra=schema_extra(list_map_keys=("name",)),
    )


class DiagnosisState(StrEnum):
    """Taken: the snapshot is stored. Skipped: the contract disables snapshots. Failed: see message."""

    TAKEN = "Taken"
    SKIPPED = "Skipped"
    FAILED = "Failed"


class Severity(StrEnum):
    """How urgent a finding is."""

    CRITICAL = "Critical"
    WARNING = "Warning"
    INFO = "Info"


class FindingObject(ApiModel):
    """The object a finding is about."""

    kind: str = Field(min_length=1, max_length=63, description="Kind, e.g. Pod.")
    namespace: DnsLabel | None = Field(default=None, description="Namespace; omitted for cluster objects.")
    name: ObjectName = Field(description="Name of the object.")


class Finding(ApiModel):
    """One problem an analyzer found in the intake snapshot."""

    severity: Severity = Field(description="Critical, Warning or Info.")
    object: FindingObject = Field(description="The object concerned.")
    reason: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Z][A-Za-z0-9]*$", description="CamelCase reason."
    )
    message: str = Field(default="", max_length=1024, description="What was found.")


class DiagnosisStatus(ApiModel):
    """The intake snapshot of the case and what the analyzers found in it."""

    state: DiagnosisState = Field(description="Taken, Skipped or Failed.")
    snapshot: ObjectName | None = Field(
        default=None, description="ConfigMap in the case's namespace holding the compressed snapshot."
    )
    taken_at: AwareDatetime | None = Field(default=None, description="When the snapshot was taken.")
    trimmed: bool = Field(default=False, description="Whether the snapshot was trimmed to the size limit.")
    message: str = Field(default="", max_length=1024, description="Details, e.g. why it failed.")
    finding_count: int = Field(default=0, ge=0, description="Number of findings (status lists the top ones).")
    findings: list[Finding] | None = Field(
        default=None,
        max_length=MAX_STATUS_FINDINGS,
        description="The most severe findings, most severe first.",
    )
