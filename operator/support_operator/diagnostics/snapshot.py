"""The snapshot document: what of each object it keeps, its ConfigMap, compression and trimming. Pure.

A snapshot is one JSON document (gzip-compressed in the ConfigMap):

    {"apiVersion": SNAPSHOT_API_VERSION, "case": {...}, "takenAt": ..., "window": {"since", "until"},
     "platform": {...}, "nodes": [...], "namespaces": {NS: {"events": [...], "pods": [...], ...}},
     "findings": [...], "manifest": {"collected", "skipped", "redacted", "trimmed", "rules", "limits"}}
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Callable
from typing import Any

from support_operator import constants

SNAPSHOT_API_VERSION = "support.puzzle.ch/snapshot-v1"
SNAPSHOT_KEY = "snapshot.json.gz"
SNAPSHOT_LABEL = constants.LABEL_SNAPSHOT
CASE_LABEL = constants.LABEL_CASE
MANAGED_BY = {"app.kubernetes.io/managed-by": "support-operator"}
# The namespaced kinds of a snapshot, in the order they are dropped when the snapshot is too large (Events
# are thinned first, oldest first; pods go last: most findings are about them).
NAMESPACED_KINDS = (
    "events",
    "pods",
    "deployments",
    "statefulsets",
    "daemonsets",
    "jobs",
    "persistentvolumeclaims",
    "services",
    "endpointslices",
    "configmaps",
)
DROP_ORDER = (
    "configmaps",
    "endpointslices",
    "services",
    "persistentvolumeclaims",
    "jobs",
    "daemonsets",
    "statefulsets",
    "deployments",
    "pods",
)
MAX_EVENT_MESSAGE = 1024
Obj = dict[str, Any]

_METADATA_KEPT = frozenset(
    {"name", "namespace", "uid", "labels", "annotations", "ownerReferences", "creationTimestamp"}
    | {"generation", "deletionTimestamp"}
)
_CONTAINER_KEPT = frozenset(
    {
        "name",
        "image",
        "env",
        "envFrom",
        "resources",
        "readinessProbe",
        "livenessProbe",
        "startupProbe",
        "ports",
    }
)


def snapshot_name(case_name: str, case_uid: str) -> str:
    """One ConfigMap per case: the UID tells a case apart from a deleted one of the same name."""
    return f"support-snapshot-{case_name[:200]}-{case_uid[:8]}"


def prune(obj: Obj, kind: str) -> Obj:
    """What a snapshot keeps of an object: identity, the spec parts analyzers and readers need, all of
    status. Everything else (managedFields, volumes, full pod templates) stays out: smaller, less to leak."""
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k in _METADATA_KEPT}
    pruned: Obj = {"metadata": metadata}
    spec = obj.get("spec") or {}
    if kind == "pods":
        pruned["spec"] = {
            "nodeName": spec.get("nodeName"),
            "containers": [_container(c) for c in spec.get("containers") or []],
            "initContainers": [_container(c) for c in spec.get("initContainers") or []],
        }
    elif kind in ("deployments", "statefulsets", "daemonsets"):
        pruned["spec"] = {
            k: spec[k] for k in ("replicas", "strategy", "updateStrategy", "paused") if k in spec
        }
    elif kind == "jobs":
        pruned["spec"] = {k: spec[k] for k in ("completions", "parallelism", "backoffLimit") if k in spec}
    elif kind == "persistentvolumeclaims":
        pruned["spec"] = {k: spec[k] for k in ("storageClassName", "accessModes", "resources") if k in spec}
    elif kind == "services":
        pruned["spec"] = {k: spec[k] for k in ("type", "selector", "ports", "clusterIP") if k in spec}
    elif kind == "endpointslices":
        return {**pruned, "endpoints": obj.get("endpoints") or [], "ports": obj.get("ports") or []}
    elif kind == "configmaps":
        return {**pruned, "data": obj.get("data") or {}, "binaryData": obj.get("binaryData") or {}}
    if "status" in obj:
        pruned["status"] = obj["status"]
    return pruned


def _container(container: Obj) -> Obj:
    return {k: v for k, v in container.items() if k in _CONTAINER_KEPT}


def event_summary(event: Obj) -> Obj:
    """An Event as the snapshot keeps it (core/v1 shape)."""
    involved = event.get("involvedObject") or {}
    return {
        "type": event.get("type"),
        "reason": event.get("reason"),
        "message": (event.get("message") or "")[:MAX_EVENT_MESSAGE],
        "involvedObject": {k: involved.get(k) for k in ("kind", "namespace", "name") if involved.get(k)},
        "count": event.get("count") or 1,
        "firstTimestamp": event.get("firstTimestamp"),
        "lastTimestamp": event_time(event),
        "source": (event.get("source") or {}).get("component") or event.get("reportingComponent"),
    }


def event_time(event: Obj) -> str | None:
    """The Event's last occurrence, whichever of the fields its reporter filled in."""
    series = event.get("series") or {}
    return (
        event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )


def encode(document: Obj) -> bytes:
    """Deterministic gzip (mtime 0) of the compact JSON."""
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()
    return gzip.compress(raw, compresslevel=9, mtime=0)


def decode(data: bytes) -> Obj:
    document: Obj = json.loads(gzip.decompress(data))
    return document


def decode_config_map(config_map: Obj) -> Obj:
    """The snapshot document from the ConfigMap's JSON (binaryData is base64)."""
    binary = (config_map.get("binaryData") or {}).get(SNAPSHOT_KEY)
    if binary is None:
        raise ValueError(f"ConfigMap {config_map.get('metadata', {}).get('name')} holds no {SNAPSHOT_KEY}")
    return decode(base64.b64decode(binary))


def fit(document: Obj, limit: int) -> tuple[bytes, Obj]:
    """The compressed snapshot within `limit` bytes, trimmed when needed, and the document it encodes.
    Trimming thins Events (oldest first), then drops whole kinds, and notes each step in the manifest;
    findings (computed before trimming) and the manifest always stay."""
    document = copy.deepcopy(document)
    data = encode(document)
    if len(data) <= limit:
        return data, document
    notes: list[Obj] = document.setdefault("manifest", {}).setdefault("trimmed", [])
    for step in _trim_steps(document, limit):
        notes.append(step())
        data = encode(document)
        if len(data) <= limit:
            return data, document
    document["namespaces"], document["nodes"] = {}, []
    notes.append({"resource": "all", "note": f"only findings and the manifest fit in {limit} bytes"})
    return encode(document), document


def _trim_steps(document: Obj, limit: int) -> list[Callable[[], Obj]]:
    namespaces: dict[str, Obj] = document.get("namespaces") or {}

    def thin_events() -> Obj:
        events = sorted(
            ((ns, e) for ns, kinds in namespaces.items() for e in kinds.get("events", [])),
            key=lambda pair: str(pair[1].get("lastTimestamp") or ""),
        )
        dropped = (len(events) + 1) // 2
        drop = {id(e) for _, e in events[:dropped]}
        for kinds in namespaces.values():
            kinds["events"] = [e for e in kinds.get("events", []) if id(e) not in drop]
        return {
            "resource": "events",
            "dropped": dropped,
            "note": f"oldest Events dropped to fit {limit} bytes",
        }

    def drop_kind(kind: str) -> Callable[[], Obj]:
        def step() -> Obj:
            dropped = sum(len(kinds.pop(kind, [])) for kinds in namespaces.values())
            return {"resource": kind, "dropped": dropped, "note": f"all {kind} dropped to fit {limit} bytes"}

        return step

    total_events = sum(len(kinds.get("events", [])) for kinds in namespaces.values())
    steps: list[Callable[[], Obj]] = [thin_events] * total_events.bit_length()
    return steps + [drop_kind(kind) for kind in DROP_ORDER]
