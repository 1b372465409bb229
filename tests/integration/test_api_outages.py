"""API server outages: the real kube-apiserver of this module's own control plane is stopped and started
again. Status writes must resume within seconds of its return, whether the operator stayed up or was
restarted meanwhile; the probes tell liveness (the process runs) from readiness (its cache is loaded).
Recovery times are printed (make chaos collects more); the asserts are about correctness, with generous
timeouts."""

from __future__ import annotations

import datetime as dt
import time

from own_plane import OwnPlane, own_plane  # noqa: F401 (the fixture)
from support_resources import Resources, iso, ready

from support_operator.testing.operator_process import OperatorProcess

OUTAGE_SECONDS = 6.0


def observed(resources: Resources, namespace: str, name: str, generation: int) -> bool:
    status = resources.get_case(namespace, name).get("status") or {}
    return status.get("observedGeneration") == generation


def edit_and_time_until_observed(
    resources: Resources, namespace: str, name: str, timeout: float = 60
) -> float:
    """Seconds from a spec edit (made right after the API server is back) until status reflects it."""
    started = time.monotonic()
    generation = resources.patch_case(namespace, name, {"title": f"edited {time.time():.3f}"})["metadata"][
        "generation"
    ]
    resources.wait_case(
        namespace, name, lambda c: c["status"].get("observedGeneration") == generation, timeout
    )
    return time.monotonic() - started


def no_permission_errors(process: OperatorProcess) -> None:
    """The shipped RBAC lets Kopf list and watch CRDs (its resource discovery): no 403 on them at start.
    (Checked before an outage: a restarted kube-apiserver answers 403 for a moment until its RBAC cache has
    synced, which Kopf and the work queue ride out.)"""
    log = process.log_text()
    refused = [line for line in log.splitlines() if "customresourcedefinitions" in line and "403" in line]
    assert not refused, refused[:3]
    assert "Not enough permissions" not in log, log[-3000:]


def test_status_writes_resume_within_seconds_when_the_api_server_returns(own_plane: OwnPlane) -> None:  # noqa: F811
    resources = Resources(own_plane.admin)
    namespace = own_plane.namespace()
    operator = own_plane.operator("outage")
    try:
        operator.start()
        contract = resources.contract()["metadata"]["name"]
        resources.case(namespace, contract, name="steady", reportedAt=iso(dt.datetime.now(dt.UTC)))
        resources.wait_case(namespace, "steady", ready)
        no_permission_errors(operator)
        own_plane.plane.stop_component("kube-apiserver")
        stopped = time.monotonic()
        while time.monotonic() - stopped < OUTAGE_SECONDS:
            assert operator.probe("/healthz") == 200, "an API outage must not fail liveness"
            time.sleep(0.5)
        own_plane.plane.start_component("kube-apiserver")
        recovered = edit_and_time_until_observed(resources, namespace, "steady")
        print(
            f"operator stayed up through a {OUTAGE_SECONDS:.0f} s outage: "
            f"status written {recovered:.1f} s after the API server's return"
        )
    finally:
        operator.cleanup()
        resources.cleanup()


def test_an_operator_restarted_during_the_outage_writes_within_seconds_of_its_end(
    own_plane: OwnPlane,  # noqa: F811
) -> None:
    resources = Resources(own_plane.admin)
    namespace = own_plane.namespace()
    operator = own_plane.operator("restarted")
    try:
        operator.start()
        contract = resources.contract()["metadata"]["name"]
        resources.case(namespace, contract, name="waiting", reportedAt=iso(dt.datetime.now(dt.UTC)))
        resources.wait_case(namespace, "waiting", ready)
        no_permission_errors(operator)
        own_plane.plane.stop_component("kube-apiserver")
        operator.kill()
        started = time.monotonic()
        operator.start(until="/healthz")  # alive although the API server is away
        alive_after = time.monotonic() - started
        assert operator.probe("/readyz") == 503, "not ready before contracts and cases are loaded"
        time.sleep(OUTAGE_SECONDS)  # the rest of the outage, while the startup handler keeps failing
        own_plane.plane.start_component("kube-apiserver")
        back = time.monotonic()
        while operator.probe("/readyz") != 200:
            assert time.monotonic() - back < 60, operator.log_text()[-3000:]
            time.sleep(0.1)
        ready_after = time.monotonic() - back
        recovered = edit_and_time_until_observed(resources, namespace, "waiting")
        print(
            f"operator restarted during a {OUTAGE_SECONDS:.0f} s outage: /healthz after {alive_after:.1f} s, "
            f"/readyz {ready_after:.1f} s after the API server's return, "
            f"status written {recovered:.1f} s later"
        )
    finally:
        operator.cleanup()
        if not own_plane.plane.component("kube-apiserver").alive():
            own_plane.plane.start_component("kube-apiserver")
        resources.cleanup()


def test_an_etcd_restart_is_survived(own_plane: OwnPlane) -> None:  # noqa: F811
    resources = Resources(own_plane.admin)
    namespace = own_plane.namespace()
    operator = own_plane.operator("etcd")
    try:
        operator.start()
        contract = resources.contract()["metadata"]["name"]
        resources.case(namespace, contract, name="stored", reportedAt=iso(dt.datetime.now(dt.UTC)))
        resources.wait_case(namespace, "stored", ready)
        own_plane.plane.stop_component("etcd")
        time.sleep(3)  # the outage's length
        own_plane.plane.start_component("etcd")
        recovered = edit_and_time_until_observed(resources, namespace, "stored")
        print(f"etcd restarted after 3 s: status written {recovered:.1f} s after it was back")
    finally:
        operator.cleanup()
        resources.cleanup()
