"""SupportContract: one support agreement for one platform (cluster-scoped)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from support_operator.api.v1alpha1.common import (
    CONDITIONS_EXTRA,
    MAX_CONDITIONS,
    ApiModel,
    ClockTime,
    Condition,
    DnsLabel,
    Duration,
    EmailAddress,
    ObjectName,
    ResourceModel,
    SecretReference,
    cel,
    duration_rules,
    matching,
    schema_extra,
)
from support_operator.api.v1alpha1.diagnostics import DiagnosticsSpec
from support_operator.api.v1alpha1.intake import IntakeSpec
from support_operator.domain.ledger import BillingMode as BillingMode

CONTRACT_KIND: Final = "SupportContract"
CONTRACT_PLURAL = "supportcontracts"
CONTRACT_SINGULAR = "supportcontract"
CONTRACT_SHORT_NAMES = ("sctr",)

RoleName = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9:.]*[a-z0-9])?$")
]
TIME_ZONE_PATTERN = r"^(UTC|[A-Z][A-Za-z_-]+(/[A-Za-z0-9_+-]+){1,2})$"
TIME_ZONE_MESSAGE = "timeZone must be an IANA time zone name such as Europe/Zurich or UTC"


class Distribution(StrEnum):
    """Kubernetes distribution of the supported platform."""

    OPENSHIFT = "OpenShift"
    RANCHER = "Rancher"
    KUBERNETES = "Kubernetes"


class ReactionTime(StrEnum):
    """The two reaction-time variants of the offer, counted in support time."""

    TWO_HOURS = "2h"
    EIGHT_HOURS = "8h"


class Weekday(StrEnum):
    """Day of the week."""

    MON = "Mon"
    TUE = "Tue"
    WED = "Wed"
    THU = "Thu"
    FRI = "Fri"
    SAT = "Sat"
    SUN = "Sun"


class Language(StrEnum):
    """Language as an ISO 639-1 code."""

    DE = "de"
    FR = "fr"
    IT = "it"
    EN = "en"


class AccessMode(StrEnum):
    """Personal: one identity per team member. Team: one identity shared by the team."""

    PERSONAL = "Personal"
    TEAM = "Team"


class SelectorOperator(StrEnum):
    """Operator of a label selector requirement."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


WORKDAYS = [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]


class Customer(ApiModel):
    """The customer who holds the contract."""

    name: str = Field(min_length=1, max_length=128, description="Customer name as it appears on statements.")
    reference: str | None = Field(
        default=None, max_length=64, description="The vendor's customer or contract number, for invoices."
    )


class TimeInterval(ApiModel):
    """A daily opening interval in local time, e.g. 08:00-17:00. Split intervals that cross midnight."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel("self.start < self.end", "start must be before end (split intervals that cross midnight)")
        )
    )

    start: ClockTime = Field(description="Opening time, HH:MM (24-hour clock).")
    end: ClockTime = Field(description="Closing time, HH:MM (24-hour clock); 24:00 means midnight.")


class HolidayCalendar(ApiModel):
    """Whose public holidays close the support time."""

    country: str = Field(
        min_length=2,
        max_length=2,
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 country code, e.g. CH.",
    )
    subdivision: str | None = Field(
        default=None,
        min_length=1,
        max_length=3,
        pattern=r"^[A-Z0-9]{1,3}$",
        description="ISO 3166-2 subdivision (canton, state) without the country prefix, e.g. BE; "
        "omitted: national holidays only.",
    )


class SupportHours(ApiModel):
    """Business calendar: the hours in which SLA clocks run. The defaults are the offer's: Mon-Fri
    08:00-17:00 Europe/Zurich without the public holidays of the canton of Bern."""

    time_zone: Annotated[str, matching(TIME_ZONE_PATTERN, TIME_ZONE_MESSAGE)] = Field(
        default="Europe/Zurich",
        min_length=3,
        max_length=64,
        description="IANA time zone of the hours, e.g. Europe/Zurich.",
        json_schema_extra=schema_extra(cel(f"self.matches('{TIME_ZONE_PATTERN}')", TIME_ZONE_MESSAGE)),
    )
    days: list[Weekday] = Field(
        default=WORKDAYS,
        min_length=1,
        max_length=7,
        description="Days of the week with support time.",
        json_schema_extra=schema_extra(list_set=True),
    )
    intervals: list[TimeInterval] = Field(
        default=[TimeInterval(start="08:00", end="17:00")],
        min_length=1,
        max_length=8,
        description="Opening intervals on each of those days (local time, non-overlapping).",
        json_schema_extra=schema_extra(
            cel(
                "self.all(a, self.all(b, a.start == b.start || a.end <= b.start || b.end <= a.start))",
                "intervals must not overlap",
            ),
            list_map_keys=("start",),
        ),
    )
    holidays: HolidayCalendar = Field(
        default=HolidayCalendar(country="CH", subdivision="BE"),
        description="Public holidays that close the support time (default: Switzerland, canton of Bern).",
    )
    closed_dates: list[dt.date] | None = Field(
        default=None,
        max_length=100,
        description="Additional closed days (YYYY-MM-DD), e.g. company holidays.",
        json_schema_extra=schema_extra(list_set=True),
    )


class TeamMember(ApiModel):
    """An engineer of the vendor's support team."""

    name: DnsLabel = Field(
        max_length=40,
        description="Short unique name (DNS label); identities and bindings are named after it.",
    )
    full_name: str | None = Field(default=None, max_length=128, description="Display name, for e-mails.")
    email: EmailAddress = Field(description="E-mail address; receives case confirmations.")
    languages: list[Language] = Field(
        min_length=1,
        max_length=4,
        description="Languages the member supports customers in.",
        json_schema_extra=schema_extra(list_set=True),
    )
    platform_username: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="The member's own user name on the platform (OpenShift), bound instead of a token.",
    )
    rancher_principal: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="The member's Rancher principal ID, e.g. local://u-abcde or activedirectory_user://...",
    )


class LabelSelectorRequirement(ApiModel):
    """A label selector requirement: key, operator and values."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) "
                ": (!has(self.values) || size(self.values) == 0)",
                "In and NotIn need values; Exists and DoesNotExist take none",
            )
        )
    )

    key: str = Field(min_length=1, max_length=317, description="The label key the selector applies to.")
    operator: SelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[Annotated[str, StringConstraints(max_length=63)]] | None = Field(
        default=None, max_length=64, description="Label values for In and NotIn."
    )


class LabelSelector(ApiModel):
    """A Kubernetes label selector. It must not be empty: an empty selector would match everything."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "(has(self.matchLabels) && size(self.matchLabels) > 0) || "
                "(has(self.matchExpressions) && size(self.matchExpressions) > 0)",
                "namespaceSelector must not be empty: it would select every namespace",
            )
        )
    )

    match_labels: dict[str, Annotated[str, StringConstraints(max_length=63)]] | None = Field(
        default=None, max_length=32, description="Labels a namespace must carry (all of them)."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, max_length=16, description="Requirements a namespace's labels must meet (all of them)."
    )


class AccessScope(ApiModel):
    """Where the support team gets access: a namespace list or a namespace label selector, exactly one."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "(has(self.namespaces) && size(self.namespaces) > 0) != has(self.namespaceSelector)",
                "scope needs exactly one of namespaces or namespaceSelector",
            )
        )
    )

    namespaces: list[DnsLabel] | None = Field(
        default=None,
        max_length=64,
        description="Namespaces the team may access.",
        json_schema_extra=schema_extra(list_set=True),
    )
    namespace_selector: LabelSelector | None = Field(
        default=None,
        description="Label selector of the namespaces the team may access; namespaces created later that "
        "match are included without editing the contract.",
    )


class AccessSpec(ApiModel):
    """Remote access of the support team to the platform. Omitted: the operator provisions no access."""

    mode: AccessMode = Field(
        default=AccessMode.PERSONAL, description="Personal (one identity per member) or Team (one shared)."
    )
    scope: AccessScope = Field(description="Namespaces the access applies to.")
    base_roles: list[RoleName] = Field(
        default=["support-readonly"],
        min_length=1,
        max_length=8,
        description="ClusterRoles bound in every scoped namespace; must be on the operator's allow-list.",
        json_schema_extra=schema_extra(list_set=True),
    )
    elevated_role: RoleName = Field(
        default="edit",
        description="ClusterRole granted in a production incident's affected namespaces while it is open.",
    )
    elevation_max_duration: Duration = Field(
        default="8h",
        description="Longest time an elevation lasts, even if the incident stays open.",
        json_schema_extra=duration_rules("elevationMaxDuration", longer_than="0s"),
    )
    token_ttl: Duration = Field(
        default="1h",
        alias="tokenTTL",
        description="Lifetime of the identities' tokens (at least 10m); they are rotated before expiry. "
        "The operator caps it at its configured maximum.",
        json_schema_extra=duration_rules("tokenTTL", at_least="10m"),
    )
    elevation: ElevationSpec | None = Field(
        default=None, description="How an elevation starts; omitted: with the incident, no approval."
    )
    api_server_url: str | None = Field(
        default=None,
        alias="apiServerURL",
        max_length=2048,
        pattern=r"^https://[^\s/]+(/[^\s]*)?$",
        description="External API server URL written into kubeconfigs; default: the cluster's own.",
    )
    ca_bundle: str | None = Field(
        default=None,
        max_length=65536,
        pattern=r"^[A-Za-z0-9+/]*={0,2}$",
        description="Base64-encoded PEM CA bundle for apiServerURL; default: the cluster's CA.",
    )


class ApprovalMode(StrEnum):
    """Required: an elevation waits until the customer approves it on the case (`kubectl support approve`)."""

    REQUIRED = "Required"
    NOT_REQUIRED = "NotRequired"


class ElevationSpec(ApiModel):
    """How an elevation starts."""

    approval: ApprovalMode = Field(
        default=ApprovalMode.NOT_REQUIRED,
        description="Required: the elevated role is granted only while someone of the customer side has "
        "approved it on the case (spec.elevationApproval); NotRequired: with the incident.",
    )


class CaseNamespaces(ApiModel):
    """Namespaces from which cases may be opened under the contract: a list or a label selector."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "(has(self.namespaces) && size(self.namespaces) > 0) != has(self.namespaceSelector)",
                "caseNamespaces needs exactly one of namespaces or namespaceSelector",
            )
        )
    )

    namespaces: list[DnsLabel] | None = Field(
        default=None,
        max_length=256,
        description="Namespaces that may open cases under the contract.",
        json_schema_extra=schema_extra(list_set=True),
    )
    namespace_selector: LabelSelector | None = Field(
        default=None, description="Label selector of the namespaces that may open cases under the contract."
    )


class Pikett(ApiModel):
    """Pikett (on-call standby): extends coverage for production incidents beyond the support hours."""

    enabled: bool = Field(default=True, description="Whether the Pikett add-on is active.")
    reaction_time: Duration = Field(
        description="Reaction time for production incidents reported outside support hours, e.g. 1h.",
        json_schema_extra=duration_rules("pikett reactionTime", longer_than="0s"),
    )
    hours: SupportHours | None = Field(
        default=None, description="Pikett coverage hours, same shape as supportHours; omitted: 24/7."
    )


class SupportPackage(ApiModel):
    """A prepaid package of support hours."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "self.expiresOn > self.purchasedOn",
                "expiresOn must be after purchasedOn",
                field_path=".expiresOn",
            )
        )
    )

    name: DnsLabel = Field(description="Unique package name, e.g. 2026-q1.")
    hours: int = Field(ge=1, le=100000, description="Prepaid hours.")
    purchased_on: dt.date = Field(
        description="Purchase date (YYYY-MM-DD); effort before it is not charged to it."
    )
    expires_on: dt.date = Field(description="Expiry date (YYYY-MM-DD, exclusive); unused hours expire.")


class AddOns(ApiModel):
    """Add-ons booked on top of the base offer."""

    pikett: Pikett | None = Field(default=None, description="On-call standby outside support hours.")
    packages: list[SupportPackage] | None = Field(
        default=None,
        max_length=64,
        description="Prepaid hour packages, consumed in order of expiry.",
        json_schema_extra=schema_extra(list_map_keys=("name",)),
    )
    trainings: bool = Field(default=False, description="Customer trainings are booked.")
    consulting: bool = Field(default=False, description="Consulting (beyond consultation cases) is booked.")


class Billing(ApiModel):
    """How effort is billed."""

    mode: BillingMode = Field(
        default=BillingMode.MONTHLY, description="Package (charged to prepaid packages first) or Monthly."
    )
    increment_minutes: int = Field(
        default=15,
        ge=1,
        le=60,
        description="Billing increment in minutes; each case's monthly effort is rounded up to it.",
        json_schema_extra=schema_extra(
            # Guarded: below 1 the minimum refuses it; `60 % 0` would speak CEL ("modulus by zero").
            cel(
                "self < 1 || 60 % self == 0",
                "incrementMinutes must divide an hour (e.g. 5, 6, 10, 15, 30, 60)",
            )
        ),
    )


class TrainingRecord(ApiModel):
    """A training completed by a team member (the offer: one person-day per member and year)."""

    member: DnsLabel = Field(description="Name of the team member.")
    date: dt.date = Field(description="Day the training took place or started (YYYY-MM-DD).")
    days: int = Field(ge=1, le=30, description="Length in whole person-days.")
    topic: str | None = Field(default=None, max_length=256, description="What the training covered.")


class KnowledgeTransferRecord(ApiModel):
    """A completed knowledge transfer to a new team member."""

    member: DnsLabel = Field(description="Name of the new team member.")
    completed_on: dt.date = Field(description="Day the transfer was completed (YYYY-MM-DD).")
    note: str | None = Field(default=None, max_length=1024, description="Free text.")


class Notification(ApiModel):
    """E-mail settings: the confirmation of incoming cases and other notices."""

    smtp_secret_ref: SecretReference = Field(
        description="Secret with the SMTP settings: keys host, port, and optional username, password, "
        "tls (starttls|tls|none)."
    )
    from_address: EmailAddress = Field(alias="from", description="Sender address of the e-mails.")
    reply_to: EmailAddress | None = Field(default=None, description="Reply-To address; default: from.")
    team_address: EmailAddress | None = Field(
        default=None, description="Team mailbox copied on every confirmation; default: each member's e-mail."
    )


class Records(ApiModel):
    """How the contract's records are kept: how far a claimed acknowledgement may lie from the moment the
    operator observed it, and how long closed cases stay after their effort is billed."""

    acknowledgement_tolerance: Duration = Field(
        default="5m",
        description="An analysisStartedAt within this time of the moment the operator observed it counts "
        "as evidence Observed; an earlier claim (a phone case entered later) as Recorded.",
        json_schema_extra=duration_rules("acknowledgementTolerance"),
    )
    retention_days: int = Field(
        default=0,
        ge=0,
        le=3650,
        description="Days a closed case whose effort is in an issued SupportStatement is kept before it "
        "may be deleted (0: as soon as it is billed).",
    )


class ContractPeriod(ApiModel):
    """The contract's term."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "!has(self.end) || self.end > self.start", "period end must be after start", field_path=".end"
            )
        )
    )

    start: dt.date = Field(description="First day of the contract (YYYY-MM-DD).")
    end: dt.date | None = Field(
        default=None, description="Last day of the contract (inclusive); omitted: open-ended."
    )


class SupportContractSpec(ApiModel):
    """The support contract: who is supported, when, how fast, by whom, and with which access."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "self.billing.mode != 'Package' || "
                "(has(self.addOns.packages) && size(self.addOns.packages) > 0)",
                "billing mode Package needs at least one package in addOns.packages",
                field_path=".billing.mode",
            )
        )
    )

    customer: Customer = Field(description="The customer holding the contract.")
    distribution: Distribution | None = Field(
        default=None, description="OpenShift, Rancher or Kubernetes; omitted: detected from the API groups."
    )
    reaction_time: ReactionTime = Field(
        description="Reaction time, 2h or 8h (the offer's two variants), counted in support time."
    )
    support_hours: SupportHours = Field(
        default_factory=SupportHours,
        description="Support time in which reaction times are counted.",
        json_schema_extra=schema_extra(default={}),
    )
    language: Language = Field(
        default=Language.DE, description="Customer language for e-mails (de, fr, it, en)."
    )
    team: list[TeamMember] = Field(
        min_length=1,
        max_length=50,
        description="The support team (the offer: at least three members who speak the customer's language).",
        json_schema_extra=schema_extra(list_map_keys=("name",)),
    )
    access: AccessSpec | None = Field(default=None, description="Remote access of the support team.")
    case_namespaces: CaseNamespaces | None = Field(
        default=None,
        description="Namespaces that may open cases under the contract; a case from elsewhere gets "
        "Ready=False NotEntitled (no e-mail, no elevation, no billing). Omitted: any namespace.",
    )
    add_ons: AddOns = Field(
        default_factory=AddOns, description="Booked add-ons.", json_schema_extra=schema_extra(default={})
    )
    billing: Billing = Field(
        default_factory=Billing,
        description="How effort is billed.",
        json_schema_extra=schema_extra(default={}),
    )
    trainings: list[TrainingRecord] | None = Field(
        default=None,
        max_length=500,
        description="Trainings of team members (one person-day per member and year is due).",
        json_schema_extra=schema_extra(list_map_keys=("member", "date")),
    )
    knowledge_transfers: list[KnowledgeTransferRecord] | None = Field(
        default=None,
        max_length=200,
        description="Knowledge transfers completed for new team members.",
        json_schema_extra=schema_extra(list_map_keys=("member",)),
    )
    notification: Notification | None = Field(
        default=None, description="E-mail settings; omitted: no e-mails are sent."
    )
    intake: IntakeSpec | None = Field(
        default=None, description="How cases come in besides YAML: a mailbox, the platform's alerts."
    )
    period: ContractPeriod | None = Field(default=None, description="Contract term; omitted: open-ended.")
    suspended: bool = Field(
        default=False, description="Suspends the contract: access is revoked and no new case is accepted."
    )
    diagnostics: DiagnosticsSpec | None = Field(
        default=None, description="Intake snapshot of new cases; omitted: enabled with the defaults."
    )
    records: Records = Field(
        default_factory=Records,
        description="Evidence tolerance of acknowledgements and retention of billed cases.",
        json_schema_extra=schema_extra(default={}),
    )


# --- status -------------------------------------------------------------------------------------------


class Holiday(ApiModel):
    """A closed day of the business calendar."""

    date: dt.date = Field(description="The day (YYYY-MM-DD).")
    name: str = Field(max_length=128, description="Name of the holiday or 'closed'.")


class OpenCases(ApiModel):
    """Open cases of the contract by priority."""

    p1: int = Field(default=0, ge=0, description="Open production incidents.")
    p2: int = Field(default=0, ge=0, description="Open non-production incidents.")
    p3: int = Field(default=0, ge=0, description="Open consultations.")
    total: int = Field(default=0, ge=0, description="All open cases.")


class PlatformRecord(ApiModel):
    """What the operator found out about the platform."""

    distribution: Distribution | None = Field(default=None, description="Detected or declared distribution.")
    kubernetes_version: str | None = Field(default=None, max_length=64, description="Kubernetes version.")
    openshift_version: str | None = Field(default=None, max_length=64, description="OpenShift version.")
    rancher_version: str | None = Field(default=None, max_length=64, description="Rancher version.")
    detected_at: AwareDatetime | None = Field(default=None, description="When the record was last refreshed.")


class IdentityKind(StrEnum):
    """How an identity reaches the platform."""

    SERVICE_ACCOUNT = "ServiceAccount"
    OPENSHIFT_USER = "OpenShiftUser"
    RANCHER_PRINCIPAL = "RancherPrincipal"


class NamespacedName(ApiModel):
    """Namespace and name of an object."""

    namespace: DnsLabel = Field(description="Namespace of the object.")
    name: ObjectName = Field(description="Name of the object.")


class IdentityStatus(ApiModel):
    """An identity the operator provisioned for the support team."""

    member: DnsLabel = Field(description="Team member the identity belongs to; 'team' for the Team identity.")
    kind: IdentityKind = Field(description="ServiceAccount, OpenShiftUser or RancherPrincipal.")
    service_account: NamespacedName | None = Field(
        default=None, description="ServiceAccount of the identity."
    )
    username: str | None = Field(
        default=None, max_length=512, description="Platform user or principal bound."
    )
    kubeconfig_secret: NamespacedName | None = Field(
        default=None, description="Secret holding the kubeconfig."
    )
    token_expires_at: AwareDatetime | None = Field(default=None, description="Expiry of the current token.")
    credential_id: str | None = Field(
        default=None,
        alias="credentialID",
        max_length=128,
        description="JTI of the current token: kube-apiserver's audit log names it in "
        "user.extra[authentication.kubernetes.io/credential-id].",
    )


class TokenRecord(ApiModel):
    """A token the operator minted: the audit trail links the audit log's credential id to a member."""

    credential_id: str = Field(
        alias="credentialID", min_length=1, max_length=128, description="The token's JTI (credential id)."
    )
    member: DnsLabel = Field(description="Team member (or 'team') the token was minted for.")
    service_account: str = Field(
        max_length=253, description="ServiceAccount (namespace/name) the token authenticates as."
    )
    issued_at: AwareDatetime = Field(description="When the token was minted.")
    expires_at: AwareDatetime = Field(description="When the token expires (as the API server granted it).")


class SkippedNamespace(ApiModel):
    """A namespace in the contract's scope or a case's affected namespaces that got no binding."""

    name: DnsLabel = Field(description="The namespace.")
    reason: str = Field(max_length=256, description="Why no binding was created there.")


class PackageBalance(ApiModel):
    """Balance of a prepaid package."""

    name: DnsLabel = Field(description="Package name.")
    purchased_minutes: int = Field(ge=0, description="Prepaid time in minutes.")
    used_minutes: int = Field(default=0, description="Billed effort charged to the package, in minutes.")
    remaining_minutes: int = Field(default=0, description="What is left, in minutes.")
    expires_on: dt.date = Field(description="Expiry date.")
    expired: bool = Field(default=False, description="Whether the package has expired.")


class MonthlyUsage(ApiModel):
    """Billed effort of one calendar month."""

    month: str = Field(
        min_length=7, max_length=7, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM."
    )
    incident_minutes: int = Field(default=0, description="Billed incident effort, in minutes.")
    consultation_minutes: int = Field(default=0, description="Billed consultation effort, in minutes.")
    package_minutes: int = Field(default=0, description="Effort charged to packages, in minutes.")
    invoiced_minutes: int = Field(
        default=0, description="Effort beyond packages, invoiced monthly, in minutes."
    )


class TrainingObligation(ApiModel):
    """Whether a member's yearly training day is done."""

    member: DnsLabel = Field(description="Team member.")
    year: int = Field(ge=2000, le=9999, description="Calendar year.")
    days: int = Field(default=0, ge=0, description="Training days recorded in that year.")
    fulfilled: bool = Field(default=False, description="At least one person-day recorded.")


class PendingKnowledgeTransfer(ApiModel):
    """A new team member whose knowledge transfer is not recorded yet."""

    member: DnsLabel = Field(description="The new team member.")
    since: AwareDatetime = Field(description="When the member joined the contract's team.")


class SupportContractStatus(ApiModel):
    """Observed state of the contract, written by the operator."""

    observed_generation: int | None = Field(default=None, ge=0, description="Generation last reconciled.")
    conditions: list[Condition] | None = Field(
        default=None,
        max_length=MAX_CONDITIONS,
        description="Ready, TeamStaffed, AccessProvisioned and more.",
        json_schema_extra=CONDITIONS_EXTRA,
    )
    holidays: list[Holiday] | None = Field(
        default=None, max_length=200, description="Closed days of this and next year."
    )
    open_cases: OpenCases | None = Field(default=None, description="Open cases by priority.")
    team_size: int | None = Field(default=None, ge=0, description="Number of team members.")
    platform: PlatformRecord | None = Field(default=None, description="Record of the platform.")
    identities: list[IdentityStatus] | None = Field(
        default=None,
        max_length=100,
        description="Identities provisioned for the team.",
        json_schema_extra=schema_extra(list_map_keys=("member", "kind")),
    )
    granted_namespaces: list[DnsLabel] | None = Field(
        default=None,
        max_length=1000,
        description="Namespaces where the support team holds its base roles (and may work on cases).",
        json_schema_extra=schema_extra(list_set=True),
    )
    skipped_namespaces: list[SkippedNamespace] | None = Field(
        default=None,
        max_length=100,
        description="Namespaces that matched the scope or an incident but are protected: never bound.",
        json_schema_extra=schema_extra(list_map_keys=("name",)),
    )
    tokens: list[TokenRecord] | None = Field(
        default=None,
        max_length=200,
        description="Audit trail: the most recent tokens minted for the team, oldest first.",
        json_schema_extra=schema_extra(list_map_keys=("credentialID",)),
    )
    packages: list[PackageBalance] | None = Field(
        default=None,
        max_length=64,
        description="Balances of the prepaid packages.",
        json_schema_extra=schema_extra(list_map_keys=("name",)),
    )
    months: list[MonthlyUsage] | None = Field(
        default=None,
        max_length=36,
        description="Billed effort per month, most recent months.",
        json_schema_extra=schema_extra(list_map_keys=("month",)),
    )
    trainings: list[TrainingObligation] | None = Field(
        default=None,
        max_length=500,
        description="Yearly training obligation per member.",
        json_schema_extra=schema_extra(list_map_keys=("member", "year")),
    )
    pending_knowledge_transfers: list[PendingKnowledgeTransfer] | None = Field(
        default=None,
        max_length=50,
        description="New members whose knowledge transfer is still due.",
        json_schema_extra=schema_extra(list_map_keys=("member",)),
    )
    billing_since: str | None = Field(
        default=None,
        min_length=7,
        max_length=7,
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="First month (YYYY-MM) the operator issues a SupportStatement for; set once.",
    )
    statements: list[Annotated[str, StringConstraints(min_length=7, max_length=7)]] | None = Field(
        default=None,
        max_length=36,
        description="Months (YYYY-MM) with an issued SupportStatement, most recent last.",
        json_schema_extra=schema_extra(list_set=True),
    )
    observed_team: list[DnsLabel] | None = Field(
        default=None,
        max_length=50,
        description="Team members as of the last reconcile; a member missing here has joined since and "
        "owes a knowledge transfer.",
        json_schema_extra=schema_extra(list_set=True),
    )


class SupportContract(ResourceModel):
    """A SupportContract resource."""

    kind: Literal["SupportContract"] = CONTRACT_KIND
    spec: SupportContractSpec
    status: SupportContractStatus | None = None
