"""`kubectl support gather`: the full bundle, with the supporter's own credentials (I/O).

    gather-<case>-<time>/
      manifest.json          what was collected, what is missing and why, what was redacted, the limits
      findings.txt           the refreshed snapshot's findings, one per line
      snapshot.json          the snapshot, taken again now
      intake-snapshot.json   the operator's snapshot from intake, when readable
      namespaces/NS/KIND.yaml             the objects, as `oc adm inspect` writes them; Secrets elided
      namespaces/NS/logs/POD/CONTAINER.log (and .previous.log)   bounded by --since and the size caps

A forbidden resource, a log that cannot be read or the time limit make the bundle partial, never fail it:
the manifest lists each missing piece with its reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.diagnostics import analyze
from support_operator.diagnostics.collect import Collector, Limits, Progress, case_namespaces, iso
from support_operator.diagnostics.redact import Redactor

Obj = dict[str, Any]
SECRETS_ELIDED = {"resource": "secrets", "reason": "elided: Secrets are never read (like oc adm inspect)"}


@dataclass(frozen=True)
class GatherOptions:
    since: dt.timedelta = dt.timedelta(hours=2)  # logs and Events
    max_log_bytes: int = 2 * 1024 * 1024  # per container log
    max_total_log_bytes: int = 64 * 1024 * 1024
    timeout: float = 300.0
    request_timeout: float = 20.0


@dataclass
class Bundle:
    """The files of the bundle in memory, written as one tar.gz at the end (also when partial)."""

    root: str
    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, path: str, content: str | bytes) -> None:
        self.files[f"{self.root}/{path}"] = content.encode() if isinstance(content, str) else content

    def write(self, target: Path) -> None:
        partial = target.with_name(target.name + ".part")
        with tarfile.open(partial, "w:gz") as archive:
            for name, content in self.files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(content), int(time.time()), 0o644
                archive.addfile(info, io.BytesIO(content))
        partial.replace(target)


def _kinds(api: client.ApiClient) -> dict[str, tuple[str, Callable[..., Any]]]:
    """plural -> (Kind, namespaced list call) of what the bundle dumps; never Secrets."""
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    networking, discovery = client.NetworkingV1Api(api), client.DiscoveryV1Api(api)
    return {
        "pods": ("Pod", core.list_namespaced_pod),
        "services": ("Service", core.list_namespaced_service),
        "endpointslices": ("EndpointSlice", discovery.list_namespaced_endpoint_slice),
        "configmaps": ("ConfigMap", core.list_namespaced_config_map),
        "persistentvolumeclaims": ("PersistentVolumeClaim", core.list_namespaced_persistent_volume_claim),
        "serviceaccounts": ("ServiceAccount", core.list_namespaced_service_account),
        "events": ("Event", core.list_namespaced_event),
        "deployments": ("Deployment", apps.list_namespaced_deployment),
        "replicasets": ("ReplicaSet", apps.list_namespaced_replica_set),
        "statefulsets": ("StatefulSet", apps.list_namespaced_stateful_set),
        "daemonsets": ("DaemonSet", apps.list_namespaced_daemon_set),
        "jobs": ("Job", batch.list_namespaced_job),
        "cronjobs": ("CronJob", batch.list_namespaced_cron_job),
        "ingresses": ("Ingress", networking.list_namespaced_ingress),
        "networkpolicies": ("NetworkPolicy", networking.list_namespaced_network_policy),
    }


@dataclass
class Gatherer:
    api: client.ApiClient
    redactor: Redactor
    options: GatherOptions = field(default_factory=GatherOptions)
    progress: Progress = lambda _message: None
    collected: list[Obj] = field(default_factory=list)
    missing: list[Obj] = field(default_factory=list)
    _deadline: float = 0.0
    _log_bytes: int = 0

    def gather(self, case: Obj, intake: Obj | None, target: Path, now: dt.datetime) -> Obj:
        """Writes the bundle to `target` and returns its manifest."""
        self._deadline = time.monotonic() + self.options.timeout
        metadata = case["metadata"]
        bundle = Bundle(f"gather-{metadata['name']}-{now.strftime('%Y%m%dT%H%M%SZ')}")
        refreshed = self._snapshot(case, now)
        bundle.add("snapshot.json", json.dumps(refreshed, indent=1, sort_keys=True, default=str))
        bundle.add("findings.txt", "".join(analyze.headline(f) + "\n" for f in refreshed["findings"]))
        if intake is not None:
            bundle.add("intake-snapshot.json", json.dumps(intake, indent=1, sort_keys=True, default=str))
        else:
            self.missing.append({"resource": "intake snapshot", "reason": "not taken or not readable"})
        for namespace in case_namespaces(case):
            pods = self._objects(bundle, namespace)
            self._logs(bundle, namespace, pods)
        manifest = self._manifest(case, now, refreshed)
        bundle.add("manifest.json", json.dumps(manifest, indent=1, sort_keys=True, default=str))
        bundle.write(target)
        return manifest

    def _snapshot(self, case: Obj, now: dt.datetime) -> Obj:
        limits = Limits(
            window=self.options.since,
            request_timeout=self.options.request_timeout,
            total_timeout=max(self._remaining() / 2, 1.0),
        )
        document = Collector(self.api, self.redactor, limits, self.progress).snapshot(case, now)
        document["findings"] = analyze.analyze(document)
        self.missing += [s for s in document["manifest"]["skipped"] if s["resource"] != "secrets"]
        return document

    def _objects(self, bundle: Bundle, namespace: str) -> list[Obj]:
        pods: list[Obj] = []
        for plural, (kind, listing) in _kinds(self.api).items():
            call = functools.partial(listing, namespace, _request_timeout=self.options.request_timeout)
            listed = self._call(plural, namespace, call)
            if listed is None:
                continue
            items = self.api.sanitize_for_serialization(listed).get("items") or []
            if plural == "pods":
                pods = items
            cleaned = [
                self.redactor.object({"apiVersion": _api_version(kind), "kind": kind, **i}) for i in items
            ]
            document = {"apiVersion": "v1", "kind": "List", "items": cleaned}
            bundle.add(f"namespaces/{namespace}/{plural}.yaml", yaml.safe_dump(document, sort_keys=False))
            self.collected.append({"resource": plural, "namespace": namespace, "count": len(items)})
        self.missing.append({**SECRETS_ELIDED, "namespace": namespace})
        return pods

    def _logs(self, bundle: Bundle, namespace: str, pods: list[Obj]) -> None:
        core = client.CoreV1Api(self.api)
        for pod in pods:
            name = pod["metadata"]["name"]
            statuses = {
                s["name"]: s
                for s in (pod.get("status") or {}).get("containerStatuses", [])
                + (pod.get("status") or {}).get("initContainerStatuses", [])
            }
            containers = (pod.get("spec") or {}).get("initContainers", []) + (pod.get("spec") or {}).get(
                "containers", []
            )
            for container in containers:
                restarts = int((statuses.get(container["name"]) or {}).get("restartCount", 0))
                for previous in (False, True) if restarts else (False,):
                    self._log(bundle, core, namespace, name, container["name"], previous)

    def _log(
        self, bundle: Bundle, core: client.CoreV1Api, namespace: str, pod: str, container: str, previous: bool
    ) -> None:
        what = f"logs {pod}/{container}{' (previous)' if previous else ''}"
        entry: Obj = {"resource": "logs", "namespace": namespace, "pod": pod, "container": container}
        entry["previous"] = previous
        room = min(self.options.max_log_bytes, self.options.max_total_log_bytes - self._log_bytes)
        if room <= 0:
            self.missing.append({**entry, "reason": "total log size cap reached"})
            return
        text = self._call(
            what,
            namespace,
            lambda: core.read_namespaced_pod_log(
                pod,
                namespace,
                container=container,
                previous=previous,
                since_seconds=int(self.options.since.total_seconds()),
                limit_bytes=room,
                _request_timeout=self.options.request_timeout,
            ),
            entry,
        )
        if text is None:
            return
        cleaned = self.redactor.text(str(text), f"log {namespace}/{pod}/{container}")
        self._log_bytes += len(cleaned.encode())
        suffix = ".previous.log" if previous else ".log"
        bundle.add(f"namespaces/{namespace}/logs/{pod}/{container}{suffix}", cleaned)
        self.collected.append({**entry, "bytes": len(cleaned.encode()), "capped": len(str(text)) >= room})

    def _call(self, what: str, namespace: str, call: Callable[[], Any], entry: Obj | None = None) -> Any:
        entry = entry or {"resource": what, "namespace": namespace}
        if self._remaining() <= 0:
            self.missing.append({**entry, "reason": f"time limit of {self.options.timeout:.0f} s reached"})
            return None
        self.progress(f"reading {what} in {namespace}")
        try:
            return call()
        except ApiException as error:
            reason = "forbidden" if error.status == 403 else _api_reason(error)
            self.missing.append({**entry, "reason": reason})
        except (urllib3.exceptions.HTTPError, TimeoutError, OSError) as error:
            self.missing.append({**entry, "reason": f"not answered: {type(error).__name__}"})
        self.progress(f"missing {what} in {namespace}: {self.missing[-1]['reason']}")
        return None

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    def _manifest(self, case: Obj, now: dt.datetime, refreshed: Obj) -> Obj:
        return {
            "case": refreshed["case"],
            "gatheredAt": iso(now),
            "options": {
                "since": str(self.options.since),
                "maxLogBytes": self.options.max_log_bytes,
                "maxTotalLogBytes": self.options.max_total_log_bytes,
                "timeoutSeconds": self.options.timeout,
            },
            "partial": any(m["resource"] != "secrets" for m in self.missing),
            "collected": refreshed["manifest"]["collected"] + self.collected,
            "missing": self.missing,
            "redacted": self.redactor.report(),
            "rules": self.redactor.policy.describe(),
            "findings": len(refreshed["findings"]),
        }


def _api_version(kind: str) -> str:
    groups = {
        "Deployment": "apps/v1",
        "ReplicaSet": "apps/v1",
        "StatefulSet": "apps/v1",
        "DaemonSet": "apps/v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
        "Ingress": "networking.k8s.io/v1",
        "NetworkPolicy": "networking.k8s.io/v1",
        "EndpointSlice": "discovery.k8s.io/v1",
    }
    return groups.get(kind, "v1")


def _api_reason(error: ApiException) -> str:
    try:
        message = json.loads(error.body).get("message")
    except (ValueError, TypeError, AttributeError):
        message = None
    return f"{error.status} {message or error.reason}"[:300]
