"""Two replicas, one writer: leader election on a coordination.k8s.io Lease with fencing (kube/leader.py).

Takeover times are printed, not asserted (make chaos prints figures); what is asserted is who wrote what,
from the API server's own audit log: the replicas' User-Agents carry their identity.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable

import pytest
from kubernetes import client, config
from own_plane import OwnPlane, own_plane  # noqa: F401 (the fixture)
from support_resources import Resources, iso, ready

from support_operator.kube.fencing import NotLeaderError, fence_api_client
from support_operator.kube.leader import LEASE_NAME, LeaderElection
from support_operator.testing.install import OPERATOR_NAMESPACE
from support_operator.testing.operator_process import OperatorProcess
from support_operator.testing.wait import eventually


def lease(admin: client.ApiClient) -> client.V1LeaseSpec:
    found = client.CoordinationV1Api(admin).read_namespaced_lease(LEASE_NAME, OPERATOR_NAMESPACE)
    return found.spec


def status_writes(own: OwnPlane) -> list[tuple[dt.datetime, str, str]]:
    """(completed at, replica, object) of every status write the audit log holds."""
    writes = []
    for line in own.plane.audit_log.read_text().splitlines():
        entry = json.loads(line)
        ref = entry.get("objectRef") or {}
        agent = entry.get("userAgent", "")
        written = entry.get("stage") == "ResponseComplete" and entry["responseStatus"]["code"] < 300
        if written and ref.get("subresource") == "status" and entry["verb"] in ("patch", "update"):
            replica = agent.rsplit("(", 1)[1].rstrip(")") if "(" in agent else agent
            at = dt.datetime.fromisoformat(entry["stageTimestamp"])
            writes.append((at, replica, f"{ref.get('namespace')}/{ref['name']}"))
    return sorted(writes)


def settled(
    resources: Resources, namespace: str, names: tuple[str, ...], quiet: float = 3.0
) -> dict[str, str]:
    """The cases' resourceVersions once the leader has finished with them (intake snapshots, billing): none
    changed for `quiet` seconds. What the old leader left unfinished is the new one's to do."""
    started, last, since = time.monotonic(), None, time.monotonic()
    while True:
        now = {n: resources.get_case(namespace, n)["metadata"]["resourceVersion"] for n in names}
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
        assert time.monotonic() - started < 60, "the cases never settled"
        time.sleep(0.2)


def metric(process: OperatorProcess, name: str) -> float:
    with urllib.request.urlopen(process.metrics_url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def within(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        await asyncio.sleep(0.05)


def test_the_lease_fences_a_leader_that_stopped_renewing(own_plane: OwnPlane) -> None:  # noqa: F811
    """In one process: a leader whose renewals stop (its task is gone, as in a freeze) may no longer write
    once the renew deadline has passed, well before the standby takes over at the lease duration."""
    api = config.new_client_from_config(str(own_plane.operator_kubeconfig))

    async def scenario() -> None:
        timings = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.3}
        first = LeaderElection(api, OPERATOR_NAMESPACE, "fence-a", **timings)
        second = LeaderElection(api, OPERATOR_NAMESPACE, "fence-b", **timings)
        leading = asyncio.create_task(first.run())
        await within(lambda: first.leading, "a leads")
        standby = asyncio.create_task(second.run())
        await asyncio.sleep(1.0)
        assert first.may_write() and not second.leading and not second.may_write()
        fenced = fence_api_client(
            config.new_client_from_config(str(own_plane.operator_kubeconfig)), first.may_write
        )
        leading.cancel()  # no release: as if the process froze
        frozen = time.monotonic()
        await within(lambda: not first.may_write(), "a fenced")
        fenced_after = time.monotonic() - frozen
        with pytest.raises(NotLeaderError):
            client.CoordinationV1Api(fenced).delete_namespaced_lease(LEASE_NAME, OPERATOR_NAMESPACE)
        await within(lambda: second.leading, "b leads")
        took_over = time.monotonic() - frozen
        print(f"fenced {fenced_after:.1f} s after the last renewal, standby leads after {took_over:.1f} s")
        assert fenced_after < took_over
        spec = client.CoordinationV1Api(api).read_namespaced_lease(LEASE_NAME, OPERATOR_NAMESPACE).spec
        assert spec.holder_identity == "fence-b" and spec.lease_transitions == 1
        second.stop()
        await standby
        released = client.CoordinationV1Api(api).read_namespaced_lease(LEASE_NAME, OPERATOR_NAMESPACE).spec
        assert not released.holder_identity  # released on a graceful stop

    asyncio.run(scenario())


def test_the_standby_takes_over_after_the_leader_is_killed_and_nothing_is_written_twice(
    own_plane: OwnPlane,  # noqa: F811
) -> None:
    resources = Resources(own_plane.admin)
    namespace = own_plane.namespace()
    first, second = own_plane.operator("a"), own_plane.operator("b")
    try:
        first.start()
        eventually(lambda: lease(own_plane.admin).holder_identity == "support-operator-a", what="a leads")
        second.start()  # ready as a standby: its cache is loaded
        contract = resources.contract()["metadata"]["name"]
        reported = iso(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        for name in ("one", "two", "three"):
            resources.case(namespace, contract, name=name, reportedAt=reported)
        for name in ("one", "two", "three"):
            resources.wait_case(namespace, name, ready)
        assert (
            metric(first, "support_operator_leader") == 1 and metric(second, "support_operator_leader") == 0
        )
        assert metric(second, 'support_operator_status_writes_total{kind="SupportCase"}') == 0
        assert "support_operator_case_" not in urllib.request.urlopen(second.metrics_url).read().decode()
        versions = settled(resources, namespace, ("one", "two"))
        transitions = lease(own_plane.admin).lease_transitions or 0

        first.kill()
        killed = time.monotonic()
        eventually(
            lambda: lease(own_plane.admin).holder_identity == "support-operator-b",
            timeout=60,
            interval=0.1,
            what="b takes over",
        )
        took_over = time.monotonic() - killed
        resources.case(namespace, contract, name="after", reportedAt=iso(dt.datetime.now(dt.UTC)))
        resources.wait_case(namespace, "after", ready, timeout=30)
        resources.wait_contract(
            contract, lambda c: (c.get("status") or {}).get("openCases", {}).get("total") == 4
        )
        served = time.monotonic() - killed
        print(
            f"leader SIGKILLed: the standby holds the Lease after {took_over:.1f} s, "
            f"a new case is served after {served:.1f} s"
        )

        spec = lease(own_plane.admin)
        assert spec.lease_transitions == transitions + 1 and spec.lease_duration_seconds == 15
        # The new leader's warm cache matched the cluster: nothing it already had was written again.
        for name, version in versions.items():
            assert resources.get_case(namespace, name)["metadata"]["resourceVersion"] == version, name
        writes = status_writes(own_plane)
        last_of_a = max(at for at, who, _ in writes if who == "support-operator-a")
        first_of_b = min(at for at, who, _ in writes if who == "support-operator-b")
        assert last_of_a < first_of_b, "two writers at once"
        managers = {
            (m["manager"], m.get("subresource"))
            for m in resources.get_case(namespace, "one")["metadata"]["managedFields"]
            if m.get("subresource") == "status"
        }
        assert managers == {("support-operator", "status")}
    finally:
        first.cleanup()
        second.cleanup()
        resources.cleanup()


def test_a_frozen_leader_that_wakes_up_after_the_takeover_writes_nothing(own_plane: OwnPlane) -> None:  # noqa: F811
    """SIGSTOP the leader past the lease duration, let the standby take over, SIGCONT the old leader: the
    fence keeps it from writing anything from its stale view, and it steps down."""
    resources = Resources(own_plane.admin)
    namespace = own_plane.namespace()
    first, second = own_plane.operator("c"), own_plane.operator("d")
    try:
        first.start()
        eventually(
            lambda: lease(own_plane.admin).holder_identity == "support-operator-c", timeout=60, what="c leads"
        )
        second.start()
        contract = resources.contract()["metadata"]["name"]
        resources.case(namespace, contract, name="frozen", reportedAt=iso(dt.datetime.now(dt.UTC)))
        resources.wait_case(namespace, "frozen", ready)
        assert first.pid is not None
        os.killpg(first.pid, signal.SIGSTOP)
        eventually(
            lambda: lease(own_plane.admin).holder_identity == "support-operator-d",
            timeout=60,
            what="d takes over",
        )
        taken = dt.datetime.now(dt.UTC)
        # While c sleeps, the case changes: c's queued view of it is stale.
        resources.patch_case(namespace, "frozen", {"state": "InAnalysis", "analysisStartedAt": iso(taken)})
        os.killpg(first.pid, signal.SIGCONT)
        eventually(lambda: first.probe("/readyz") == 200 and metric(first, "support_operator_leader") == 0)
        resources.wait_case(
            namespace, "frozen", lambda c: (c["status"].get("reaction") or {}).get("state") == "Met"
        )
        writes = status_writes(own_plane)
        woke = [w for w in writes if w[1] == "support-operator-c" and w[0] > taken]
        assert not woke, f"the fenced replica wrote after the takeover: {woke}"
    finally:
        first.cleanup()
        second.cleanup()
        resources.cleanup()
