"""The queue order of each contract's open cases, and `status.queuePosition` written without amplification.

The index is kept sorted as cases come and go (a bisect per change, not a sort of every case), so a case's
own status reconcile writes its exact position with the rest of its status. Cases whose position moved
because another case came before them are written by this controller in one coalesced pass per contract
every COALESCE_SECONDS: a new case at the end of the queue costs no write to any other case.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from support_operator.api.v1alpha1 import CASE_PLURAL
from support_operator.controllers.cache import CaseKey, ObjectCache
from support_operator.controllers.workqueue import WorkQueue
from support_operator.controllers.writer import StatusWriter
from support_operator.domain.queue import queue_sort_key
from support_operator.status.case import is_open, queue_item

log = logging.getLogger(__name__)
COALESCE_SECONDS = 1.0
Entry = tuple[Any, CaseKey]  # (sort key, case)


@dataclass
class QueueIndex:
    """One contract's open cases in queue order."""

    entries: list[Entry] = field(default_factory=list)
    by_case: dict[CaseKey, Entry] = field(default_factory=dict)

    def put(self, key: CaseKey, sort_key: Any | None) -> None:
        """Places a case (None: removes it)."""
        old = self.by_case.pop(key, None)
        if old is not None:
            index = bisect.bisect_left(self.entries, old)
            if index < len(self.entries) and self.entries[index] == old:
                del self.entries[index]
        if sort_key is not None:
            entry = (sort_key, key)
            bisect.insort(self.entries, entry)
            self.by_case[key] = entry

    def position(self, key: CaseKey) -> int | None:
        entry = self.by_case.get(key)
        return None if entry is None else bisect.bisect_left(self.entries, entry) + 1

    def positions(self) -> dict[CaseKey, int]:
        return {key: number for number, (_, key) in enumerate(self.entries, start=1)}


@dataclass
class QueueOrderController:
    cache: ObjectCache
    writer: StatusWriter
    is_transient: Callable[[BaseException], bool]
    on_error: Callable[[object, BaseException], None]
    indexes: dict[str, QueueIndex] = field(default_factory=dict)
    # Cases whose last status reconcile found them served (contract usable, namespace entitled): only
    # those show a position; the others' own reconcile clears it.
    served: set[CaseKey] = field(default_factory=set)
    queue: WorkQueue[str] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = WorkQueue(
            self.reconcile, workers=1, on_error=self.on_error, is_transient=self.is_transient
        )

    def place(self, key: CaseKey) -> None:
        """A case changed: its place in its contract's index (before its status reconcile reads it)."""
        facts = self.cache.facts(key)
        for name, index in self.indexes.items():
            if key in index.by_case and (facts is None or facts.contract != name):
                index.put(key, None)
        if facts is None:
            return
        index = self.indexes.setdefault(facts.contract, QueueIndex())
        index.put(key, self._sort_key(key, facts.contract) if facts.open else None)

    def rebuild(self, contract: str) -> None:
        """The contract's calendar or reaction time changed: every deadline, so every place."""
        index = self.indexes[contract] = QueueIndex()
        for key in self.cache.case_keys_of(contract):
            facts = self.cache.facts(key)
            if facts is not None and facts.open:
                index.put(key, self._sort_key(key, contract))

    def position(self, key: CaseKey, contract: str) -> int | None:
        index = self.indexes.get(contract)
        return index.position(key) if index is not None else None

    def moved(self, contract: str) -> None:
        """Some position of the contract may have moved: one pass, soon, for every move until then."""
        self.queue.add_after(contract, COALESCE_SECONDS)

    def _sort_key(self, key: CaseKey, contract: str) -> Any | None:
        cached, model = self.cache.case(key), self.cache.contract_model(contract)
        case = cached.model if cached is not None else None
        if case is None or model is None or not is_open(case):
            return None
        try:
            return queue_sort_key(queue_item(case, model))
        except ValueError:  # an unusable calendar: the case's Ready says so, it has no place
            return None

    async def reconcile(self, contract: str) -> None:
        """Writes queuePosition where the written one differs from the index."""
        index = self.indexes.get(contract)
        wanted = index.positions() if index is not None else {}
        for key in self.cache.case_keys_of(contract):
            cached = self.cache.case(key)
            if cached is None or "status" not in cached.obj or key not in self.served:
                continue  # not statused yet: its own first status write carries the position
            written = cached.obj["status"].get("queuePosition")
            want = wanted.get(key)
            if written != want and (want is not None or written is not None):
                await self._write(key, want)

    async def _write(self, key: CaseKey, position: int | None) -> None:
        cached = self.cache.case(key)
        if cached is None:
            return
        async with self.writer.exclusive(cached.obj):
            current = self.cache.case(key)
            if current is None or (current.obj.get("status") or {}).get("queuePosition") == position:
                return
            await self.writer.patch(current.obj, CASE_PLURAL, {"queuePosition": position})
