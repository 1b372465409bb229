"""Access: owns `AccessProvisioned`. Plans what a contract grants (status/access.py, access/plan.py), has
the provisioner apply it (server-side apply, pruned by label, only what changed), and hands the result to
the contract status controller, the one writer of the contract's status."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes.client.rest import ApiException

from support_operator import clock
from support_operator.access.entitlement import entitled_cases
from support_operator.access.plan import PlatformTraits
from support_operator.access.protected import ProtectedNamespaces
from support_operator.access.provisioner import Provisioner
from support_operator.api.v1alpha1 import reasons
from support_operator.api.v1alpha1.contract import TokenRecord
from support_operator.config import OperatorConfig
from support_operator.controllers.cache import ObjectCache
from support_operator.controllers.workqueue import WorkQueue
from support_operator.controllers.writer import EventRecorder
from support_operator.kube.errors import is_transient
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status import access as access_logic
from support_operator.status import contract as contract_logic
from support_operator.status.conditions import Desired

COALESCE_SECONDS = 0.5  # a namespace storm (one per second, or a thousand at once) costs one pass each
FAILED_RETRY_SECONDS = 30


@dataclass
class AccessController:
    config: OperatorConfig
    cache: ObjectCache
    events: EventRecorder
    metrics: OperatorMetrics
    is_transient: Callable[[BaseException], bool]
    on_error: Callable[[object, BaseException], None]
    provisioner: Provisioner | None = None  # None: this operator provisions no access
    platform_traits: PlatformTraits = field(default_factory=PlatformTraits)
    provisioned: Callable[[str], None] = lambda name: None  # the contract status controller's queue
    _results: dict[str, access_logic.AccessResult] = field(default_factory=dict)
    # Tokens minted whose audit record the contract's status does not show yet: kept across passes.
    _unrecorded: dict[str, list[TokenRecord]] = field(default_factory=dict)
    _tasks: set[asyncio.Future[Any]] = field(default_factory=set)
    queue: WorkQueue[str] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = WorkQueue(
            self.reconcile, workers=1, on_error=self.on_error, is_transient=self.is_transient
        )

    def soon(self, name: str) -> None:
        if self.provisioner is not None:
            self.queue.add_after(name, COALESCE_SECONDS)

    def result_for(self, name: str) -> access_logic.AccessResult | None:
        """The last pass's result, with every token minted since the status last recorded one."""
        found = self._results.get(name)
        if found is None:
            return None
        return replace(found, minted=list(self._unrecorded.get(name, [])))

    def recorded(self, name: str, credential_ids: Iterable[str]) -> None:
        known = set(credential_ids)
        pending = [t for t in self._unrecorded.get(name, []) if t.credential_id not in known]
        if pending:
            self._unrecorded[name] = pending
        else:
            self._unrecorded.pop(name, None)

    def namespace_gone(self, name: str) -> None:
        if self.provisioner is not None:
            self.provisioner.forget_namespace(name)

    def contract_gone(self, name: str) -> None:
        self._results.pop(name, None)
        self._unrecorded.pop(name, None)
        self.queue.forget(name)
        if self.provisioner is not None:  # the garbage collector would too; this is faster
            task = asyncio.ensure_future(asyncio.to_thread(self.provisioner.revoke, name))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def reconcile(self, name: str) -> None:
        cached = self.cache.contract(name)
        contract = cached.model if cached is not None else None
        if self.provisioner is None or cached is None or contract is None:
            return
        now = clock.now()
        usable = contract_logic.availability(contract, now)
        request = access_logic.access_request(
            contract,
            entitled_cases(contract, self.cache.open_cases_of(name), self.cache.namespaces),
            self.cache.namespaces,
            self.config.allowed_roles,
            dt.timedelta(seconds=self.config.max_token_ttl_seconds),
            self.platform_traits,
            ProtectedNamespaces(self.config.namespace, self.config.protected_namespaces),
        )
        plan = access_logic.plan_for(request, usable, now)
        ca_bundle = contract.spec.access.ca_bundle if contract.spec.access else None
        try:
            outcome = await asyncio.to_thread(self.provisioner.apply, cached.obj, plan, ca_bundle, now)
        except ApiException as error:
            if is_transient(error):
                raise  # the API server is away: the work queue retries within seconds
            self.metrics.reconcile_errors.labels(kind="access").inc()
            self.queue.add_after(name, FAILED_RETRY_SECONDS)
            message = f"provisioning failed: {error.status} {error.reason}; retrying"
            failed = Desired(reasons.ACCESS_PROVISIONED, False, reasons.PROVISIONING_FAILED, message)
            self._results[name] = access_logic.AccessResult(failed, None, [])
            self.provisioned(name)
            return
        result = access_logic.result(request, usable, plan, outcome)
        self.events.post(cached.obj, result.events)
        if result.minted:
            self._unrecorded.setdefault(name, []).extend(result.minted)
        self._results[name] = replace(result, events=[], minted=[])
        if result.recheck_at is not None:
            self.queue.add_at(name, result.recheck_at)
        self.provisioned(name)
