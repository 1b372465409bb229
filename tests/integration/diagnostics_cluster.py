"""Real objects for the diagnostics tests: workloads, pods, PVCs, Services, Nodes and Events created on the
API server, and the states a kubelet, the scheduler and the controllers would report written through the
objects' status subresources (the test control plane runs none of them, so nothing overwrites those)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import tarfile
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

Obj = dict[str, Any]
OPENSHIFT_CRDS = Path(__file__).resolve().parents[2] / "crds" / "testing" / "openshift-config.yaml"


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Workloads:
    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.nodes: list[str] = []

    # -- pods ----------------------------------------------------------------------------------------------

    def pod(
        self,
        name: str,
        status: Obj | None = None,
        node: str | None = None,
        env: list[Obj] | None = None,
        annotations: dict[str, str] | None = None,
        probe: bool = False,
    ) -> None:
        container: Obj = {"name": "app", "image": "registry.example/shop:1.2", "env": env or []}
        if probe:
            container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
        body = {
            "metadata": {"name": name, "labels": {"app": name}, "annotations": annotations or {}},
            "spec": {"containers": [container], **({"nodeName": node} if node else {})},
        }
        self.core.create_namespaced_pod(self.namespace, body)
        if status is not None:
            self.core.patch_namespaced_pod_status(name, self.namespace, {"status": status})

    @staticmethod
    def running(restarts: int = 0, ready: bool = True, **fields: Any) -> Obj:
        state = fields.pop("state", {"running": {"startedAt": now()}})
        return {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "registry.example/shop:1.2",
                    "imageID": "",
                    "ready": ready,
                    "restartCount": restarts,
                    "state": state,
                    **fields,
                }
            ],
        }

    def crash_looping(self, name: str, node: str) -> None:
        waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed"}}
        last = {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": now(), "finishedAt": now()}}
        self.pod(name, self.running(restarts=7, ready=False, state=waiting, lastState=last), node)

    def image_pull_failing(self, name: str, node: str) -> None:
        waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
        status = self.running(ready=False, state=waiting) | {"phase": "Pending"}
        self.pod(name, status, node)

    def oom_killed(self, name: str, node: str) -> None:
        last = {
            "terminated": {"reason": "OOMKilled", "exitCode": 137, "startedAt": now(), "finishedAt": now()}
        }
        self.pod(name, self.running(restarts=3, lastState=last), node)

    def unschedulable(self, name: str) -> None:
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient memory.",
        }
        self.pod(name, {"phase": "Pending", "conditions": [condition]})

    def not_ready_with_probe(self, name: str, node: str) -> None:
        self.pod(name, self.running(ready=False), node, probe=True)

    # -- events, workloads, storage, services, nodes -------------------------------------------------------

    def event(self, kind: str, name: str, reason: str, message: str, type_: str = "Warning") -> None:
        stamp = now()
        self.core.create_namespaced_event(
            self.namespace,
            {
                "metadata": {"name": f"{name}.{secrets.token_hex(6)}"},
                "involvedObject": {"kind": kind, "name": name, "namespace": self.namespace},
                "reason": reason,
                "message": message,
                "type": type_,
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {"component": "kubelet"},
            },
        )

    def _template(self, name: str) -> Obj:
        return {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "registry.example/shop:1.2"}]},
        }

    def stuck_deployment(self, name: str) -> None:
        spec = {"replicas": 3, "selector": {"matchLabels": {"app": name}}, "template": self._template(name)}
        self.apps.create_namespaced_deployment(self.namespace, {"metadata": {"name": name}, "spec": spec})
        progressing = {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": f'ReplicaSet "{name}-7d4b9" has timed out progressing.',
            "lastUpdateTime": now(),
            "lastTransitionTime": now(),
        }
        status = {"replicas": 3, "updatedReplicas": 1, "unavailableReplicas": 3, "conditions": [progressing]}
        self.apps.patch_namespaced_deployment_status(name, self.namespace, {"status": status})

    def stuck_statefulset(self, name: str) -> None:
        spec = {
            "replicas": 3,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": self._template(name),
        }
        self.apps.create_namespaced_stateful_set(self.namespace, {"metadata": {"name": name}, "spec": spec})
        status = {
            "replicas": 3,
            "readyReplicas": 1,
            "currentRevision": f"{name}-1",
            "updateRevision": f"{name}-2",
        }
        self.apps.patch_namespaced_stateful_set_status(name, self.namespace, {"status": status})

    def stuck_daemonset(self, name: str) -> None:
        spec = {"selector": {"matchLabels": {"app": name}}, "template": self._template(name)}
        self.apps.create_namespaced_daemon_set(self.namespace, {"metadata": {"name": name}, "spec": spec})
        status = {
            "currentNumberScheduled": 2,
            "desiredNumberScheduled": 2,
            "numberMisscheduled": 0,
            "numberReady": 1,
            "numberUnavailable": 1,
            "updatedNumberScheduled": 2,
        }
        self.apps.patch_namespaced_daemon_set_status(name, self.namespace, {"status": status})

    def failed_job(self, name: str) -> None:
        template = self._template(name)
        template["spec"]["restartPolicy"] = "Never"
        spec = {"backoffLimit": 0, "template": template}
        self.batch.create_namespaced_job(self.namespace, {"metadata": {"name": name}, "spec": spec})
        stamp = now()
        conditions = [
            {
                "type": kind,
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
                "lastProbeTime": stamp,
                "lastTransitionTime": stamp,
            }
            for kind in ("FailureTarget", "Failed")
        ]
        status = {"failed": 1, "startTime": stamp, "conditions": conditions}
        self.batch.patch_namespaced_job_status(name, self.namespace, {"status": status})

    def pending_claim(self, name: str) -> None:
        spec = {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "fast",
            "resources": {"requests": {"storage": "1Gi"}},
        }
        self.core.create_namespaced_persistent_volume_claim(
            self.namespace, {"metadata": {"name": name}, "spec": spec}
        )
        self.event(
            "PersistentVolumeClaim",
            name,
            "ProvisioningFailed",
            'storageclass.storage.k8s.io "fast" not found',
        )

    def service_without_endpoints(self, name: str) -> None:
        spec = {"selector": {"app": name}, "ports": [{"port": 80}]}
        self.core.create_namespaced_service(self.namespace, {"metadata": {"name": name}, "spec": spec})

    def sick_node(self) -> str:
        name = f"diag-node-{secrets.token_hex(3)}"
        self.core.create_node({"metadata": {"name": name}})
        self.nodes.append(name)
        stamp = now()
        conditions = [
            {
                "type": "Ready",
                "status": "False",
                "reason": "KubeletNotReady",
                "message": "PLEG is not healthy",
            },
            {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"},
        ]
        for condition in conditions:
            condition |= {"lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
        self.core.patch_node_status(name, {"status": {"conditions": conditions}})
        return name

    def cleanup(self) -> None:
        for name in self.nodes:
            self.core.delete_node(name)


# --- reading what the operator and the plugin produced ---------------------------------------------------


def snapshot_config_maps(api: client.ApiClient, namespace: str) -> list[client.V1ConfigMap]:
    listed = client.CoreV1Api(api).list_namespaced_config_map(
        namespace, label_selector="support.puzzle.ch/snapshot"
    )
    return list(listed.items)


def compressed_size(config_map: client.V1ConfigMap) -> int:
    return len(base64.b64decode(config_map.binary_data["snapshot.json.gz"]))


def bundle_texts(path: Path) -> dict[str, str]:
    with tarfile.open(path, "r:gz") as archive:
        return {
            member.name.split("/", 1)[1]: archive.extractfile(member).read().decode()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def supporter_kubeconfig(api: client.ApiClient, admin_kubeconfig: Path, namespace: str, target: Path) -> Path:
    """A kubeconfig with a real bound token of a ServiceAccount that holds support-readonly in `namespace`
    (what the operator grants a supporter), nothing else."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "supporter"}})
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "supporter"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "support-readonly",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "supporter", "namespace": namespace}],
        },
    )
    token = core.create_namespaced_service_account_token(
        "supporter", namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "supporter", "user": {"token": token}}],
        "contexts": [
            {
                "name": "supporter",
                "context": {"cluster": cluster["name"], "user": "supporter", "namespace": namespace},
            }
        ],
        "current-context": "supporter",
    }
    target.write_text(yaml.safe_dump(config))
    return target
