"""One received mail, parsed into what intake decides on. Pure: bytes in, a frozen value out."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser

MESSAGE_ID = re.compile(r"<[^<>\s]+>")


class MailError(ValueError):
    """The mail cannot be turned into a case; the message says why (it goes to the rejected folder)."""


@dataclass(frozen=True)
class IncomingMail:
    message_id: str  # <...>; derived from the content when the mail has none
    subject: str
    sender: str  # the From address, lower case
    sender_name: str
    received_at: dt.datetime  # IMAP INTERNALDATE: when the mail reached the mailbox
    text: str
    references: tuple[str, ...] = ()  # In-Reply-To and References, nearest first
    headers: dict[str, str] = field(default_factory=dict)  # lower-case name -> value, loop-relevant ones


LOOP_HEADERS = (
    "auto-submitted",
    "precedence",
    "x-loop",
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "return-path",
)


def parse_mail(raw: bytes, received_at: dt.datetime) -> IncomingMail:
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        senders = getaddresses([str(message.get("From", ""))])
        subject = _one_line(str(message.get("Subject", "")))
        text = body_text(message)
    except (LookupError, ValueError, TypeError, AssertionError) as error:
        raise MailError(f"the mail cannot be parsed: {error}") from error
    name, address = senders[0] if senders else ("", "")
    if "@" not in address:
        raise MailError(f"the mail has no usable From address ({message.get('From', '')!r})")
    ids = MESSAGE_ID.findall(str(message.get("Message-ID", "")))
    message_id = ids[0] if ids else _derived_id(message, raw)
    in_reply_to = MESSAGE_ID.findall(str(message.get("In-Reply-To", "")))
    references = list(reversed(MESSAGE_ID.findall(str(message.get("References", "")))))
    headers = {h: str(message[h]) for h in LOOP_HEADERS if message.get(h) is not None}
    return IncomingMail(
        message_id=message_id,
        subject=subject,
        sender=address.strip().lower(),
        sender_name=_one_line(name) or address.split("@")[0],
        received_at=received_at.astimezone(dt.UTC),
        text=text,
        references=tuple(dict.fromkeys(in_reply_to + references)),
        headers=headers,
    )


def _derived_id(message: EmailMessage, raw: bytes) -> str:
    """A stable stand-in for a missing Message-ID: the same mail delivered twice gets the same one."""
    digest = hashlib.sha256(raw).hexdigest()[:32]
    return f"<derived-{digest}@support-operator.local>"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def body_text(message: EmailMessage) -> str:
    """The text part; an HTML-only mail converted to text. Attachments are skipped."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    return content.replace("\r\n", "\n").strip()


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote", "pre"})
    SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def shortened(text: str, limit: int, note: str) -> str:
    """`text` cut to at most `limit` characters (note included) at a line or word end, with the note."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(note) - 2)
    cut = text[:room]
    for boundary in ("\n", " "):
        at = cut.rfind(boundary)
        if at > room * 0.8:
            cut = cut[:at]
            break
    return f"{cut.rstrip()}\n\n{note}"
