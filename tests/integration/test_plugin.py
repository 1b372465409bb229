"""`kubectl support` through the real kubectl (found on PATH) against the real API server and operator."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException
from support_resources import Resources, iso, now, reaction_state, ready

VENV_BIN = Path(sys.executable).parent


def kubectl_support(
    control_plane, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `kubectl support ARGS` with kubectl-support on PATH. kubectl refuses flags before a plugin's
    name and forwards everything after it, so the kubeconfig goes after the plugin name."""
    environment = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    environment.pop("KUBECONFIG", None)
    return subprocess.run(
        [str(control_plane.kubectl_path), "support", *args, f"--kubeconfig={control_plane.kubeconfig}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kubectl_finds_the_plugin_and_lists_the_queue(
    operator, control_plane, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    reported = now() - dt.timedelta(minutes=10)
    resources.case(
        namespace, contract, name="question", category="Consultation", impact=None, reportedAt=iso(reported)
    )
    resources.case(namespace, contract, name="staging", impact="NonProduction", reportedAt=iso(reported))
    resources.case(namespace, contract, name="outage", impact="Production", reportedAt=iso(reported))
    resources.case(
        namespace,
        contract,
        name="done",
        state="Closed",
        reportedAt=iso(reported),
        analysisStartedAt=iso(reported + dt.timedelta(minutes=1)),
    )
    for name in ("question", "staging", "outage"):
        resources.wait_case(namespace, name, ready)

    table = kubectl_support(control_plane, "queue", "-n", namespace)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:5] == ["NAMESPACE", "NAME", "PRIORITY", "STATE", "REACTION"]
    assert [line.split()[1] for line in lines[1:]] == ["outage", "staging", "question"]  # Closed is not open
    assert [line.split()[2] for line in lines[1:]] == ["P1", "P2", "P3"]
    assert "\x1b[" not in table.stdout  # colours only on a terminal

    as_json = kubectl_support(control_plane, "queue", "-o", "json", "--contract", contract)
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [r["name"] for r in rows] == ["outage", "staging", "question"]
    outage = resources.get_case(namespace, "outage")
    assert rows[0]["deadline"] == outage["status"]["reaction"]["deadline"].replace("+00:00", "Z")
    assert rows[0]["reaction"] == "Pending" and rows[0]["businessSecondsLeft"] > 0

    wide = kubectl_support(control_plane, "-n", namespace, "queue", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    assert "CONTRACT" in wide.stdout.splitlines()[0] and contract in wide.stdout


def test_ack_before_and_after_the_deadline(
    operator, control_plane, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    resources.case(namespace, contract, name="fresh", impact="NonProduction", reportedAt=iso(now()))
    resources.case(
        namespace,
        contract,
        name="forgotten",
        impact="NonProduction",
        reportedAt=iso(now() - dt.timedelta(days=10)),
    )
    assert reaction_state(resources.wait_case(namespace, "fresh", ready)) == "Pending"
    resources.wait_case(namespace, "forgotten", ready)

    in_time = kubectl_support(control_plane, "ack", "fresh", "-n", namespace)
    assert in_time.returncode == 0, in_time.stderr
    assert "in time" in in_time.stdout
    met = resources.wait_case(namespace, "fresh", lambda c: reaction_state(c) == "Met")
    assert met["spec"]["state"] == "InAnalysis" and met["spec"]["analysisStartedAt"]
    assert met["status"]["reaction"]["analysisStartedAt"] == met["spec"]["analysisStartedAt"]

    late = kubectl_support(control_plane, "ack", f"{namespace}/forgotten")
    assert late.returncode == 0, late.stderr
    assert "late" in late.stdout
    breached = resources.wait_case(
        namespace, "forgotten", lambda c: (c["status"].get("reaction") or {}).get("analysisStartedAt")
    )
    assert reaction_state(breached) == "Breached" and breached["spec"]["state"] == "InAnalysis"

    again = kubectl_support(control_plane, "ack", "fresh", "-n", namespace)
    assert again.returncode == 0 and "already started" in again.stdout
    assert (
        resources.get_case(namespace, "fresh")["spec"]["analysisStartedAt"]
        == met["spec"]["analysisStartedAt"]
    )


def test_state_and_log_write_spec_and_errors_are_clear(
    operator, control_plane, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    resources.case(namespace, contract, name="case", impact="NonProduction", reportedAt=iso(now()))

    unacknowledged = kubectl_support(control_plane, "state", "case", "Resolved", "-n", namespace)
    assert unacknowledged.returncode == 1 and "ack" in unacknowledged.stderr
    assert kubectl_support(control_plane, "ack", "case", "-n", namespace).returncode == 0
    waiting = kubectl_support(control_plane, "state", "case", "WaitingForCustomer", "-n", namespace)
    assert waiting.returncode == 0, waiting.stderr
    assert resources.get_case(namespace, "case")["spec"]["state"] == "WaitingForCustomer"

    first = kubectl_support(
        control_plane,
        "log",
        "case",
        "1h30m",
        "router logs",
        "-n",
        namespace,
        env={"KUBECTL_SUPPORT_MEMBER": "anna"},
    )
    second = kubectl_support(control_plane, "log", "case", "45", "-n", namespace, "--member", "luca")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    effort = resources.get_case(namespace, "case")["spec"]["effort"]
    assert [(e["member"], e["duration"], e.get("note")) for e in effort] == [
        ("anna", "1h30m", "router logs"),
        ("luca", "45", None),
    ]
    assert len({e["id"] for e in effort}) == 2
    totals = resources.wait_case(
        namespace, "case", lambda c: (c["status"].get("effort") or {}).get("entries") == 2
    )
    assert totals["status"]["effort"] == {"entries": 2, "totalMinutes": 135, "billableMinutes": 135}

    invalid = kubectl_support(control_plane, "log", "case", "1.5h", "-n", namespace, "--member", "anna")
    assert invalid.returncode == 2 and "effort duration must be whole minutes" in invalid.stderr
    unknown = kubectl_support(control_plane, "ack", "no-such-case", "-n", namespace)
    assert unknown.returncode == 1 and f"SupportCase {namespace}/no-such-case: not found" in unknown.stderr
    closed = kubectl_support(control_plane, "state", "case", "Closed", "-n", namespace)
    assert closed.returncode == 0, closed.stderr
    reopened = kubectl_support(control_plane, "state", "case", "InAnalysis", "-n", namespace)
    assert reopened.returncode == 1 and "a Closed case is final" in reopened.stderr


def test_access_kubeconfig_prints_the_member_secret_or_says_it_is_missing(
    control_plane, api_client, resources: Resources
) -> None:
    contract = resources.contract(access=None)["metadata"]["name"]
    missing = kubectl_support(
        control_plane, "access", "kubeconfig", "--member", "anna", "--contract", contract
    )
    assert missing.returncode == 1
    assert f"Secret support-operator/support-kubeconfig-{contract}-anna" in missing.stderr
    assert "not provisioned yet" in missing.stderr

    core = client.CoreV1Api(api_client)
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="support-operator")))
    except ApiException as error:
        if error.status != 409:
            raise
    secret = f"support-kubeconfig-{contract}-anna"
    kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
    core.create_namespaced_secret(
        "support-operator",
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=secret),
            data={"kubeconfig": base64.b64encode(kubeconfig.encode()).decode()},
        ),
    )
    try:
        printed = kubectl_support(
            control_plane, "access", "kubeconfig", "--member", "anna", "--contract", contract
        )
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout == kubeconfig
    finally:
        core.delete_namespaced_secret(secret, "support-operator")
