"""The case confirmation e-mail (the offer: "the incoming case is confirmed by mail"), in the contract's
language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

_SUBJECT = {
    "de": "Supportfall {case} bestätigt ({priority}): {title}",
    "en": "Support case {case} confirmed ({priority}): {title}",
    "fr": "Cas de support {case} confirmé ({priority}) : {title}",
    "it": "Caso di supporto {case} confermato ({priority}): {title}",
}
_BODY = {
    "de": (
        "Guten Tag {reporter}\n\n"
        "Wir haben Ihren Supportfall erhalten und bestätigen ihn hiermit.\n\n"
        "Fall:            {namespace}/{case}\n"
        "Titel:           {title}\n"
        "Priorität:       {priority}\n"
        "Gemeldet:        {reported}\n"
        "Reaktion bis:    {deadline}\n\n"
        "Die Reaktionszeit zählt in der Supportzeit; spätestens dann beginnt die Analyse.\n\n"
        "Freundliche Grüsse\nIhr Supportteam\n"
    ),
    "en": (
        "Hello {reporter}\n\n"
        "We have received your support case and hereby confirm it.\n\n"
        "Case:            {namespace}/{case}\n"
        "Title:           {title}\n"
        "Priority:        {priority}\n"
        "Reported:        {reported}\n"
        "Reaction by:     {deadline}\n\n"
        "The reaction time counts in support hours; analysis starts at the latest by then.\n\n"
        "Kind regards\nYour support team\n"
    ),
    "fr": (
        "Bonjour {reporter}\n\n"
        "Nous avons bien reçu votre cas de support et le confirmons.\n\n"
        "Cas :            {namespace}/{case}\n"
        "Titre :          {title}\n"
        "Priorité :       {priority}\n"
        "Signalé :        {reported}\n"
        "Réaction avant : {deadline}\n\n"
        "Le délai de réaction court pendant les heures de support ;\n"
        "l'analyse commence au plus tard alors.\n\n"
        "Meilleures salutations\nVotre équipe de support\n"
    ),
    "it": (
        "Buongiorno {reporter}\n\n"
        "Abbiamo ricevuto il vostro caso di supporto e lo confermiamo.\n\n"
        "Caso:            {namespace}/{case}\n"
        "Titolo:          {title}\n"
        "Priorità:        {priority}\n"
        "Segnalato:       {reported}\n"
        "Reazione entro:  {deadline}\n\n"
        "Il tempo di reazione conta nelle ore di supporto; l'analisi inizia al più tardi entro allora.\n\n"
        "Cordiali saluti\nIl vostro team di supporto\n"
    ),
}
SUPPORTED_LANGUAGES = tuple(_BODY)
# The intake snapshot's top findings, when they were ready in time (support_operator.diagnostics).
_FINDINGS = {
    "de": "Erste Befunde der automatischen Diagnose (kubectl support findings {case}):",
    "en": "First findings of the automatic diagnosis (kubectl support findings {case}):",
    "fr": "Premiers constats du diagnostic automatique (kubectl support findings {case}) :",
    "it": "Primi risultati della diagnosi automatica (kubectl support findings {case}):",
}


@dataclass(frozen=True)
class CaseConfirmation:
    case_uid: str
    namespace: str
    case: str
    title: str
    priority: str
    reported_at: dt.datetime
    deadline: dt.datetime
    time_zone: str
    language: str
    sender: str
    reporter_name: str
    recipients: tuple[str, ...]
    reply_to: str | None = None
    findings: tuple[str, ...] = ()
    in_reply_to: str | None = None  # the Message-ID of the mail that opened the case (e-mail intake)

    @property
    def message_id(self) -> str:
        # Derived from the case UID, so a resend after a crash carries the same Message-ID and mail clients
        # show it once; the operator also records it in status so it normally never resends at all.
        return message_id_for(self.case_uid)


def message_id_for(case_uid: str) -> str:
    return f"<case-{case_uid}@support-operator.local>"


def render(confirmation: CaseConfirmation) -> EmailMessage:
    language = confirmation.language if confirmation.language in _BODY else "en"
    zone = ZoneInfo(confirmation.time_zone)
    fields = {
        "case": confirmation.case,
        "namespace": confirmation.namespace,
        "title": confirmation.title,
        "priority": confirmation.priority,
        "reporter": confirmation.reporter_name,
        "reported": confirmation.reported_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        "deadline": confirmation.deadline.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
    }
    message = EmailMessage()
    # The case token lets e-mail intake thread a reply even when a mail client drops In-Reply-To.
    token = f"[Case {confirmation.namespace}/{confirmation.case}]"
    message["Subject"] = f"{token} {_SUBJECT[language].format(**fields)}"
    message["From"] = confirmation.sender
    message["To"] = ", ".join(confirmation.recipients)
    if confirmation.reply_to:
        message["Reply-To"] = confirmation.reply_to
    message["Message-ID"] = confirmation.message_id
    message["Date"] = format_datetime(confirmation.reported_at.astimezone(dt.UTC))
    message["Content-Language"] = language
    # RFC 3834: an automatic response; autoresponders must not answer it (no mail loops).
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"  # the same for Exchange's out-of-office
    if confirmation.in_reply_to:
        message["In-Reply-To"] = confirmation.in_reply_to
        message["References"] = confirmation.in_reply_to
    body = _BODY[language].format(**fields)
    if confirmation.findings:
        lines = "\n".join(f"- {line}" for line in confirmation.findings)
        body += f"\n{_FINDINGS[language].format(**fields)}\n{lines}\n"
    message.set_content(body)
    return message
