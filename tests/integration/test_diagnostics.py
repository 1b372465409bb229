"""The intake snapshot and `kubectl support gather` on the real API server: every analyzer on objects
created for real, redaction of planted secrets, trimming to the size limit, exactly once across a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_confirmation_email as confirmation_tests
import yaml
from diagnostics_cluster import (
    OPENSHIFT_CRDS,
    Workloads,
    bundle_texts,
    compressed_size,
    snapshot_config_maps,
    supporter_kubeconfig,
)
from kubernetes import client
from support_resources import Resources
from test_confirmation_email import SmtpServer

from support_operator.diagnostics.snapshot import decode_config_map
from support_operator.testing.wait import api_status, eventually

VENV_BIN = Path(sys.executable).parent
# The SMTP server and the mailing contract of the confirmation tests, as fixtures here too.
smtp_server = confirmation_tests.smtp_server
mailing_contract = confirmation_tests.mailing_contract


def taken(obj: dict) -> bool:
    return ((obj.get("status") or {}).get("diagnosis") or {}).get("state") == "Taken"


def stored_snapshot(api_client: client.ApiClient, namespace: str) -> dict:
    [config_map] = snapshot_config_maps(api_client, namespace)
    return decode_config_map(api_client.sanitize_for_serialization(config_map))


def plugin(*args: str, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return subprocess.run(
        [str(VENV_BIN / "kubectl-support"), *args, f"--kubeconfig={kubeconfig}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def workloads(api_client: client.ApiClient, namespace: str) -> Iterator[Workloads]:
    made = Workloads(api_client, namespace)
    yield made
    made.cleanup()


@pytest.fixture
def openshift_config(control_plane, api_client: client.ApiClient) -> Iterator[None]:
    """config.openshift.io served, with the ClusterVersion and a degraded and a healthy ClusterOperator."""
    control_plane.kubectl("apply", "--server-side", f"-f={OPENSHIFT_CRDS}")
    control_plane.kubectl(
        "wait",
        "--for=condition=Established",
        "crd/clusterversions.config.openshift.io",
        "crd/clusteroperators.config.openshift.io",
    )
    objects = client.CustomObjectsApi(api_client)
    version = {"desired": {"version": "4.19.3"}, "conditions": [{"type": "Available", "status": "True"}]}
    degraded = [
        {"type": "Available", "status": "True"},
        {
            "type": "Degraded",
            "status": "True",
            "reason": "IngressDegraded",
            "message": "The default ingress controller has 1 unavailable replica",
        },
    ]
    healthy = [{"type": "Available", "status": "True"}, {"type": "Degraded", "status": "False"}]
    for plural, kind, name, status in (
        ("clusterversions", "ClusterVersion", "version", version),
        ("clusteroperators", "ClusterOperator", "ingress", {"conditions": degraded}),
        ("clusteroperators", "ClusterOperator", "dns", {"conditions": healthy}),
    ):
        body = {
            "apiVersion": "config.openshift.io/v1",
            "kind": kind,
            "metadata": {"name": name},
            "status": status,
        }
        objects.create_cluster_custom_object("config.openshift.io", "v1", plural, body)
    yield
    control_plane.kubectl("delete", f"-f={OPENSHIFT_CRDS}", "--wait=true")


def test_intake_snapshot_finds_what_the_cluster_reports(
    operator,
    control_plane,
    api_client: client.ApiClient,
    resources: Resources,
    namespace: str,
    workloads: Workloads,
    openshift_config: None,
) -> None:
    node = workloads.sick_node()
    workloads.crash_looping("web-crash", node)
    workloads.image_pull_failing("web-pull", node)
    workloads.oom_killed("worker-oom", node)
    workloads.unschedulable("db-pending")
    workloads.not_ready_with_probe("api-unready", node)
    workloads.pod("web-ok", workloads.running(), node)
    workloads.event(
        "Pod", "web-ok", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 503"
    )
    workloads.stuck_deployment("web")
    workloads.stuck_statefulset("db")
    workloads.stuck_daemonset("agent")
    workloads.failed_job("migrate")
    workloads.pending_claim("data-db-0")
    workloads.service_without_endpoints("frontend")
    contract = resources.contract()["metadata"]["name"]
    created = resources.case(namespace, contract, name="shop-down")

    case = resources.wait_case(namespace, "shop-down", taken, timeout=60)
    diagnosis = case["status"]["diagnosis"]
    found = {(f["reason"], f["object"]["kind"], f["object"]["name"]) for f in diagnosis["findings"]}
    assert found >= {
        ("CrashLoopBackOff", "Pod", "web-crash"),
        ("ImagePullBackOff", "Pod", "web-pull"),
        ("OOMKilled", "Pod", "worker-oom"),
        ("Unschedulable", "Pod", "db-pending"),
        ("ProbeFailing", "Pod", "api-unready"),
        ("ProbeFailing", "Pod", "web-ok"),
        ("RolloutStuck", "Deployment", "web"),
        ("RolloutStuck", "StatefulSet", "db"),
        ("RolloutStuck", "DaemonSet", "agent"),
        ("JobFailed", "Job", "migrate"),
        ("PersistentVolumeClaimPending", "PersistentVolumeClaim", "data-db-0"),
        ("ServiceWithoutReadyEndpoints", "Service", "frontend"),
        ("NodeNotReady", "Node", node),
        ("NodePressure", "Node", node),
        ("ClusterOperatorDegraded", "ClusterOperator", "ingress"),
    }, diagnosis["findings"]
    messages = {(f["reason"], f["object"]["name"]): f["message"] for f in diagnosis["findings"]}
    assert (
        messages[("Unschedulable", "db-pending")]
        == "Pending: 0/1 nodes are available: 1 Insufficient memory."
    )
    assert "storageclass.storage.k8s.io" in messages[("PersistentVolumeClaimPending", "data-db-0")]
    assert diagnosis["findings"][0]["severity"] == "Critical"
    assert diagnosis["findingCount"] == len(diagnosis["findings"]) and diagnosis["snapshot"]

    header, row = control_plane.kubectl(
        "get", "supportcase", "shop-down", "-n", namespace
    ).stdout.splitlines()[:2]
    assert row.split()[header.split().index("FINDINGS")] == str(diagnosis["findingCount"])

    [config_map] = snapshot_config_maps(api_client, namespace)
    owner = config_map.metadata.owner_references[0]
    assert (owner.kind, owner.uid, owner.controller) == ("SupportCase", created["metadata"]["uid"], True)
    document = decode_config_map(api_client.sanitize_for_serialization(config_map))
    assert document["platform"]["kubernetesVersion"].startswith("v1.37")
    assert document["platform"]["clusterVersion"]["desired"]["version"] == "4.19.3"
    pods = next(c for c in document["manifest"]["collected"] if c["resource"] == "pods")
    assert pods["count"] == 6
    assert {
        "resource": "secrets",
        "reason": "never read: Secret data does not leave the API server",
    } in document["manifest"]["skipped"]

    resources.objects.delete_namespaced_custom_object(
        "support.puzzle.ch", "v1alpha1", namespace, "supportcases", "shop-down"
    )
    eventually(lambda: not snapshot_config_maps(api_client, namespace), 90, what="snapshot garbage-collected")


PLANTED = {
    "config-map": "cm-planted-Sup3rS3cret",
    "properties": "props-planted-Sup3rS3cret",
    "last-applied": "applied-planted-Sup3rS3cret",
    "env": "env-planted-Sup3rS3cret",
    "annotation": "ghp_AnnotationPlanted0123456789abcdef",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.cGxhbnRlZC1zaWduYXR1cmU",
    "secret": "secret-planted-Sup3rS3cret",
    "event": "event-planted-Sup3rS3cret",
    "custom": "TICKET-48151",
}


def _plant(api_client: client.ApiClient, namespace: str, workloads: Workloads) -> None:
    core = client.CoreV1Api(api_client)
    applied = json.dumps({"data": {"DB_PASSWORD": PLANTED["last-applied"]}})
    core.create_namespaced_config_map(
        namespace,
        {
            "metadata": {
                "name": "app-config",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": applied,
                    "example.com/deploy-token": PLANTED["annotation"],
                },
            },
            "data": {
                "DB_PASSWORD": PLANTED["config-map"],
                "application.properties": f"db.url=postgres://app:{PLANTED['properties']}@db/shop\n",
                "LOG_LEVEL": "debug",
            },
        },
    )
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "db"}, "stringData": {"password": PLANTED["secret"]}}
    )
    env = [
        {"name": "API_KEY", "value": PLANTED["env"]},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
    ]
    annotations = {
        "example.com/note": f"Authorization: Bearer {PLANTED['jwt']}",
        "example.com/ticket": PLANTED["custom"],
    }
    workloads.pod("web", workloads.running(restarts=1), "no-such-node", env=env, annotations=annotations)
    workloads.event("Pod", "web", "Failed", f"login failed with password={PLANTED['event']}")


def test_planted_secrets_reach_neither_the_snapshot_nor_the_bundle(
    operator,
    control_plane,
    api_client: client.ApiClient,
    resources: Resources,
    namespace: str,
    workloads: Workloads,
    tmp_path: Path,
) -> None:
    _plant(api_client, namespace, workloads)
    diagnostics = {
        "keepConfigMapValues": ["LOG_LEVEL"],
        "redaction": [{"name": "ticket-ids", "pattern": "TICKET-[0-9]{5}"}],
    }
    contract = resources.contract(diagnostics=diagnostics)["metadata"]["name"]
    resources.case(namespace, contract, name="shop-leak")
    resources.wait_case(namespace, "shop-leak", taken, timeout=60)

    document = stored_snapshot(api_client, namespace)
    text = json.dumps(document)
    assert [name for name, value in PLANTED.items() if value in text] == []
    config_map = next(
        c for c in document["namespaces"][namespace]["configmaps"] if c["metadata"]["name"] == "app-config"
    )
    assert config_map["data"]["LOG_LEVEL"] == "debug"  # allow-listed
    assert config_map["data"]["application.properties"].endswith("bytes]")
    [pod] = document["namespaces"][namespace]["pods"]
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["API_KEY"]["value"] == "[removed: literal value]"
    assert env["DB_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "password"}}
    counts = document["manifest"]["redacted"]["counts"]
    for rule in (
        "config-map-value",
        "env-value",
        "last-applied-configuration",
        "ticket-ids",
        "jwt",
        "assignment",
    ):
        assert counts.get(rule), (rule, counts)

    # The bundle, with a supporter's real token (support-readonly in the namespace, nothing else).
    kubeconfig = supporter_kubeconfig(api_client, control_plane.kubeconfig, namespace, tmp_path / "supporter")
    bundle = tmp_path / "bundle.tar.gz"
    result = plugin(
        "gather", "shop-leak", "-o", str(bundle), "--since=1h", "--timeout=90", kubeconfig=kubeconfig
    )
    assert result.returncode == 0, result.stderr
    assert "reading pods in" in result.stderr and "partial bundle" in result.stderr
    files = bundle_texts(bundle)
    everything = "\n".join(files.values())
    assert [name for name, value in PLANTED.items() if value in everything] == []
    manifest = json.loads(files["manifest.json"])
    assert manifest["partial"] is True
    missing = {
        (m["resource"], m.get("container"), m.get("previous")): m["reason"] for m in manifest["missing"]
    }
    assert ("logs", "app", False) in missing and ("logs", "app", True) in missing  # no kubelet serves them
    assert missing[("nodes", None, None)] == "forbidden"
    assert missing[("secrets", None, None)].startswith("elided")
    assert f"namespaces/{namespace}/pods.yaml" in files and "intake-snapshot.json" in files
    assert "[removed: literal value]" in files[f"namespaces/{namespace}/pods.yaml"]
    assert "secrets.yaml" not in " ".join(files)

    extracted = plugin(
        "snapshot", f"{namespace}/shop-leak", "-o", str(tmp_path / "out"), kubeconfig=kubeconfig
    )
    assert extracted.returncode == 0, extracted.stderr
    assert json.loads((tmp_path / "out" / "shop-leak-snapshot.json").read_text()) == document
    listed = plugin("findings", "shop-leak", kubeconfig=kubeconfig)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == ["SEVERITY", "OBJECT", "REASON", "MESSAGE"]


def test_a_snapshot_over_the_size_limit_is_trimmed_with_a_note(
    operator, api_client: client.ApiClient, resources: Resources, namespace: str, workloads: Workloads
) -> None:
    for i in range(150):  # incompressible messages: ~60 KB of Events
        workloads.event("Pod", f"noise-{i}", "BackOff", os.urandom(200).hex())
    limit = 8 * 1024
    contract = resources.contract(diagnostics={"maxSnapshotBytes": limit})["metadata"]["name"]
    resources.case(namespace, contract, name="big")
    diagnosis = resources.wait_case(namespace, "big", taken, timeout=60)["status"]["diagnosis"]
    assert diagnosis["trimmed"] is True and "trimmed to the size limit: events" in diagnosis["message"]
    [config_map] = snapshot_config_maps(api_client, namespace)
    assert compressed_size(config_map) <= limit
    document = decode_config_map(api_client.sanitize_for_serialization(config_map))
    kept = len(document["namespaces"][namespace]["events"])
    [collected] = [c["count"] for c in document["manifest"]["collected"] if c["resource"] == "events"]
    assert collected >= 150 and kept < 150  # ours, and the case's own Events
    notes = document["manifest"]["trimmed"]
    assert sum(n["dropped"] for n in notes if n["resource"] == "events") == collected - kept


def test_snapshot_is_taken_exactly_once_across_a_kill(
    operator, api_client: client.ApiClient, resources: Resources, namespace: str, workloads: Workloads
) -> None:
    node = workloads.sick_node()
    workloads.crash_looping("web-crash", node)
    contract = resources.contract()["metadata"]["name"]
    resources.case(namespace, contract, name="once")
    first = resources.wait_case(namespace, "once", taken, timeout=60)["status"]["diagnosis"]
    [config_map] = snapshot_config_maps(api_client, namespace)

    # Killed (SIGKILL, no shutdown), and the state a kill between the ConfigMap and the status write leaves:
    # the snapshot stored, status.diagnosis not written.
    os.killpg(operator._process.pid, signal.SIGKILL)
    operator.stop()
    resources.objects.patch_namespaced_custom_object_status(
        "support.puzzle.ch", "v1alpha1", namespace, "supportcases", "once", {"status": {"diagnosis": None}}
    )
    workloads.oom_killed("later-oom", node)  # a new snapshot would find this
    operator.start()

    again = resources.wait_case(namespace, "once", taken, timeout=60)["status"]["diagnosis"]
    assert again == first
    [after] = snapshot_config_maps(api_client, namespace)
    assert (after.metadata.uid, after.metadata.resource_version) == (
        config_map.metadata.uid,
        config_map.metadata.resource_version,
    )
    taken_events = [e for e in resources.events_for(namespace, "once") if e.reason == "SnapshotTaken"]
    assert len(taken_events) == 1


def test_the_confirmation_lists_the_top_findings_once(
    operator,
    resources: Resources,
    namespace: str,
    workloads: Workloads,
    mailing_contract: str,
    smtp_server: SmtpServer,
) -> None:
    node = workloads.sick_node()
    workloads.crash_looping("web-crash", node)
    resources.case(namespace, mailing_contract, name="mail-findings")
    resources.wait_case(namespace, "mail-findings", taken, timeout=60)
    [message] = eventually(lambda: smtp_server.mailbox.for_case("mail-findings"), what="the confirmation")
    body = message.get_content()
    assert "Erste Befunde der automatischen Diagnose" in body  # the contract language is German
    assert f"- Critical Pod {namespace}/web-crash: CrashLoopBackOff" in body
    assert f"- Critical Node {node}: NodeNotReady" in body
    time.sleep(3)
    assert len(smtp_server.mailbox.for_case("mail-findings")) == 1


def diagnosis_state(state: str):
    return lambda obj: ((obj.get("status") or {}).get("diagnosis") or {}).get("state") == state


@pytest.fixture
def snapshots_refused(control_plane, api_client: client.ApiClient, namespace: str) -> Iterator[None]:
    """A ValidatingAdmissionPolicy that refuses snapshot ConfigMaps in `namespace` (as a restrictive platform
    policy might): the API server answers the operator's create with 403."""
    name = f"refuse-snapshots-{namespace[-6:]}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["configmaps"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": "!has(object.metadata.labels) || "
                    "!('support.puzzle.ch/snapshot' in object.metadata.labels)",
                    "message": "snapshots are not allowed here",
                    "reason": "Forbidden",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
            },
        },
    }
    documents = [policy, binding]
    control_plane.kubectl("apply", "-f=-", input=yaml.safe_dump_all(documents))
    probe = {"metadata": {"name": "probe", "labels": {"support.puzzle.ch/snapshot": "intake"}}}
    core = client.CoreV1Api(api_client)
    # The policy reaches the admission chain asynchronously: wait until a dry-run create is refused.
    eventually(
        lambda: api_status(lambda: core.create_namespaced_config_map(namespace, probe, dry_run="All")) == 403,
        what="the policy refusing snapshot ConfigMaps",
    )
    yield
    control_plane.kubectl("delete", "-f=-", "--ignore-not-found", input=yaml.safe_dump_all(documents))


def test_a_snapshot_that_cannot_be_stored_fails_with_a_reason_not_a_silent_loop(
    operator, snapshots_refused: None, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    resources.case(namespace, contract, name="no-room")
    case = resources.wait_case(namespace, "no-room", diagnosis_state("Failed"), timeout=120)
    assert case["status"]["diagnosis"]["message"].startswith("no snapshot taken after 3 attempts: 403")
    # The Event follows the status write.
    eventually(lambda: any(e.reason == "SnapshotFailed" for e in resources.events_for(namespace, "no-room")))


def test_an_invalid_redaction_rule_stops_the_snapshot_and_says_which(
    operator, api_client: client.ApiClient, resources: Resources, namespace: str
) -> None:
    diagnostics = {"redaction": [{"name": "broken", "pattern": "(unclosed"}]}
    contract = resources.contract(diagnostics=diagnostics)["metadata"]["name"]
    resources.case(namespace, contract, name="bad-rule")
    case = resources.wait_case(namespace, "bad-rule", diagnosis_state("Failed"), timeout=60)
    assert (
        "redaction rule broken: '(unclosed' is not a valid regular expression"
        in case["status"]["diagnosis"]["message"]
    )
    assert not snapshot_config_maps(api_client, namespace)
    # The Event follows the status write.
    eventually(
        lambda: any(e.reason == "InvalidRedactionRule" for e in resources.events_for(namespace, "bad-rule"))
    )
