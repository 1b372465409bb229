"""A keyed work queue, as in controller-runtime: each key is reconciled by one worker at a time, repeated
requests for a queued key collapse into one, failures come back with exponential backoff, and a key can be
scheduled for a future instant (an SLA deadline) instead of being polled."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from support_operator import clock

log = logging.getLogger(__name__)
Key = TypeVar("Key", bound=Hashable)


@dataclass
class WorkQueue(Generic[Key]):
    reconcile: Callable[[Key], Awaitable[None]]
    workers: int = 2
    base_backoff: float = 1.0
    max_backoff: float = 300.0
    on_error: Callable[[Key, BaseException], None] = lambda key, error: None
    _queue: asyncio.Queue[Key] = field(default_factory=asyncio.Queue)
    _queued: set[Key] = field(default_factory=set)
    _active: set[Key] = field(default_factory=set)
    _dirty: set[Key] = field(default_factory=set)  # asked for again while being reconciled
    _failures: dict[Key, int] = field(default_factory=dict)
    _timers: dict[Key, asyncio.TimerHandle] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"reconcile-worker-{i}") for i in range(self.workers)
        ]

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def add(self, key: Key) -> None:
        """Reconcile `key` soon; a no-op if it already waits in the queue."""
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: Key, delay: float) -> None:
        """Reconcile `key` after `delay` seconds. A key has one timer, at the earliest instant asked for
        (a retry in 5 s must not be pushed back by a deadline in an hour; the early reconcile reschedules)."""
        loop = asyncio.get_running_loop()
        when = loop.time() + max(delay, 0.0)
        timer = self._timers.get(key)
        if timer is not None and not timer.cancelled() and timer.when() <= when:
            return
        if timer is not None:
            timer.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def add_at(self, key: Key, when: dt.datetime) -> None:
        self.add_after(key, (when - clock.precise_now()).total_seconds())

    def forget(self, key: Key) -> None:
        """The object is gone: drop its schedule and failure count."""
        if (timer := self._timers.pop(key, None)) is not None:
            timer.cancel()
        self._failures.pop(key, None)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            try:
                await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure is retried; the error is logged and counted
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                delay = min(self.base_backoff * 2 ** (failures - 1), self.max_backoff)
                log.warning(
                    "reconciling %s failed (attempt %d), retrying in %.0f s: %s", key, failures, delay, error
                )
                self.on_error(key, error)
                self.add_after(key, delay)
            else:
                self._failures.pop(key, None)
            finally:
                self._active.discard(key)
                self._queue.task_done()
            if key in self._dirty:
                self._dirty.discard(key)
                self.add(key)
