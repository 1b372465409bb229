"""`support-operator dev` (what `make run` starts): a local control plane, the CRDs, the samples and the
operator in the foreground; Ctrl-C stops it all and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from support_operator.testing.controlplane import free_port, run_kubectl
from support_operator.testing.wait import eventually, process_alive


def children_of(pid: int) -> set[int]:
    """All descendants of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_dev_runs_everything_and_ctrl_c_stops_it(control_plane, tmp_path: Path) -> None:
    log = tmp_path / "dev.log"
    env = {**os.environ, "SUPPORT_OPERATOR_DEV_HOME": str(tmp_path / "home")}
    env.pop("KUBECONFIG", None)
    command = [
        str(Path(sys.executable).parent / "support-operator"),
        "dev",
        f"--metrics-port={free_port()}",
        f"--liveness-port={free_port()}",
        f"--alert-receiver-port={free_port()}",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        eventually(lambda: "export KUBECONFIG=" in log.read_text(), timeout=120, what="the export line")
        kubeconfig = tmp_path / "home" / "kubeconfig"
        assert f"export KUBECONFIG={kubeconfig}" in log.read_text()

        def sample_case_status() -> dict | None:
            listed = run_kubectl(
                control_plane.kubectl_path, kubeconfig, "get", "supportcases", "-A", "-o", "json"
            )
            items = {i["metadata"]["name"]: i for i in json.loads(listed.stdout)["items"]}
            status = items.get("shop-ingress-503", {}).get("status")
            return status if status and status.get("priority") else None

        status = eventually(sample_case_status, timeout=60, what="the operator's status on a sample case")
        assert status["priority"] == "P1" and status["reaction"]["state"] == "Met"
        # The roles the operator binds and the admission policies come with it (issue 11: a supporter's
        # request failed with `clusterrole "support-readonly" not found`).
        shipped = run_kubectl(
            control_plane.kubectl_path,
            kubeconfig,
            "get",
            "clusterroles/support-readonly",
            "clusterroles/support-case-worker",
            "clusterroles/support-case-reporter",
            "validatingadmissionpolicies/support-case-tenant-boundary",
            "validatingadmissionpolicies/support-case-field-ownership",
            "validatingadmissionpolicies/support-case-elevation-approval",
            "-o",
            "name",
        )
        assert len(shipped.stdout.split()) == 6, shipped.stdout
        descendants = children_of(process.pid)
        assert len(descendants) >= 3  # etcd, kube-apiserver, kube-controller-manager
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(60)
    assert code == 0, log.read_text()[-3000:]
    eventually(lambda: not any(process_alive(pid) for pid in descendants), timeout=30, what="no process left")
