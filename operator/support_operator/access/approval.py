"""The customer's approval of an elevation (contracts with `access.elevation.approval: Required`), the
Customer Lockbox model: the elevated role waits until someone of the customer side approves on the case
(`kubectl support approve`), and ends with the approval. Pure: no API calls.

kube-apiserver checks who wrote the record (deploy/base/admission/case-elevation-approval.yaml); the operator
only reads it: it grants in the window [approvedAt, min(expiresAt, revokedAt, report + elevationMaxDuration)).
"""

from __future__ import annotations

import datetime as dt

from support_operator.api.v1alpha1 import CaseCategory, Impact, SupportCase, SupportContract
from support_operator.api.v1alpha1.contract import ApprovalMode
from support_operator.status.conditions import Desired

CONDITION = "ElevationApproved"
APPROVED = "Approved"
AWAITING_APPROVAL = "AwaitingApproval"
APPROVAL_EXPIRED = "ApprovalExpired"
APPROVAL_REVOKED = "ApprovalRevoked"
REASONS = (APPROVED, AWAITING_APPROVAL, APPROVAL_EXPIRED, APPROVAL_REVOKED)


def required(contract: SupportContract | None) -> bool:
    access = contract.spec.access if contract is not None else None
    return bool(access and access.elevation and access.elevation.approval == ApprovalMode.REQUIRED)


def window(case: SupportCase) -> tuple[dt.datetime, dt.datetime] | None:
    """[start, end) of the approval; None when there is none. A revocation ends it early."""
    record = case.spec.elevation_approval
    if record is None:
        return None
    ends = record.expires_at if record.revoked_at is None else min(record.expires_at, record.revoked_at)
    return record.approved_at, ends


def wants_elevation(case: SupportCase) -> bool:
    return case.spec.category == CaseCategory.INCIDENT and case.spec.impact == Impact.PRODUCTION


def condition(
    case: SupportCase, contract: SupportContract | None, now: dt.datetime
) -> tuple[Desired | None, dt.datetime | None]:
    """The ElevationApproved condition of an open production incident under a contract requiring approval
    (None otherwise), and when it changes by itself (start or end of the approval)."""
    if not required(contract) or not wants_elevation(case) or case.spec.state.value in ("Resolved", "Closed"):
        return None, None
    record = case.spec.elevation_approval
    address = f"{case.metadata.namespace}/{case.metadata.name}"
    if record is None:
        message = (
            "the elevated role waits for the customer's approval: "
            f'kubectl support approve {address} --for 2h --reason "..."'
        )
        return Desired(CONDITION, False, AWAITING_APPROVAL, message), None
    if record.revoked_at is not None and record.revoked_at <= now:
        return Desired(
            CONDITION, False, APPROVAL_REVOKED, f"revoked by {record.revoked_by} at {_iso(record.revoked_at)}"
        ), None
    if record.expires_at <= now:
        return Desired(
            CONDITION, False, APPROVAL_EXPIRED, f"the approval ended at {_iso(record.expires_at)}"
        ), None
    if record.approved_at > now:
        message = f"approved by {record.approver} from {_iso(record.approved_at)}: {record.reason}"
        return Desired(CONDITION, False, AWAITING_APPROVAL, message), record.approved_at
    ends = record.expires_at if record.revoked_at is None else min(record.expires_at, record.revoked_at)
    message = f"approved by {record.approver} until {_iso(ends)}: {record.reason}"
    return Desired(CONDITION, True, APPROVED, message), ends


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
