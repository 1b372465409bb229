"""`kubectl support open` without an API server: what it writes, how it reads times, what it prints."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from test_plugin_cli import FakeCluster, load, run

from support_operator.cli import plugin

ZURICH = ZoneInfo("Europe/Zurich")
BASE = ["open", "--contract", "acme-prod", "--title", "Shop: 503!", "--impact", "Production"]
CALLER = ["--reporter-name", "Petra Keller", "--phone", "+41 31 370 22 00"]


class IntakeCluster(FakeCluster):
    """Creates cases like the API server (generateName) and lets a test play the operator's status."""

    status: dict[str, Any] | None = None

    def create_case(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["generateName"] + "abcde"
        stored = {**body, "metadata": {"name": name, "namespace": namespace}}
        if self.status is not None:
            stored["status"] = self.status
        self.cases[(namespace, name)] = stored
        return stored


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> IntakeCluster:
    contract = load("supportcontract")
    contract["metadata"]["name"] = "acme-prod"
    fake = IntakeCluster([], [contract])

    def connect(connection: plugin.Connection) -> IntakeCluster:
        fake.namespace = connection.namespace or fake.namespace
        return fake

    monkeypatch.setattr(plugin.connection, "connect", connect)
    return fake


def opened(cluster: IntakeCluster) -> dict[str, Any]:
    [case] = cluster.cases.values()
    return case


def test_writes_a_phone_case_with_the_wall_clock_time_in_the_contract_zone(cluster: IntakeCluster) -> None:
    result = run(*BASE, *CALLER, "--reported-at", "2026-11-23 14:05", "--affected", "shop-db", "--wait", "0")
    assert result.exit_code == 0, result.output
    case = opened(cluster)
    assert case["metadata"] == {"name": "shop-503-abcde", "namespace": "shop"}
    spec = case["spec"]
    assert spec["reportedAt"] == "2026-11-23T13:05:00Z"  # 14:05 CET
    assert spec["reportedVia"] == "Phone" and spec["category"] == "Incident"
    assert spec["reporter"] == {"name": "Petra Keller", "phone": "+41 31 370 22 00"}
    assert spec["affectedNamespaces"] == ["shop-db"]
    assert (
        "shop/shop-503-abcde opened: reported by phone at 2026-11-23 14:05 CET (Europe/Zurich)"
        in result.output
    )
    assert "not computed by the operator yet" in result.output


def test_prints_priority_and_deadline_in_the_contract_zone(cluster: IntakeCluster) -> None:
    cluster.status = {"priority": "P1", "reaction": {"deadline": "2026-11-23T15:05:00Z", "target": "2h"}}
    result = run(*BASE, *CALLER, "--reported-at", "2026-11-23T14:05:00+01:00", "-n", "web")
    assert result.exit_code == 0, result.output
    assert opened(cluster)["metadata"]["namespace"] == "web"
    assert "priority P1, reaction by 2026-11-23 16:05 CET (Europe/Zurich) (2h)" in result.output


def test_a_clock_time_is_today_and_now_is_the_default(cluster: IntakeCluster) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert run(*BASE, *CALLER, "--wait", "0").exit_code == 0
    reported = dt.datetime.fromisoformat(opened(cluster)["spec"]["reportedAt"])
    assert before <= reported <= dt.datetime.now(dt.UTC)
    cluster.cases.clear()
    assert run(*BASE, *CALLER, "--reported-at", "00:00", "--wait", "0").exit_code == 0
    midnight = dt.datetime.fromisoformat(opened(cluster)["spec"]["reportedAt"]).astimezone(ZURICH)
    assert (midnight.date(), midnight.time()) == (dt.datetime.now(ZURICH).date(), dt.time(0, 0))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reporter-name", "P"], "--phone or --email"),
        ([*CALLER, "--reported-at", "yesterday"], "expected RFC 3339"),
        ([*CALLER, "--reported-at", "2099-01-01T00:00:00Z"], "is in the future"),
        (["--reporter-name", "P", "--email", "not-an-address"], "--email"),
        ([*CALLER, "--affected", "Not_A_Namespace"], "is not a namespace name"),
    ],
)
def test_bad_input_writes_nothing(cluster: IntakeCluster, extra: list[str], message: str) -> None:
    result = run(*BASE, *extra)
    assert result.exit_code == 2 and message in result.output
    assert cluster.cases == {}


def test_without_the_contract_times_need_an_offset_and_print_in_utc(cluster: IntakeCluster) -> None:
    cluster.forbid_contracts = True
    naive = run(*BASE, *CALLER, "--reported-at", "2026-11-23 14:05")
    assert naive.exit_code == 2 and "has no UTC offset" in naive.output
    result = run(*BASE, *CALLER, "--reported-at", "2026-11-23T14:05:00+01:00", "--wait", "0")
    assert result.exit_code == 0 and "2026-11-23T13:05:00Z (UTC" in result.output


def test_an_unknown_contract_is_an_error_before_anything_is_written(cluster: IntakeCluster) -> None:
    result = run("open", "--contract", "nope", "--title", "x", "--impact", "Production", *CALLER)
    assert result.exit_code == 1 and "SupportContract nope: not found" in result.output
    assert cluster.cases == {}


def test_a_case_the_operator_does_not_track_says_why(cluster: IntakeCluster) -> None:
    cluster.forbid_contracts = True  # this identity cannot check the contract itself
    message = "SupportContract acme-prod does not exist; the case waits and is served once it appears"
    cluster.status = {
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContractNotFound", "message": message}]
    }
    result = run(*BASE, *CALLER, "--wait", "0")
    assert result.exit_code == 1
    assert f"shop/shop-503-abcde is not tracked: ContractNotFound: {message}" in result.output
