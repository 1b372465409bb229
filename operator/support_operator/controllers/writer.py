"""Writing status and posting Events, shared by the controllers.

Status: the smallest merge patch from what the cache holds to what a planner wants, one writer at a time
per object (two controllers may write one case: its status and its queue position), and the response
stored back in the cache so the next reconcile starts from our own write. Events: queued and posted by a
background task, so that a slow Events API never holds up a status reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from support_operator.api.v1alpha1 import GROUP, VERSION
from support_operator.kube.events import post_event
from support_operator.kube.patch import merge_patch
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status.conditions import EventNote

log = logging.getLogger(__name__)
# Threads of their own: status writes must not wait behind mails and diagnostics in the loop's default
# pool (6 threads on 2 cores), nor Events behind status writes.
STATUS_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="status-write")
EVENT_POSTERS = 4  # Events posted at once: a burst of 10,000 new cases is a burst of Events
EVENT_THREADS = ThreadPoolExecutor(max_workers=EVENT_POSTERS, thread_name_prefix="events")
EVENT_BACKLOG = 10_000  # beyond this, Events are dropped (and logged): status is the record, Events a hint


@dataclass
class StatusWriter:
    api: client.ApiClient
    metrics: OperatorMetrics
    remember: Callable[[dict[str, Any]], None]  # stores a written object in the cache
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))

    @contextlib.asynccontextmanager
    async def exclusive(self, obj: dict[str, Any]) -> AsyncIterator[None]:
        """One status writer per object at a time; read the cache inside, write, then let go."""
        key = (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
        async with self._locks[key]:
            yield

    def forget(self, namespace: str, name: str) -> None:
        """The object is gone: drop its lock (a writer still holding it keeps its own reference)."""
        self._locks.pop((namespace, name), None)

    async def write(self, obj: dict[str, Any], plural: str, desired: dict[str, Any]) -> bool:
        """Patches status from `obj` (the cached version) to `desired`; whether anything was sent."""
        patch = merge_patch(obj.get("status") or {}, desired)
        if not patch:
            return False
        await self.patch(obj, plural, patch)
        return True

    async def patch(self, obj: dict[str, Any], plural: str, patch: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        updated = await loop.run_in_executor(
            STATUS_THREADS, self.patch_status, obj["metadata"], plural, patch
        )
        self.metrics.status_writes.labels(kind=obj["kind"]).inc()
        self.remember(updated)

    def patch_status(self, metadata: dict[str, Any], plural: str, patch: dict[str, Any]) -> dict[str, Any]:
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


@dataclass
class EventRecorder:
    """Posts Events in the background; `post` never waits for the API server."""

    api: client.ApiClient
    _queue: asyncio.Queue[tuple[dict[str, Any], EventNote]] = field(
        default_factory=lambda: asyncio.Queue(EVENT_BACKLOG)
    )
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"event-recorder-{i}") for i in range(EVENT_POSTERS)
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def post(self, obj: dict[str, Any], notes: list[EventNote]) -> None:
        for note in notes:
            try:
                self._queue.put_nowait((obj, note))
            except asyncio.QueueFull:
                log.warning("Event backlog full: dropped %s on %s", note.reason, obj["metadata"]["name"])

    async def drain(self) -> None:
        """Waits until every queued Event has been posted (tests, shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            obj, note = await self._queue.get()
            try:
                await asyncio.get_running_loop().run_in_executor(
                    EVENT_THREADS, post_event, self.api, obj, note.type, note.reason, note.message
                )
            except Exception as error:  # an Event is a hint: never worth stopping the recorder for
                log.warning("Event %s on %s not posted: %s", note.reason, obj["metadata"]["name"], error)
            finally:
                self._queue.task_done()
