"""The confirmation e-mail: owns `Confirmed`, SMTP, its retries and the cached SMTP settings.

Exactly once, in this order: the intent (Confirmed=Unknown/EmailSending) is written through the case status
controller first, so no mail leaves while status cannot be written; a mail SMTP accepted is kept here until
the case's status shows it, and never sent again by this process. The one window left: the process dies
after SMTP accepted and before that write. The next operator finds the intent without a confirmation, sends
again with the same Message-ID and says so in a ConfirmationResent Event (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator import clock
from support_operator.api.v1alpha1 import (
    ConfirmationStatus,
    SecretReference,
    SupportCase,
    SupportContract,
    reasons,
)
from support_operator.config import OperatorConfig
from support_operator.controllers.cache import CaseKey, ObjectCache
from support_operator.controllers.workqueue import WorkQueue
from support_operator.controllers.writer import EventRecorder
from support_operator.diagnostics.worker import DiagnosticsWorker
from support_operator.intake.threads import MESSAGE_ID_ANNOTATION
from support_operator.kube.fencing import NotLeaderError
from support_operator.kube.secrets import read_secret_data
from support_operator.notify import smtp
from support_operator.notify.confirmation import CaseConfirmation, message_id_for, render
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status import case as case_logic
from support_operator.status.conditions import EventNote

MAIL_RETRY_BASE = 5.0
MAIL_RETRY_MAX = 300.0
SMTP_SETTINGS_TTL = 60.0  # a rotated SMTP password is picked up within a minute, or at the next failure


@dataclass(frozen=True)
class Sending:
    message_id: str


@dataclass
class SmtpSettingsCache:
    """The contracts' SMTP Secrets, read once a minute at most, not once per mail."""

    api: client.ApiClient
    timeout: float
    _entries: dict[tuple[str, str], tuple[float, smtp.SmtpSettings]] = field(default_factory=dict)

    def get(self, ref: SecretReference) -> smtp.SmtpSettings:
        key = (ref.namespace, ref.name)
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] < SMTP_SETTINGS_TTL:
            return entry[1]
        data = read_secret_data(self.api, ref.namespace, ref.name)  # errors name the Secret
        settings = smtp.SmtpSettings.from_secret_data(data, timeout=self.timeout)
        self._entries[key] = (time.monotonic(), settings)
        return settings

    def forget(self, ref: SecretReference) -> None:
        self._entries.pop((ref.namespace, ref.name), None)


@dataclass
class ConfirmationController:
    api: client.ApiClient
    config: OperatorConfig
    cache: ObjectCache
    events: EventRecorder
    metrics: OperatorMetrics
    may_write: Callable[[], bool]
    is_transient: Callable[[BaseException], bool]
    on_error: Callable[[object, BaseException], None]
    write_status: Callable[[CaseKey], Awaitable[None]] = field(init=False)  # the case status reconcile
    requeue_status: Callable[[CaseKey], None] = field(init=False)
    diagnostics: DiagnosticsWorker | None = None
    # Case UID -> where its confirmation stands in this process: the intent, or SMTP's answer.
    _outcomes: dict[str, Sending | case_logic.MailOutcome] = field(default_factory=dict)
    _failures: dict[CaseKey, int] = field(default_factory=dict)
    _retry_due: dict[CaseKey, float] = field(default_factory=dict)  # monotonic time of the next attempt
    _intended_here: set[str] = field(default_factory=set)  # intents this process wrote (no resend)
    settings: SmtpSettingsCache = field(init=False)
    queue: WorkQueue[CaseKey] = field(init=False)

    def __post_init__(self) -> None:
        self.settings = SmtpSettingsCache(self.api, self.config.smtp_timeout_seconds)
        self.queue = WorkQueue(
            self.reconcile, workers=4, on_error=self.on_error, is_transient=self.is_transient
        )

    # -- what the case status controller reads ------------------------------------------------------------

    def outcome(self, uid: str) -> case_logic.MailOutcome | None:
        found = self._outcomes.get(uid)
        return found if isinstance(found, case_logic.MailOutcome) else None

    def sending(self, uid: str) -> str | None:
        found = self._outcomes.get(uid)
        return found.message_id if isinstance(found, Sending) else None

    def recorded(self, uid: str) -> None:
        """The case's status shows its confirmation: nothing to keep."""
        self._outcomes.pop(uid, None)
        self._intended_here.discard(uid)

    def ours(self, uid: str) -> bool:
        return uid in self._intended_here

    def intend(self, uid: str) -> str:
        """The case status controller writes the intent with the case's first status (one write, not two);
        returns the Message-ID it names. Recorded as this process's own, so sending is no resend."""
        message_id = message_id_for(uid)
        self._outcomes[uid] = Sending(message_id)
        self._intended_here.add(uid)
        return message_id

    def request(self, key: CaseKey) -> None:
        """Confirm this case (a failed mail waits for its retry: see `_retry_due`)."""
        self.queue.add(key)

    def forget(self, key: CaseKey, uid: str) -> None:
        self._intended_here.discard(uid)
        self._failures.pop(key, None)
        self._retry_due.pop(key, None)
        self._outcomes.pop(uid, None)
        self.queue.forget(key)

    # -- the reconcile -----------------------------------------------------------------------------------

    async def reconcile(self, key: CaseKey) -> None:
        cached = self.cache.case(key)
        case = cached.model if cached is not None else None
        if case is None or case.status is None or case.status.confirmation is not None:
            return
        if time.monotonic() < self._retry_due.get(key, 0.0):
            return  # a failed mail: its retry timer brings it back
        uid = case_uid(case)
        found = self._outcomes.get(uid)
        if isinstance(found, case_logic.MailOutcome) and found.sent is not None:
            self.requeue_status(key)  # accepted earlier, its status write failed: record it, never resend
            return
        contract = self.cache.contract_model(case.spec.contract_ref.name)
        if contract is None or case.status.reaction is None:
            return
        confirmation = await self._confirmation(key, case, contract)
        if isinstance(confirmation, str):  # the case status controller says why, from the contract as it is
            if self._outcomes.pop(uid, None) is not None:
                self.requeue_status(key)
            return
        await self._send(key, case, contract, confirmation)

    async def _send(
        self, key: CaseKey, case: SupportCase, contract: SupportContract, confirmation: CaseConfirmation
    ) -> None:
        uid = case_uid(case)
        on_record = case_logic.confirmation_sending(case)  # the intent is written
        resending = on_record and uid not in self._intended_here and key not in self._failures
        if not on_record or resending:  # the intent first; raises (and retries) if it cannot be written
            self._outcomes[uid] = Sending(confirmation.message_id)
            self._intended_here.add(uid)
            await self.write_status(key)
        notification = contract.spec.notification
        assert notification is not None
        try:
            settings = await asyncio.to_thread(self.settings.get, notification.smtp_secret_ref)
            if not self.may_write():
                raise NotLeaderError("not the leader: refusing to send a confirmation e-mail")
            await smtp.send(render(confirmation), settings)
        except (smtp.DeliveryError, ValueError, ApiException) as error:
            self.settings.forget(notification.smtp_secret_ref)
            self.metrics.email_failures.inc()
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            delay = min(MAIL_RETRY_BASE * 2 ** (failures - 1), MAIL_RETRY_MAX)
            self._retry_due[key] = time.monotonic() + delay - 0.05
            self.queue.add_after(key, delay)
            reason = error.reason if isinstance(error, ApiException) else str(error)
            self._outcomes[uid] = case_logic.MailOutcome(error=f"confirmation e-mail not delivered: {reason}")
            self.requeue_status(key)
            return
        except NotLeaderError:
            self._outcomes.pop(uid, None)  # the leader, whoever it is, confirms
            raise
        self._failures.pop(key, None)
        self._retry_due.pop(key, None)
        sent = ConfirmationStatus(
            sent_at=clock.now(), message_id=confirmation.message_id, recipients=list(confirmation.recipients)
        )
        self._outcomes[uid] = case_logic.MailOutcome(sent=sent)
        self.metrics.emails_sent.inc()
        obj = cached_obj(self.cache, key)
        if resending and obj is not None:
            message = (
                f"confirmation {confirmation.message_id} sent again: an operator stopped after sending it "
                "and before recording it, so the first one may have been delivered (same Message-ID)"
            )
            self.events.post(obj, [EventNote("Warning", reasons.CONFIRMATION_RESENT, message)])
        self.requeue_status(key)

    async def _confirmation(
        self, key: CaseKey, case: SupportCase, contract: SupportContract
    ) -> CaseConfirmation | str:
        """The mail to send, or why none can be (a NotificationNotConfigured message)."""
        if (why := unconfirmable(case, contract)) is not None:
            return why
        notification, status, recipients = (
            contract.spec.notification,
            case.status,
            recipients_of(case, contract),
        )
        reaction = status.reaction if status is not None else None
        if notification is None or status is None or reaction is None:
            return "the case has no reaction deadline yet"
        findings = (
            await self.diagnostics.mail_findings(key, self.config.diagnostics_mail_wait_seconds)
            if self.diagnostics is not None
            else ()
        )
        return CaseConfirmation(
            case_uid=case_uid(case),
            namespace=key[0],
            case=key[1],
            title=case.spec.title,
            priority=status.priority.value if status is not None and status.priority else "",
            reported_at=reaction.reported_at,
            deadline=reaction.deadline,
            time_zone=contract.spec.support_hours.time_zone,
            language=contract.spec.language.value,
            sender=notification.from_address,
            reporter_name=case.spec.reporter.name,
            recipients=recipients,
            reply_to=notification.reply_to,
            findings=findings,
            in_reply_to=case.metadata.annotations.get(MESSAGE_ID_ANNOTATION),
        )


def unconfirmable(case: SupportCase, contract: SupportContract) -> str | None:
    """Why no confirmation can be sent under this contract (NotificationNotConfigured), or None."""
    if contract.spec.notification is None:
        return (
            f"SupportContract {contract.metadata.name} has no spec.notification; "
            "add an SMTP Secret reference and a sender address to confirm cases by e-mail"
        )
    if not recipients_of(case, contract):
        return "no recipients: the reporter and the team have no e-mail"
    return None


def case_uid(case: SupportCase) -> str:
    """What the confirmation is keyed by (and its Message-ID made from): the case's UID."""
    return case.metadata.uid or f"{case.metadata.namespace}-{case.metadata.name}"


def cached_obj(cache: ObjectCache, key: CaseKey) -> dict[str, Any] | None:
    cached = cache.case(key)
    return cached.obj if cached is not None else None


def recipients_of(case: SupportCase, contract: SupportContract) -> tuple[str, ...]:
    notification = contract.spec.notification
    team = (
        [notification.team_address]
        if notification and notification.team_address
        else [m.email for m in contract.spec.team]
    )
    addresses = ([case.spec.reporter.email] if case.spec.reporter.email else []) + team
    return tuple(dict.fromkeys(addresses))  # de-duplicated, order kept
