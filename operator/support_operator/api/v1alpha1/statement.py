"""SupportStatement: the issued record of one month of a contract (cluster-scoped, owned by the contract).

The operator creates it once, after the month has ended in the contract's time zone; its spec never
changes (CEL). What arrives later for a month already issued (late effort) is billed as an adjustment line
of the next statement.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from support_operator.api.v1alpha1.case import CaseCategory, Priority, ReactionEvidence, ReactionState
from support_operator.api.v1alpha1.common import (
    ApiModel,
    DnsLabel,
    ResourceModel,
    cel,
    schema_extra,
)
from support_operator.api.v1alpha1.contract import BillingMode
from support_operator.domain.ledger import FeeKind as FeeKind

STATEMENT_KIND: Final = "SupportStatement"
STATEMENT_PLURAL = "supportstatements"
STATEMENT_SINGULAR = "supportstatement"
STATEMENT_SHORT_NAMES = ("sstmt",)
STATEMENT_IMMUTABLE_MESSAGE = (
    "a SupportStatement is issued once and never changes: late effort is billed as an adjustment "
    "in the next month's statement"
)
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
MAX_STATEMENT_CASES = 300
MAX_CASE_ENTRIES = 200

Month = Annotated[str, StringConstraints(min_length=7, max_length=7, pattern=MONTH_PATTERN)]
CaseName = Annotated[str, StringConstraints(min_length=3, max_length=317)]  # namespace/name
EntryId = Annotated[str, StringConstraints(min_length=1, max_length=63)]


class AdjustmentReason(StrEnum):
    """LateEffort: effort dated in a month whose statement was already issued."""

    LATE_EFFORT = "LateEffort"


class StatementContract(ApiModel):
    """The contract the statement belongs to."""

    name: str = Field(min_length=1, max_length=253, description="Name of the SupportContract.")
    uid: str | None = Field(default=None, max_length=64, description="UID of the SupportContract.")


class BilledFigures(ApiModel):
    """Billed time in minutes, split into prepaid packages and the invoice."""

    effort_minutes: int = Field(description="Effort as booked (signed sum of the entries).")
    billed_minutes: int = Field(description="Effort after corrections and rounding.")
    package_minutes: int = Field(default=0, description="Charged to prepaid packages.")
    invoiced_minutes: int = Field(default=0, description="Invoiced beyond packages.")


class StatementCase(BilledFigures):
    """A case's effort of the month."""

    case: CaseName = Field(description="namespace/name of the SupportCase.")
    uid: str = Field(max_length=64, description="UID of the SupportCase.")
    category: CaseCategory = Field(description="Incident or Consultation.")
    entries: list[EntryId] = Field(
        max_length=MAX_CASE_ENTRIES, description="IDs of the effort entries billed here."
    )


class StatementAdjustment(StatementCase):
    """Effort for a month already issued, billed in this statement instead of changing the earlier one."""

    month: Month = Field(description="The month the effort is dated in (YYYY-MM).")
    reason: AdjustmentReason = Field(description="Why the line is an adjustment.")


class StatementMember(ApiModel):
    """Effort of a team member in one category (regular lines and adjustments)."""

    member: DnsLabel = Field(description="Team member.")
    category: CaseCategory = Field(description="Incident or Consultation.")
    effort_minutes: int = Field(description="Effort as booked, in minutes.")


class StatementPackage(ApiModel):
    """A prepaid package: used by this statement, and its balance at the month's end."""

    name: DnsLabel = Field(description="Package name.")
    used_minutes: int = Field(ge=0, description="Charged by this statement.")
    remaining_minutes: int = Field(description="Left at the end of the month.")
    expires_on: dt.date = Field(description="Expiry date (exclusive).")
    expired: bool = Field(default=False, description="Expired by the end of the month.")
    forfeited_minutes: int = Field(default=0, ge=0, description="Expired unused.")


class StatementFlatFee(ApiModel):
    """A flat-fee item due in the month."""

    kind: FeeKind = Field(description="Training or KnowledgeTransfer.")
    member: DnsLabel = Field(description="Team member.")
    date: dt.date = Field(description="Day of the training or the completed transfer.")
    person_days: int = Field(default=0, ge=0, description="Training length; 0 for a knowledge transfer.")


class StatementReaction(ApiModel):
    """The settled reaction of a case."""

    case: CaseName = Field(description="namespace/name of the SupportCase.")
    uid: str = Field(max_length=64, description="UID of the SupportCase.")
    priority: Priority = Field(description="P1, P2 or P3.")
    reported_at: AwareDatetime = Field(description="When the case was reported.")
    deadline: AwareDatetime = Field(description="The reaction deadline.")
    state: ReactionState = Field(description="Met or Breached.")
    analysis_started_at: AwareDatetime | None = Field(default=None, description="Claimed analysis start.")
    evidence: ReactionEvidence | None = Field(
        default=None, description="Observed (seen live) or Recorded (claimed later)."
    )


class StatementTotals(ApiModel):
    """Totals of the statement, in minutes (adjustments included)."""

    incident_minutes: int = Field(default=0, description="Billed incident effort.")
    consultation_minutes: int = Field(default=0, description="Billed consultation effort.")
    package_minutes: int = Field(default=0, description="Charged to packages.")
    invoiced_minutes: int = Field(default=0, description="Invoiced beyond packages.")
    adjustment_minutes: int = Field(default=0, description="Billed by adjustment lines.")
    reactions_met_observed: int = Field(default=0, ge=0, description="Reactions met, observed live.")
    reactions_met_recorded: int = Field(default=0, ge=0, description="Reactions met, on the record only.")
    reactions_breached: int = Field(default=0, ge=0, description="Reactions breached.")


class SupportStatementSpec(ApiModel):
    """The statement as issued. Immutable."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(cel("self == oldSelf", STATEMENT_IMMUTABLE_MESSAGE))
    )

    contract_ref: StatementContract = Field(description="The SupportContract.")
    month: Month = Field(description="The month billed (YYYY-MM), in the contract's time zone.")
    time_zone: str = Field(min_length=1, max_length=64, description="The contract's time zone.")
    period_start: AwareDatetime = Field(description="First instant of the month.")
    period_end: AwareDatetime = Field(description="First instant after the month.")
    issued_at: AwareDatetime = Field(description="When the operator issued the statement.")
    billing_mode: BillingMode = Field(description="Package or Monthly.")
    increment_minutes: int = Field(ge=1, le=60, description="Rounding increment per case and month.")
    cases: list[StatementCase] | None = Field(
        default=None, max_length=MAX_STATEMENT_CASES, description="Effort of the month per case."
    )
    adjustments: list[StatementAdjustment] | None = Field(
        default=None, max_length=MAX_STATEMENT_CASES, description="Late effort for months already issued."
    )
    members: list[StatementMember] | None = Field(
        default=None, max_length=200, description="Effort per member and category."
    )
    packages: list[StatementPackage] | None = Field(
        default=None, max_length=64, description="Package consumption and balances."
    )
    flat_fees: list[StatementFlatFee] | None = Field(
        default=None, max_length=200, description="Trainings and knowledge transfers due."
    )
    reactions: list[StatementReaction] | None = Field(
        default=None,
        max_length=MAX_STATEMENT_CASES,
        description="Reactions settled since the last statement.",
    )
    totals: StatementTotals = Field(description="Totals, adjustments included.")


class SupportStatement(ResourceModel):
    """A SupportStatement resource."""

    kind: Literal["SupportStatement"] = STATEMENT_KIND
    spec: SupportStatementSpec


def statement_name(contract: str, month: str) -> str:
    return f"{contract}-{month}"
