"""The snapshot document: pruning, deterministic compression, trimming to the size limit with a note."""

from __future__ import annotations

import secrets

import diagnostics_objects as rec
from support_operator.diagnostics import snapshot


def _event(i: int) -> dict:
    return {
        "reason": "Noise",
        "message": secrets.token_hex(200),  # incompressible
        "lastTimestamp": f"2026-11-03T08:{i // 60:02d}:{i % 60:02d}Z",
    }


def _document(events: int) -> dict:
    return {
        "case": {"name": "c"},
        "namespaces": {"shop": {"events": [_event(i) for i in range(events)], "pods": [rec.CRASH_LOOPING]}},
        "findings": [{"reason": "CrashLoopBackOff"}],
        "manifest": {"trimmed": []},
    }


def test_small_snapshot_is_stored_whole_and_round_trips() -> None:
    document = _document(3)
    data, kept = snapshot.fit(document, 100_000)
    assert kept == document and snapshot.decode(data) == document
    assert snapshot.encode(document) == data  # deterministic: mtime 0, sorted keys


def test_oversized_snapshot_drops_oldest_events_first_and_says_so() -> None:
    document = _document(400)
    limit = 64 * 1024
    assert len(snapshot.encode(document)) > limit
    data, kept = snapshot.fit(document, limit)
    assert len(data) <= limit
    events = kept["namespaces"]["shop"]["events"]
    assert 0 < len(events) < 400
    assert events[-1] == document["namespaces"]["shop"]["events"][-1]  # the newest stay
    notes = kept["manifest"]["trimmed"]
    assert notes and all(n["resource"] == "events" for n in notes)
    assert sum(n["dropped"] for n in notes) == 400 - len(events)
    assert kept["findings"] == document["findings"] and kept["namespaces"]["shop"]["pods"]


def test_when_nothing_else_fits_findings_and_manifest_stay() -> None:
    document = _document(10)
    document["namespaces"]["shop"]["pods"] = [{"blob": secrets.token_hex(20_000)}]
    data, kept = snapshot.fit(document, 8 * 1024)
    assert len(data) <= 8 * 1024
    assert kept["findings"] == document["findings"] and kept["namespaces"]["shop"] == {"events": []}
    assert [n["resource"] for n in kept["manifest"]["trimmed"]][-1] == "pods"


def test_prune_keeps_status_and_drops_volumes() -> None:
    pod = {**rec.OOM, "spec": {**rec.OOM["spec"], "volumes": [{"name": "v"}]}}
    pruned = snapshot.prune(pod, "pods")
    assert pruned["status"] == rec.OOM["status"] and "volumes" not in pruned["spec"]


def test_snapshot_name_is_per_case_uid() -> None:
    assert snapshot.snapshot_name("shop-503", "0a1b2c3d-9999") == "support-snapshot-shop-503-0a1b2c3d"
