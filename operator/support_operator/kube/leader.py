"""Leader election on a coordination.k8s.io/v1 Lease, with controller-runtime's semantics and defaults.

The holder renews `renewTime` every `retry_period`; a candidate takes the Lease over once it has seen the
same record unchanged for `leaseDurationSeconds` (measured on its own clock from when it observed the
record, as client-go does, so clock skew between nodes does not matter), incrementing `leaseTransitions`.
Updates carry the resourceVersion read, so two candidates never both win.

Fencing: `may_write()` is true only while the last successful renewal *started* less than `renew_deadline`
ago. A candidate takes over no earlier than `lease_duration` after that renewal, so the margin
(lease_duration - renew_deadline) separates the old leader's last write from the new leader's first one.
A leader that cannot renew within `renew_deadline` stops writing and goes back to standby; it leads again
as soon as it can renew its own record (the API server's return after an outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator import constants

log = logging.getLogger(__name__)
LEASE_NAME = constants.LEASE_NAME
# controller-runtime's defaults (manager.Options: LeaseDuration, RenewDeadline, RetryPeriod).
LEASE_DURATION_SECONDS = 15.0
RENEW_DEADLINE_SECONDS = 10.0
RETRY_PERIOD_SECONDS = 2.0

Callback = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


@dataclass
class LeaderElection:
    api: client.ApiClient  # unfenced: the election must write its Lease while not leading
    namespace: str
    identity: str
    name: str = LEASE_NAME
    lease_duration: float = LEASE_DURATION_SECONDS
    renew_deadline: float = RENEW_DEADLINE_SECONDS
    retry_period: float = RETRY_PERIOD_SECONDS
    on_started_leading: Callback = _nothing
    on_stopped_leading: Callback = _nothing
    clock: Callable[[], float] = time.monotonic
    leading: bool = False
    _renewal_started: float | None = None
    _observed_record: tuple[object, ...] | None = None
    _observed_at: float = 0.0
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def may_write(self) -> bool:
        started = self._renewal_started
        return started is not None and self.clock() - started < self.renew_deadline

    async def run(self) -> None:
        """Campaigns, renews and steps down until stop(); then releases the Lease if it holds it."""
        log.info("leader election: %s campaigns for Lease %s/%s", self.identity, self.namespace, self.name)
        while not self._stopped.is_set():
            started = self.clock()
            try:
                held = await asyncio.to_thread(self._acquire_or_renew)
            except Exception as error:  # the API server is away or refused: try again next period
                log.debug("leader election: renewal failed: %s", error)
                held = False
            if held:
                self._renewal_started = started
                if not self.leading:
                    self.leading = True
                    log.info("leader election: %s is the leader", self.identity)
                    await self.on_started_leading()
            elif self.leading and not self.may_write():
                await self._step_down("could not renew the Lease within the renew deadline")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.retry_period)
        if self.leading:
            await self._step_down("stopping")
            await asyncio.to_thread(self._release)

    def stop(self) -> None:
        self._stopped.set()

    async def _step_down(self, why: str) -> None:
        self._renewal_started = None
        self.leading = False
        log.warning("leader election: %s stops leading: %s", self.identity, why)
        await self.on_stopped_leading()

    # -- the Lease ---------------------------------------------------------------------------------------

    def _leases(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.api)

    def _acquire_or_renew(self) -> bool:
        now = dt.datetime.now(dt.UTC)
        try:
            lease = self._leases().read_namespaced_lease(self.name, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            return self._create(now)
        spec = lease.spec or client.V1LeaseSpec()
        self._observe(spec)
        holder = spec.holder_identity
        duration = float(spec.lease_duration_seconds or self.lease_duration)
        if holder and holder != self.identity and self.clock() - self._observed_at < duration:
            return False  # somebody else's, and not expired as far as we have watched it
        if holder != self.identity:
            spec.holder_identity = self.identity
            spec.acquire_time = now
            spec.lease_transitions = (spec.lease_transitions or 0) + (1 if holder else 0)
        spec.renew_time = now
        spec.lease_duration_seconds = int(self.lease_duration)
        lease.spec = spec
        try:  # carries the resourceVersion read: a concurrent change makes this a 409
            self._leases().replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    def _observe(self, spec: client.V1LeaseSpec) -> None:
        record = (spec.holder_identity, spec.renew_time, spec.lease_transitions, spec.acquire_time)
        if record != self._observed_record:
            self._observed_record = record
            self._observed_at = self.clock()

    def _create(self, now: dt.datetime) -> bool:
        lease = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=self.identity,
                lease_duration_seconds=int(self.lease_duration),
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        try:
            self._leases().create_namespaced_lease(self.namespace, lease)
        except ApiException as error:
            if error.status == 409:  # another candidate created it first
                return False
            raise
        return True

    def _release(self) -> None:
        """On a graceful stop, as controller-runtime's ReleaseOnCancel: the standby need not wait."""
        try:
            lease = self._leases().read_namespaced_lease(self.name, self.namespace)
            if lease.spec is None or lease.spec.holder_identity != self.identity:
                return
            now = dt.datetime.now(dt.UTC)
            lease.spec.holder_identity = None
            lease.spec.lease_duration_seconds = 1
            lease.spec.renew_time = now
            lease.spec.acquire_time = now
            self._leases().replace_namespaced_lease(self.name, self.namespace, lease)
            log.info("leader election: %s released the Lease", self.identity)
        except (ApiException, OSError) as error:
            log.warning("leader election: could not release the Lease: %s", error)
