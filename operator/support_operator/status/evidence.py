"""How far a claimed acknowledgement is backed: the moment the operator observed analysisStartedAt being
set, against the time it claims. Pure: reads the case's managedFields, no API calls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from support_operator import clock
from support_operator.api.v1alpha1 import ReactionEvidence, ReactionStatus, SupportCase
from support_operator.domain.sla import parse_duration
from support_operator.status.conditions import Desired

ACKNOWLEDGED = "Acknowledged"
REASON_OBSERVED = "Observed"
REASON_RECORDED = "Recorded"
REASON_CLAIMED_IN_FUTURE = "ClaimedInFuture"


@dataclass(frozen=True)
class Acknowledgement:
    claimed: dt.datetime
    observed: dt.datetime
    evidence: ReactionEvidence
    ahead: bool  # claimed later than observed beyond the tolerance: a time that had not come yet

    def condition(self, tolerance: str) -> Desired:
        if self.ahead:
            return Desired(
                ACKNOWLEDGED,
                False,
                REASON_CLAIMED_IN_FUTURE,
                f"analysisStartedAt {_iso(self.claimed)} was set at {_iso(self.observed)}, more than "
                f"{tolerance} ahead: the reaction counts from the claimed time once it has come",
            )
        if self.evidence == ReactionEvidence.RECORDED:
            return Desired(
                ACKNOWLEDGED,
                True,
                REASON_RECORDED,
                f"analysisStartedAt {_iso(self.claimed)} was entered at {_iso(self.observed)}, more than "
                f"{tolerance} later: the reaction rests on the record",
            )
        return Desired(
            ACKNOWLEDGED,
            True,
            REASON_OBSERVED,
            f"analysisStartedAt {_iso(self.claimed)} observed at {_iso(self.observed)}",
        )


def observed_at(case: SupportCase, previous: ReactionStatus | None, now: dt.datetime) -> dt.datetime | None:
    """When analysisStartedAt was first seen set: kept once recorded, else the API server's time of the
    write that set it (managedFields), else now (the watch event)."""
    if previous is not None and previous.acknowledged_observed_at is not None:
        return previous.acknowledged_observed_at
    if case.spec.analysis_started_at is None:
        return None
    times = [
        stamp for entry in _managed_fields(case) if _sets_analysis_start(entry) and (stamp := _time(entry))
    ]
    return min([clock.from_server(min(times)), now]) if times else now


def acknowledgement(
    case: SupportCase, previous: ReactionStatus | None, tolerance: str, now: dt.datetime
) -> Acknowledgement | None:
    claimed = case.spec.analysis_started_at
    observed = observed_at(case, previous, now)
    if claimed is None or observed is None:
        return None
    window = _window(tolerance)
    ahead = claimed > observed + window
    graded = ReactionEvidence.OBSERVED if abs(claimed - observed) <= window else ReactionEvidence.RECORDED
    kept = previous.evidence if previous is not None and previous.evidence is not None else graded
    return Acknowledgement(claimed, observed, kept, ahead)


def _window(tolerance: str) -> dt.timedelta:
    try:
        return parse_duration(tolerance)
    except ValueError:  # 0s: no tolerance at all
        return dt.timedelta(0)


def _managed_fields(case: SupportCase) -> list[dict[str, Any]]:
    entries = (case.metadata.model_extra or {}).get("managedFields") or []
    return [entry for entry in entries if isinstance(entry, dict)]


def evidence_fields(entries: list[Any]) -> list[dict[str, Any]]:
    """Of an object's managedFields, the entries this module reads (the writes of analysisStartedAt), each
    reduced to its time and that field: what a cache needs to keep of managedFields."""
    return [
        {"time": entry.get("time"), "fieldsV1": {"f:spec": {"f:analysisStartedAt": {}}}}
        for entry in entries
        if isinstance(entry, dict) and _sets_analysis_start(entry)
    ]


def _sets_analysis_start(entry: dict[str, Any]) -> bool:
    spec = (entry.get("fieldsV1") or {}).get("f:spec") or {}
    return isinstance(spec, dict) and "f:analysisStartedAt" in spec


def _time(entry: dict[str, Any]) -> dt.datetime | None:
    return clock.parse_instant(entry.get("time"))


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
