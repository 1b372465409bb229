"""Objects as a kube-apiserver returns them (JSON, trimmed to what matters) with the states a kubelet, the
scheduler, the controllers or OpenShift's cluster-version operator report: the analyzers' unit-test input.
The integration test writes the same states through the real status subresources."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
T0 = "2026-11-03T08:00:00Z"


def _meta(name: str, namespace: str | None = "shop") -> Obj:
    return {"name": name, "uid": f"uid-{name}", "creationTimestamp": T0} | (
        {"namespace": namespace} if namespace else {}
    )


def pod(name: str, status: Obj, containers: list[Obj] | None = None, node: str | None = "worker-1") -> Obj:
    return {
        "metadata": _meta(name),
        "spec": {"nodeName": node, "containers": containers or [{"name": "app", "image": "shop:1.2"}]},
        "status": status,
    }


def container_status(name: str = "app", **fields: Any) -> Obj:
    return {"name": name, "image": "shop:1.2", "ready": False, "restartCount": 0, **fields}


CRASH_LOOPING = pod(
    "web-crash",
    {
        "phase": "Running",
        "containerStatuses": [
            container_status(
                restartCount=7,
                state={
                    "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed"}
                },
                lastState={"terminated": {"reason": "Error", "exitCode": 1}},
            )
        ],
    },
)
IMAGE_PULL = pod(
    "web-pull",
    {
        "phase": "Pending",
        "containerStatuses": [
            container_status(
                image="registry.example/shop:9.9",
                state={
                    "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "shop:9.9"'}
                },
            )
        ],
    },
)
OOM = pod(
    "worker-oom",
    {
        "phase": "Running",
        "containerStatuses": [
            container_status(
                ready=True,
                restartCount=3,
                state={"running": {"startedAt": T0}},
                lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            )
        ],
    },
)
UNSCHEDULABLE = pod(
    "db-pending",
    {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory.",
            }
        ],
    },
    node=None,
)
NOT_READY = pod(
    "api-unready",
    {
        "phase": "Running",
        "containerStatuses": [container_status(state={"running": {"startedAt": T0}})],
    },
    containers=[{"name": "app", "image": "shop:1.2", "readinessProbe": {"httpGet": {"path": "/ready"}}}],
)
HEALTHY = pod(
    "web-ok",
    {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [container_status(ready=True, state={"running": {"startedAt": T0}})],
    },
)
UNHEALTHY_EVENT = {
    "type": "Warning",
    "reason": "Unhealthy",
    "message": "Liveness probe failed: HTTP probe failed with statuscode: 503",
    "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-ok"},
    "count": 4,
    "lastTimestamp": T0,
}
STUCK_DEPLOYMENT = {
    "metadata": _meta("web"),
    "spec": {"replicas": 3},
    "status": {
        "replicas": 3,
        "updatedReplicas": 1,
        "unavailableReplicas": 2,
        "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "web-7d4b9" has timed out progressing.',
            },
        ],
    },
}
HEALTHY_DEPLOYMENT = {
    "metadata": _meta("api"),
    "spec": {"replicas": 2},
    "status": {
        "replicas": 2,
        "availableReplicas": 2,
        "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}],
    },
}
STUCK_STATEFULSET = {
    "metadata": _meta("db"),
    "spec": {"replicas": 3},
    "status": {"replicas": 3, "readyReplicas": 1, "currentRevision": "db-1", "updateRevision": "db-2"},
}
STUCK_DAEMONSET = {
    "metadata": _meta("agent"),
    "status": {"desiredNumberScheduled": 4, "numberUnavailable": 1, "updatedNumberScheduled": 3},
}
FAILED_JOB = {
    "metadata": _meta("migrate"),
    "status": {
        "failed": 6,
        "conditions": [
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ],
    },
}
PENDING_PVC = {
    "metadata": _meta("data-db-0"),
    "spec": {"storageClassName": "fast", "accessModes": ["ReadWriteOnce"]},
    "status": {"phase": "Pending"},
}
PVC_EVENT = {
    "type": "Warning",
    "reason": "ProvisioningFailed",
    "message": 'storageclass.storage.k8s.io "fast" not found',
    "involvedObject": {"kind": "PersistentVolumeClaim", "namespace": "shop", "name": "data-db-0"},
    "lastTimestamp": T0,
}
SERVICE = {"metadata": _meta("web"), "spec": {"type": "ClusterIP", "selector": {"app": "web"}}}
EMPTY_SLICE = {
    "metadata": _meta("web-abcde") | {"labels": {"kubernetes.io/service-name": "web"}},
    "endpoints": [{"addresses": ["10.0.0.7"], "conditions": {"ready": False}}],
}
NOT_READY_NODE = {
    "metadata": {"name": "worker-2"},
    "status": {
        "conditions": [
            {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"},
            {"type": "DiskPressure", "status": "False"},
            {
                "type": "Ready",
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
            },
        ]
    },
}
READY_NODE = {
    "metadata": {"name": "worker-1"},
    "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
}
DEGRADED_OPERATOR = {
    "metadata": {"name": "ingress"},
    "status": {
        "conditions": [
            {"type": "Available", "status": "True"},
            {
                "type": "Degraded",
                "status": "True",
                "reason": "IngressDegraded",
                "message": "The default ingress controller has 1 unavailable replica",
            },
        ]
    },
}
HEALTHY_OPERATOR = {
    "metadata": {"name": "dns"},
    "status": {
        "conditions": [{"type": "Available", "status": "True"}, {"type": "Degraded", "status": "False"}]
    },
}


def snapshot(**namespace_kinds: list[Obj]) -> Obj:
    return {"namespaces": {"shop": namespace_kinds}}
