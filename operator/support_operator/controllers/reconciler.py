"""The operator's state and reconcile loops. Kopf delivers watch events (handlers.py); this module keeps the
latest objects in memory, reconciles them through keyed work queues, writes status only when it changes,
and schedules one timer per pending reaction deadline instead of polling."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from support_operator import clock
from support_operator.access import approval
from support_operator.access.entitlement import case_availability, entitled_cases
from support_operator.access.plan import PlatformTraits
from support_operator.access.protected import ProtectedNamespaces
from support_operator.access.provisioner import Provisioner
from support_operator.api.v1alpha1 import (
    API_VERSION,
    CASE_PLURAL,
    CONTRACT_PLURAL,
    GROUP,
    OPEN_STATES,
    STATEMENT_KIND,
    STATEMENT_PLURAL,
    VERSION,
    ConfirmationStatus,
    OpenCases,
    PlatformRecord,
    SupportCase,
    SupportContract,
    SupportContractStatus,
    reasons,
)
from support_operator.config import OperatorConfig
from support_operator.controllers.workqueue import WorkQueue
from support_operator.diagnostics.worker import DiagnosticsWorker, wants_snapshot
from support_operator.domain import sla
from support_operator.domain.queue import priority_class
from support_operator.intake.supervisor import IntakeSupervisor
from support_operator.intake.threads import MESSAGE_ID_ANNOTATION
from support_operator.intake.watcher import CONDITION as INTAKE_CONDITION
from support_operator.intake.watcher import REASON_CONNECTING as INTAKE_CONNECTING
from support_operator.kube.errors import is_transient
from support_operator.kube.events import post_event
from support_operator.kube.fencing import NotLeaderError
from support_operator.kube.patch import merge_patch
from support_operator.kube.secrets import read_secret_data
from support_operator.notify import smtp
from support_operator.notify.confirmation import CaseConfirmation, render
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status import access as access_logic
from support_operator.status import case as case_logic
from support_operator.status import contract as contract_logic
from support_operator.status import ledger as ledger_logic
from support_operator.status import statements as billing
from support_operator.status.conditions import Desired, EventNote

log = logging.getLogger(__name__)
CaseKey = tuple[str, str]  # namespace, name
MAIL_RETRY_BASE = 5.0
MAIL_RETRY_MAX = 300.0


def _now() -> dt.datetime:
    return clock.now()


def _newer(incoming: dict[str, Any], known: dict[str, Any] | None) -> bool:
    """Whether a watch event carries a newer object than the one we hold (e.g. from our own patch)."""
    if known is None:
        return True
    new, old = incoming["metadata"].get("resourceVersion", ""), known["metadata"].get("resourceVersion", "")
    if new.isdigit() and old.isdigit():
        return int(new) >= int(old)
    return True


@dataclass
class Reconciler:
    api: client.ApiClient
    config: OperatorConfig
    metrics: OperatorMetrics
    platform: PlatformRecord | None = None
    provisioner: Provisioner | None = None  # None: the operator provisions no access
    platform_traits: PlatformTraits = field(default_factory=PlatformTraits)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels (access scopes)
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    cases: dict[CaseKey, dict[str, Any]] = field(default_factory=dict)
    _contract_queue: WorkQueue[str] | None = None
    _case_queue: WorkQueue[CaseKey] | None = None
    may_write: Callable[[], bool] = lambda: True  # the leader election's fence (runtime/leader.py)
    # Case UID -> the confirmation SMTP accepted whose status write has not succeeded yet: recorded, never
    # sent again by this process.
    _unrecorded_confirmations: dict[str, ConfirmationStatus] = field(default_factory=dict)
    _mail_failures: dict[CaseKey, int] = field(default_factory=lambda: defaultdict(int))
    _tasks: set[asyncio.Future[Any]] = field(default_factory=set)
    active: bool = False  # reconciling (the leader), not only following the watch
    _loading: bool = False  # the initial list is being stored
    _models: dict[CaseKey, tuple[str | None, SupportCase]] = field(default_factory=dict)
    _positions: dict[str, dict[str, int]] = field(default_factory=dict)  # contract -> queue positions
    diagnostics: DiagnosticsWorker | None = None  # intake snapshots, in a queue of their own
    intake: IntakeSupervisor | None = None  # the contracts' intake mailboxes
    intake_conditions: dict[str, Desired] = field(default_factory=dict)  # contract -> EmailIntake
    statement_book: billing.StatementBook = field(default_factory=billing.StatementBook)

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self, activate: bool = True) -> None:
        """Loads every contract and case first, so that the first reconciles see the whole picture (queue
        positions, open-case counts) and a restart writes nothing that has not changed. A standby loads
        (activate=False) and starts reconciling when it becomes the leader."""
        self._contract_queue = WorkQueue(
            self.reconcile_contract,
            workers=1,
            on_error=self._count_error("contract"),
            is_transient=retry_soon,
        )
        self._case_queue = WorkQueue(
            self.reconcile_case, workers=2, on_error=self._count_error("case"), is_transient=retry_soon
        )
        objects = client.CustomObjectsApi(self.api)
        contracts = await asyncio.to_thread(
            objects.list_cluster_custom_object, GROUP, VERSION, CONTRACT_PLURAL
        )
        cases = await asyncio.to_thread(objects.list_cluster_custom_object, GROUP, VERSION, CASE_PLURAL)
        issued = await asyncio.to_thread(objects.list_cluster_custom_object, GROUP, VERSION, STATEMENT_PLURAL)
        for statement in issued.get("items", []):  # known before any reconcile: never issued twice
            self.statement_book.observe(
                None, {"kind": STATEMENT_KIND, "apiVersion": API_VERSION, **statement}
            )
        if self.provisioner is not None:
            listed = await asyncio.to_thread(client.CoreV1Api(self.api).list_namespace)
            self.namespaces = {n.metadata.name: dict(n.metadata.labels or {}) for n in listed.items}
        self._loading = True  # activate() queues every object: no neighbour re-queues (n² with n cases)
        for contract in contracts.get("items", []):
            self.observe_contract(
                None, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "SupportContract", **contract}
            )
        for case in cases.get("items", []):
            self.observe_case(None, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "SupportCase", **case})
        self._loading = False
        if activate:
            self.activate()

    def activate(self) -> None:
        """Starts reconciling (this replica leads): every object once, then as events and timers ask."""
        if self.active:
            return
        self.active = True
        if self.config.email_intake:  # the leader alone reads the intake mailboxes (it creates cases)
            self.intake = IntakeSupervisor(self.api, self.metrics, self)
            for name, obj in self.contracts.items():
                self.intake.contract_changed(name, obj)
        self.diagnostics = DiagnosticsWorker(self.api, self._case_and_contract)  # writes: leader only
        self.diagnostics.start()
        for name in self.contracts:
            self.contract_queue.add(name)
        for key in self.cases:
            self.case_queue.add(key)
        self.contract_queue.start()
        self.case_queue.start()

    async def deactivate(self) -> None:
        """Stops reconciling (leadership lost); the objects stay loaded and keep following the watch, so
        that taking over again starts from a warm cache."""
        self.active = False
        await self.stop()
        self.intake = None
        self.diagnostics = None

    async def stop(self) -> None:
        if self.intake is not None:
            await self.intake.stop()
        for queue in (self._contract_queue, self._case_queue):
            if queue is not None:
                await queue.stop()
        if self.diagnostics is not None:
            await self.diagnostics.stop()

    def _count_error(self, kind: str) -> Any:
        def count(_key: object, _error: BaseException) -> None:
            self.metrics.reconcile_errors.labels(kind=kind).inc()

        return count

    @property
    def contract_queue(self) -> WorkQueue[str]:
        assert self._contract_queue is not None, "Reconciler.start() first"
        return self._contract_queue

    @property
    def case_queue(self) -> WorkQueue[CaseKey]:
        assert self._case_queue is not None, "Reconciler.start() first"
        return self._case_queue

    # -- watch events (from Kopf) ------------------------------------------------------------------------

    def observe_namespace(self, event_type: str | None, obj: dict[str, Any]) -> None:
        """A namespace appeared, went or was relabelled: access scopes may have changed."""
        name = obj["metadata"]["name"]
        labels = dict(obj["metadata"].get("labels") or {})
        if event_type == "DELETED":
            changed = self.namespaces.pop(name, None) is not None
        else:
            changed = self.namespaces.get(name) != labels
            self.namespaces[name] = labels
        if changed:
            for contract, body in self.contracts.items():
                if body.get("spec", {}).get("access"):
                    self.contract_queue.add(contract)

    def observe_contract(self, event_type: str | None, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        known = name in self.contracts
        if self.intake is not None:
            self.intake.contract_changed(name, None if event_type == "DELETED" else obj)
        if event_type == "DELETED":
            self.contracts.pop(name, None)
            self.intake_conditions.pop(name, None)
            self.contract_queue.forget(name)
            self._requeue_cases_of(name)
            if self.provisioner is not None:  # the garbage collector would too; this is faster
                self._background(asyncio.to_thread(self.provisioner.revoke, name))
            return
        self._store_contract(obj)
        self.contract_queue.add(name)
        if not known:  # cases that waited for this contract
            self._requeue_cases_of(name)

    def observe_statement(self, event_type: str | None, obj: dict[str, Any]) -> None:
        """An issued statement: its contract's history and its cases' billing moved."""
        contract = self.statement_book.observe(event_type, obj)
        if contract is not None and contract in self.contracts:
            self.contract_queue.add(contract)
            self._requeue_cases_of(contract)

    def observe_case(self, event_type: str | None, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event_type == "DELETED":
            previous = self.cases.pop(key, None)
            self._models.pop(key, None)
            self.case_queue.forget(key)
            self._case_spec_moved(previous, None)
            if self.diagnostics is not None:
                self.diagnostics.forget(key)
        else:
            self._store_case(obj)
            self.case_queue.add(key)

    # -- the one way objects enter the store ---------------------------------------------------------------
    # Watch events, list results and the responses to our own status patches all carry the object at some
    # resourceVersion; whichever arrives first is stored, and what its spec changed is acted on right then,
    # by comparing it with the version it replaces. A patch response that already carries a user's spec edit
    # (the edit landed while our patch was in flight) therefore moves the contract as the edit's own watch
    # event would, and that event, older than what we hold, is then rightly a no-op.

    def _store_case(self, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        previous = self.cases.get(key)
        if not _newer(obj, previous):
            return
        self.cases[key] = obj
        if previous is not None and _generation(previous) != _generation(obj):
            self.case_queue.add(key)  # a status computed from the older spec may be on its way
        self._case_spec_moved(previous, obj)

    def _case_spec_moved(self, previous: dict[str, Any] | None, current: dict[str, Any] | None) -> None:
        """Re-queues what reads a case's spec besides the case itself: its contract and queue neighbours."""
        before, after = _queue_facts(previous), _queue_facts(current)
        if before != after:  # the contract's open-case counts and its queue order moved
            for facts in (before, after):
                if facts is not None:
                    self._contract_changed_cases(facts[0])
        elif (
            after is not None
            and after[0] in self.contracts
            and _contract_inputs(previous) != _contract_inputs(current)
        ):  # the ledger or the elevation moved, the queue did not: only the contract reconciles
            self.contract_queue.add(after[0])

    def _store_contract(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        previous = self.contracts.get(name)
        if not _newer(obj, previous):
            return
        self.contracts[name] = obj
        if previous is not None and _generation(previous) != _generation(obj):
            self._positions.pop(name, None)  # deadlines follow the contract's calendar
            self.contract_queue.add(name)

    # -- contracts ---------------------------------------------------------------------------------------

    def _contract_model(self, name: str) -> SupportContract | None:
        obj = self.contracts.get(name)
        if obj is None:
            return None
        try:
            return SupportContract.from_k8s(obj)
        except ValidationError:
            return None

    def _open_cases(self, contract_name: str) -> OpenCases:
        counts: dict[str, int] = defaultdict(int)
        for obj in self.cases.values():
            facts = _queue_facts(obj)
            if facts is not None and facts[0] == contract_name and facts[1]:
                counts[facts[2]] += 1
        return OpenCases(p1=counts["P1"], p2=counts["P2"], p3=counts["P3"], total=sum(counts.values()))

    async def reconcile_contract(self, name: str) -> None:
        obj = self.contracts.get(name)
        if obj is None:
            return
        now = _now()
        try:
            contract = SupportContract.from_k8s(obj)
        except ValidationError as error:
            await self._invalid(obj, CONTRACT_PLURAL, error)
            return
        previous_ready = _ready_reason(obj)
        cases = entitled_cases(contract, self._cases_of(name), self.namespaces)
        access = await self._provision(obj, contract, cases, now)
        plan = contract_logic.plan_contract(
            contract, self.platform, self._open_cases(name), now, cases, access, self._intake_condition(name)
        )
        status, failed = await self._issue_statements(contract, cases, plan.status, now)
        await self._write_status(obj, CONTRACT_PLURAL, status.to_json_dict(), [*plan.events, *failed])
        if plan.recheck_at is not None:
            self.contract_queue.add_at(name, plan.recheck_at)
        self.contract_queue.add_at(name, billing.next_boundary(contract, now))
        if previous_ready != plan.availability.reason or obj["metadata"].get("generation") != _observed(obj):
            self._requeue_cases_of(name)

    # -- e-mail intake (intake.watcher.IntakeHost) ----------------------------------------------------------

    def cases_snapshot(self) -> list[dict[str, Any]]:
        return list(self.cases.values())

    def contract_object(self, name: str) -> dict[str, Any] | None:
        return self.contracts.get(name)

    def report_intake(self, contract: str, condition: Desired) -> None:
        if self.intake_conditions.get(contract) != condition:
            self.intake_conditions[contract] = condition
            if contract in self.contracts:
                self.contract_queue.add(contract)

    def _intake_condition(self, name: str) -> Desired | None:
        if self.intake is None or not self.intake.watching(name):
            return None
        return self.intake_conditions.get(name) or Desired(
            INTAKE_CONDITION, None, INTAKE_CONNECTING, "connecting to the intake mailbox"
        )

    async def _provision(
        self, obj: dict[str, Any], contract: SupportContract, cases: list[SupportCase], now: dt.datetime
    ) -> access_logic.AccessResult | None:
        """Grants what the contract asks for (or revokes it all); None when this operator does no access."""
        if self.provisioner is None:
            return None
        usable = contract_logic.availability(contract, now)
        request = access_logic.access_request(
            contract,
            cases,
            self.namespaces,
            self.config.allowed_roles,
            dt.timedelta(seconds=self.config.max_token_ttl_seconds),
            self.platform_traits,
            ProtectedNamespaces(self.config.namespace, self.config.protected_namespaces),
        )
        plan = access_logic.plan_for(request, usable, now)
        ca_bundle = contract.spec.access.ca_bundle if contract.spec.access else None
        try:
            outcome = await asyncio.to_thread(self.provisioner.apply, obj, plan, ca_bundle, now)
        except ApiException as error:
            if is_transient(error):
                raise  # the API server is away: the work queue retries within seconds
            self.metrics.reconcile_errors.labels(kind="access").inc()
            self.contract_queue.add_after(contract.metadata.name, 30)
            message = f"provisioning failed: {error.status} {error.reason}; retrying"
            return access_logic.AccessResult(
                Desired(reasons.ACCESS_PROVISIONED, False, reasons.PROVISIONING_FAILED, message), None, []
            )
        return access_logic.result(request, usable, plan, outcome)

    async def _issue_statements(
        self,
        contract: SupportContract,
        cases: list[SupportCase],
        status: SupportContractStatus,
        now: dt.datetime,
    ) -> tuple[SupportContractStatus, list[EventNote]]:
        """Issues the statement of every month that has ended (once: a create that finds it exists reads
        it back), and fills the contract's history from the issued statements. A statement the API server
        refuses is reported as a Warning Event and tried again in 5 minutes."""
        name = contract.metadata.name
        if contract.metadata.uid is not None and status.billing_since is None:
            status = status.model_copy(update={"billing_since": billing.billing_since(contract, now)})
        current = contract.model_copy(update={"status": status})
        failed: list[EventNote] = []
        for month in billing.due_months(current, self.statement_book.of(name), now):
            body = billing.build_statement(current, cases, self.statement_book.of(name), month, now)
            try:
                created = await asyncio.to_thread(self._create_statement, body)
            except ApiException as error:
                self.metrics.reconcile_errors.labels(kind="statement").inc()
                self.contract_queue.add_after(name, 300)
                message = f"SupportStatement of {month} not issued: {error.status} {error.reason}; retrying"
                failed.append(EventNote("Warning", reasons.STATEMENT_FAILED, message))
                break  # months are issued in order: a later one needs this one first
            self.statement_book.observe(None, created)
        issued = self.statement_book.of(name)
        history = status.model_copy(
            update={
                "months": billing.months_status(issued, status.months, ledger_logic.MAX_MONTHS),
                "statements": [s.spec.month for s in issued][-ledger_logic.MAX_MONTHS :] or None,
            }
        )
        return history, failed

    def _create_statement(self, body: dict[str, Any]) -> dict[str, Any]:
        objects = client.CustomObjectsApi(self.api)
        try:
            created = objects.create_cluster_custom_object(GROUP, VERSION, STATEMENT_PLURAL, body)
        except ApiException as error:
            if error.status != 409:
                raise
            created = objects.get_cluster_custom_object(
                GROUP, VERSION, STATEMENT_PLURAL, body["metadata"]["name"]
            )
        assert isinstance(created, dict)
        return created

    def _background(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cases_of(self, contract_name: str) -> list[SupportCase]:
        """The contract's cases as models (ledger, queue, access); unreadable ones are reported by their
        own reconcile."""
        found = []
        for obj in self.cases.values():
            if obj.get("spec", {}).get("contractRef", {}).get("name") == contract_name:
                model = self._case_model(obj)
                if model is not None:
                    found.append(model)
        return found

    def _case_model(self, obj: dict[str, Any]) -> SupportCase | None:
        """Parsed once per resourceVersion: reconciles read every case of a contract."""
        metadata = obj["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        cached = self._models.get(key)
        if cached is not None and cached[0] == metadata.get("resourceVersion"):
            return cached[1]
        try:
            model = SupportCase.from_k8s(obj)
        except ValidationError:
            return None
        self._models[key] = (metadata.get("resourceVersion"), model)
        return model

    def _requeue_cases_of(self, contract_name: str) -> None:
        for key, obj in self.cases.items():
            if obj.get("spec", {}).get("contractRef", {}).get("name") == contract_name:
                self.case_queue.add(key)

    def _contract_changed_cases(self, contract_name: str) -> None:
        """A case opened, closed or changed priority: the contract's summary and the queue moved."""
        self._positions.pop(contract_name, None)
        if self._loading:
            return
        if contract_name in self.contracts:
            self.contract_queue.add(contract_name)
        self._requeue_cases_of(contract_name)

    # -- cases -------------------------------------------------------------------------------------------

    async def reconcile_case(self, key: CaseKey) -> None:
        obj = self.cases.get(key)
        if obj is None:
            return
        now = _now()
        try:
            case = SupportCase.from_k8s(obj)
        except ValidationError as error:
            await self._invalid(obj, CASE_PLURAL, error)
            return
        contract_name = case.spec.contract_ref.name
        contract = self._contract_model(contract_name)
        availability = contract_logic.availability(contract, now) if contract else None
        availability = case_availability(contract, availability, key[0], self.namespaces)  # caseNamespaces
        position = self._queue_position(key, contract) if availability and availability.usable else None
        plan = case_logic.plan_case(case, contract, availability, position, None, now)
        if self.diagnostics is not None and availability and availability.usable and wants_snapshot(obj):
            self.diagnostics.request(key)  # before the mail, which may list its first findings
        view = billing.case_billing(case, contract, self.statement_book.of(contract_name), now)
        if case.status is not None and case.status.confirmation is not None:
            self._unrecorded_confirmations.pop(case.metadata.uid or "", None)  # recorded: nothing to keep
        elif plan.wants_confirmation and contract is not None:
            billed = replace(plan, status=plan.status.model_copy(update={"billing": view.billing}))
            mail = await self._confirm(obj, case, contract, billed)
            plan = case_logic.plan_case(case, contract, availability, position, mail, now)
        status = plan.status.model_copy(update={"billing": view.billing})
        await self._write_status(obj, CASE_PLURAL, status.to_json_dict(), plan.events)
        for when in (plan.recheck_at, view.recheck_at):
            if when is not None:
                self.case_queue.add_at(key, when)
        for note in plan.events:
            if note.reason in approval.REASONS:
                self.metrics.elevation_approvals.labels(reason=note.reason).inc()

    def _queue_position(self, key: CaseKey, contract: SupportContract | None) -> int | None:
        """From the contract's queue, computed once until a case or the contract changes it."""
        if contract is None:
            return None
        name = contract.metadata.name
        if name not in self._positions:
            self._positions[name] = case_logic.positions(self._cases_of(name), contract)
        return self._positions[name].get(f"{key[0]}/{key[1]}")

    async def _confirm(
        self, obj: dict[str, Any], case: SupportCase, contract: SupportContract, plan: case_logic.CasePlan
    ) -> case_logic.MailOutcome:
        """Sends the confirmation at most once per process and records it in status, in this order: the
        intent (Confirmed=Unknown/EmailSending) is written first, so no mail leaves while status cannot be
        written; a mail SMTP accepted is kept until its status write succeeds (the work queue retries).
        The one remaining window: the process dies after SMTP accepted and before that write. The next
        operator then finds the intent without a confirmation and sends again, with the same Message-ID, and
        says so in a ConfirmationResent Event (docs/reliability.md)."""
        key = (case.metadata.namespace or "", case.metadata.name)
        sent = self._unrecorded_confirmations.get(case.metadata.uid or "")
        if sent is not None:  # accepted by SMTP earlier, its status write failed: record it, never resend
            return case_logic.MailOutcome(sent=sent)
        notification = contract.spec.notification
        if notification is None:
            return case_logic.MailOutcome(
                not_configured=f"SupportContract {contract.metadata.name} has no spec.notification; "
                "add an SMTP Secret reference and a sender address to confirm cases by e-mail"
            )
        reaction = plan.status.reaction
        recipients = _recipients(case, contract)
        if reaction is None or not recipients:
            return case_logic.MailOutcome(
                not_configured="no recipients: the reporter and the team have no e-mail"
            )
        confirmation = CaseConfirmation(
            case_uid=case.metadata.uid or f"{key[0]}-{key[1]}",
            namespace=key[0],
            case=key[1],
            title=case.spec.title,
            priority=plan.status.priority.value if plan.status.priority else "",
            reported_at=reaction.reported_at,
            deadline=reaction.deadline,
            time_zone=contract.spec.support_hours.time_zone,
            language=contract.spec.language.value,
            sender=notification.from_address,
            reporter_name=case.spec.reporter.name,
            recipients=recipients,
            reply_to=notification.reply_to,
            findings=await self._mail_findings(key),
            in_reply_to=case.metadata.annotations.get(MESSAGE_ID_ANNOTATION),
        )
        resending = case_logic.confirmation_sending(case) and key not in self._mail_failures
        intent = case_logic.with_confirmation_sending(plan.status, confirmation.message_id, _now())
        await self._write_status(obj, CASE_PLURAL, intent.to_json_dict(), [])
        try:
            settings = await asyncio.to_thread(self._smtp_settings, notification.smtp_secret_ref)
            self._check_fence("send a confirmation e-mail")
            await smtp.send(render(confirmation), settings)
        except (smtp.DeliveryError, ValueError, ApiException) as error:
            self.metrics.email_failures.inc()
            self._mail_failures[key] += 1
            delay = min(MAIL_RETRY_BASE * 2 ** (self._mail_failures[key] - 1), MAIL_RETRY_MAX)
            self.case_queue.add_after(key, delay)
            reason = error.reason if isinstance(error, ApiException) else str(error)
            return case_logic.MailOutcome(error=f"confirmation e-mail not delivered: {reason}")
        self._mail_failures.pop(key, None)
        sent = ConfirmationStatus(
            sent_at=_now(), message_id=confirmation.message_id, recipients=list(recipients)
        )
        self._unrecorded_confirmations[confirmation.case_uid] = sent
        self.metrics.emails_sent.inc()
        if resending:
            message = (
                f"confirmation {confirmation.message_id} sent again: an operator stopped after sending it "
                "and before recording it, so the first one may have been delivered (same Message-ID)"
            )
            await asyncio.to_thread(
                post_event, self.api, obj, "Warning", reasons.CONFIRMATION_RESENT, message
            )
        return case_logic.MailOutcome(sent=sent)

    def _check_fence(self, what: str) -> None:
        """Only the leader writes; a write outside the API (SMTP) asks the fence itself."""
        if not self.may_write():
            raise NotLeaderError(f"not the leader: refusing to {what}")

    async def _mail_findings(self, key: CaseKey) -> tuple[str, ...]:
        if self.diagnostics is None:
            return ()
        return await self.diagnostics.mail_findings(key, self.config.diagnostics_mail_wait_seconds)

    def _case_and_contract(self, key: CaseKey) -> tuple[dict[str, Any], SupportContract | None] | None:
        obj = self.cases.get(key)
        if obj is None:
            return None
        return obj, self._contract_model(obj.get("spec", {}).get("contractRef", {}).get("name", ""))

    def _smtp_settings(self, ref: Any) -> smtp.SmtpSettings:
        data = read_secret_data(self.api, ref.namespace, ref.name)  # errors name the Secret
        return smtp.SmtpSettings.from_secret_data(data, timeout=self.config.smtp_timeout_seconds)

    # -- writing -----------------------------------------------------------------------------------------

    async def _write_status(
        self,
        obj: dict[str, Any],
        plural: str,
        desired: dict[str, Any],
        events: list[EventNote],
    ) -> None:
        patch = merge_patch(obj.get("status") or {}, desired)
        metadata = obj["metadata"]
        if patch:
            updated = await asyncio.to_thread(self._patch_status, metadata, plural, patch)
            self.metrics.status_writes.labels(kind=obj["kind"]).inc()
            self._remember(updated)
        for note in events:
            await asyncio.to_thread(post_event, self.api, obj, note.type, note.reason, note.message)

    def _patch_status(self, metadata: dict[str, Any], plural: str, patch: dict[str, Any]) -> dict[str, Any]:
        objects = client.CustomObjectsApi(self.api)
        body = {"status": patch}
        if metadata.get("namespace"):
            result = objects.patch_namespaced_custom_object_status(
                GROUP, VERSION, metadata["namespace"], plural, metadata["name"], body
            )
        else:
            result = objects.patch_cluster_custom_object_status(
                GROUP, VERSION, plural, metadata["name"], body
            )
        assert isinstance(result, dict)
        return result

    def _remember(self, obj: dict[str, Any]) -> None:
        """Keep our own write, so the next reconcile does not work from the object before it; the same store
        as watch events, so a spec edit the response carries is acted on here."""
        if obj["kind"] == "SupportCase":
            self._store_case(obj)
        else:
            self._store_contract(obj)

    async def _invalid(self, obj: dict[str, Any], plural: str, error: ValidationError) -> None:
        """The API server accepted what our models refuse (should not happen: the CRDs come from them)."""
        first = error.errors()[0]["msg"]
        message = f"the operator cannot read this object: {error.error_count()} problem(s), first: {first}"
        log.error("%s %s: %s", obj["kind"], obj["metadata"]["name"], error)
        await asyncio.to_thread(post_event, self.api, obj, "Warning", reasons.INVALID_SPEC, message)


def retry_soon(error: BaseException) -> bool:
    """Transient API failures and a replica that is not (yet, or no longer) the leader: both pass soon."""
    return is_transient(error) or isinstance(error, NotLeaderError)


def _recipients(case: SupportCase, contract: SupportContract) -> tuple[str, ...]:
    notification = contract.spec.notification
    team = (
        [notification.team_address]
        if notification and notification.team_address
        else [m.email for m in contract.spec.team]
    )
    addresses = ([case.spec.reporter.email] if case.spec.reporter.email else []) + team
    return tuple(dict.fromkeys(addresses))  # de-duplicated, order kept


def _queue_facts(obj: dict[str, Any] | None) -> tuple[str, bool, str, str, str | None] | None:
    """What of a case moves its contract's queue (and open-case counts): contract, open, priority, deadline
    inputs."""
    if obj is None:
        return None
    spec = obj.get("spec", {})
    category, impact = spec.get("category", "Incident"), spec.get("impact") or "NonProduction"
    try:
        priority = priority_class(sla.Category(category), sla.Impact(impact)).label
    except ValueError:
        return None
    is_open = spec.get("state", "New") in {s.value for s in OPEN_STATES}
    return (
        spec.get("contractRef", {}).get("name", ""),
        is_open,
        priority,
        f"{category}/{impact}",
        spec.get("reportedAt"),
    )


def _contract_inputs(obj: dict[str, Any] | None) -> tuple[int, tuple[str, ...]] | None:
    """What else of a case its contract's reconcile reads: the number of effort entries (append-only, so the
    count changes with every entry: the ledger) and the affected namespaces (elevation)."""
    if obj is None:
        return None
    spec = obj.get("spec", {})
    approved = repr(spec.get("elevationApproval"))  # an approval starts or ends an elevation
    return len(spec.get("effort") or []), (*(spec.get("affectedNamespaces") or ()), approved)


def _ready_reason(obj: dict[str, Any]) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == reasons.READY:
            return str(condition.get("reason"))
    return None


def _generation(obj: dict[str, Any]) -> int | None:
    generation = obj["metadata"].get("generation")
    return int(generation) if generation is not None else None


def _observed(obj: dict[str, Any]) -> int | None:
    return (obj.get("status") or {}).get("observedGeneration")
