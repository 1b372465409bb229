"""One decision per mail: open a case, join a case's conversation, or open nothing (and why). Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from support_operator import constants
from support_operator.api.v1alpha1 import (
    API_VERSION,
    CASE_KIND,
    CONVERSATION_TEXT_LIMIT,
    ConversationEntry,
    EmailIntake,
    ReportChannel,
)
from support_operator.intake import rules
from support_operator.intake.mail import IncomingMail, shortened
from support_operator.intake.threads import MESSAGE_ID_ANNOTATION, CaseIndex, CaseKey, thread_of

DESCRIPTION_LIMIT = 8000  # of the case's 16384: room for the note, and a case that stays readable
SENDER_ANNOTATION = constants.ANNOTATION_INTAKE_SENDER
VIA_LABEL = constants.LABEL_REPORTED_VIA


class Outcome(StrEnum):
    """What became of a mail; the `outcome` label of support_operator_intake_mails_total."""

    CASE_OPENED = "case_opened"
    REPLY_ATTACHED = "reply_attached"
    DUPLICATE = "duplicate"
    UNKNOWN_SENDER = "unknown_sender"
    AUTOMATED = "automated"
    RATE_LIMITED = "rate_limited"
    UNREADABLE = "unreadable"


REJECTED = frozenset({Outcome.UNKNOWN_SENDER, Outcome.AUTOMATED, Outcome.RATE_LIMITED, Outcome.UNREADABLE})


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    message: str
    case: CaseKey | None = None  # the case opened, joined or duplicated
    body: dict[str, Any] | None = None  # the SupportCase to create (CASE_OPENED)
    entry: ConversationEntry | None = None  # the conversation entry to add (REPLY_ATTACHED)

    @property
    def rejected(self) -> bool:
        return self.outcome in REJECTED


def decide(
    mail: IncomingMail,
    intake: EmailIntake,
    contract: str,
    team_emails: Iterable[str],
    index: CaseIndex,
    recent_by_sender: Sequence[dt.datetime],
    now: dt.datetime,
) -> Decision:
    """`recent_by_sender` are the times this sender's recent cases were opened (the rate limit)."""
    if mail.message_id in index.by_message_id:
        known = index.by_message_id[mail.message_id]
        return Decision(Outcome.DUPLICATE, f"{mail.message_id} is already recorded on {_name(known)}", known)
    if not rules.sender_allowed(mail.sender, intake.allowed_senders, team_emails):
        return Decision(Outcome.UNKNOWN_SENDER, f"{mail.sender} is not an allowed sender of {contract}")
    thread = thread_of(mail, index)
    if thread is not None:
        return Decision(
            Outcome.REPLY_ATTACHED,
            f"mail from {mail.sender} joins {_name(thread)}",
            thread,
            entry=entry_of(mail),
        )
    automated = rules.automated_reason(mail)
    if automated is not None:
        return Decision(
            Outcome.AUTOMATED, f"mail from {mail.sender} is automated ({automated}); no case opened"
        )
    if rules.over_rate_limit(recent_by_sender, now, intake.max_cases_per_sender_per_hour):
        return Decision(
            Outcome.RATE_LIMITED,
            f"{mail.sender} opened {intake.max_cases_per_sender_per_hour} cases in the last hour "
            "(maxCasesPerSenderPerHour); no case opened",
        )
    key = (intake.namespace, rules.case_name(mail))
    return Decision(
        Outcome.CASE_OPENED,
        f"mail from {mail.sender} opens {_name(key)}",
        key,
        body=case_body(mail, intake, contract),
    )


def case_body(mail: IncomingMail, intake: EmailIntake, contract: str) -> dict[str, Any]:
    category, impact = rules.classify(
        mail.subject, intake.keywords(), intake.default_category, intake.default_impact
    )
    note = (
        f"[shortened: the mail has {len(mail.text)} characters; "
        f"the whole mail is in folder {intake.processed_folder} of the intake mailbox]"
    )
    spec: dict[str, Any] = {
        "contractRef": {"name": contract},
        "title": rules.title_of(mail.subject, mail.sender),
        "category": category.value,
        "reportedAt": mail.received_at.isoformat().replace("+00:00", "Z"),
        "reportedVia": ReportChannel.EMAIL.value,
        "reporter": {"name": mail.sender_name[:128], "email": mail.sender},
    }
    if mail.text:
        spec["description"] = shortened(mail.text, DESCRIPTION_LIMIT, note)
    if impact is not None:
        spec["impact"] = impact.value
    return {
        "apiVersion": API_VERSION,
        "kind": CASE_KIND,
        "metadata": {
            "name": rules.case_name(mail),
            "namespace": intake.namespace,
            "labels": {VIA_LABEL: "email"},
            "annotations": {MESSAGE_ID_ANNOTATION: mail.message_id, SENDER_ANNOTATION: mail.sender},
        },
        "spec": spec,
    }


def entry_of(mail: IncomingMail) -> ConversationEntry:
    return ConversationEntry(
        at=mail.received_at,
        sender=mail.sender[:320],
        subject=mail.subject[:998],
        message_id=mail.message_id[:998],
        text=shortened(mail.text, CONVERSATION_TEXT_LIMIT, "[shortened]"),
    )


def _name(key: CaseKey) -> str:
    return f"{key[0]}/{key[1]}"
