"""Operator health metrics (reconcile errors, e-mail delivery, status writes) on the operator's registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter

PREFIX = "support_operator"


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.reconcile_errors = Counter(
            f"{PREFIX}_reconcile_errors",
            "Reconciles that failed and were retried.",
            ["kind"],
            registry=self.registry,
        )
        self.status_writes = Counter(
            f"{PREFIX}_status_writes",
            "Status patches written to the API server.",
            ["kind"],
            registry=self.registry,
        )
        self.emails_sent = Counter(
            f"{PREFIX}_confirmation_emails_sent",
            "Case confirmation e-mails handed to SMTP.",
            registry=self.registry,
        )
        self.email_failures = Counter(
            f"{PREFIX}_confirmation_email_failures",
            "Failed attempts to send a confirmation e-mail.",
            registry=self.registry,
        )
        self.elevation_approvals = Counter(
            f"{PREFIX}_elevation_approval_transitions",
            "Changes of a case's ElevationApproved condition, by reason (Approved, AwaitingApproval, "
            "ApprovalExpired, ApprovalRevoked).",
            ["reason"],
            registry=self.registry,
        )
        for kind in ("SupportContract", "SupportCase"):
            self.status_writes.labels(kind=kind)
        for kind in ("contract", "case"):
            self.reconcile_errors.labels(kind=kind)
