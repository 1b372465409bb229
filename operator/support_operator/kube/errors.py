"""Which API failures are transient: the API server is restarting, unreachable or overloaded. Those are
retried within seconds, so that writes resume right after it is back; others back off exponentially."""

from __future__ import annotations

from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

TRANSIENT_STATUSES = frozenset({0, 429, 500, 502, 503, 504})


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ApiException):
        return error.status in TRANSIENT_STATUSES
    return isinstance(error, HTTPError | ConnectionError | TimeoutError)
