"""The manager: one typed cache, one controller per concern, each with its own queue, wired once.

Watch events, list results and our own writes' responses enter the cache through `_case_changed` /
`_contract_changed`, and `dependents` (pure) says which controller's queue gets which key. A case costs
O(1) work of its own plus coalesced passes over its contract (counts, ledger, queue positions), never a
reconcile of every neighbour.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from support_operator.access.plan import PlatformTraits
from support_operator.access.provisioner import Provisioner
from support_operator.api.v1alpha1 import (
    API_VERSION,
    CASE_PLURAL,
    CONTRACT_PLURAL,
    GROUP,
    STATEMENT_KIND,
    STATEMENT_PLURAL,
    VERSION,
    PlatformRecord,
    SupportContract,
)
from support_operator.config import OperatorConfig
from support_operator.controllers.access import AccessController
from support_operator.controllers.cache import CaseChange, CaseKey, ContractChange, ObjectCache
from support_operator.controllers.case_status import CaseStatusController
from support_operator.controllers.confirmation import ConfirmationController, case_uid
from support_operator.controllers.contract_status import ContractStatusController
from support_operator.controllers.dependents import case_dependents, contract_dependents
from support_operator.controllers.queue_order import QueueOrderController
from support_operator.controllers.writer import EventRecorder, StatusWriter
from support_operator.diagnostics.worker import DiagnosticsWorker
from support_operator.intake.supervisor import IntakeSupervisor
from support_operator.kube.errors import is_transient
from support_operator.kube.fencing import NotLeaderError
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status import statements as billing
from support_operator.status.conditions import Desired

log = logging.getLogger(__name__)
LIST_PAGE = 1000


def retry_soon(error: BaseException) -> bool:
    """Transient API failures and a replica that is not (yet, or no longer) the leader: both pass soon."""
    return is_transient(error) or isinstance(error, NotLeaderError)


@dataclass
class Manager:
    api: client.ApiClient
    config: OperatorConfig
    metrics: OperatorMetrics
    platform: PlatformRecord | None = None
    provisioner: Provisioner | None = None  # None: the operator provisions no access
    platform_traits: PlatformTraits = field(default_factory=PlatformTraits)
    may_write: Callable[[], bool] = lambda: True  # the leader election's fence (kube/leader.py)
    cache: ObjectCache = field(default_factory=ObjectCache)
    active: bool = False  # reconciling (the leader), not only following the watch
    intake: IntakeSupervisor | None = None  # the contracts' intake mailboxes (leader only)
    diagnostics: DiagnosticsWorker | None = None  # intake snapshots, in a queue of their own

    def __post_init__(self) -> None:
        self.statements = billing.StatementBook()
        self.writer = StatusWriter(self.api, self.metrics, self._written)
        self.events = EventRecorder(self.api)
        self.access = AccessController(
            self.config, self.cache, self.events, self.metrics, retry_soon, self._count_error("access"),
            provisioner=self.provisioner, platform_traits=self.platform_traits,
        )  # fmt: skip
        self.confirmation = ConfirmationController(
            self.api, self.config, self.cache, self.events, self.metrics, self.may_write, retry_soon,
            self._count_error("confirmation"),
        )  # fmt: skip
        self.queue_order = QueueOrderController(
            self.cache, self.writer, retry_soon, self._count_error("case")
        )
        self.case_status = CaseStatusController(
            self.cache, self.writer, self.events, self.metrics, self.queue_order, self.confirmation,
            self.statements, retry_soon, self._count_error("case"),
        )  # fmt: skip
        self.contract_status = ContractStatusController(
            self.api, self.cache, self.writer, self.events, self.metrics, self.access, self.statements,
            retry_soon, self._count_error("contract"), platform=self.platform,
            intake_watching=lambda name: self.intake is not None and self.intake.watching(name),
        )  # fmt: skip
        self.access.provisioned = self.contract_status.queue.add
        self.confirmation.write_status = self.case_status.reconcile
        self.confirmation.requeue_status = self.case_status.queue.add

    @property
    def queues(self) -> list[Any]:
        return [c.queue for c in self._controllers()]

    def _controllers(self) -> list[Any]:
        return [self.contract_status, self.access, self.case_status, self.confirmation, self.queue_order]

    # -- what other parts read (the metrics collector, the intake) -----------------------------------------

    @property
    def cases(self) -> dict[CaseKey, dict[str, Any]]:
        return self.cache.raw_cases

    @property
    def contracts(self) -> dict[str, dict[str, Any]]:
        return self.cache.raw_contracts

    def cases_snapshot(self) -> list[dict[str, Any]]:
        return list(self.cache.raw_cases.values())

    def contract_object(self, name: str) -> dict[str, Any] | None:
        return self.cache.raw_contracts.get(name)

    def report_intake(self, contract: str, condition: Desired) -> None:
        self.contract_status.report_intake(contract, condition)

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, activate: bool = True) -> None:
        """Loads every contract, case and statement first, so that the first reconciles see the whole
        picture and a restart writes nothing that has not changed. A standby loads (activate=False) and
        starts reconciling when it becomes the leader."""
        contracts, cases, issued = await asyncio.gather(
            asyncio.to_thread(self._list, CONTRACT_PLURAL),
            asyncio.to_thread(self._list, CASE_PLURAL),
            asyncio.to_thread(self._list, STATEMENT_PLURAL),
        )
        for statement in issued:  # known before any reconcile: never issued twice
            self.statements.observe(None, {"kind": STATEMENT_KIND, "apiVersion": API_VERSION, **statement})
        if self.provisioner is not None:
            listed = await asyncio.to_thread(client.CoreV1Api(self.api).list_namespace)
            for namespace in listed.items:
                self.cache.put_namespace(namespace.metadata.name, dict(namespace.metadata.labels or {}))
        for contract in contracts:
            self.cache.put_contract({"apiVersion": API_VERSION, "kind": "SupportContract", **contract})
        for case in cases:
            self.cache.put_case({"apiVersion": API_VERSION, "kind": "SupportCase", **case})
        for name in self.cache.raw_contracts:  # once per contract, not once per case
            self.queue_order.rebuild(name)
        if activate:
            self.activate()

    def _list(self, plural: str) -> list[dict[str, Any]]:
        """Every object of a kind, in pages: years of closed cases never arrive as one response."""
        objects, items, token = client.CustomObjectsApi(self.api), [], None
        while True:
            page = objects.list_cluster_custom_object(
                GROUP, VERSION, plural, limit=LIST_PAGE, _continue=token
            )
            items += page.get("items", [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def activate(self) -> None:
        """Starts reconciling (this replica leads): every object once, then as events and timers ask."""
        if self.active:
            return
        self.active = True
        if self.provisioner is not None:
            self.provisioner.resync()  # what exists may have changed while another replica led
        if self.config.email_intake:  # the leader alone reads the intake mailboxes (it creates cases)
            self.intake = IntakeSupervisor(self.api, self.metrics, self)
            for name, obj in self.cache.raw_contracts.items():
                self.intake.contract_changed(name, obj)
        self.diagnostics = DiagnosticsWorker(self.api, self._case_and_contract)  # writes: leader only
        self.case_status.diagnostics = self.confirmation.diagnostics = self.diagnostics
        self.diagnostics.start()
        for name in self.cache.raw_contracts:
            self.contract_status.queue.add(name)
            self.access.soon(name)
        # Open cases first: their deadlines are running; years of closed cases follow, mostly no-ops.
        keys = sorted(self.cache.raw_cases, key=lambda k: not (f := self.cache.facts(k)) or not f.open)
        for key in keys:
            self.case_status.queue.add(key)
        self.events.start()
        for queue in self.queues:
            queue.start()

    async def deactivate(self) -> None:
        """Stops reconciling (leadership lost); the cache keeps following the watch, so that taking over
        again starts warm."""
        self.active = False
        await self.stop()
        self.intake = None
        self.diagnostics = self.case_status.diagnostics = self.confirmation.diagnostics = None

    async def stop(self) -> None:
        if self.intake is not None:
            await self.intake.stop()
        for queue in self.queues:
            await queue.stop()
        if self.diagnostics is not None:
            await self.diagnostics.stop()
        await self.events.stop()

    def _count_error(self, kind: str) -> Callable[[object, BaseException], None]:
        def count(_key: object, _error: BaseException) -> None:
            self.metrics.reconcile_errors.labels(kind=kind).inc()

        return count

    # -- watch events (from Kopf) --------------------------------------------------------------------------

    def observe_namespace(self, event_type: str | None, obj: dict[str, Any]) -> None:
        """A namespace appeared, went or was relabelled: access scopes may have changed."""
        name = obj["metadata"]["name"]
        gone = event_type == "DELETED"
        if gone:
            self.access.namespace_gone(name)
        if self.cache.put_namespace(name, None if gone else dict(obj["metadata"].get("labels") or {})):
            for contract in self.cache.contracts_with_access():
                self.access.soon(contract)
            if self.cache.entitlement_by_namespace():  # a relabel may entitle or disentitle its cases
                for key in self.cache.case_keys_in(name):
                    self.case_status.queue.add(key)

    def observe_contract(self, event_type: str | None, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if self.intake is not None:
            self.intake.contract_changed(name, None if event_type == "DELETED" else obj)
        if event_type == "DELETED":
            self.contract_status.intake_conditions.pop(name, None)
            self.contract_status.queue.forget(name)
            self.access.contract_gone(name)
            if (change := self.cache.drop_contract(name)) is not None:
                self._contract_changed(change)
        elif (change := self.cache.put_contract(obj)) is not None:
            self._contract_changed(change)

    def observe_case(self, event_type: str | None, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event_type == "DELETED":
            cached = self.cache.case(key)
            if (change := self.cache.drop_case(key)) is not None:
                self._case_changed(change)
            self.case_status.queue.forget(key)
            self.queue_order.served.discard(key)
            self.writer.forget(*key)
            if cached is not None and cached.model is not None:
                self.confirmation.forget(key, case_uid(cached.model))
            if self.diagnostics is not None:
                self.diagnostics.forget(key)
        elif (change := self.cache.put_case(obj)) is not None:
            self._case_changed(change)

    def observe_statement(self, event_type: str | None, obj: dict[str, Any]) -> None:
        """An issued statement: its contract's history and its cases' billing moved."""
        contract = self.statements.observe(event_type, obj)
        if contract is not None and contract in self.cache.raw_contracts:
            self.contract_status.queue.add(contract)
            for key in self.cache.case_keys_of(contract):
                self.case_status.queue.add(key)

    def _written(self, obj: dict[str, Any]) -> None:
        """Our own write's response, stored like a watch event: a spec edit it carries (landed while our
        patch was in flight) moves what depends on it right here; that edit's own, older, event is then
        rightly a no-op."""
        if obj.get("kind") == "SupportCase":
            self.observe_case("MODIFIED", obj)
        else:
            self.observe_contract("MODIFIED", obj)

    # -- what a change re-queues -----------------------------------------------------------------------------

    def _case_changed(self, change: CaseChange) -> None:
        due = case_dependents(change.old, change.new)
        if due.queue_order or change.old is None:
            self.queue_order.place(change.key)  # before the case's own reconcile reads its position
        if due.case_status:
            self.case_status.queue.add(change.key)
        for name in due.contract_status & self.cache.raw_contracts.keys():
            self.contract_status.soon(name)
        for name in due.queue_order:
            self.queue_order.moved(name)
        for name in due.access & self.cache.raw_contracts.keys():
            self.access.soon(name)

    def _contract_changed(self, change: ContractChange) -> None:
        due = contract_dependents(change.old, change.new, change.name)
        if change.name in due.contract_status:
            self.contract_status.queue.add(change.name)
        if change.name in due.access and change.new is not None:
            self.access.soon(change.name)
        if change.name in due.queue_order:
            self.queue_order.rebuild(change.name)
            self.queue_order.moved(change.name)
        for name in due.all_cases_of:
            for key in self.cache.case_keys_of(name):
                self.case_status.queue.add(key)

    def _case_and_contract(self, key: CaseKey) -> tuple[dict[str, Any], SupportContract | None] | None:
        cached = self.cache.case(key)
        if cached is None:
            return None
        name = (cached.obj.get("spec") or {}).get("contractRef", {}).get("name", "")
        return cached.obj, self.cache.contract_model(name)
