"""SupportCase status: the planner's answer (status/case.py) for one case, written as one merge patch.

Reads only the cache: the contract, its queue index, the issued statements, the confirmation controller's
outcome. Sends no mail and waits for no Event: asks the confirmation controller to confirm instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from support_operator import clock
from support_operator.access import approval
from support_operator.access.entitlement import case_availability
from support_operator.api.v1alpha1 import CASE_PLURAL, reasons
from support_operator.controllers.cache import CaseKey, ObjectCache
from support_operator.controllers.confirmation import ConfirmationController, case_uid, unconfirmable
from support_operator.controllers.queue_order import QueueOrderController
from support_operator.controllers.workqueue import WorkQueue
from support_operator.controllers.writer import EventRecorder, StatusWriter
from support_operator.diagnostics.worker import DiagnosticsWorker, wants_snapshot
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status import case as case_logic
from support_operator.status import contract as contract_logic
from support_operator.status import statements as billing
from support_operator.status.conditions import EventNote

log = logging.getLogger(__name__)


@dataclass
class CaseStatusController:
    cache: ObjectCache
    writer: StatusWriter
    events: EventRecorder
    metrics: OperatorMetrics
    queue_order: QueueOrderController
    confirmation: ConfirmationController
    statements: billing.StatementBook
    is_transient: Callable[[BaseException], bool]
    on_error: Callable[[object, BaseException], None]
    diagnostics: DiagnosticsWorker | None = None  # the leader's intake snapshots
    queue: WorkQueue[CaseKey] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = WorkQueue(
            self.reconcile, workers=4, on_error=self.on_error, is_transient=self.is_transient
        )

    async def reconcile(self, key: CaseKey) -> None:
        cached = self.cache.case(key)
        if cached is None:
            return
        case = cached.model
        if case is None:
            self.events.post(cached.obj, [invalid_note(cached.obj, cached.error)])
            return
        async with self.writer.exclusive(cached.obj):
            await self._reconcile(key)

    async def _reconcile(self, key: CaseKey) -> None:
        cached = self.cache.case(key)  # the newest, now that no other writer holds this case
        case = cached.model if cached is not None else None
        if cached is None or case is None:
            return
        now = clock.now()
        name = case.spec.contract_ref.name
        contract = self.cache.contract_model(name)
        usable = contract_logic.availability(contract, now) if contract else None
        usable = case_availability(contract, usable, key[0], self.cache.namespaces)  # caseNamespaces
        served = usable is not None and usable.usable
        (self.queue_order.served.add if served else self.queue_order.served.discard)(key)
        position = self.queue_order.position(key, name) if served else None
        if self.diagnostics is not None and served and wants_snapshot(cached.obj):
            self.diagnostics.request(key)  # before the mail, which may list its first findings
        uid = case_uid(case)
        if case.status is not None and case.status.confirmation is not None:
            self.confirmation.recorded(uid)
        mail = self.confirmation.outcome(uid)
        if mail is None and served and contract and (why := unconfirmable(case, contract)) is not None:
            mail = case_logic.MailOutcome(not_configured=why)  # known now: no detour through the queue
        plan = case_logic.plan_case(case, contract, usable, position, mail, now)
        view = billing.case_billing(case, contract, self.statements.of(name), now)
        status = plan.status.model_copy(update={"billing": view.billing})
        predecessor = (
            mail is None and case_logic.confirmation_sending(case) and not self.confirmation.ours(uid)
        )
        if predecessor:  # a previous operator's intent: the confirmation controller decides what it means
            status = case_logic.with_intent_kept(status, case.status)
        elif (sending := self.confirmation.sending(uid)) is not None:
            status = case_logic.with_confirmation_sending(status, sending, now)
        elif plan.wants_confirmation and mail is None and contract is not None:
            sending = self.confirmation.intend(uid)  # the intent rides on this write
            status = case_logic.with_confirmation_sending(status, sending, now)
        if await self.writer.write(cached.obj, CASE_PLURAL, status.to_json_dict()) and status.confirmation:
            self.confirmation.recorded(uid)
        if plan.events:
            self.events.post(cached.obj, plan.events)
            for note in plan.events:
                if note.reason in approval.REASONS:
                    self.metrics.elevation_approvals.labels(reason=note.reason).inc()
        for when in (plan.recheck_at, view.recheck_at):
            if when is not None:
                self.queue.add_at(key, when)
        if plan.wants_confirmation and contract is not None and not (mail and mail.not_configured):
            self.confirmation.request(key)


def invalid_note(obj: dict[str, object], error: object) -> EventNote:
    """The API server accepted what our models refuse (should not happen: the CRDs come from them)."""
    first = error.errors()[0]["msg"] if hasattr(error, "errors") else str(error)
    count = error.error_count() if hasattr(error, "error_count") else 1
    log.error("%s %s: %s", obj.get("kind"), obj.get("metadata"), error)
    return EventNote(
        "Warning",
        reasons.INVALID_SPEC,
        f"the operator cannot read this object: {count} problem(s), first: {first}",
    )
