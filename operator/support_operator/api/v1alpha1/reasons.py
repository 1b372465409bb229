"""Condition types and reasons the operator writes, spelled whole so that `grep` finds every use.

Reasons are part of the API: alerts, Argo CD health checks and runbooks match on them (docs/api.md).
Other reasons live beside the logic that owns them, also as whole names: `access/approval.py`
(ElevationApproved), `status/evidence.py` (Acknowledged), `intake/watcher.py` (EmailIntake),
`diagnostics/worker.py` (snapshots).
"""

from __future__ import annotations

from typing import Final

# Condition types.
READY: Final = "Ready"
CONFIRMED: Final = "Confirmed"
ACCESS_PROVISIONED: Final = "AccessProvisioned"
TEAM_STAFFED: Final = "TeamStaffed"

# SupportContract Ready, and why a contract is not usable (Availability.reason).
ACTIVE: Final = "Active"
INVALID_CALENDAR: Final = "InvalidCalendar"
SUSPENDED: Final = "Suspended"
NOT_STARTED: Final = "NotStarted"
EXPIRED: Final = "Expired"
NOT_ENTITLED: Final = "NotEntitled"  # the case's namespace is not in spec.caseNamespaces

# SupportContract TeamStaffed.
STAFFED: Final = "Staffed"
TOO_FEW_MEMBERS: Final = "TooFewMembers"
TOO_FEW_SPEAKERS: Final = "TooFewSpeakers"

# SupportCase Ready.
TRACKING: Final = "Tracking"
IMPACT_MISSING: Final = "ImpactMissing"
CONTRACT_NOT_FOUND: Final = "ContractNotFound"
CONTRACT_UNKNOWN: Final = "ContractUnknown"
CONTRACT_INVALID_CALENDAR: Final = "ContractInvalidCalendar"
CONTRACT_SUSPENDED: Final = "ContractSuspended"
CONTRACT_NOT_STARTED: Final = "ContractNotStarted"
CONTRACT_EXPIRED: Final = "ContractExpired"
# A case (and the access) waits while its contract is unusable: the contract's reason, prefixed.
CONTRACT_UNUSABLE: Final = {
    INVALID_CALENDAR: CONTRACT_INVALID_CALENDAR,
    SUSPENDED: CONTRACT_SUSPENDED,
    NOT_STARTED: CONTRACT_NOT_STARTED,
    EXPIRED: CONTRACT_EXPIRED,
}

# SupportCase Confirmed.
EMAIL_SENT: Final = "EmailSent"
EMAIL_SENDING: Final = "EmailSending"  # the intent, written before SMTP
EMAIL_FAILED: Final = "EmailFailed"
NOTIFICATION_NOT_CONFIGURED: Final = "NotificationNotConfigured"
PENDING: Final = "Pending"
WAITING_FOR_CONTRACT: Final = "WaitingForContract"

# SupportContract AccessProvisioned.
PROVISIONED: Final = "Provisioned"
NOT_REQUESTED: Final = "NotRequested"
FORBIDDEN: Final = "Forbidden"
PROVISIONING_FAILED: Final = "ProvisioningFailed"

# Event reasons (no condition).
CONFIRMATION_RESENT: Final = "ConfirmationResent"
STATEMENT_FAILED: Final = "StatementFailed"
INVALID_SPEC: Final = "InvalidSpec"


def contract_unusable(availability_reason: str) -> str:
    """The case's (and access') reason while its contract is unusable for `availability_reason`."""
    return CONTRACT_UNUSABLE.get(availability_reason, CONTRACT_UNKNOWN)
