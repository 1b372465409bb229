"""Which case a reply belongs to: by the Message-IDs it references (our confirmation's, the mail that opened
the case, an earlier reply's) or by the case token our mails carry in their subject."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from support_operator import constants
from support_operator.intake.mail import IncomingMail

CaseKey = tuple[str, str]
MESSAGE_ID_ANNOTATION = constants.ANNOTATION_MESSAGE_ID
# The confirmation's Message-ID (notify.confirmation.CaseConfirmation.message_id) names the case's UID.
CONFIRMATION_ID = re.compile(r"^<case-([0-9a-zA-Z-]+)@support-operator\.local>$")
CASE_TOKEN = re.compile(r"\[Case ([a-z0-9]([-a-z0-9]*[a-z0-9])?)/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\]")


def case_token(namespace: str, name: str) -> str:
    return f"[Case {namespace}/{name}]"


@dataclass
class CaseIndex:
    """The cases of one contract, found by UID, by any Message-ID recorded on them, or by key."""

    contract: str
    by_uid: dict[str, CaseKey] = field(default_factory=dict)
    by_message_id: dict[str, CaseKey] = field(default_factory=dict)
    keys: set[CaseKey] = field(default_factory=set)

    @classmethod
    def of(cls, contract: str, cases: Iterable[Mapping[str, Any]]) -> CaseIndex:
        index = cls(contract)
        for obj in cases:
            if obj.get("spec", {}).get("contractRef", {}).get("name") != contract:
                continue  # a reply never reaches another contract's case
            metadata = obj["metadata"]
            key = (metadata.get("namespace", ""), metadata["name"])
            index.keys.add(key)
            if metadata.get("uid"):
                index.by_uid[metadata["uid"]] = key
            recorded = (metadata.get("annotations") or {}).get(MESSAGE_ID_ANNOTATION)
            if recorded:
                index.by_message_id[recorded] = key
            for entry in (obj.get("status") or {}).get("conversation") or ():
                index.by_message_id.setdefault(entry.get("messageID", ""), key)
        return index


def thread_of(mail: IncomingMail, index: CaseIndex) -> CaseKey | None:
    """The case `mail` replies to, or None when it starts a new one."""
    for reference in mail.references:
        confirmation = CONFIRMATION_ID.match(reference)
        if confirmation and confirmation.group(1) in index.by_uid:
            return index.by_uid[confirmation.group(1)]
        if reference in index.by_message_id:
            return index.by_message_id[reference]
    token = CASE_TOKEN.search(mail.subject)
    if token is not None and (token.group(1), token.group(3)) in index.keys:
        return token.group(1), token.group(3)
    return None
