"""Fencing: with two replicas only the Lease holder writes. Every mutating request of the operator's API
client asks the leader election first, so a replica that lost (or never had) the Lease cannot write status,
Events or access objects, whatever its reconcile loop still believes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotLeaderError(RuntimeError):
    """This replica does not hold the Lease (or cannot be sure it still does): the write was refused."""


def fence_api_client(api: client.ApiClient, may_write: Callable[[], bool]) -> client.ApiClient:
    """Makes `api` refuse mutating requests while `may_write()` is false (reads stay allowed: a standby
    keeps its cache warm)."""
    unfenced = api.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() in MUTATING_METHODS and not may_write():
            raise NotLeaderError(f"not the leader: refusing {method} {url.split('?')[0]}")
        return unfenced(method, url, *args, **kwargs)

    api.request = request
    return api
