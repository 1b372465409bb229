"""SupportContract status: availability, staffing, open-case counts, the ledger, issued statements, and the
access and intake conditions other controllers hand over. The only writer of a contract's status."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator import clock
from support_operator.access.entitlement import entitled_cases
from support_operator.api.v1alpha1 import (
    CONTRACT_PLURAL,
    GROUP,
    STATEMENT_PLURAL,
    VERSION,
    PlatformRecord,
    SupportCase,
    SupportContract,
    SupportContractStatus,
    reasons,
)
from support_operator.controllers.access import AccessController
from support_operator.controllers.cache import ObjectCache
from support_operator.controllers.case_status import invalid_note
from support_operator.controllers.workqueue import WorkQueue
from support_operator.controllers.writer import EventRecorder, StatusWriter
from support_operator.intake.watcher import CONDITION as INTAKE_CONDITION
from support_operator.intake.watcher import REASON_CONNECTING as INTAKE_CONNECTING
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status import contract as contract_logic
from support_operator.status import ledger as ledger_logic
from support_operator.status import statements as billing
from support_operator.status.conditions import Desired, EventNote

COALESCE_SECONDS = 0.5  # a burst of cases updates the counts and the ledger once


@dataclass
class ContractStatusController:
    api: client.ApiClient
    cache: ObjectCache
    writer: StatusWriter
    events: EventRecorder
    metrics: OperatorMetrics
    access: AccessController
    statements: billing.StatementBook
    is_transient: Callable[[BaseException], bool]
    on_error: Callable[[object, BaseException], None]
    platform: PlatformRecord | None = None
    intake_watching: Callable[[str], bool] = lambda name: False
    intake_conditions: dict[str, Desired] = field(default_factory=dict)  # contract -> EmailIntake
    queue: WorkQueue[str] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = WorkQueue(
            self.reconcile, workers=1, on_error=self.on_error, is_transient=self.is_transient
        )

    def soon(self, name: str) -> None:
        """Case-driven: coalesced, so that 200 new cases cost a handful of contract writes."""
        self.queue.add_after(name, COALESCE_SECONDS)

    def report_intake(self, name: str, condition: Desired) -> None:
        if self.intake_conditions.get(name) != condition:
            self.intake_conditions[name] = condition
            if self.cache.contract(name) is not None:
                self.queue.add(name)

    async def reconcile(self, name: str) -> None:
        cached = self.cache.contract(name)
        if cached is None:
            return
        contract = cached.model
        if contract is None:
            self.events.post(cached.obj, [invalid_note(cached.obj, cached.error)])
            return
        now = clock.now()
        cases = entitled_cases(contract, self.cache.cases_of(name), self.cache.namespaces)
        access = self.access.result_for(name)
        plan = contract_logic.plan_contract(
            contract, self.platform, self.cache.open_cases(name), now, cases, access, self._intake(name)
        )
        status, failed = await self._issue_statements(contract, cases, plan.status, now)
        await self.writer.write(cached.obj, CONTRACT_PLURAL, status.to_json_dict())
        if access is not None:
            self.access.recorded(name, [t.credential_id for t in status.tokens or []])
        self.events.post(cached.obj, [*plan.events, *failed])
        if plan.recheck_at is not None:
            self.queue.add_at(name, plan.recheck_at)
        self.queue.add_at(name, billing.next_boundary(contract, now))

    def _intake(self, name: str) -> Desired | None:
        if not self.intake_watching(name):
            return None
        return self.intake_conditions.get(name) or Desired(
            INTAKE_CONDITION, None, INTAKE_CONNECTING, "connecting to the intake mailbox"
        )

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
        for month in billing.due_months(current, self.statements.of(name), now):
            body = billing.build_statement(current, cases, self.statements.of(name), month, now)
            try:
                created = await asyncio.to_thread(self._create_statement, body)
            except ApiException as error:
                if self.is_transient(error):
                    raise
                self.metrics.reconcile_errors.labels(kind="statement").inc()
                self.queue.add_after(name, 300)
                message = f"SupportStatement of {month} not issued: {error.status} {error.reason}; retrying"
                failed.append(EventNote("Warning", reasons.STATEMENT_FAILED, message))
                break  # months are issued in order: a later one needs this one first
            self.statements.observe(None, created)
        issued = self.statements.of(name)
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
