"""Keeps one MailboxWatcher per contract with spec.intake.email, restarted when that part of the spec
changes and stopped when it goes or the contract is deleted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from pydantic import ValidationError

from support_operator.api.v1alpha1 import EmailIntake
from support_operator.intake.watcher import IntakeHost, MailboxWatcher, fingerprint
from support_operator.observability.metrics import OperatorMetrics

log = logging.getLogger(__name__)


@dataclass
class IntakeSupervisor:
    api: client.ApiClient
    metrics: OperatorMetrics
    host: IntakeHost
    _running: dict[str, tuple[str, asyncio.Task[None]]] = field(default_factory=dict)

    def contract_changed(self, name: str, obj: dict[str, Any] | None) -> None:
        """`obj` None: the contract was deleted."""
        intake = _email_intake(obj)
        wanted = fingerprint(intake)
        current = self._running.get(name)
        if current is not None and current[0] == wanted:
            return
        if current is not None:
            current[1].cancel()
            del self._running[name]
        if intake is not None:
            watcher = MailboxWatcher(self.api, name, intake, self.host, self.metrics)
            task = asyncio.ensure_future(watcher.run())
            task.add_done_callback(_log_end)
            self._running[name] = (wanted, task)

    def watching(self, name: str) -> bool:
        return name in self._running

    async def stop(self) -> None:
        tasks = [task for _, task in self._running.values()]
        self._running.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _email_intake(obj: dict[str, Any] | None) -> EmailIntake | None:
    raw = ((obj or {}).get("spec") or {}).get("intake", {}).get("email")
    if not raw:
        return None
    try:
        return EmailIntake.model_validate(raw)
    except ValidationError:
        return None  # the contract's reconcile reports it


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("an e-mail intake watcher stopped: %r", task.exception())
