"""How cases come in without anybody writing YAML: the contract's `spec.intake`.

`alerts`: the platform's own monitoring opens cases through the operator's Alertmanager webhook receiver.
(`email`, the IMAP mailbox, lives here too.)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from support_operator.api.v1alpha1.case import Impact, Reporter
from support_operator.api.v1alpha1.common import ApiModel, DnsLabel, cel, schema_extra

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
    """Channels through which cases are opened automatically."""

    alerts: AlertIntake | None = Field(
        default=None, description="Alertmanager webhook: firing alerts open cases (reportedVia: Alert)."
    )
