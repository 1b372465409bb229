"""SupportCase: one reported problem or consultation question (namespaced: teams open cases from their
own namespace)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from support_operator.api.v1alpha1.common import (
    CONDITIONS_EXTRA,
    MAX_CONDITIONS,
    ApiModel,
    Condition,
    DnsLabel,
    Duration,
    EmailAddress,
    ObjectName,
    ResourceModel,
    cel,
    duration_rules,
    matching,
    schema_extra,
)
from support_operator.api.v1alpha1.diagnostics import DiagnosisStatus
from support_operator.domain.sla import Category
from support_operator.domain.sla import Impact as Impact
from support_operator.domain.sla import ReactionState as ReactionState

CaseCategory = Category  # one set of enums: the API uses the domain's (domain/sla.py)
CASE_KIND: Final = "SupportCase"
CASE_PLURAL = "supportcases"
CASE_SINGULAR = "supportcase"
CASE_SHORT_NAMES = ("scase",)

# Effort as signed whole minutes or hours and minutes: 90, 1h30m, 45m, -15m (a correction). No fractions.
EFFORT_DURATION_PATTERN = r"^-?([0-9]{1,5}|[0-9]{1,4}h([0-9]{1,5}m)?|[0-9]{1,5}m)$"
EFFORT_DURATION_MESSAGE = (
    "effort duration must be whole minutes (90) or hours and minutes (1h30m, 45m), negative for corrections"
)
EFFORT_REMOVED_MESSAGE = (
    "effort entries are append-only: they cannot be removed; record a correction as a new entry"
)
EffortDurationText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=12),
    matching(EFFORT_DURATION_PATTERN, EFFORT_DURATION_MESSAGE),
]
EffortMinutes = Annotated[int, Field(ge=-100000, le=100000)]


class ReportChannel(StrEnum):
    """How the case was reported."""

    PHONE = "Phone"
    EMAIL = "Email"
    PORTAL = "Portal"
    KUBECTL = "Kubectl"
    ALERT = "Alert"


class CaseState(StrEnum):
    """Lifecycle state of a case."""

    NEW = "New"
    IN_ANALYSIS = "InAnalysis"
    WAITING_FOR_CUSTOMER = "WaitingForCustomer"
    RESOLVED = "Resolved"
    CLOSED = "Closed"


class Priority(StrEnum):
    """P1: production incident, P2: non-production incident, P3: consultation."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


class ReactionEvidence(StrEnum):
    """Observed: the operator saw the acknowledgement arrive within the contract's tolerance of the claimed
    analysisStartedAt. Recorded: the claim differs from what was observed (entered later, e.g. a phone
    case; or claimed ahead of time), so it rests on the record alone."""

    OBSERVED = "Observed"
    RECORDED = "Recorded"


class Calendar(StrEnum):
    """Which business calendar the reaction deadline was computed in."""

    STANDARD = "Standard"
    PIKETT = "Pikett"


OPEN_STATES = frozenset({CaseState.NEW, CaseState.IN_ANALYSIS, CaseState.WAITING_FOR_CUSTOMER})


class ContractReference(ApiModel):
    """Reference to the SupportContract the case is filed under."""

    name: ObjectName = Field(description="Name of the SupportContract (cluster-scoped).")


class Reporter(ApiModel):
    """Who reported the case; receives the confirmation e-mail."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "has(self.email) || has(self.phone)",
                "reporter needs an email or a phone number so the support team can reach them",
            )
        )
    )

    name: str = Field(min_length=1, max_length=128, description="Name of the reporting person.")
    email: EmailAddress | None = Field(default=None, description="E-mail address of the reporter.")
    phone: str | None = Field(
        default=None,
        min_length=3,
        max_length=32,
        pattern=r"^\+?[0-9][0-9 ()./-]{1,31}$",
        description="Phone number of the reporter, e.g. +41 31 370 22 00.",
    )


class EffortEntry(ApiModel):
    """Time spent on the case by a team member. Entries are append-only: a correction is a new entry with
    a negative duration and a reason."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "self == oldSelf",
                "effort entries are append-only: record a correction as a new entry "
                "with a negative duration and a reason",
            ),
            cel(
                "has(self.reason) || !string(self.duration).startsWith('-')",
                "a negative (correcting) effort entry needs a reason",
                field_path=".reason",
            ),
            cel(
                f"string(self.duration).matches('{EFFORT_DURATION_PATTERN}')",
                EFFORT_DURATION_MESSAGE,
                field_path=".duration",
            ),
            cel(
                "string(self.duration).matches('[1-9]')",
                "effort duration must not be zero",
                field_path=".duration",
            ),
        )
    )

    id: DnsLabel = Field(description="Unique ID of the entry within the case, e.g. e-20261103-alice-1.")
    member: DnsLabel = Field(description="Team member who did the work.")
    date: dt.date = Field(description="Day the work was done (YYYY-MM-DD).")
    duration: EffortMinutes | EffortDurationText = Field(
        description="Effort as whole minutes (90) or a duration of hours and minutes (1h30m); "
        "negative for corrections (-15m).",
    )
    note: str | None = Field(default=None, max_length=1024, description="What was done.")
    reason: str | None = Field(
        default=None, min_length=1, max_length=1024, description="Why the entry corrects an earlier one."
    )

    def minutes(self) -> int:
        """The signed effort in minutes."""
        if isinstance(self.duration, int):
            return self.duration
        sign = -1 if self.duration.startswith("-") else 1
        text = self.duration.lstrip("-")
        if text.isdigit():
            return sign * int(text)
        hours, _, rest = text.partition("h") if "h" in text else ("0", "", text)
        return sign * (int(hours) * 60 + int(rest.removesuffix("m") or "0"))


class ElevationApproval(ApiModel):
    """The customer's approval of the elevated role for this incident (`kubectl support approve`).
    kube-apiserver checks (ValidatingAdmissionPolicy) that the approver, or who revokes, is the requesting
    user and no support identity."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "self.expiresAt > self.approvedAt",
                "expiresAt must be after approvedAt",
                field_path=".expiresAt",
            ),
            cel(
                "has(self.revokedAt) == has(self.revokedBy)",
                "revokedAt and revokedBy go together",
                field_path=".revokedBy",
            ),
        )
    )

    approver: str = Field(min_length=1, max_length=512, description="User name of who approved.")
    reason: str = Field(min_length=1, max_length=1024, description="Why the elevation is approved.")
    approved_at: AwareDatetime = Field(description="When the approval starts.")
    expires_at: AwareDatetime = Field(description="When the approval ends.")
    revoked_at: AwareDatetime | None = Field(default=None, description="When the approval was revoked.")
    revoked_by: str | None = Field(
        default=None, min_length=1, max_length=512, description="User name of who revoked it."
    )


class SupportCaseSpec(ApiModel):
    """The case as reported, and its state as set by the support team."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "self.category != 'Incident' || has(self.impact)",
                "an Incident needs impact: Production or NonProduction",
                field_path=".impact",
            ),
            cel(
                "self.state == 'New' || has(self.analysisStartedAt)",
                "analysisStartedAt is required once the case leaves New: `kubectl support ack` sets both",
                field_path=".analysisStartedAt",
            ),
            cel(
                "self.state != 'New' || !has(self.analysisStartedAt)",
                "analysisStartedAt needs a state past New (InAnalysis): a New case has not been "
                "acknowledged; `kubectl support ack` sets both",
                field_path=".analysisStartedAt",
            ),
            cel(
                "!has(self.analysisStartedAt) || !has(self.reportedAt) || "
                "self.analysisStartedAt >= self.reportedAt",
                "analysisStartedAt cannot be before reportedAt",
                field_path=".analysisStartedAt",
            ),
            cel(
                "!has(oldSelf.analysisStartedAt) || "
                "(has(self.analysisStartedAt) && self.analysisStartedAt == oldSelf.analysisStartedAt)",
                "analysisStartedAt is immutable once set",
                field_path=".analysisStartedAt",
            ),
            cel(
                "!has(oldSelf.effort) || size(oldSelf.effort) == 0 || has(self.effort)",
                EFFORT_REMOVED_MESSAGE,
                field_path=".effort",
            ),
            cel(
                "has(self.reportedAt) == has(oldSelf.reportedAt)",
                "reportedAt cannot be added or removed after creation (it defaults to the creation time)",
                field_path=".reportedAt",
            ),
        )
    )

    contract_ref: ContractReference = Field(
        description="The SupportContract the case is filed under; immutable.",
        json_schema_extra=schema_extra(
            cel("self == oldSelf", "contractRef is immutable: open a new case for another contract")
        ),
    )
    title: str = Field(min_length=1, max_length=200, description="One-line summary of the problem.")
    description: str | None = Field(
        default=None, max_length=16384, description="What happened, what was tried, error messages."
    )
    category: CaseCategory = Field(description="Incident or Consultation.")
    impact: Impact | None = Field(
        default=None, description="Production or NonProduction; required for incidents."
    )
    reported_at: AwareDatetime | None = Field(
        default=None,
        description="When the case was reported (RFC 3339), e.g. the time of the phone call; the reaction "
        "time counts from here. Omitted: the creation time. Immutable.",
        json_schema_extra=schema_extra(cel("self == oldSelf", "reportedAt is immutable")),
    )
    reported_via: ReportChannel = Field(
        default=ReportChannel.KUBECTL, description="Phone, Email, Portal, Kubectl or Alert."
    )
    reporter: Reporter = Field(description="Who reported the case.")
    affected_namespaces: list[DnsLabel] | None = Field(
        default=None,
        max_length=32,
        description="Namespaces affected by the case; omitted: the case's own namespace.",
        json_schema_extra=schema_extra(list_set=True),
    )
    state: CaseState = Field(
        default=CaseState.NEW,
        description="New, InAnalysis, WaitingForCustomer, Resolved or Closed; set by the support team.",
        json_schema_extra=schema_extra(
            cel("oldSelf != 'Closed' || self == 'Closed'", "a Closed case is final: open a new case instead"),
            cel("self != 'New' || oldSelf == 'New'", "a case cannot return to New once analysis has started"),
        ),
    )
    analysis_started_at: AwareDatetime | None = Field(
        default=None,
        description="When the support team started the analysis (the reaction the SLA measures); "
        "set by `kubectl support ack`, immutable once set.",
    )
    elevation_approval: ElevationApproval | None = Field(
        default=None,
        description="The customer's approval of the elevated role, when the contract requires one; "
        "written by the customer side only.",
    )
    effort: list[EffortEntry] | None = Field(
        default=None,
        max_length=200,
        description="Effort ledger of the case, append-only.",
        json_schema_extra=schema_extra(
            cel("oldSelf.all(old, self.exists(e, e.id == old.id))", EFFORT_REMOVED_MESSAGE),
            list_map_keys=("id",),
        ),
    )


# --- status -------------------------------------------------------------------------------------------


class ReactionStatus(ApiModel):
    """The reaction SLA of the case."""

    target: Duration = Field(
        description="Reaction time that applies, in support time, e.g. 2h.",
        json_schema_extra=duration_rules("target"),
    )
    calendar: Calendar = Field(description="Standard (support hours) or Pikett (on-call hours).")
    reported_at: AwareDatetime = Field(description="Effective report time the clock starts from.")
    deadline: AwareDatetime = Field(description="Wall-clock instant by which analysis must have started.")
    state: ReactionState = Field(description="Pending, Met or Breached.")
    analysis_started_at: AwareDatetime | None = Field(default=None, description="When analysis started.")
    acknowledged_observed_at: AwareDatetime | None = Field(
        default=None,
        description="When the operator observed analysisStartedAt being set (the API server's managedFields "
        "time of that write, else the watch event); recorded once.",
    )
    evidence: ReactionEvidence | None = Field(
        default=None, description="Observed or Recorded: how far the claimed analysisStartedAt is backed."
    )


class ConfirmationStatus(ApiModel):
    """The confirmation e-mail of the incoming case (sent exactly once)."""

    sent_at: AwareDatetime = Field(description="When the e-mail was accepted by the SMTP server.")
    message_id: str = Field(alias="messageID", max_length=998, description="Message-ID header of the e-mail.")
    recipients: list[EmailAddress] = Field(max_length=64, description="Recipients of the e-mail.")


class HistoryEntry(ApiModel):
    """A notable transition of the case."""

    at: AwareDatetime = Field(description="When it happened.")
    type: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Z][A-Za-z0-9]*$",
        description="CamelCase kind, e.g. StateChanged.",
    )
    message: str = Field(default="", max_length=1024, description="Human-readable details.")


class EffortTotals(ApiModel):
    """Totals of the effort ledger."""

    entries: int = Field(default=0, ge=0, description="Number of effort entries.")
    total_minutes: int = Field(default=0, description="Sum of all entries, in minutes.")
    billable_minutes: int = Field(
        default=0, description="Effort rounded up to the contract's billing increment, in minutes."
    )


class CaseBilling(ApiModel):
    """Where the case's effort stands in the contract's issued SupportStatements."""

    billed_entries: int = Field(default=0, ge=0, description="Effort entries in issued statements.")
    statements: list[ObjectName] | None = Field(
        default=None,
        max_length=64,
        description="Names of the SupportStatements that bill this case's effort.",
        json_schema_extra=schema_extra(list_set=True),
    )
    retained_until: AwareDatetime | None = Field(
        default=None, description="The case is kept until then (the contract's records.retentionDays)."
    )
    releasable: bool = Field(
        default=False,
        description="Closed, every effort entry billed and retention over: the case may be deleted.",
    )


MAX_HISTORY = 20
MAX_CONVERSATION = 30
CONVERSATION_TEXT_LIMIT = 2000


class ConversationEntry(ApiModel):
    """A message about the case after it was opened: a mail that reached the intake mailbox (a reply to our
    confirmation, for example) or an alert group that resolved. The shape of the e-mail intake's entries
    plus `channel`."""

    at: AwareDatetime = Field(description="When it arrived (IMAP INTERNALDATE) or happened (alert endsAt).")
    sender: str = Field(max_length=320, description="The mail's From address, or the Alertmanager receiver.")
    subject: str = Field(default="", max_length=998, description="The mail's subject or a one-line summary.")
    message_id: str = Field(
        alias="messageID", max_length=998, description="The mail's Message-ID or another unique key."
    )
    text: str = Field(
        default="",
        max_length=CONVERSATION_TEXT_LIMIT + 100,
        description="The text part, shortened; the whole mail stays in the processed folder.",
    )
    channel: ReportChannel | None = Field(
        default=None, description="Email or Alert; omitted: Email (entries of the mailbox)."
    )


class SupportCaseStatus(ApiModel):
    """Observed state of the case, written by the operator."""

    observed_generation: int | None = Field(default=None, ge=0, description="Generation last reconciled.")
    conditions: list[Condition] | None = Field(
        default=None,
        max_length=MAX_CONDITIONS,
        description="Ready, Confirmed and more.",
        json_schema_extra=CONDITIONS_EXTRA,
    )
    observed_state: CaseState | None = Field(
        default=None, description="spec.state as last processed; state transitions are recorded against it."
    )
    priority: Priority | None = Field(default=None, description="P1, P2 or P3.")
    queue_position: int | None = Field(
        default=None, ge=1, description="Position among the contract's open cases."
    )
    reaction: ReactionStatus | None = Field(default=None, description="Reaction SLA.")
    confirmation: ConfirmationStatus | None = Field(default=None, description="The confirmation e-mail.")
    history: list[HistoryEntry] | None = Field(
        default=None, max_length=MAX_HISTORY, description="Most recent transitions, oldest first."
    )
    effort: EffortTotals | None = Field(default=None, description="Totals of the effort ledger.")
    conversation: list[ConversationEntry] | None = Field(
        default=None,
        max_length=MAX_CONVERSATION,
        description="Messages about the case (mails, resolved alerts), oldest first (the most recent ones).",
    )
    resolved_at: AwareDatetime | None = Field(default=None, description="When the case was first resolved.")
    closed_at: AwareDatetime | None = Field(default=None, description="When the case was closed.")
    diagnosis: DiagnosisStatus | None = Field(default=None, description="Intake snapshot and its findings.")
    billing: CaseBilling | None = Field(default=None, description="The case's effort in issued statements.")


class SupportCase(ResourceModel):
    """A SupportCase resource."""

    kind: Literal["SupportCase"] = CASE_KIND
    spec: SupportCaseSpec
    status: SupportCaseStatus | None = None
