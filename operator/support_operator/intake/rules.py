"""The pure rules of e-mail intake: who may open cases, which mail is automated (RFC 3834), how many cases a
sender may open, category and impact from the subject, and the name a mail's case gets."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence

from support_operator.api.v1alpha1 import AllowedSenders, CaseCategory, Impact, SubjectKeyword
from support_operator.intake.mail import IncomingMail

# Local parts that are never a person (bounces, system mail): RFC 3834 section 2 and common practice.
MACHINE_LOCAL_PARTS = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|donotreply|bounces?|auto-?reply)([+._-].*)?$"
)
BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
RATE_WINDOW = dt.timedelta(hours=1)
NAME_LIMIT = 63  # a DNS label: the name appears in the case token and in label values


def sender_allowed(sender: str, allowed: AllowedSenders, team_emails: Iterable[str]) -> bool:
    address = sender.lower()
    if address in {e.lower() for e in team_emails}:
        return True
    if address in {a.lower() for a in allowed.addresses or ()}:
        return True
    domain = address.rpartition("@")[2]
    return domain in {d.lower() for d in allowed.domains or ()}


def automated_reason(mail: IncomingMail) -> str | None:
    """Why a mail was sent by a machine (and must never be answered), or None for a person's mail."""
    headers = mail.headers
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"Auto-Submitted: {auto_submitted}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for header in ("x-loop", "list-id", "x-autoreply", "x-autorespond"):
        if header in headers:
            return f"it carries {header.title()}"
    if headers.get("return-path", "").strip() == "<>":
        return "its Return-Path is empty (a bounce)"
    local = mail.sender.partition("@")[0]
    if MACHINE_LOCAL_PARTS.match(local):
        return f"the sender {mail.sender} is a system address"
    return None


def over_rate_limit(recent: Sequence[dt.datetime], now: dt.datetime, limit: int) -> bool:
    """Whether one more case would exceed `limit` cases in the hour before `now`."""
    return sum(1 for at in recent if now - at < RATE_WINDOW) >= limit


def classify(
    subject: str, keywords: Sequence[SubjectKeyword], category: CaseCategory, impact: Impact
) -> tuple[CaseCategory, Impact | None]:
    """Category and impact: the first keyword (a whole word, any case) that sets each, else the defaults.
    A consultation has no impact."""
    found_category: CaseCategory | None = None
    found_impact: Impact | None = None
    for rule in keywords:
        if not re.search(rf"(?<!\w){re.escape(rule.keyword)}(?!\w)", subject, re.IGNORECASE):
            continue
        found_category = found_category or rule.category
        found_impact = found_impact or rule.impact
    chosen = found_category or category
    if chosen == CaseCategory.CONSULTATION:
        return chosen, None
    return chosen, found_impact or impact


def case_name(mail: IncomingMail) -> str:
    """Readable and deterministic: words of the subject, then a hash of the Message-ID. The same mail
    delivered twice, or fetched again after a restart, names the same case: it opens at most one."""
    digest = hashlib.sha256(mail.message_id.encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", _without_prefixes(mail.subject).lower()).strip("-")
    slug = slug[: NAME_LIMIT - len(digest) - 1].strip("-") or "mail"
    return f"{slug}-{digest}"


def title_of(subject: str, sender: str) -> str:
    title = _without_prefixes(subject) or f"E-mail from {sender}"
    return title if len(title) <= 200 else title[:199] + "…"


def _without_prefixes(subject: str) -> str:
    return re.sub(r"^\s*((re|aw|fw|fwd|wg|tr|r)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip()
