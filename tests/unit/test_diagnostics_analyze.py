"""Each analyzer on recorded objects: the finding it must produce, and silence on a healthy object."""

from __future__ import annotations

import diagnostics_objects as rec
from support_operator.diagnostics import analyze


def reasons(snapshot: dict) -> list[tuple[str, str, str]]:
    return [(f["severity"], f["object"]["name"], f["reason"]) for f in analyze.analyze(snapshot)]


def test_crash_loop_back_off() -> None:
    [found] = analyze.analyze(rec.snapshot(pods=[rec.CRASH_LOOPING]))
    assert (found["severity"], found["reason"]) == ("Critical", analyze.CRASH_LOOP_BACK_OFF)
    assert found["object"] == {"kind": "Pod", "namespace": "shop", "name": "web-crash"}
    assert "7 restarts" in found["message"] and "last exit: Error" in found["message"]


def test_image_pull_back_off_names_the_image() -> None:
    [found] = analyze.analyze(rec.snapshot(pods=[rec.IMAGE_PULL]))
    assert found["reason"] == analyze.IMAGE_PULL_BACK_OFF
    assert "registry.example/shop:9.9" in found["message"]


def test_oom_killed_from_the_last_termination() -> None:
    [found] = analyze.analyze(rec.snapshot(pods=[rec.OOM]))
    assert (found["reason"], found["severity"]) == (analyze.OOM_KILLED, "Critical")
    assert "exit code 137" in found["message"] and "3 restarts" in found["message"]


def test_pending_pod_carries_the_schedulers_reason() -> None:
    [found] = analyze.analyze(rec.snapshot(pods=[rec.UNSCHEDULABLE]))
    assert found["reason"] == analyze.UNSCHEDULABLE
    assert found["message"] == "Pending: 0/3 nodes are available: 3 Insufficient memory."


def test_pending_pod_without_condition_uses_the_failed_scheduling_event() -> None:
    pending = rec.pod("queued", {"phase": "Pending"}, node=None)
    event = {
        "reason": "FailedScheduling",
        "message": "0/2 nodes are available: 2 node(s) had untolerated taint.",
        "involvedObject": {"kind": "Pod", "name": "queued"},
    }
    [found] = analyze.analyze(rec.snapshot(pods=[pending], events=[event]))
    assert found["reason"] == analyze.UNSCHEDULABLE and "untolerated taint" in found["message"]


def test_failing_probe_from_kubelet_events() -> None:
    [found] = analyze.analyze(rec.snapshot(pods=[rec.HEALTHY], events=[rec.UNHEALTHY_EVENT]))
    assert found["reason"] == analyze.PROBE_FAILING
    assert (
        found["message"].startswith("Liveness probe failed: HTTP probe failed") and "(4x)" in found["message"]
    )


def test_failing_probe_from_a_running_container_that_is_not_ready() -> None:
    [found] = analyze.analyze(rec.snapshot(pods=[rec.NOT_READY]))
    assert (found["reason"], found["object"]["name"]) == (analyze.PROBE_FAILING, "api-unready")


def test_healthy_pod_has_no_findings() -> None:
    assert analyze.analyze(rec.snapshot(pods=[rec.HEALTHY])) == []


def test_rollout_stuck_deployment_statefulset_daemonset() -> None:
    found = reasons(
        rec.snapshot(
            deployments=[rec.STUCK_DEPLOYMENT, rec.HEALTHY_DEPLOYMENT],
            statefulsets=[rec.STUCK_STATEFULSET],
            daemonsets=[rec.STUCK_DAEMONSET],
        )
    )
    assert found == [
        ("Critical", "web", analyze.ROLLOUT_STUCK),
        ("Warning", "agent", analyze.ROLLOUT_STUCK),
        ("Warning", "db", analyze.ROLLOUT_STUCK),
    ]
    messages = {
        f["object"]["kind"]: f["message"]
        for f in analyze.analyze(
            rec.snapshot(statefulsets=[rec.STUCK_STATEFULSET], deployments=[rec.STUCK_DEPLOYMENT])
        )
    }
    assert "timed out progressing" in messages["Deployment"]
    assert messages["StatefulSet"] == "1/3 replicas ready, update to db-2 not complete"


def test_failed_job() -> None:
    [found] = analyze.analyze(rec.snapshot(jobs=[rec.FAILED_JOB]))
    assert found["reason"] == analyze.JOB_FAILED and found["message"].startswith("BackoffLimitExceeded")


def test_pvc_pending_with_the_provisioners_event() -> None:
    [found] = analyze.analyze(rec.snapshot(persistentvolumeclaims=[rec.PENDING_PVC], events=[rec.PVC_EVENT]))
    assert found["reason"] == analyze.PVC_PENDING
    assert found["message"] == 'Pending (fast): storageclass.storage.k8s.io "fast" not found'


def test_bound_pvc_is_fine() -> None:
    bound = {**rec.PENDING_PVC, "status": {"phase": "Bound"}}
    assert analyze.analyze(rec.snapshot(persistentvolumeclaims=[bound])) == []


def test_service_without_ready_endpoints() -> None:
    [found] = analyze.analyze(rec.snapshot(services=[rec.SERVICE], endpointslices=[rec.EMPTY_SLICE]))
    assert found["reason"] == analyze.SERVICE_WITHOUT_ENDPOINTS
    ready_slice = {**rec.EMPTY_SLICE, "endpoints": [{"conditions": {"ready": True}}]}
    assert analyze.analyze(rec.snapshot(services=[rec.SERVICE], endpointslices=[ready_slice])) == []


def test_node_not_ready_and_under_pressure() -> None:
    found = analyze.analyze({"nodes": [rec.NOT_READY_NODE, rec.READY_NODE]})
    assert [(f["severity"], f["reason"]) for f in found] == [
        ("Critical", analyze.NODE_NOT_READY),
        ("Warning", analyze.NODE_PRESSURE),
    ]
    assert found[0]["object"] == {"kind": "Node", "name": "worker-2"}
    assert "Kubelet stopped posting" in found[0]["message"] and "MemoryPressure" in found[1]["message"]


def test_degraded_cluster_operator() -> None:
    platform = {"clusterOperators": [rec.DEGRADED_OPERATOR, rec.HEALTHY_OPERATOR]}
    [found] = analyze.analyze({"platform": platform})
    assert (found["reason"], found["object"]["name"]) == (analyze.CLUSTER_OPERATOR_DEGRADED, "ingress")
    assert "1 unavailable replica" in found["message"]


def test_most_severe_first_and_one_line_headlines() -> None:
    found = analyze.analyze(
        rec.snapshot(pods=[rec.UNSCHEDULABLE, rec.CRASH_LOOPING], persistentvolumeclaims=[rec.PENDING_PVC])
    )
    assert [f["severity"] for f in found] == ["Critical", "Warning", "Warning"]
    assert analyze.headline(found[0]).startswith(
        "Critical Pod shop/web-crash: CrashLoopBackOff - container app"
    )
