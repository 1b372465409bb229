"""Building blocks shared by both resources: the base model, schema annotations, reusable field types.

The models are the single source of truth for the CRDs (see `support_operator.api.crdgen`): pydantic
constraints become OpenAPI constraints, and `x-kubernetes-*` extensions (CEL rules, list types) travel in
`json_schema_extra`. CEL rules are enforced by the API server only; the models do not re-implement them.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from support_operator import constants

GROUP: Final = constants.GROUP
VERSION: Final = "v1alpha1"
API_VERSION: Final = "support.puzzle.ch/v1alpha1"
CATEGORY: Final = "support"

JsonDict = dict[str, Any]


def cel(rule: str, message: str, *, field_path: str | None = None, reason: str | None = None) -> JsonDict:
    """One `x-kubernetes-validations` entry; `field_path` points the error at a child field."""
    validation: JsonDict = {"rule": rule, "message": message}
    if field_path is not None:
        validation["fieldPath"] = field_path
    if reason is not None:
        validation["reason"] = reason
    return validation


def schema_extra(
    *rules: JsonDict, list_map_keys: tuple[str, ...] = (), list_set: bool = False, default: Any = None
) -> JsonDict:
    """`json_schema_extra` for a field or model: CEL rules, list semantics and an explicit schema default."""
    extra: JsonDict = {}
    if rules:
        extra["x-kubernetes-validations"] = list(rules)
    if list_map_keys:
        extra["x-kubernetes-list-type"] = "map"
        extra["x-kubernetes-list-map-keys"] = list(list_map_keys)
    if list_set:
        extra["x-kubernetes-list-type"] = "set"
    if default is not None:
        extra["default"] = default
    return extra


def matching(pattern: str, message: str) -> AfterValidator:
    """Python twin of a CEL `matches` rule. Where a readable message matters the CRD carries the CEL rule
    instead of an OpenAPI `pattern`: the API server skips CEL rules when a schema keyword already failed,
    and its pattern error only quotes the regular expression."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.search(value) is None:  # CEL's matches() is a search, like RE2's
            raise ValueError(message)
        return value

    return AfterValidator(check)


def duration_rules(name: str, *, at_least: str | None = None, longer_than: str | None = None) -> JsonDict:
    """`json_schema_extra` of a Duration field: the format in our words, and bounds that only run on a
    well-formed value (CEL's duration() on `forever` would answer with a protobuf conversion error)."""
    well_formed = f"self.matches('{DURATION_PATTERN}')"
    rules = [cel(well_formed, f"{name} {DURATION_MESSAGE}")]
    if at_least is not None:
        rules.append(
            cel(
                f"!{well_formed} || duration(self) >= duration('{at_least}')",
                f"{name} must be at least {at_least}",
            )
        )
    if longer_than is not None:
        rules.append(
            cel(
                f"!{well_formed} || duration(self) > duration('{longer_than}')",
                f"{name} must be longer than {longer_than}",
            )
        )
    return schema_extra(*rules)


class ApiModel(BaseModel):
    """Base of every API model: camelCase JSON names, Python names accepted too, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
    )

    def to_json_dict(self) -> JsonDict:
        """The JSON form the API server stores: camelCase, no nulls, dates as strings."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# DNS-1123 label: namespace names, member names, package names (they end up in object names).
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# DNS-1123 subdomain: names of cluster objects such as the contract or a ClusterRole.
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Go/Kubernetes duration with whole hours, minutes and seconds, e.g. 1h30m, 45m, 90s.
DURATION_PATTERN = r"^([0-9]{1,5}h)?([0-9]{1,5}m)?([0-9]{1,5}s)?$"
CLOCK_TIME_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

DnsLabel = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]
ObjectName = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
DURATION_MESSAGE = "must be a duration of whole hours, minutes and seconds, e.g. 1h30m, 45m or 90s"
# The readable message needs the CEL rule of `duration_rules` on every Duration field (see `matching`).
Duration = Annotated[
    str, StringConstraints(min_length=2, max_length=20), matching(DURATION_PATTERN, DURATION_MESSAGE)
]
ClockTime = Annotated[str, StringConstraints(min_length=5, max_length=5, pattern=CLOCK_TIME_PATTERN)]
EmailAddress = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=EMAIL_PATTERN)]
ShortText = Annotated[str, StringConstraints(max_length=256)]


class SecretReference(ApiModel):
    """Reference to a Secret by namespace and name."""

    name: ObjectName = Field(description="Name of the Secret.")
    namespace: DnsLabel = Field(description="Namespace of the Secret.")


class ConditionStatus(StrEnum):
    """Status of a condition: True, False or Unknown."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """One aspect of the resource's current state, in the standard Kubernetes condition shape."""

    type: str = Field(
        description="Type of condition in CamelCase, e.g. Ready.",
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    )
    status: ConditionStatus = Field(description="Status of the condition: True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation the condition was computed from."
    )
    last_transition_time: AwareDatetime = Field(description="When the condition last changed its status.")
    reason: str = Field(
        description="Machine-readable CamelCase reason for the last transition.",
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    )
    message: str = Field(
        default="", description="Human-readable details about the transition.", max_length=32768
    )


CONDITIONS_EXTRA = schema_extra(list_map_keys=("type",))
MAX_CONDITIONS = 16


class ObjectMeta(BaseModel):
    """The part of Kubernetes object metadata the operator reads; other metadata fields pass through."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str = Field(max_length=253)
    namespace: str | None = Field(default=None, max_length=63)
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: list[str] = Field(default_factory=list)


class ResourceModel(ApiModel):
    """A whole custom resource (apiVersion, kind, metadata, spec, status) as the API server returns it."""

    api_version: Literal["support.puzzle.ch/v1alpha1"] = API_VERSION
    metadata: ObjectMeta

    @classmethod
    def from_k8s(cls, obj: JsonDict) -> Self:
        """Parses a resource as returned by the API server (or loaded from YAML)."""
        return cls.model_validate(obj)
