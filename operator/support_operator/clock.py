"""The operator's clock: the system clock, or for tests only a fixed offset from it.

Month ends, retention and reaction deadlines are all read from here, so a test can run the operator
process a few seconds before a month boundary (SUPPORT_OPERATOR_TEST_CLOCK_OFFSET_SECONDS) and watch it
cross. Times the API server stamps (managedFields) are shifted by the same offset to stay comparable.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

log = logging.getLogger(__name__)
OFFSET_VARIABLE = "SUPPORT_OPERATOR_TEST_CLOCK_OFFSET_SECONDS"


def _read_offset() -> dt.timedelta:
    text = os.environ.get(OFFSET_VARIABLE, "").strip()
    if not text:
        return dt.timedelta(0)
    try:
        seconds = float(text)
    except ValueError:
        raise SystemExit(f"{OFFSET_VARIABLE} must be a number of seconds, got {text!r}") from None
    log.warning("test clock: the operator runs %+.0f s off the system clock (%s)", seconds, OFFSET_VARIABLE)
    return dt.timedelta(seconds=seconds)


OFFSET = _read_offset()


def precise_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + OFFSET


def now() -> dt.datetime:
    # Whole seconds: the API stores RFC 3339 timestamps, and equal inputs must give byte-equal status.
    return precise_now().replace(microsecond=0)


def from_server(instant: dt.datetime) -> dt.datetime:
    """A timestamp the API server wrote, on the operator's clock."""
    return instant + OFFSET


def parse_instant(text: object) -> dt.datetime | None:
    """An RFC 3339 timestamp as the API server writes it (2026-12-01T10:00:00Z); None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
