"""Reading the snapshot from the API server (I/O), with whatever credentials the ApiClient carries: the
operator's for the intake snapshot, the supporter's for `kubectl support gather`.

Every object passes through the Redactor before it enters the document. Secrets are never requested.
A forbidden resource, a timeout or the overall time limit is recorded in the manifest as skipped, and
collection goes on: a partial snapshot beats none.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.diagnostics.redact import Redactor
from support_operator.diagnostics.snapshot import (
    SNAPSHOT_API_VERSION,
    SNAPSHOT_LABEL,
    event_summary,
    event_time,
    prune,
)
from support_operator.kube.platform import OPENSHIFT_GROUP, served_groups

Obj = dict[str, Any]
Progress = Callable[[str], None]
SECRETS_SKIPPED = {"resource": "secrets", "reason": "never read: Secret data does not leave the API server"}


@dataclass(frozen=True)
class Limits:
    window: dt.timedelta = dt.timedelta(hours=2)  # Events from this long before reportedAt
    max_items: int = 500  # per kind and namespace
    max_events: int = 1000  # per namespace, newest kept
    request_timeout: float = 10.0
    total_timeout: float = 60.0


def case_namespaces(case: Obj) -> list[str]:
    spec = case.get("spec") or {}
    return list(spec.get("affectedNamespaces") or [case["metadata"]["namespace"]])


def reported_at(case: Obj) -> dt.datetime:
    text = (case.get("spec") or {}).get("reportedAt") or case["metadata"]["creationTimestamp"]
    if isinstance(text, dt.datetime):
        return text
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _instant(text: Any) -> dt.datetime:
    """An API timestamp as an aware datetime; a missing one sorts first."""
    if isinstance(text, dt.datetime):
        return text if text.tzinfo else text.replace(tzinfo=dt.UTC)
    if not text:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class Collector:
    api: client.ApiClient
    redactor: Redactor
    limits: Limits = field(default_factory=Limits)
    progress: Progress = lambda _message: None
    collected: list[Obj] = field(default_factory=list)
    skipped: list[Obj] = field(default_factory=lambda: [dict(SECRETS_SKIPPED)])
    _deadline: float = 0.0

    def snapshot(self, case: Obj, now: dt.datetime) -> Obj:
        """The whole snapshot document of a case (without findings: analyze.py adds them)."""
        self._deadline = time.monotonic() + self.limits.total_timeout
        since = reported_at(case) - self.limits.window
        metadata = case["metadata"]
        document: Obj = {
            "apiVersion": SNAPSHOT_API_VERSION,
            "case": {
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata.get("uid"),
                "reportedAt": iso(reported_at(case)),
                "title": self.redactor.text((case.get("spec") or {}).get("title", "")),
            },
            "takenAt": iso(now),
            "window": {"since": iso(since), "until": iso(now)},
            "platform": self.platform(),
            "nodes": self.nodes(),
            "namespaces": {ns: self.namespace(ns, since) for ns in case_namespaces(case)},
        }
        document["manifest"] = {
            "collected": self.collected,
            "skipped": self.skipped,
            "redacted": self.redactor.report(),
            "rules": self.redactor.policy.describe(),
            "keepConfigMapValues": sorted(self.redactor.policy.keep_config_map_values),
            "limits": {
                "window": str(self.limits.window),
                "maxItems": self.limits.max_items,
                "maxEvents": self.limits.max_events,
            },
            "trimmed": [],
        }
        return document

    # -- parts -------------------------------------------------------------------------------------------

    def namespace(self, namespace: str, since: dt.datetime) -> Obj:
        core, apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)
        batch, discovery = client.BatchV1Api(self.api), client.DiscoveryV1Api(self.api)
        listings: dict[str, Callable[..., Any]] = {
            "pods": core.list_namespaced_pod,
            "deployments": apps.list_namespaced_deployment,
            "statefulsets": apps.list_namespaced_stateful_set,
            "daemonsets": apps.list_namespaced_daemon_set,
            "jobs": batch.list_namespaced_job,
            "persistentvolumeclaims": core.list_namespaced_persistent_volume_claim,
            "services": core.list_namespaced_service,
            "endpointslices": discovery.list_namespaced_endpoint_slice,
        }
        kinds: Obj = {"events": self.events(namespace, since)}
        for kind, listing in listings.items():
            items = self._list(kind, namespace, functools.partial(listing, namespace, **self._paging()))
            if items is not None:
                kinds[kind] = [self.redactor.object(prune(item, kind), _kind_name(kind)) for item in items]
        config_maps = self._list(
            "configmaps",
            namespace,
            lambda: core.list_namespaced_config_map(
                namespace, label_selector=f"!{SNAPSHOT_LABEL}", **self._paging()
            ),
        )
        if config_maps is not None:
            kinds["configmaps"] = [
                self.redactor.object(prune(item, "configmaps"), "ConfigMap") for item in config_maps
            ]
        return kinds

    def events(self, namespace: str, since: dt.datetime) -> list[Obj]:
        listed = self._list(
            "events",
            namespace,
            lambda: client.CoreV1Api(self.api).list_namespaced_event(
                namespace, _request_timeout=self.limits.request_timeout
            ),
            count=False,
        )
        if listed is None:
            return []
        recent = [e for e in listed if _instant(event_time(e)) >= since]
        recent.sort(key=lambda e: _instant(event_time(e)))
        kept = recent[-self.limits.max_events :]
        self.collected.append(
            {
                "resource": "events",
                "namespace": namespace,
                "count": len(kept),
                "outsideWindow": len(listed) - len(recent),
                "overLimit": len(recent) - len(kept),
            }
        )
        return [self._event(e) for e in kept]

    def _event(self, event: Obj) -> Obj:
        summary = event_summary(event)
        summary["message"] = self.redactor.text(summary["message"], "Event message")
        return summary

    def nodes(self) -> list[Obj]:
        listed = self._list("nodes", None, lambda: client.CoreV1Api(self.api).list_node(**self._paging()))
        return [self.redactor.object(_node(node), "Node") for node in listed or []]

    def platform(self) -> Obj:
        record: Obj = {}
        version = self._call("version", None, lambda: client.VersionApi(self.api).get_code())
        if version is not None:
            record["kubernetesVersion"] = version.git_version
        groups = self._call("apigroups", None, lambda: served_groups(self.api)) or set()
        if OPENSHIFT_GROUP not in groups:
            return record
        objects = client.CustomObjectsApi(self.api)
        cluster_version = self._call(
            "clusterversions",
            None,
            lambda: objects.get_cluster_custom_object(OPENSHIFT_GROUP, "v1", "clusterversions", "version"),
        )
        if cluster_version is not None:
            status = cluster_version.get("status") or {}
            record["clusterVersion"] = self.redactor.object(
                {
                    "desired": status.get("desired"),
                    "conditions": status.get("conditions") or [],
                    "history": (status.get("history") or [])[:3],
                },
                "ClusterVersion",
            )
            self.collected.append({"resource": "clusterversions", "count": 1})
        operators = self._list(
            "clusteroperators",
            None,
            lambda: objects.list_cluster_custom_object(OPENSHIFT_GROUP, "v1", "clusteroperators"),
        )
        if operators is not None:
            record["clusterOperators"] = [
                self.redactor.object(
                    {"metadata": {"name": o["metadata"]["name"]}, "status": {"conditions": _conditions(o)}},
                    "ClusterOperator",
                )
                for o in operators
            ]
        return record

    # -- calls ---------------------------------------------------------------------------------------------

    def _paging(self) -> Obj:
        return {"limit": self.limits.max_items, "_request_timeout": self.limits.request_timeout}

    def _list(
        self, kind: str, namespace: str | None, call: Callable[[], Any], count: bool = True
    ) -> list[Obj] | None:
        result = self._call(kind, namespace, call)
        if result is None:
            return None
        listed = result if isinstance(result, dict) else self.api.sanitize_for_serialization(result)
        items: list[Obj] = listed.get("items") or []
        if count:
            entry: Obj = {"resource": kind, "count": len(items)}
            if namespace:
                entry["namespace"] = namespace
            if (listed.get("metadata") or {}).get("continue"):
                entry["truncated"] = f"more than {self.limits.max_items}; the first {len(items)} kept"
            self.collected.append(entry)
        return items

    def _call(self, kind: str, namespace: str | None, call: Callable[[], Any]) -> Any:
        where = f"{kind} in {namespace}" if namespace else kind
        if time.monotonic() > self._deadline:
            self._skip(kind, namespace, f"time limit of {self.limits.total_timeout:.0f} s reached")
            return None
        self.progress(f"reading {where}")
        try:
            return call()
        except ApiException as error:
            reason = "forbidden" if error.status == 403 else f"{error.status} {error.reason}"
            self._skip(kind, namespace, reason)
        except (urllib3.exceptions.HTTPError, TimeoutError, OSError) as error:
            self._skip(kind, namespace, f"not answered: {type(error).__name__}")
        return None

    def _skip(self, kind: str, namespace: str | None, reason: str) -> None:
        entry = {"resource": kind, "reason": reason} | ({"namespace": namespace} if namespace else {})
        self.skipped.append(entry)
        self.progress(f"skipped {kind}{' in ' + namespace if namespace else ''}: {reason}")


def _kind_name(plural: str) -> str:
    return {
        "pods": "Pod",
        "deployments": "Deployment",
        "statefulsets": "StatefulSet",
        "daemonsets": "DaemonSet",
        "jobs": "Job",
        "persistentvolumeclaims": "PersistentVolumeClaim",
        "services": "Service",
        "endpointslices": "EndpointSlice",
        "configmaps": "ConfigMap",
    }.get(plural, plural)


def _node(node: Obj) -> Obj:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    return {
        "metadata": {"name": node["metadata"]["name"]},
        "spec": {"unschedulable": spec.get("unschedulable", False), "taints": spec.get("taints") or []},
        "status": {
            "conditions": [
                {k: c.get(k) for k in ("type", "status", "reason", "message", "lastTransitionTime")}
                for c in status.get("conditions") or []
            ],
            "kubeletVersion": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        },
    }


def _conditions(obj: Obj) -> list[Obj]:
    return [
        {k: c.get(k) for k in ("type", "status", "reason", "message")}
        for c in (obj.get("status") or {}).get("conditions") or []
    ]
