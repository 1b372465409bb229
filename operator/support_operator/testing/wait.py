"""Polling helpers for tests against a real API server."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
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


def api_status(call: Callable[[], object]) -> int:
    """The HTTP status a Kubernetes API call ends with: 200 when it succeeds, else the error's status."""
    from kubernetes.client.rest import ApiException

    try:
        call()
    except ApiException as error:
        return int(error.status)
    return 200


def process_alive(pid: int) -> bool:
    """Whether `pid` is a running (not zombie) process, from /proc."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
