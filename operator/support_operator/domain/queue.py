"""The case queue: which open case the support team works on first.

Production incidents come first, then non-production incidents, consulting questions last (the offer gives
them lower priority than production matters, whatever impact they declare). Within a class the earliest
reaction deadline goes first, then the earlier report, then the name, so the order is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from support_operator.domain.calendar import to_epoch_us
from support_operator.domain.sla import Category, Impact

__all__ = ["PriorityClass", "QueueItem", "order_queue", "priority_class", "queue_positions", "queue_sort_key"]


class PriorityClass(IntEnum):
    """Lower value = served first. `label` is the short form for printer columns and metric labels."""

    PRODUCTION_INCIDENT = 1
    NON_PRODUCTION_INCIDENT = 2
    CONSULTATION = 3

    @property
    def label(self) -> str:
        return f"P{self.value}"


def priority_class(category: Category, impact: Impact) -> PriorityClass:
    """The priority class of a case: a consultation is last whatever its impact."""
    if category == Category.CONSULTATION:
        return PriorityClass.CONSULTATION
    if impact == Impact.PRODUCTION:
        return PriorityClass.PRODUCTION_INCIDENT
    return PriorityClass.NON_PRODUCTION_INCIDENT


@dataclass(frozen=True)
class QueueItem:
    """What the queue needs to know of an open case; `name` is unique (e.g. "namespace/name")."""

    name: str
    category: Category
    impact: Impact
    reported_at: datetime
    reaction_deadline: datetime

    @property
    def priority(self) -> PriorityClass:
        return priority_class(self.category, self.impact)


def queue_sort_key(item: QueueItem) -> tuple[int, int, int, str]:
    """Priority class, then reaction deadline, then report time (both as exact UTC instants), then name."""
    return (
        item.priority.value,
        to_epoch_us(item.reaction_deadline),
        to_epoch_us(item.reported_at),
        item.name,
    )


def order_queue(items: Iterable[QueueItem]) -> list[QueueItem]:
    """The open cases in the order they are to be worked on."""
    return sorted(items, key=queue_sort_key)


def queue_positions(items: Iterable[QueueItem]) -> dict[str, int]:
    """Each case's position in the queue, 1 being the case to work on first."""
    return {item.name: position for position, item in enumerate(order_queue(items), start=1)}
