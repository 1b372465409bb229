"""spec.intake of a SupportContract: the ways cases come in besides YAML (a mailbox the operator reads, the
platform's alerts through the operator's Alertmanager webhook receiver)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from support_operator.api.v1alpha1.case import CaseCategory, Impact, Reporter
from support_operator.api.v1alpha1.common import (
    ApiModel,
    DnsLabel,
    Duration,
    EmailAddress,
    SecretReference,
    cel,
    duration_rules,
    schema_extra,
)

# A mailbox folder name as IMAP lists it, e.g. INBOX or Support/Processed; no control characters or quotes.
FolderName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r'^[^\x00-\x1f"\\]+$')]
MailDomain = Annotated[
    str,
    StringConstraints(
        min_length=3,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$",
    ),
]


class ImapSecurity(StrEnum):
    """How the IMAP connection is protected: tls (implicit, port 993), starttls (port 143) or none."""

    TLS = "tls"
    STARTTLS = "starttls"
    NONE = "none"


class AllowedSenders(ApiModel):
    """Who may open cases by e-mail. The contract's team members are always allowed."""

    addresses: list[EmailAddress] | None = Field(
        default=None,
        max_length=200,
        description="Single sender addresses, compared case-insensitively.",
        json_schema_extra=schema_extra(list_set=True),
    )
    domains: list[MailDomain] | None = Field(
        default=None,
        max_length=50,
        description="Sender domains (lower case, e.g. acme.example); subdomains are not included.",
        json_schema_extra=schema_extra(list_set=True),
    )


class SubjectKeyword(ApiModel):
    """A word that, found in a mail's subject, sets the category or impact of the case it opens."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel("has(self.category) || has(self.impact)", "a subject keyword needs a category or an impact")
        )
    )

    keyword: str = Field(
        min_length=1, max_length=64, description="Whole word or phrase, compared case-insensitively."
    )
    category: CaseCategory | None = Field(default=None, description="Category it sets.")
    impact: Impact | None = Field(default=None, description="Impact it sets.")


# The documented defaults (docs/intake.md): production words in the customer's languages set the impact,
# question words set Consultation.
PRODUCTION_WORDS = ("production", "prod", "produktion", "produktiv", "produzione")
CONSULTATION_WORDS = ("question", "frage", "domanda", "consultation")
DEFAULT_KEYWORDS = [SubjectKeyword(keyword=w, impact=Impact.PRODUCTION) for w in PRODUCTION_WORDS] + [
    SubjectKeyword(keyword=w, category=CaseCategory.CONSULTATION) for w in CONSULTATION_WORDS
]


class EmailIntake(ApiModel):
    """A mailbox the operator reads over IMAP: each mail from an allowed sender opens a case, each reply to
    one of our confirmations joins its case's conversation."""

    host: str = Field(
        min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$", description="IMAP server host name."
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="IMAP port; default 993 for tls, 143 otherwise."
    )
    security: ImapSecurity = Field(
        default=ImapSecurity.TLS, description="tls (implicit TLS), starttls or none (loopback tests only)."
    )
    credentials_secret_ref: SecretReference = Field(
        description="Secret in the operator's namespace with keys username and password, or username and "
        "accessToken (an OAuth2 access token, used with AUTHENTICATE XOAUTH2); optional ca.crt (PEM) "
        "when the server's certificate is signed by a private CA."
    )
    folder: FolderName = Field(default="INBOX", description="Folder the operator reads.")
    processed_folder: FolderName = Field(
        default="Processed", description="Where a mail goes once its case exists (created if missing)."
    )
    rejected_folder: FolderName = Field(
        default="Rejected",
        description="Where mail goes that opens nothing: unknown or automated senders, over the rate limit, "
        "unreadable (created if missing). Nothing is deleted.",
    )
    namespace: DnsLabel = Field(description="Namespace the cases opened by e-mail are created in.")
    allowed_senders: AllowedSenders = Field(
        default_factory=AllowedSenders,
        description="Customer addresses and domains that may open cases; team members always may.",
        json_schema_extra=schema_extra(default={}),
    )
    default_category: CaseCategory = Field(
        default=CaseCategory.INCIDENT, description="Category when no subject keyword sets one."
    )
    default_impact: Impact = Field(
        default=Impact.NON_PRODUCTION, description="Impact of an incident when no subject keyword sets one."
    )
    subject_keywords: list[SubjectKeyword] | None = Field(
        default=None,
        max_length=64,
        description="Subject words that set category or impact, first match wins; omitted: the defaults "
        "(production, prod, produktion, produktiv, produzione -> Production; question, frage, domanda, "
        "consultation -> Consultation).",
    )
    poll_interval: Duration = Field(
        default="60s",
        description="How often the folder is checked when the server has no IDLE, and the longest IDLE wait.",
        json_schema_extra=duration_rules("pollInterval", at_least="5s"),
    )
    max_cases_per_sender_per_hour: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Cases one sender may open per hour; more mail goes to the rejected folder (loop guard).",
    )

    def keywords(self) -> list[SubjectKeyword]:
        return DEFAULT_KEYWORDS if self.subject_keywords is None else self.subject_keywords


# Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*.
LABEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
LabelName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=LABEL_NAME_PATTERN)]


class MatchType(StrEnum):
    """How a matcher compares a label: Alertmanager's =, !=, =~ (regular expression, anchored) and !~,
    spelled as words because a bare `=` is YAML 1.1's value tag and breaks YAML tools reading the CRD."""

    EQUAL = "Equal"
    NOT_EQUAL = "NotEqual"
    REGEX = "Regex"
    NOT_REGEX = "NotRegex"


class AlertMatcher(ApiModel):
    """One label matcher, shaped like AlertmanagerConfig's (`name`, `value`, `matchType`). A missing label
    has the value "" (Alertmanager's semantics)."""

    name: LabelName = Field(description="Label name, e.g. severity.")
    value: str = Field(default="", max_length=1024, description="Value or (for =~, !~) RE2 expression.")
    match_type: MatchType = Field(
        default=MatchType.EQUAL,
        description="Equal (=), NotEqual (!=), Regex (=~, anchored RE2) or NotRegex (!~).",
    )


class AlertRule(ApiModel):
    """Alerts matching every matcher open cases with this impact."""

    matchers: list[AlertMatcher] = Field(
        min_length=1, max_length=16, description="All must match (AND), e.g. severity=critical."
    )
    impact: Impact = Field(
        default=Impact.PRODUCTION,
        description="Impact of the cases these alerts open, unless the alert's impactLabel says otherwise.",
    )


class AlertIntake(ApiModel):
    """Firing alerts that open cases: the first matching rule decides; an alert group opens one case."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            cel(
                "has(self.reporter.email)",
                "the alert reporter needs an e-mail address: it receives the confirmations",
                field_path=".reporter.email",
            )
        )
    )

    namespace: DnsLabel = Field(description="Namespace the cases are opened in.")
    reporter: Reporter = Field(
        description="Who the cases are reported by, e.g. the customer's operations team; receives the "
        "confirmation e-mails."
    )
    rules: list[AlertRule] = Field(
        min_length=1, max_length=32, description="Which alerts open cases, first match wins."
    )
    impact_label: LabelName | None = Field(
        default=None,
        description="Label whose value (Production or NonProduction) sets an alert's impact, e.g. "
        "support_impact; other values fall back to the rule's impact.",
    )


class IntakeSpec(ApiModel):
    """How cases come in besides YAML."""

    email: EmailIntake | None = Field(default=None, description="A mailbox whose mails open cases.")
    alerts: AlertIntake | None = Field(
        default=None, description="Alertmanager webhook: firing alerts open cases (reportedVia: Alert)."
    )
