"""One mailbox per contract: connect, hand every mail in the folder to `plan.decide`, act on the decision,
then wait with IDLE (or poll) and repeat; reconnect with backoff when the server goes away.

Exactly once: a mail's case name is derived from its Message-ID, and the mail is moved out of the folder only
after its case exists (or its reply is recorded). A crash in between leaves the mail where it was; the next
fetch finds the case (409 AlreadyExists, same Message-ID) and only moves the mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import imaplib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kubernetes import client
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from support_operator.api.v1alpha1 import (
    CASE_PLURAL,
    GROUP,
    MAX_CONVERSATION,
    VERSION,
    ConversationEntry,
    EmailIntake,
    SupportContract,
)
from support_operator.domain.sla import parse_duration
from support_operator.intake.imap import ImapError, ImapSettings, MailboxSession
from support_operator.intake.mail import MailError, parse_mail
from support_operator.intake.plan import SENDER_ANNOTATION, Decision, Outcome, decide
from support_operator.intake.threads import MESSAGE_ID_ANNOTATION, CaseIndex, CaseKey
from support_operator.kube.events import post_event
from support_operator.kube.secrets import SecretUnavailableError, read_secret_data
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status.conditions import Desired

log = logging.getLogger(__name__)
T = TypeVar("T")

CONDITION = "EmailIntake"
REASON_CONNECTING = "Connecting"
REASON_WATCHING = "Watching"
REASON_POLLING = "Polling"
REASON_CREDENTIALS_UNAVAILABLE = "CredentialsUnavailable"
REASON_CASES_NOT_CREATED = "CasesNotCreated"
REASON_MAILBOX_UNREACHABLE = "MailboxUnreachable"
REASON_FAILED = "IntakeFailed"
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 60.0


class IntakeHost(Protocol):
    """What a watcher needs from the operator: its view of cases and contracts, and where health goes."""

    def cases_snapshot(self) -> list[dict[str, Any]]: ...

    def contract_object(self, name: str) -> dict[str, Any] | None: ...

    def report_intake(self, contract: str, condition: Desired) -> None: ...


class CaseGoneError(LookupError):
    """The case a reply belongs to was deleted meanwhile."""


class CasesNotCreatedError(RuntimeError):
    """The API server refused a case for a reason that is not the mail's fault; the mail stays."""


# What ends a mailbox session and is retried with backoff; the mail in the folder stays where it is.
RETRIED = (ImapError, SecretUnavailableError, CasesNotCreatedError, OSError, imaplib.IMAP4.error)


@dataclass
class MailboxWatcher:
    api: client.ApiClient
    contract: str
    intake: EmailIntake
    host: IntakeHost
    metrics: OperatorMetrics
    _executor: ThreadPoolExecutor = field(init=False)
    _session: MailboxSession | None = None
    _failures: int = 0
    _opened: dict[str, dict[str, dt.datetime]] = field(default_factory=lambda: defaultdict(dict))

    def __post_init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"intake-{self.contract}")

    async def run(self) -> None:
        # The series exists from the start (0: never read), so a mailbox that never works goes stale too.
        self.metrics.intake_last_success.labels(contract=self.contract)
        self.metrics.intake_up.labels(contract=self.contract).set(0)
        try:
            while True:
                try:
                    await self._session_loop()
                except RETRIED as error:
                    self._unhealthy(error)
                except Exception as error:  # never stop silently: report it, reconnect, try again
                    log.exception("e-mail intake of %s failed", self.contract)
                    self._unhealthy(error, REASON_FAILED)
                self._failures += 1
                await self._call(self._close)
                await asyncio.sleep(min(RETRY_BASE_SECONDS * 2 ** (self._failures - 1), RETRY_MAX_SECONDS))
        finally:
            for gauge in (self.metrics.intake_last_success, self.metrics.intake_up):
                with contextlib.suppress(KeyError):  # a deleted contract's mailbox is not stale
                    gauge.remove(self.contract)
            if self._session is not None:
                self._session.abort()
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _session_loop(self) -> None:
        session = await self._call(self._open)
        self._failures = 0  # connected: the next outage starts with a short backoff again
        poll = self._poll_seconds()
        mode = REASON_WATCHING if session.idle_supported else REASON_POLLING
        where = f"{self.intake.host}:{session.settings.port} folder {self.intake.folder}"
        how = "IDLE" if session.idle_supported else f"polling every {poll:.0f} s"
        self.host.report_intake(self.contract, Desired(CONDITION, True, mode, f"reading {where} ({how})"))
        self.metrics.intake_up.labels(contract=self.contract).set(1)
        while True:
            snapshot = self.host.cases_snapshot()
            await self._call(self._drain, session, snapshot)
            self.metrics.intake_last_success.labels(contract=self.contract).set_to_current_time()
            await self._call(session.wait, poll)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _poll_seconds(self) -> float:
        return parse_duration(self.intake.poll_interval).total_seconds()

    def _unhealthy(self, error: BaseException, reason: str | None = None) -> None:
        reason = reason or getattr(error, "reason", None)
        if isinstance(error, SecretUnavailableError):
            reason = REASON_CREDENTIALS_UNAVAILABLE
        elif isinstance(error, CasesNotCreatedError):
            reason = REASON_CASES_NOT_CREATED
        elif not isinstance(reason, str) or not reason.isalpha():
            reason = REASON_MAILBOX_UNREACHABLE
        message = str(error) or type(error).__name__
        where = f"{self.intake.host}:{self.intake.port or ''}".rstrip(":")
        if reason == REASON_MAILBOX_UNREACHABLE and where not in message:
            message = f"IMAP server {where}: {message}"
        log.warning("e-mail intake of %s: %s", self.contract, message)
        self.metrics.intake_errors.labels(contract=self.contract, reason=reason).inc()
        self.metrics.intake_up.labels(contract=self.contract).set(0)
        self.host.report_intake(self.contract, Desired(CONDITION, False, reason, f"{message}; retrying"))

    # -- blocking, in the watcher's own thread -------------------------------------------------------------

    def _open(self) -> MailboxSession:
        ref = self.intake.credentials_secret_ref
        secret = read_secret_data(self.api, ref.namespace, ref.name)
        settings = ImapSettings.of(self.intake, secret, f"{ref.namespace}/{ref.name}")
        session = MailboxSession(settings)
        self._session = session
        session.ensure_folders(self.intake.processed_folder, self.intake.rejected_folder)
        session.select(self.intake.folder)
        return session

    def _close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _drain(self, session: MailboxSession, snapshot: list[dict[str, Any]]) -> None:
        contract_obj = self.host.contract_object(self.contract)
        if contract_obj is None:
            return
        try:
            contract = SupportContract.from_k8s(contract_obj)
        except ValidationError:
            return  # the reconciler reports the invalid contract
        team = [m.email for m in contract.spec.team]
        index = CaseIndex.of(self.contract, snapshot)
        opened_before = _opened_by_sender(self.contract, snapshot)
        for uid in session.uids():
            fetched = session.fetch(uid)
            if fetched is None:
                continue
            raw, received = fetched
            try:
                mail = parse_mail(raw, received)
            except MailError as error:
                self._finish(session, uid, contract_obj, Decision(Outcome.UNREADABLE, str(error)))
                continue
            now = dt.datetime.now(dt.UTC)
            recent = {**opened_before.get(mail.sender, {}), **self._opened[mail.sender]}
            decision = decide(mail, self.intake, self.contract, team, index, list(recent.values()), now)
            decision = self._act(decision, mail.message_id)
            if decision.outcome == Outcome.CASE_OPENED and decision.case is not None:
                self._opened[mail.sender][decision.case[1]] = now
            if decision.case is not None and not decision.rejected:
                index.by_message_id[mail.message_id] = decision.case
            self._finish(session, uid, contract_obj, decision)

    def _act(self, decision: Decision, message_id: str) -> Decision:
        """Creates the case or records the reply; the returned decision says what really happened."""
        if decision.outcome == Outcome.CASE_OPENED and decision.body is not None:
            return self._create(decision, message_id)
        if decision.outcome == Outcome.REPLY_ATTACHED and decision.case and decision.entry:
            try:
                case = self._attach(decision.case, decision.entry)
            except CaseGoneError as gone:
                return Decision(Outcome.UNREADABLE, f"the reply's case {gone}")
            post_event(self.api, case, "Normal", "ReplyReceived", decision.message)
        return decision

    def _create(self, decision: Decision, message_id: str) -> Decision:
        body = decision.body or {}
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        objects = client.CustomObjectsApi(self.api)
        try:
            created = objects.create_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL, body)
        except ApiException as error:
            if error.status == 409:
                existing = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL, name)
                recorded = (existing["metadata"].get("annotations") or {}).get(MESSAGE_ID_ANNOTATION)
                if recorded == message_id:  # opened before a crash or by an earlier delivery
                    return Decision(
                        Outcome.DUPLICATE,
                        f"{message_id} already opened {namespace}/{name}",
                        (namespace, name),
                    )
                return Decision(Outcome.UNREADABLE, f"case {namespace}/{name} exists for another mail")
            if error.status in (400, 422):  # the API server refuses what the mail made of the case
                return Decision(Outcome.UNREADABLE, f"the case cannot be created: {_api_message(error)}")
            raise CasesNotCreatedError(
                f"cases cannot be created in namespace {namespace}: {error.status} {_api_message(error)}"
            ) from error
        post_event(self.api, created, "Normal", "OpenedByEmail", decision.message)
        return decision

    def _attach(self, key: CaseKey, entry: ConversationEntry) -> dict[str, Any]:
        """Adds `entry` to the case's status.conversation once (by Message-ID), with optimistic locking."""
        name = f"{key[0]}/{key[1]}"
        for _ in range(5):
            try:
                return self._attach_once(key, entry)
            except ApiException as error:
                if error.status == 404:
                    raise CaseGoneError(f"{name} was deleted") from error
                if error.status != 409:  # 409: the case changed since we read it
                    raise CasesNotCreatedError(f"reply not recorded on {name}: {error.reason}") from error
        raise CasesNotCreatedError(f"reply not recorded on {name}: the case keeps changing")

    def _attach_once(self, key: CaseKey, entry: ConversationEntry) -> dict[str, Any]:
        objects = client.CustomObjectsApi(self.api)
        case: dict[str, Any] = objects.get_namespaced_custom_object(
            GROUP, VERSION, key[0], CASE_PLURAL, key[1]
        )
        conversation = list((case.get("status") or {}).get("conversation") or [])
        if any(e.get("messageID") == entry.message_id for e in conversation):
            return case
        conversation = [*conversation, entry.to_json_dict()][-MAX_CONVERSATION:]
        patch = {
            "metadata": {"resourceVersion": case["metadata"]["resourceVersion"]},
            "status": {"conversation": conversation},
        }
        updated: dict[str, Any] = objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, key[0], CASE_PLURAL, key[1], patch
        )
        return updated

    def _finish(
        self, session: MailboxSession, uid: str, contract: dict[str, Any], decision: Decision
    ) -> None:
        """Moves the mail (after its case exists), counts it, posts an Event for what a human should see."""
        folder = self.intake.rejected_folder if decision.rejected else self.intake.processed_folder
        session.move(uid, folder)
        self.metrics.intake_mails.labels(contract=self.contract, outcome=decision.outcome.value).inc()
        log.info("e-mail intake of %s: %s (moved to %s)", self.contract, decision.message, folder)
        if decision.rejected and decision.outcome != Outcome.UNKNOWN_SENDER:  # no Event per spam mail
            reason = {
                Outcome.AUTOMATED: "AutomatedMailIgnored",
                Outcome.RATE_LIMITED: "SenderRateLimited",
                Outcome.UNREADABLE: "MailRejected",
            }[decision.outcome]
            post_event(self.api, contract, "Warning", reason, f"{decision.message}; moved to {folder}")


def _opened_by_sender(contract: str, cases: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dt.datetime]]:
    """When each sender's e-mail cases of the contract were created (the per-sender rate limit)."""
    opened: dict[str, dict[str, dt.datetime]] = defaultdict(dict)
    for obj in cases:
        metadata = obj["metadata"]
        sender = (metadata.get("annotations") or {}).get(SENDER_ANNOTATION)
        created = metadata.get("creationTimestamp")
        if sender and created and obj.get("spec", {}).get("contractRef", {}).get("name") == contract:
            stamp = created if isinstance(created, dt.datetime) else dt.datetime.fromisoformat(created)
            opened[sender][metadata["name"]] = stamp
    return opened


def _api_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)


def fingerprint(intake: EmailIntake | None) -> str:
    return json.dumps(intake.to_json_dict(), sort_keys=True) if intake else ""
