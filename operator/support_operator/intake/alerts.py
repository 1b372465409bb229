"""Alert intake, the pure part: an Alertmanager webhook notification and the contracts in, the cases to open
(or the conversation entries to add) out. No Kubernetes calls; `intake/receiver.py` does those.

One alert group (Alertmanager's `groupKey`) opens one case per matching contract. Its name is derived from a
hash of contract and group key, so repeated notifications, a retried delivery or an operator restart find
the same case instead of opening another; once that case is Closed, an alert of the group that starts after
the closing opens a follow-up case (`<name>-2`, ...).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from support_operator import constants
from support_operator.api.v1alpha1 import (
    API_VERSION,
    CASE_KIND,
    CONVERSATION_TEXT_LIMIT,
    AlertIntake,
    AlertMatcher,
    AlertRule,
    CaseCategory,
    ConversationEntry,
    Impact,
    MatchType,
    ReportChannel,
    SupportContract,
)
from support_operator.api.v1alpha1.common import DNS_LABEL_PATTERN

GROUP_LABEL = constants.LABEL_ALERT_GROUP  # label on the case: hash of contract and group key
GROUP_KEY_ANNOTATION = constants.ANNOTATION_ALERT_GROUP_KEY  # the group key itself, for humans
INTAKE_LABEL = constants.LABEL_INTAKE
MAX_TITLE = 200
MAX_DESCRIPTION = 16384
MAX_LISTED_ALERTS = 50
MAX_FOLLOW_UPS = 100  # case names tried per group before giving up (a group closed 100 times)
TRUNCATED = "\n… (truncated)"
_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)


class NotificationError(ValueError):
    """The request body is not an Alertmanager webhook notification; the message says what is wrong."""


# --- the webhook payload (Alertmanager's webhook_config, version 4) ----------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class Alert(_Payload):
    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: AwareDatetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""


class Notification(_Payload):
    version: str = "4"
    group_key: str = Field(alias="groupKey", min_length=1)
    status: str = Field(pattern="^(firing|resolved)$")
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Alert] = Field(default_factory=list)


def parse_notification(body: Any) -> Notification:
    """The notification in a decoded JSON body; NotificationError names the first problem."""
    try:
        notification = Notification.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise NotificationError(
            f"not an Alertmanager webhook notification: {where}: {first['msg']}"
        ) from None
    if notification.version != "4":
        raise NotificationError(f"unsupported webhook payload version {notification.version!r} (expected 4)")
    return notification


# --- matching ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _anchored(expression: str) -> re.Pattern[str] | None:
    try:
        return re.compile(f"(?:{expression})\\Z")
    except re.error:
        return None


def matches(matcher: AlertMatcher, labels: Mapping[str, str]) -> bool:
    """Alertmanager's semantics: a missing label is "", regular expressions are anchored at both ends. An
    expression Python cannot compile matches nothing (and `=~`'s negation everything)."""
    value = labels.get(matcher.name, "")
    if matcher.match_type in (MatchType.EQUAL, MatchType.NOT_EQUAL):
        equal = value == matcher.value
        return equal if matcher.match_type == MatchType.EQUAL else not equal
    pattern = _anchored(matcher.value)
    found = pattern is not None and pattern.match(value) is not None
    return found if matcher.match_type == MatchType.REGEX else not found


def rule_for(intake: AlertIntake, labels: Mapping[str, str]) -> AlertRule | None:
    """The first rule whose matchers all match."""
    return next((r for r in intake.rules if all(matches(m, labels) for m in r.matchers)), None)


def impact_of(intake: AlertIntake, rule: AlertRule, labels: Mapping[str, str]) -> Impact:
    """The alert's impactLabel when it names an impact, else the rule's."""
    if intake.impact_label is not None:
        declared = labels.get(intake.impact_label, "")
        if declared in {i.value for i in Impact}:
            return Impact(declared)
    return rule.impact


# --- naming: the de-duplication key -----------------------------------------------------------------


def group_hash(contract: str, group_key: str) -> str:
    return hashlib.sha256(f"{contract}\0{group_key}".encode()).hexdigest()


def _slug(text: str, limit: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-")


def case_name(contract: str, notification: Notification, attempt: int = 1) -> str:
    """alert-<alertname>-<hash>[-<attempt>]: only the group key and its labels go in, so every
    notification of the group gives the same name; at most 63 characters."""
    alertname = notification.group_labels.get("alertname") or notification.common_labels.get("alertname", "")
    slug = _slug(alertname, 30)
    stem = f"alert-{slug}-" if slug else "alert-"
    name = stem + group_hash(contract, notification.group_key)[:12]
    return name if attempt == 1 else f"{name}-{attempt}"


# --- what to do -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenCase:
    """A firing group matched a contract: the case to create (or to find, if it exists)."""

    contract: str
    namespace: str
    group: str  # group_hash, also the case's alert-group label
    names: tuple[str, ...]  # names to try in order: the first that is missing or not Closed is the case
    body: dict[str, Any]  # the SupportCase without metadata.name
    latest_start: dt.datetime  # the newest startsAt among the firing alerts

    def reopens(self, closed_at: dt.datetime | None) -> bool:
        """Whether this firing opens a follow-up to a case closed at `closed_at`: only alerts that started
        after the closing do; those firing all along belong to the closed case."""
        return closed_at is None or self.latest_start > closed_at


@dataclass(frozen=True)
class RecordResolution:
    """A resolved group matched a contract: the entry to add to its open case's conversation."""

    contract: str
    namespace: str
    group: str
    names: tuple[str, ...]
    entry: ConversationEntry


Action = OpenCase | RecordResolution


def plan(notification: Notification, contracts: Iterable[SupportContract]) -> list[Action]:
    """One action per contract whose alert rules match alerts of the notification."""
    actions: list[Action] = []
    for contract in contracts:
        intake = contract.spec.intake.alerts if contract.spec.intake else None
        if intake is None or contract.spec.suspended:
            continue
        matched = [(a, rule) for a in notification.alerts if (rule := rule_for(intake, a.labels))]
        if not matched:
            continue
        name = contract.metadata.name
        names = tuple(case_name(name, notification, n) for n in range(1, MAX_FOLLOW_UPS + 1))
        group = group_hash(name, notification.group_key)
        firing = [(a, r) for a, r in matched if a.status == "firing"]
        if notification.status == "firing" and firing:
            body = case_body(name, intake, notification, firing, group)
            latest = max(a.starts_at for a, _ in firing)
            actions.append(OpenCase(name, intake.namespace, group, names, body, latest))
        elif notification.status == "resolved":
            entry = resolution_entry(notification, [a for a, _ in matched])
            actions.append(RecordResolution(name, intake.namespace, group, names, entry))
    return actions


def case_body(
    contract: str,
    intake: AlertIntake,
    notification: Notification,
    firing: Sequence[tuple[Alert, AlertRule]],
    group: str,
) -> dict[str, Any]:
    """The SupportCase a firing group opens: reported when its earliest matching alert started."""
    alerts = [a for a, _ in firing]
    impacts = {impact_of(intake, rule, a.labels) for a, rule in firing}
    impact = Impact.PRODUCTION if Impact.PRODUCTION in impacts else Impact.NON_PRODUCTION
    reported = min(a.starts_at for a in alerts)
    spec: dict[str, Any] = {
        "contractRef": {"name": contract},
        "title": title(notification, alerts),
        "description": description(notification, alerts),
        "category": CaseCategory.INCIDENT.value,
        "impact": impact.value,
        "reportedAt": _iso(reported),
        "reportedVia": ReportChannel.ALERT.value,
        "reporter": intake.reporter.to_json_dict(),
    }
    # No affectedNamespaces from the alerts' namespace labels: whoever writes alert rules would choose where
    # the support team gets (elevated) access, past the tenant boundary that applies to people. The
    # description lists the labels; the support team widens the case if it must.
    return {
        "apiVersion": API_VERSION,
        "kind": CASE_KIND,
        "metadata": {
            "namespace": intake.namespace,
            "labels": {INTAKE_LABEL: "alert", GROUP_LABEL: group[:63]},
            "annotations": {GROUP_KEY_ANNOTATION: notification.group_key[:4096]},
        },
        "spec": spec,
    }


def title(notification: Notification, alerts: Sequence[Alert]) -> str:
    """The alert's summary; for several alerts their common summary, else the alert name and count."""
    if len(alerts) == 1:
        only = alerts[0]
        text = (
            only.annotations.get("summary") or only.annotations.get("title") or only.labels.get("alertname")
        )
    else:
        text = notification.common_annotations.get("summary") or notification.common_annotations.get("title")
        if not text:
            name = notification.common_labels.get("alertname") or notification.group_labels.get("alertname")
            text = f"{name or 'Alerts'}: {len(alerts)} alerts firing"
    return _one_line(text or "Alert firing", MAX_TITLE)


def description(notification: Notification, alerts: Sequence[Alert]) -> str:
    """The description annotation(s), then every alert with its labels, start and source."""
    first = alerts[0].annotations if len(alerts) == 1 else notification.common_annotations
    parts = [text] if (text := first.get("description") or first.get("message")) else []
    listed = [_alert_line(a) for a in sorted(alerts, key=lambda a: a.starts_at)[:MAX_LISTED_ALERTS]]
    more = len(alerts) - len(listed)
    parts.append(
        f"Firing alerts ({len(alerts)}):\n" + "\n".join(listed) + (f"\n… and {more} more" if more else "")
    )
    source = f"Alertmanager {notification.external_url}" if notification.external_url else "Alertmanager"
    parts.append(f"{source}, receiver {notification.receiver or '-'}, group {notification.group_key}")
    return _bounded("\n\n".join(parts), MAX_DESCRIPTION)


def _alert_line(alert: Alert) -> str:
    labels = " ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    line = f"- {labels} since {_iso(alert.starts_at)}"
    if len(alert.annotations) > 0 and alert.annotations.get("description"):
        line += f"\n  {_one_line(alert.annotations['description'], 500)}"
    return line + (f"\n  {alert.generator_url}" if alert.generator_url else "")


def resolution_entry(notification: Notification, alerts: Sequence[Alert]) -> ConversationEntry:
    """The conversation entry of a resolved group; its messageID makes a repeated notification a no-op."""
    ended = [a.ends_at for a in alerts if a.ends_at is not None and a.ends_at.year > 1]
    at = max(ended) if ended else max(a.starts_at for a in alerts)
    subject = f"Resolved: {title(notification, alerts)}"
    text = "\n".join(f"- {' '.join(f'{k}={v}' for k, v in sorted(a.labels.items()))}" for a in alerts)
    key = hashlib.sha256(
        "\0".join(
            [notification.group_key, *sorted(f"{a.fingerprint}@{_iso(a.starts_at)}" for a in alerts)]
        ).encode()
    ).hexdigest()[:32]
    return ConversationEntry.model_validate(
        {
            "at": at,
            "sender": f"Alertmanager ({notification.receiver})" if notification.receiver else "Alertmanager",
            "channel": ReportChannel.ALERT,
            "subject": _one_line(subject, 998),
            "messageID": f"alert-resolved-{key}",
            "text": _bounded(f"All alerts of the group resolved:\n{text}", CONVERSATION_TEXT_LIMIT),
        }
    )


def append_entry(
    conversation: Sequence[Mapping[str, Any]], entry: ConversationEntry, limit: int
) -> list[dict[str, Any]] | None:
    """The conversation with `entry` appended (oldest dropped beyond `limit`), or None when an entry with
    the same messageID is there already."""
    if any(e.get("messageID") == entry.message_id for e in conversation):
        return None
    kept = [dict(e) for e in conversation][-(limit - 1) :]
    return [*kept, entry.to_json_dict()]


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED
