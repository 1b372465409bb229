"""Status conditions as the Kubernetes API conventions want them: `Ready` first, lastTransitionTime only
moves when the status flips, observedGeneration on each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from support_operator.api.v1alpha1 import Condition, ConditionStatus


@dataclass(frozen=True)
class EventNote:
    """A Kubernetes Event the reconciler posts after writing status."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Desired:
    type: str
    ok: bool | None  # None: Unknown
    reason: str
    message: str


def merge_conditions(
    previous: Iterable[Condition] | None, desired: Iterable[Desired], generation: int | None, now: dt.datetime
) -> list[Condition]:
    """The new condition list, in the order of `desired` (put Ready first)."""
    before = {c.type: c for c in previous or ()}
    merged = []
    for want in desired:
        status = ConditionStatus.UNKNOWN if want.ok is None else ConditionStatus(str(want.ok))
        old = before.get(want.type)
        since = old.last_transition_time if old is not None and old.status == status else now
        merged.append(
            Condition(
                type=want.type,
                status=status,
                reason=want.reason,
                message=want.message,
                observed_generation=generation,
                last_transition_time=since,
            )
        )
    return merged


def flipped(previous: Iterable[Condition] | None, current: Iterable[Condition]) -> list[Condition]:
    """Conditions whose status or reason changed: each is worth an Event."""
    before = {c.type: (c.status, c.reason) for c in previous or ()}
    return [c for c in current if before.get(c.type) != (c.status, c.reason)]
