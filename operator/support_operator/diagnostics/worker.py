"""Taking the intake snapshot once per case, in a work queue of its own (never in the SLA's).

Exactly once, across restarts: the snapshot's ConfigMap has one name per case UID and is only ever
created, never updated. Before collecting, the worker looks for it; a create that meets AlreadyExists
(another process, or an earlier life of this one) reads that ConfigMap instead. A crash before the create
leaves nothing, so the retry is still the first snapshot; a crash after it leaves the ConfigMap, from
which status.diagnosis is written without collecting again.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.api.v1alpha1 import CASE_KIND, CASE_PLURAL, GROUP, OPEN_STATES, VERSION, SupportContract
from support_operator.api.v1alpha1.diagnostics import MAX_STATUS_FINDINGS, DiagnosticsSpec
from support_operator.controllers.workqueue import WorkQueue
from support_operator.diagnostics import analyze
from support_operator.diagnostics.collect import Collector, Limits
from support_operator.diagnostics.redact import RedactionPolicy, RedactionRuleError, Redactor
from support_operator.diagnostics.snapshot import (
    CASE_LABEL,
    MANAGED_BY,
    SNAPSHOT_KEY,
    SNAPSHOT_LABEL,
    decode_config_map,
    fit,
    snapshot_name,
)
from support_operator.domain.sla import parse_duration
from support_operator.kube.events import post_event

log = logging.getLogger(__name__)
CaseKey = tuple[str, str]
Obj = dict[str, Any]
Lookup = Callable[[CaseKey], tuple[Obj, SupportContract | None] | None]
# Condition-style reasons of the Events the worker posts on the case.
SNAPSHOT_TAKEN = "SnapshotTaken"
SNAPSHOT_FAILED = "SnapshotFailed"
INVALID_REDACTION_RULE = "InvalidRedactionRule"
MAIL_FINDINGS = 5
MAX_STORED_FINDINGS = 500  # the most severe; so that findings and manifest always fit the ConfigMap
MAX_ATTEMPTS = 3  # then status.diagnosis says Failed and why, instead of retrying silently


def wants_snapshot(obj: Obj) -> bool:
    """An open case that has no diagnosis yet."""
    status = obj.get("status") or {}
    state = (obj.get("spec") or {}).get("state", "New")
    return not status.get("diagnosis") and state in {s.value for s in OPEN_STATES}


@dataclass
class DiagnosticsWorker:
    api: client.ApiClient
    lookup: Lookup  # the reconciler's newest case object and its contract
    collect_timeout: float = 60.0
    _queue: WorkQueue[CaseKey] | None = None
    _done: dict[CaseKey, asyncio.Event] = field(default_factory=dict)
    _findings: dict[CaseKey, list[Obj]] = field(default_factory=dict)
    _attempts: dict[CaseKey, int] = field(default_factory=dict)
    _requested: dict[CaseKey, float] = field(default_factory=dict)  # loop time of the request

    def start(self) -> None:
        self._queue = WorkQueue(self.take, workers=1, base_backoff=5.0)
        self._queue.start()

    async def stop(self) -> None:
        if self._queue is not None:
            await self._queue.stop()

    def request(self, key: CaseKey) -> None:
        """Snapshot this case (once): called by the case reconcile when an accepted case has no diagnosis."""
        if key in self._done or self._queue is None:
            return
        self._done[key] = asyncio.Event()
        self._requested[key] = asyncio.get_running_loop().time()
        self._queue.add(key)

    def forget(self, key: CaseKey) -> None:
        for memory in (self._done, self._findings, self._attempts, self._requested):
            memory.pop(key, None)

    async def mail_findings(self, key: CaseKey, wait: float) -> tuple[str, ...]:
        """The top findings for the confirmation e-mail, waiting for the snapshot until `wait` seconds after
        it was requested; none when it is not ready by then. Counting from the request bounds the delay of
        a backlog (many new cases after a restart) by `wait` in all, not `wait` per case."""
        done = self._done.get(key)
        remaining = self._requested.get(key, 0.0) + wait - asyncio.get_running_loop().time()
        if done is not None and not done.is_set() and remaining > 0:
            try:
                await asyncio.wait_for(done.wait(), remaining)
            except TimeoutError:
                log.info("snapshot of %s/%s not ready within %.1f s: mail without findings", *key, wait)
        return tuple(analyze.headline(f) for f in self._findings.get(key, [])[:MAIL_FINDINGS])

    # -- the work ----------------------------------------------------------------------------------------

    async def take(self, key: CaseKey) -> None:
        found = self.lookup(key)
        if found is None:
            return self._finish(key, [])
        obj, contract = found
        if (obj.get("status") or {}).get("diagnosis"):
            return self._finish(key, (obj["status"]["diagnosis"].get("findings") or []))
        settings = (contract.spec.diagnostics if contract else None) or DiagnosticsSpec()
        if not settings.enabled:
            await self._patch(obj, {"state": "Skipped", "message": "the contract disables intake snapshots"})
            return self._finish(key, [])
        try:
            policy = RedactionPolicy.from_spec(settings)
        except RedactionRuleError as error:
            message = f"no snapshot taken: {error}; fix spec.diagnostics.redaction of the contract"
            await asyncio.to_thread(post_event, self.api, obj, "Warning", INVALID_REDACTION_RULE, message)
            await self._patch(obj, {"state": "Failed", "message": message[:1024]})
            return self._finish(key, [])
        try:
            document = await asyncio.to_thread(self._stored_or_new, obj, settings, policy)
        except ApiException as error:
            self._attempts[key] = self._attempts.get(key, 0) + 1
            if self._attempts[key] < MAX_ATTEMPTS:
                raise  # the queue retries with backoff
            message = f"no snapshot taken after {MAX_ATTEMPTS} attempts: {error.status} {error.reason}"
            await asyncio.to_thread(post_event, self.api, obj, "Warning", SNAPSHOT_FAILED, message)
            await self._patch(obj, {"state": "Failed", "message": message})
            return self._finish(key, [])
        self._attempts.pop(key, None)
        await self._patch(
            obj, _diagnosis(document, snapshot_name(obj["metadata"]["name"], obj["metadata"]["uid"]))
        )
        self._finish(key, document.get("findings") or [])

    def _finish(self, key: CaseKey, findings: list[Obj]) -> None:
        self._findings[key] = findings
        self._done.setdefault(key, asyncio.Event()).set()

    def _stored_or_new(self, obj: Obj, settings: DiagnosticsSpec, policy: RedactionPolicy) -> Obj:
        metadata = obj["metadata"]
        name = snapshot_name(metadata["name"], metadata["uid"])
        stored = self._read(metadata["namespace"], name)
        if stored is not None:
            return stored
        limits = Limits(window=parse_duration(settings.window), total_timeout=self.collect_timeout)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        document = Collector(self.api, Redactor(policy), limits).snapshot(obj, now)
        found = analyze.analyze(document)
        document["findings"] = found[:MAX_STORED_FINDINGS]
        document["manifest"]["findingsTotal"] = len(found)
        data, document = fit(document, settings.max_snapshot_bytes)
        try:
            client.CoreV1Api(self.api).create_namespaced_config_map(
                metadata["namespace"], _config_map(obj, name, data)
            )
        except ApiException as error:
            if error.status != 409:
                raise
            stored = self._read(metadata["namespace"], name)  # taken meanwhile: that one counts
            if stored is not None:
                return stored
            raise
        log.info(
            "intake snapshot %s/%s: %d findings, %d bytes",
            metadata["namespace"],
            name,
            len(document["findings"]),
            len(data),
        )
        post_event(
            self.api,
            obj,
            "Normal",
            SNAPSHOT_TAKEN,
            f"intake snapshot stored in ConfigMap {name}: {len(document['findings'])} finding(s)",
        )
        return document

    def _read(self, namespace: str, name: str) -> Obj | None:
        try:
            found = client.CoreV1Api(self.api).read_namespaced_config_map(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return decode_config_map(self.api.sanitize_for_serialization(found))

    async def _patch(self, obj: Obj, diagnosis: Obj) -> None:
        metadata = obj["metadata"]
        await asyncio.to_thread(
            client.CustomObjectsApi(self.api).patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            metadata["namespace"],
            CASE_PLURAL,
            metadata["name"],
            {"status": {"diagnosis": diagnosis}},
        )


def _config_map(obj: Obj, name: str, data: bytes) -> client.V1ConfigMap:
    metadata = obj["metadata"]
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name=name,
            namespace=metadata["namespace"],
            labels={SNAPSHOT_LABEL: "intake", CASE_LABEL: metadata["name"][:63], **MANAGED_BY},
            owner_references=[  # garbage-collected with the case; no blockOwnerDeletion (needs more RBAC)
                client.V1OwnerReference(
                    api_version=f"{GROUP}/{VERSION}",
                    kind=CASE_KIND,
                    name=metadata["name"],
                    uid=metadata["uid"],
                    controller=True,
                )
            ],
        ),
        binary_data={SNAPSHOT_KEY: base64.b64encode(data).decode()},
        immutable=True,
    )


def _diagnosis(document: Obj, name: str) -> Obj:
    findings = document.get("findings") or []
    trimmed = document.get("manifest", {}).get("trimmed") or []
    skipped = [s for s in document.get("manifest", {}).get("skipped", []) if s.get("resource") != "secrets"]
    notes = []
    if trimmed:
        notes.append(f"trimmed to the size limit: {', '.join(t['resource'] for t in trimmed)}")
    if skipped:
        notes.append("skipped: " + ", ".join(f"{s['resource']} ({s['reason']})" for s in skipped[:5]))
    return {
        "state": "Taken",
        "snapshot": name,
        "takenAt": document.get("takenAt"),
        "trimmed": bool(trimmed),
        "message": ("; ".join(notes) or "complete")[:1024],
        "findingCount": document.get("manifest", {}).get("findingsTotal", len(findings)),
        "findings": findings[:MAX_STATUS_FINDINGS],
    }
