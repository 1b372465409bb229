"""Operator settings, from command-line options or SUPPORT_OPERATOR_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field

from support_operator import constants
from support_operator.access.protected import DEFAULT_PROTECTED_NAMESPACES

# Roles a contract may grant; anything else (cluster-admin above all) is refused before anything is created.
DEFAULT_ALLOWED_ROLES = ("support-readonly", "view", "edit")


@dataclass(frozen=True)
class OperatorConfig:
    namespace: str = constants.DEFAULT_NAMESPACE  # where identities, bound Secrets and kubeconfigs live
    bind_address: str = "0.0.0.0"
    metrics_port: int = 8080
    liveness_port: int = 8081
    allowed_roles: tuple[str, ...] = DEFAULT_ALLOWED_ROLES
    smtp_timeout_seconds: float = 10.0
    max_token_ttl_seconds: int = 24 * 3600  # caps a contract's tokenTTL
    email_intake: bool = True  # read the mailboxes of contracts' spec.intake.email
    api_server_url: str | None = None  # external API server URL written into kubeconfigs
    # Leader election on a Lease in `namespace` (kube/leader.py), controller-runtime's defaults.
    leader_election: bool = True
    lease_duration_seconds: float = 15.0
    renew_deadline_seconds: float = 10.0
    retry_period_seconds: float = 2.0
    # Never bound for the support team (besides `namespace`, always protected); shell-style patterns.
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    # How long the confirmation e-mail waits for the intake snapshot's findings (then it goes without).
    diagnostics_mail_wait_seconds: float = 5.0
    alert_receiver_port: int = 0  # Alertmanager webhook receiver; 0: not served
    alert_receiver_secret: str = (
        "alert-receiver"  # Secret in `namespace` whose key `token` is the bearer token
    )
    extra: dict[str, str] = field(default_factory=dict)
