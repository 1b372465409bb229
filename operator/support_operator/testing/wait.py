"""Polling helpers for tests against a real API server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class NotReachedError(AssertionError):
    """The awaited state did not arrive in time; carries the last value seen."""


def eventually(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> T:
    """Calls `probe` until it returns something truthy and returns it; NotReachedError after `timeout`."""
    started = time.monotonic()
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() - started > timeout:
            raise NotReachedError(
                f"{what or 'condition'} not reached within {timeout:.0f} s; last seen: {last!r}"
            )
        time.sleep(interval)
