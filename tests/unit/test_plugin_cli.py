"""`kubectl support` without an API server: a fake cluster records what the plugin reads and writes."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner
from kubernetes.client.rest import ApiException

from support_operator.api.v1alpha1 import SupportCase, SupportContract
from support_operator.cli import plugin

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text())
    return document


def stored_case(name: str, namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    raw = load("supportcase-nonproduction-incident")
    raw["metadata"] = {
        "name": name,
        "namespace": namespace,
        "resourceVersion": "7",
        "creationTimestamp": "2026-11-02T08:00:00Z",
    }
    raw["spec"].update(spec)
    return raw


class FakeCluster:
    def __init__(self, cases: list[dict[str, Any]], contracts: list[dict[str, Any]], namespace: str = "shop"):
        self.cases = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in cases}
        self.contracts = {c["metadata"]["name"]: c for c in contracts}
        self.namespace = namespace
        self.patches: list[tuple[str, str, Any, str]] = []
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.fail_patch: list[ApiException] = []
        self.forbid_contracts = False

    def get_case(self, namespace, name):
        if (namespace, name) not in self.cases:
            raise ApiException(status=404, reason="Not Found")
        return copy.deepcopy(self.cases[(namespace, name)])

    def list_cases(self, namespace):
        return [copy.deepcopy(c) for (ns, _), c in self.cases.items() if namespace in (None, ns)]

    def get_contract(self, name):
        if self.forbid_contracts:
            raise ApiException(status=403, reason="Forbidden")
        if name not in self.contracts:
            raise ApiException(status=404, reason="Not Found")
        return copy.deepcopy(self.contracts[name])

    def list_statements(self):
        return []

    def list_contracts(self):
        if self.forbid_contracts:
            raise ApiException(status=403, reason="Forbidden")
        return [copy.deepcopy(c) for c in self.contracts.values()]

    def patch_case(self, namespace, name, body, content_type):
        if self.fail_patch:
            raise self.fail_patch.pop(0)
        self.patches.append((namespace, name, body, content_type))
        return self.cases[(namespace, name)]

    def read_secret(self, namespace, name):
        return self.secrets.get((namespace, name))


@pytest.fixture
def contract() -> dict[str, Any]:
    return load("supportcontract")


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch, contract: dict[str, Any]) -> FakeCluster:
    fake = FakeCluster([], [contract])
    connections: list[plugin.Connection] = []

    def connect(connection: plugin.Connection) -> FakeCluster:
        connections.append(connection)
        if connection.namespace:
            fake.namespace = connection.namespace
        return fake

    monkeypatch.setattr(plugin.connection, "connect", connect)
    fake.connections = connections  # type: ignore[attr-defined]
    return fake


def run(*args: str, color: bool = False, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(plugin.main, list(args), color=color, env=env, catch_exceptions=False)


# --- connection flags ------------------------------------------------------------------------------------


def test_kubectl_flags_work_before_and_after_the_command(cluster: FakeCluster) -> None:
    run("--kubeconfig", "/tmp/a", "--context", "ctx", "queue")
    run("queue", "-n", "team-b", "--kubeconfig=/tmp/b", "-A")
    first, second = cluster.connections  # type: ignore[attr-defined]
    assert (first.kubeconfig, first.context, first.namespace, first.all_namespaces) == (
        "/tmp/a",
        "ctx",
        None,
        False,
    )
    assert (second.kubeconfig, second.namespace, second.all_namespaces) == ("/tmp/b", "team-b", True)


def test_an_unreadable_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    result = run("queue", "--kubeconfig", str(tmp_path / "missing"))
    assert result.exit_code == 1
    assert "Error: cannot load the kubeconfig" in result.output


# --- queue -----------------------------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)  # Thursday 10:00 in Zurich


def queue_cases() -> list[dict[str, Any]]:
    reported = "2026-11-26T09:30:00+01:00"
    return [
        stored_case("question", category="Consultation", impact=None, reportedAt=reported),
        stored_case("staging", namespace="ci", impact="NonProduction", reportedAt=reported),
        stored_case("outage", impact="Production", reportedAt="2026-11-26T09:45:00+01:00"),
        stored_case(
            "closed",
            impact="Production",
            state="Closed",
            reportedAt=reported,
            analysisStartedAt="2026-11-26T09:31:00+01:00",
        ),
    ]


def test_queue_rows_are_ordered_with_deadline_and_business_time_left(contract: dict[str, Any]) -> None:
    contract["spec"]["addOns"].pop("pikett")
    parsed = SupportContract.from_k8s(contract)
    cases = [SupportCase.from_k8s(c) for c in queue_cases()]
    rows = plugin.queue_rows(cases, {"acme-openshift": parsed}, NOW)
    assert [(r.name, r.priority, r.reaction) for r in rows] == [
        ("outage", "P1", "Pending"),
        ("staging", "P2", "Pending"),
        ("question", "P3", "Pending"),
    ]
    # 2h of support time from 09:45 local: 11:45 local, 1h45m left at 10:00 local.
    assert rows[0].deadline == dt.datetime(2026, 11, 26, 10, 45, tzinfo=dt.UTC)
    assert rows[0].left == dt.timedelta(hours=1, minutes=45)
    table = click.unstyle(plugin.render_queue(rows, wide=False, now=NOW)).splitlines()
    assert table[1].split() == [
        "shop",
        "outage",
        "P1",
        "New",
        "Pending",
        "2026-11-26",
        "11:45",
        "CET",
        "1h45m",
    ]
    assert [line.split()[1] for line in table[1:]] == ["outage", "staging", "question"]


def test_without_the_contract_the_queue_uses_the_status(contract: dict[str, Any]) -> None:
    case = stored_case("late", reportedAt="2026-11-20T09:00:00+01:00")
    case["status"] = {
        "reaction": {
            "target": "2h",
            "calendar": "Standard",
            "reportedAt": "2026-11-20T08:00:00Z",
            "deadline": "2026-11-20T10:00:00Z",
            "state": "Breached",
        }
    }
    (row,) = plugin.queue_rows([SupportCase.from_k8s(case)], {}, NOW)
    assert (row.reaction, row.deadline, row.left) == (
        "Breached",
        dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC),
        None,
    )
    assert click.unstyle(plugin.render_queue([row], wide=False, now=NOW)).split()[-1] == "overdue"


def test_queue_colours_only_on_a_terminal(cluster: FakeCluster) -> None:
    cluster.cases = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in queue_cases()}
    plain = run("queue")
    assert plain.exit_code == 0 and "\x1b[" not in plain.output
    coloured = run("queue", color=True)
    assert "\x1b[31m" in coloured.output  # P1 in red
    assert [line.split()[1] for line in plain.output.splitlines()[1:]] == ["outage", "staging", "question"]


def test_queue_namespace_and_output_formats(cluster: FakeCluster) -> None:
    cluster.cases = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in queue_cases()}
    only_ci = json.loads(run("queue", "-n", "ci", "-o", "json").output)
    assert [r["name"] for r in only_ci] == ["staging"]
    everything = yaml.safe_load(run("queue", "-o", "yaml").output)
    assert [r["name"] for r in everything] == ["outage", "staging", "question"]
    assert set(everything[0]) >= {"deadline", "businessSecondsLeft", "priority", "reaction", "state"}
    wide = run("queue", "-o", "wide").output.splitlines()
    assert wide[0].split()[-5:] == ["CONTRACT", "CATEGORY", "IMPACT", "AGE", "TITLE"]
    assert run("queue", "-n", "nobody").output == "No open cases in namespace nobody.\n"


def test_queue_works_without_permission_to_read_contracts(cluster: FakeCluster) -> None:
    cluster.cases = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in queue_cases()}
    cluster.forbid_contracts = True
    result = run("queue")
    assert result.exit_code == 0
    assert all(line.split()[4] == "Unknown" for line in result.output.splitlines()[1:])


def test_an_unreadable_case_is_reported_and_the_rest_of_the_queue_shown(cluster: FakeCluster) -> None:
    broken = stored_case("broken")
    del broken["spec"]["title"]
    cluster.cases = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in [*queue_cases(), broken]}
    result = run("queue")
    assert result.exit_code == 0
    assert "Warning: SupportCase broken cannot be read" in result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines()[1:]] == ["outage", "staging", "question"]


# --- ack and state ---------------------------------------------------------------------------------------


def test_ack_starts_the_analysis_with_a_guarded_json_patch(cluster: FakeCluster) -> None:
    cluster.cases[("shop", "outage")] = stored_case("outage", reportedAt="2026-11-26T09:30:00+01:00")
    result = run("ack", "outage")
    assert result.exit_code == 0, result.output
    ((namespace, name, patch, content_type),) = cluster.patches
    assert (namespace, name, content_type) == ("shop", "outage", plugin.JSON_PATCH)
    assert patch[0] == {"op": "test", "path": "/spec/state", "value": "New"}
    assert patch[2] == {"op": "replace", "path": "/spec/state", "value": "InAnalysis"}
    started = dt.datetime.fromisoformat(patch[1]["value"])
    assert patch[1]["path"] == "/spec/analysisStartedAt"
    assert abs(started - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30)
    assert all(op["path"].startswith("/spec/") for op in patch)  # never status


def test_ack_of_an_acknowledged_case_changes_nothing(cluster: FakeCluster) -> None:
    cluster.cases[("shop", "outage")] = stored_case(
        "outage", state="InAnalysis", analysisStartedAt="2026-11-26T09:35:00+01:00"
    )
    result = run("ack", "shop/outage")
    assert result.exit_code == 0 and "already started at 2026-11-26T08:35:00Z" in result.output
    assert cluster.patches == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [(404, "SupportCase shop/ghost: not found"), (403, "no permission (secret message)")],
)
def test_api_errors_are_one_clear_line(cluster: FakeCluster, status: int, expected: str) -> None:
    if status == 403:
        cluster.cases[("shop", "ghost")] = stored_case("ghost")
        error = ApiException(status=403, reason="Forbidden")
        error.body = json.dumps({"message": "secret message"})
        cluster.fail_patch.append(error)
    result = run("ack", "ghost")
    assert result.exit_code == 1
    assert expected in result.output


def test_state_needs_an_acknowledged_case_and_writes_only_spec_state(cluster: FakeCluster) -> None:
    cluster.cases[("shop", "new")] = stored_case("new")
    refused = run("state", "new", "Resolved")
    assert refused.exit_code == 1 and "kubectl support ack new" in refused.output
    cluster.cases[("shop", "busy")] = stored_case(
        "busy", state="InAnalysis", analysisStartedAt="2026-11-26T09:35:00+01:00"
    )
    assert run("state", "busy", "WaitingForCustomer").exit_code == 0
    assert cluster.patches == [
        (
            "shop",
            "busy",
            [{"op": "replace", "path": "/spec/state", "value": "WaitingForCustomer"}],
            plugin.JSON_PATCH,
        )
    ]
    assert run("state", "busy", "Reopened").exit_code == 2  # not a state a human sets


# --- log -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"), [("90", 90), ("1h30m", 90), ("2h", 120), ("45m", 45), ("-15m", -15), ("-1h", -60)]
)
def test_effort_durations(text: str, minutes: int) -> None:
    assert plugin.effort_minutes(text) == minutes


@pytest.mark.parametrize("text", ["1.5h", "1h30", "90s", "1d", "0", "0h0m", "", "h"])
def test_invalid_effort_durations(text: str) -> None:
    with pytest.raises(ValueError, match="effort duration"):
        plugin.effort_minutes(text)


def test_log_validates_before_writing(cluster: FakeCluster) -> None:
    cluster.cases[("shop", "c")] = stored_case("c")
    invalid = run("log", "c", "1.5h", "--member", "anna")
    assert invalid.exit_code == 2 and "effort duration must be whole minutes" in invalid.output
    no_reason = run("log", "c", "-15m", "--member", "anna")
    assert no_reason.exit_code == 2 and "needs --reason" in no_reason.output
    stranger = run("log", "c", "1h", "--member", "zoe")
    assert (
        stranger.exit_code == 1
        and "zoe is not in the team of SupportContract acme-openshift" in stranger.output
    )
    bad_day = run("log", "c", "1h", "--member", "anna", "--date", "26.11.2026")
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
    assert cluster.patches == []


def test_the_first_entry_creates_the_list_under_the_read_resource_version(cluster: FakeCluster) -> None:
    cluster.cases[("shop", "c")] = stored_case("c")
    result = run("log", "c", "1h30m", "router logs", "--date", "2026-11-03", env={plugin.MEMBER_ENV: "luca"})
    assert result.exit_code == 0, result.output
    ((_, _, body, content_type),) = cluster.patches
    assert content_type == plugin.MERGE_PATCH
    assert body["metadata"] == {"resourceVersion": "7"}
    (entry,) = body["spec"]["effort"]
    assert entry["id"].startswith("e-20261103-luca-")
    assert {k: v for k, v in entry.items() if k != "id"} == {
        "member": "luca",
        "date": "2026-11-03",
        "duration": "1h30m",
        "note": "router logs",
    }


def test_later_entries_are_appended_and_a_lost_race_retries_as_an_append(cluster: FakeCluster) -> None:
    first = {"id": "e-1", "member": "anna", "date": "2026-11-03", "duration": 30}
    cluster.cases[("shop", "c")] = stored_case("c", effort=[first])
    assert run("log", "c", "-15m", "--member", "anna", "--reason", "twice").exit_code == 0
    (_, _, patch, content_type) = cluster.patches[-1]
    assert content_type == plugin.JSON_PATCH
    assert [(op["op"], op["path"]) for op in patch] == [("add", "/spec/effort/-")]
    assert patch[0]["value"]["reason"] == "twice" and patch[0]["value"]["duration"] == "-15m"

    cluster.cases[("shop", "race")] = stored_case("race")
    cluster.fail_patch.append(ApiException(status=409, reason="Conflict"))
    original_get = cluster.get_case
    calls = []

    def get_after_conflict(namespace, name):
        calls.append(name)
        raw = original_get(namespace, name)
        if len(calls) > 1:  # somebody else appended in the meantime
            raw["spec"]["effort"] = [first]
        return raw

    cluster.get_case = get_after_conflict  # type: ignore[method-assign]
    assert run("log", "race", "1h", "--member", "anna").exit_code == 0
    (_, name, patch, content_type) = cluster.patches[-1]
    assert (name, content_type, patch[0]["path"]) == ("race", plugin.JSON_PATCH, "/spec/effort/-")


# --- access ----------------------------------------------------------------------------------------------


def test_access_kubeconfig(cluster: FakeCluster, contract: dict[str, Any]) -> None:
    missing = run("access", "kubeconfig", "--member", "anna")  # the only contract is chosen
    assert missing.exit_code == 1
    assert (
        "not provisioned yet: Secret support-operator/support-kubeconfig-acme-openshift-anna"
        in missing.output
    )
    cluster.secrets[("support-operator", "support-kubeconfig-acme-openshift-anna")] = {"kubeconfig": "k: v\n"}
    assert run("access", "kubeconfig", "--member", "anna").output == "k: v\n"

    contract["status"] = {
        "identities": [
            {
                "member": "team",
                "kind": "ServiceAccount",
                "kubeconfigSecret": {"namespace": "ops", "name": "team-kubeconfig"},
            }
        ]
    }
    contract["spec"]["access"]["mode"] = "Team"
    cluster.contracts["acme-openshift"] = contract
    cluster.secrets[("ops", "team-kubeconfig")] = {"kubeconfig": "team: yes\n"}
    assert (
        run("access", "kubeconfig", "--member", "luca", "--contract", "acme-openshift").output
        == "team: yes\n"
    )
    cluster.contracts["other"] = {**contract, "metadata": {"name": "other"}}
    ambiguous = run("access", "kubeconfig", "--member", "anna")
    assert ambiguous.exit_code == 1 and "pass --contract" in ambiguous.output


# --- report ----------------------------------------------------------------------------------------------


def report_cluster(cluster: FakeCluster, contract: dict[str, Any]) -> None:
    # Packages: a (40h) until 2026-12-31, b (20h) from 2026-07-01. 15-minute increments.
    contract["spec"]["trainings"].append({"member": "luca", "date": "2026-11-12", "days": 1})
    cluster.contracts["acme-openshift"] = contract
    incident = stored_case(
        "ingress",
        impact="Production",
        effort=[
            {"id": "e-1", "member": "anna", "date": "2026-11-03", "duration": "1h30m"},
            {"id": "e-2", "member": "luca", "date": "2026-11-03", "duration": 40},  # 130 -> 135
            {"id": "e-3", "member": "anna", "date": "2026-12-01", "duration": 20},  # next month
        ],
    )
    question = stored_case(
        "quota",
        namespace="data",
        category="Consultation",
        impact=None,
        effort=[{"id": "e-1", "member": "claire", "date": "2026-11-05", "duration": "50m"}],  # 50 -> 60
    )
    elsewhere = stored_case(
        "other", contractRef={"name": "someone-else"}, effort=[question["spec"]["effort"][0]]
    )
    for raw in (incident, question, elsewhere):
        cluster.cases[(raw["metadata"]["namespace"], raw["metadata"]["name"])] = raw


def test_report_markdown(cluster: FakeCluster, contract: dict[str, Any]) -> None:
    report_cluster(cluster, contract)
    result = run("report", "--contract", "acme-openshift", "--month", "2026-11")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "# Support statement 2026-11: ACME Logistik AG (K-2026-0042)"
    assert "| data/quota | Consultation | 0:50 | 1:00 | 1:00 | 0:00 |" in lines
    assert "| shop/ingress | Incident | 2:10 | 2:15 | 2:15 | 0:00 |" in lines
    assert "| **Total** | | 3:00 | 3:15 | 3:15 | 0:00 |" in lines
    assert "| anna | Incident | 1:30 |" in lines and "| luca | Incident | 0:40 |" in lines
    assert "| package-2026-a | 3:15 | 36:45 | 2026-12-31 | 0:00 |" in lines
    assert "| package-2026-b | 0:00 | 20:00 | 2027-06-30 | 0:00 |" in lines
    assert "| Training | luca | 2026-11-12 | 1 person-day(s) |" in lines
    assert "other" not in result.output


def test_report_csv_and_monthly_billing(cluster: FakeCluster, contract: dict[str, Any]) -> None:
    contract["spec"]["billing"]["mode"] = "Monthly"
    report_cluster(cluster, contract)
    result = run("report", "--contract", "acme-openshift", "--month", "2026-11", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    cases = {
        r["item"]: (r["billed_minutes"], r["package_minutes"], r["invoiced_minutes"])
        for r in rows
        if r["section"] == "case"
    }
    assert cases == {"shop/ingress": ("135", "0", "135"), "data/quota": ("60", "0", "60")}
    (total,) = [r for r in rows if r["section"] == "total"]
    assert (total["effort_minutes"], total["billed_minutes"], total["invoiced_minutes"]) == (
        "180",
        "195",
        "195",
    )
    assert [r["remaining_minutes"] for r in rows if r["section"] == "package"] == ["2400", "1200"]


@pytest.mark.parametrize("month", ["2026-13", "11-2026", "2026-11-01"])
def test_report_refuses_a_bad_month(cluster: FakeCluster, month: str) -> None:
    result = run("report", "--contract", "acme-openshift", "--month", month)
    assert result.exit_code == 2 and "expected YYYY-MM" in result.output


def test_report_of_an_unknown_contract(cluster: FakeCluster) -> None:
    result = run("report", "--contract", "nope", "--month", "2026-11")
    assert result.exit_code == 1 and "SupportContract nope: not found" in result.output


def test_hours_are_shown_as_h_mm() -> None:
    assert [plugin.hours(m) for m in (0, 5, 60, 135, -15, 6000)] == [
        "0:00",
        "0:05",
        "1:00",
        "2:15",
        "-0:15",
        "100:00",
    ]


def test_the_queue_shows_recorded_acknowledgements_apart_from_observed_ones() -> None:
    rows = []
    for name, grade in (("phoned", "Recorded"), ("acked", "Observed")):
        case = stored_case(name, state="InAnalysis", analysisStartedAt="2026-11-20T08:05:00Z")
        case["spec"]["reportedAt"] = "2026-11-20T08:00:00Z"
        case["status"] = {
            "reaction": {
                "target": "2h",
                "calendar": "Standard",
                "reportedAt": "2026-11-20T08:00:00Z",
                "deadline": "2026-11-20T10:00:00Z",
                "state": "Met",
                "evidence": grade,
            }
        }
        rows += plugin.queue_rows([SupportCase.from_k8s(case)], {}, NOW)
    assert {row.name: row.to_json()["evidence"] for row in rows} == {
        "phoned": "Recorded",
        "acked": "Observed",
    }
    header, *lines = click.unstyle(plugin.render_queue(rows, wide=True, now=NOW)).splitlines()
    column = header.index("EVIDENCE")
    assert {line.split()[1]: line[column:].split()[0] for line in lines} == {
        "phoned": "Recorded",
        "acked": "Observed",
    }
