"""Operator health metrics (reconcile errors, e-mail delivery, status writes) on the operator's registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

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
        self.leader = Gauge(
            f"{PREFIX}_leader",
            "1 on the replica holding the leader Lease (it alone reconciles and serves the SLA metrics).",
            registry=self.registry,
        )
        self.elevation_approvals = Counter(
            f"{PREFIX}_elevation_approval_transitions",
            "Changes of a case's ElevationApproved condition, by reason (Approved, AwaitingApproval, "
            "ApprovalExpired, ApprovalRevoked).",
            ["reason"],
            registry=self.registry,
        )
        self.intake_mails = Counter(
            f"{PREFIX}_intake_mails",
            "Mails read from a contract's intake mailbox, by what became of them (case_opened, "
            "reply_attached, duplicate, unknown_sender, automated, rate_limited, unreadable).",
            ["contract", "outcome"],
            registry=self.registry,
        )
        self.intake_errors = Counter(
            f"{PREFIX}_intake_errors",
            "Failed mailbox sessions or mails that could not be handled yet, by condition reason.",
            ["contract", "reason"],
            registry=self.registry,
        )
        self.intake_last_success = Gauge(
            f"{PREFIX}_intake_last_success_timestamp_seconds",
            "When the intake mailbox was last read successfully (Unix time).",
            ["contract"],
            registry=self.registry,
        )
        self.intake_up = Gauge(
            f"{PREFIX}_intake_mailbox_up",
            "1 while the operator is connected to the contract's intake mailbox, else 0.",
            ["contract"],
            registry=self.registry,
        )
        self.access_requests = Counter(
            f"{PREFIX}_access_api_requests",
            "API requests made to provision access (server-side applies, deletes, lists, token requests).",
            ["verb", "resource"],
            registry=self.registry,
        )
        for kind in ("SupportContract", "SupportCase"):
            self.status_writes.labels(kind=kind)
        for kind in ("contract", "case"):
            self.reconcile_errors.labels(kind=kind)
