"""Analyzers: pure functions from a snapshot (plain dicts in the Kubernetes JSON shapes) to findings.

A finding is {"severity", "object": {"kind", "namespace", "name"}, "reason", "message"}; `analyze` returns
them most severe first. No Kubernetes client, no clock: the same snapshot always gives the same findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]

CRITICAL, WARNING, INFO = "Critical", "Warning", "Info"
_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2}

# Finding reasons, spelled whole so that grep finds them.
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
OOM_KILLED = "OOMKilled"
UNSCHEDULABLE = "Unschedulable"
PROBE_FAILING = "ProbeFailing"
ROLLOUT_STUCK = "RolloutStuck"
JOB_FAILED = "JobFailed"
PVC_PENDING = "PersistentVolumeClaimPending"
PVC_LOST = "PersistentVolumeClaimLost"
SERVICE_WITHOUT_ENDPOINTS = "ServiceWithoutReadyEndpoints"
NODE_NOT_READY = "NodeNotReady"
NODE_PRESSURE = "NodePressure"
CLUSTER_OPERATOR_DEGRADED = "ClusterOperatorDegraded"
CLUSTER_OPERATOR_UNAVAILABLE = "ClusterOperatorUnavailable"

IMAGE_PULL_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"})
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")
MAX_MESSAGE = 1024


def finding(severity: str, kind: str, namespace: str | None, name: str, reason: str, message: str) -> Obj:
    subject = {"kind": kind, "name": name} | ({"namespace": namespace} if namespace else {})
    return {"severity": severity, "object": subject, "reason": reason, "message": message[:MAX_MESSAGE]}


def analyze(snapshot: Obj) -> list[Obj]:
    """Every analyzer over the snapshot, most severe first, then by reason and object."""
    found: list[Obj] = []
    for namespace, kinds in sorted((snapshot.get("namespaces") or {}).items()):
        events = kinds.get("events") or []
        for pod in kinds.get("pods") or []:
            found += pod_findings(pod, namespace, events)
        found += _each(kinds.get("deployments"), namespace, deployment_findings)
        found += _each(kinds.get("statefulsets"), namespace, statefulset_findings)
        found += _each(kinds.get("daemonsets"), namespace, daemonset_findings)
        found += _each(kinds.get("jobs"), namespace, job_findings)
        for claim in kinds.get("persistentvolumeclaims") or []:
            found += pvc_findings(claim, namespace, events)
        found += service_findings(kinds.get("services") or [], kinds.get("endpointslices") or [], namespace)
    for node in snapshot.get("nodes") or []:
        found += node_findings(node)
    found += cluster_operator_findings((snapshot.get("platform") or {}).get("clusterOperators") or [])
    return sorted(found, key=_order)


def _order(item: Obj) -> tuple[int, str, str, str, str]:
    subject = item["object"]
    return (
        _RANK.get(item["severity"], 3),
        item["reason"],
        subject.get("namespace", ""),
        subject["kind"],
        subject["name"],
    )


def _each(items: list[Obj] | None, namespace: str, analyzer: Callable[[Obj, str], list[Obj]]) -> list[Obj]:
    return [f for item in items or [] for f in analyzer(item, namespace)]


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def _conditions(obj: Obj) -> dict[str, Obj]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


def _events_about(events: list[Obj], kind: str, name: str, reasons: frozenset[str]) -> list[Obj]:
    return [
        e
        for e in events
        if e.get("reason") in reasons
        and (e.get("involvedObject") or {}).get("kind") == kind
        and (e.get("involvedObject") or {}).get("name") == name
    ]


# --- pods ----------------------------------------------------------------------------------------------


def pod_findings(pod: Obj, namespace: str, events: list[Obj]) -> list[Obj]:
    """CrashLoopBackOff, ImagePullBackOff, OOMKilled, Unschedulable (with the scheduler's reason) and
    failing probes (kubelet's Unhealthy Events, or a running container that is not ready)."""
    name = _name(pod)
    status = pod.get("status") or {}
    found = [
        finding(severity, "Pod", namespace, name, reason, message)
        for severity, reason, message in _container_problems(status)
    ]
    scheduled = _conditions(pod).get("PodScheduled")
    if status.get("phase", "Pending") == "Pending" and scheduled and scheduled.get("status") == "False":
        why = scheduled.get("message") or scheduled.get("reason") or "no reason given"
        found.append(finding(WARNING, "Pod", namespace, name, UNSCHEDULABLE, f"Pending: {why}"))
    elif status.get("phase", "Pending") == "Pending" and not (pod.get("spec") or {}).get("nodeName"):
        for event in _events_about(events, "Pod", name, frozenset({"FailedScheduling"}))[-1:]:
            found.append(
                finding(WARNING, "Pod", namespace, name, UNSCHEDULABLE, f"Pending: {event.get('message')}")
            )
    found += _probe_findings(pod, namespace, events)
    return found


def _statuses(status: Obj) -> Iterator[Obj]:
    yield from status.get("initContainerStatuses") or []
    yield from status.get("containerStatuses") or []


def _container_problems(status: Obj) -> Iterator[tuple[str, str, str]]:
    for container in _statuses(status):
        name, restarts = container.get("name", "?"), container.get("restartCount", 0)
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        detail = f": {waiting['message']}" if waiting.get("message") else ""
        if reason == "CrashLoopBackOff":
            last = ((container.get("lastState") or {}).get("terminated") or {}).get("reason")
            cause = f", last exit: {last}" if last else ""
            yield CRITICAL, CRASH_LOOP_BACK_OFF, f"container {name} restarting ({restarts} restarts{cause})"
        elif reason in IMAGE_PULL_REASONS:
            image = container.get("image", "")
            yield CRITICAL, IMAGE_PULL_BACK_OFF, f"container {name} cannot pull {image} ({reason}){detail}"
        for when in ("state", "lastState"):
            terminated = (container.get(when) or {}).get("terminated") or {}
            if terminated.get("reason") == "OOMKilled":
                yield (
                    CRITICAL,
                    OOM_KILLED,
                    (
                        f"container {name} was killed for exceeding its memory limit "
                        f"(exit code {terminated.get('exitCode', 137)}, {restarts} restarts)"
                    ),
                )
                break


def _probe_findings(pod: Obj, namespace: str, events: list[Obj]) -> list[Obj]:
    name = _name(pod)
    unhealthy = _events_about(events, "Pod", name, frozenset({"Unhealthy"}))
    if unhealthy:
        last = unhealthy[-1]
        count = sum(int(e.get("count") or 1) for e in unhealthy)
        return [finding(WARNING, "Pod", namespace, name, PROBE_FAILING, f"{last.get('message')} ({count}x)")]
    probed = {
        c.get("name")
        for c in (pod.get("spec") or {}).get("containers") or []
        if c.get("readinessProbe") or c.get("livenessProbe") or c.get("startupProbe")
    }
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        running = "running" in (container.get("state") or {})
        if running and container.get("name") in probed and container.get("ready") is False:
            message = f"container {container.get('name')} is running but not ready: its probe fails"
            return [finding(WARNING, "Pod", namespace, name, PROBE_FAILING, message)]
    return []


# --- workloads -----------------------------------------------------------------------------------------


def deployment_findings(deployment: Obj, namespace: str) -> list[Obj]:
    progressing = _conditions(deployment).get("Progressing")
    if progressing and progressing.get("status") == "False":
        why = progressing.get("message") or progressing.get("reason", "")
        return [finding(CRITICAL, "Deployment", namespace, _name(deployment), ROLLOUT_STUCK, why)]
    return []


def statefulset_findings(statefulset: Obj, namespace: str) -> list[Obj]:
    spec, status = statefulset.get("spec") or {}, statefulset.get("status") or {}
    wanted, ready = spec.get("replicas", 1), status.get("readyReplicas", 0)
    updating = status.get("updateRevision") and status.get("updateRevision") != status.get("currentRevision")
    if ready < wanted:
        message = f"{ready}/{wanted} replicas ready" + (
            f", update to {status['updateRevision']} not complete" if updating else ""
        )
        return [finding(WARNING, "StatefulSet", namespace, _name(statefulset), ROLLOUT_STUCK, message)]
    return []


def daemonset_findings(daemonset: Obj, namespace: str) -> list[Obj]:
    status = daemonset.get("status") or {}
    desired = status.get("desiredNumberScheduled", 0)
    unavailable = status.get("numberUnavailable", 0)
    updated = status.get("updatedNumberScheduled", desired)
    if unavailable or updated < desired:
        message = f"{unavailable} of {desired} pods unavailable, {updated}/{desired} updated"
        return [finding(WARNING, "DaemonSet", namespace, _name(daemonset), ROLLOUT_STUCK, message)]
    return []


def job_findings(job: Obj, namespace: str) -> list[Obj]:
    failed = _conditions(job).get("Failed")
    if failed and failed.get("status") == "True":
        why = f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".rstrip(": ")
        return [finding(CRITICAL, "Job", namespace, _name(job), JOB_FAILED, why)]
    return []


# --- storage, services -----------------------------------------------------------------------------------


def pvc_findings(claim: Obj, namespace: str, events: list[Obj]) -> list[Obj]:
    name, phase = _name(claim), (claim.get("status") or {}).get("phase", "Pending")
    if phase == "Lost":
        return [finding(CRITICAL, "PersistentVolumeClaim", namespace, name, PVC_LOST, "its volume is gone")]
    if phase != "Pending":
        return []
    reasons = frozenset(
        {"ProvisioningFailed", "FailedBinding", "WaitForFirstConsumer", "ExternalProvisioning"}
    )
    about = _events_about(events, "PersistentVolumeClaim", name, reasons)
    why = about[-1].get("message") if about else "no volume bound yet"
    storage_class = (claim.get("spec") or {}).get("storageClassName") or "the default class"
    message = f"Pending ({storage_class}): {why}"
    return [finding(WARNING, "PersistentVolumeClaim", namespace, name, PVC_PENDING, message)]


def service_findings(services: list[Obj], slices: list[Obj], namespace: str) -> list[Obj]:
    """A Service with a selector whose EndpointSlices hold no ready endpoint."""
    ready: dict[str, int] = {}
    for endpoint_slice in slices:
        service = ((endpoint_slice.get("metadata") or {}).get("labels") or {}).get(
            "kubernetes.io/service-name"
        )
        if service:
            count = sum(
                1
                for e in endpoint_slice.get("endpoints") or []
                if (e.get("conditions") or {}).get("ready", True)
            )
            ready[service] = ready.get(service, 0) + count
    found = []
    for service in services:
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            continue
        if ready.get(_name(service), 0) == 0:
            message = f"no ready endpoint for selector {spec['selector']}"
            found.append(
                finding(WARNING, "Service", namespace, _name(service), SERVICE_WITHOUT_ENDPOINTS, message)
            )
    return found


# --- cluster ---------------------------------------------------------------------------------------------


def node_findings(node: Obj) -> list[Obj]:
    name, conditions = _name(node), _conditions(node)
    found = []
    ready = conditions.get("Ready")
    if ready is None or ready.get("status") != "True":
        status = ready.get("status", "Unknown") if ready else "Unknown"
        detail = (ready or {}).get("message") or (ready or {}).get("reason") or "no Ready condition"
        found.append(finding(CRITICAL, "Node", None, name, NODE_NOT_READY, f"Ready={status}: {detail}"))
    for pressure in PRESSURE_CONDITIONS:
        condition = conditions.get(pressure)
        if condition and condition.get("status") == "True":
            message = f"{pressure}: {condition.get('message') or condition.get('reason', '')}".rstrip(": ")
            found.append(finding(WARNING, "Node", None, name, NODE_PRESSURE, message))
    return found


def cluster_operator_findings(operators: list[Obj]) -> list[Obj]:
    """OpenShift ClusterOperators that are Degraded or not Available."""
    found = []
    for operator in operators:
        conditions, name = _conditions(operator), _name(operator)
        degraded, available = conditions.get("Degraded"), conditions.get("Available")
        if degraded and degraded.get("status") == "True":
            message = degraded.get("message") or degraded.get("reason", "Degraded")
            found.append(finding(CRITICAL, "ClusterOperator", None, name, CLUSTER_OPERATOR_DEGRADED, message))
        if available and available.get("status") == "False":
            message = available.get("message") or available.get("reason", "not available")
            found.append(
                finding(CRITICAL, "ClusterOperator", None, name, CLUSTER_OPERATOR_UNAVAILABLE, message)
            )
    return found


def headline(item: Obj) -> str:
    """One line for the e-mail and the CLI: `Critical Pod shop/web-1: CrashLoopBackOff - ...`."""
    subject = item["object"]
    where = f"{subject['namespace']}/" if subject.get("namespace") else ""
    return (
        f"{item['severity']} {subject['kind']} {where}{subject['name']}: {item['reason']} - {item['message']}"
    )
