"""The SLA collector: values computed at scrape time from in-memory objects, caching per resourceVersion,
the text format identical to prometheus_client's, the fast /metrics endpoint."""

from __future__ import annotations

import datetime as dt
import gzip
import urllib.request
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sla_objects import Store, case_object, contract_object, touched
from support_operator.api.v1alpha1 import SupportContract
from support_operator.domain import sla
from support_operator.observability import collector as sla_metrics
from support_operator.observability.collector import SlaCollector
from support_operator.observability.exposition import render_text, start_metrics_server
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status.policy import reaction_policy
from support_operator.testing.controlplane import free_port

ZURICH = ZoneInfo("Europe/Zurich")
NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=ZURICH)  # a Wednesday, inside support hours
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(collector: SlaCollector) -> Samples:
    registry = CollectorRegistry()
    registry.register(collector)
    return parse(generate_latest(registry).decode())


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The one sample of `name` whose labels include `labels`; None when there is none."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, f"{name}{labels} is ambiguous"
    return found[0] if found else None


def contract_status() -> dict:
    return {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Active",
                "lastTransitionTime": "2026-11-01T00:00:00Z",
            },
            {
                "type": "TeamStaffed",
                "status": "False",
                "reason": "TooFewMembers",
                "lastTransitionTime": "2026-11-01T00:00:00Z",
            },
        ],
        "teamSize": 2,
        "identities": [
            {"member": "anna", "kind": "ServiceAccount", "tokenExpiresAt": "2026-11-25T10:00:00Z"},
            {"member": "luca", "kind": "ServiceAccount", "tokenExpiresAt": "2026-11-25T09:45:00Z"},
        ],
        "packages": [
            {
                "name": "package-2026-a",
                "purchasedMinutes": 2400,
                "usedMinutes": 2100,
                "remainingMinutes": 300,
                "expiresOn": "2026-12-31",
            }
        ],
        "pendingKnowledgeTransfers": [{"member": "marc", "since": "2026-11-20T08:00:00Z"}],
    }


@pytest.fixture
def store() -> Store:
    made = Store()
    made.add(contract_object("acme", status=contract_status()))
    made.add(contract_object("globex"))  # no status yet: only what the spec tells
    hour = dt.timedelta(hours=1)
    made.add(case_object("shop", "staging-slow", "acme", NOW - hour, impact="NonProduction"))
    # Pikett 1h around the clock; the status still says Pending, the scrape knows better.
    made.add(case_object("shop", "prod-down", "acme", NOW - 1.5 * hour))
    made.add(
        case_object(
            "shop",
            "question",
            "acme",
            NOW.replace(hour=9, minute=0),
            category="Consultation",
            impact=None,
            state="InAnalysis",
            analysis_started=NOW.replace(hour=9, minute=30),
            reaction_state="Met",
        )
    )
    made.add(
        case_object(
            "shop",
            "old",
            "acme",
            NOW - 30 * 24 * hour,
            state="Closed",
            analysis_started=NOW - 20 * 24 * hour,
            reaction_state="Breached",
        )
    )
    made.add(case_object("team-b", "orphan", "missing-contract", NOW - hour, reaction_state=None))
    return made


def collector_at(store: Store, now: dt.datetime = NOW) -> SlaCollector:
    return SlaCollector(store, clock=lambda: now.timestamp())


def test_open_case_series_are_computed_at_scrape_time(store: Store) -> None:
    samples = scrape(collector_at(store))
    slow = {"namespace": "shop", "case": "staging-slow"}
    assert value(samples, "support_case_reaction_remaining_business_seconds", **slow) == 3600
    assert value(samples, "support_case_reaction_used_ratio", **slow) == 0.5
    assert value(samples, "support_case_reaction_breached", **slow) == 0
    assert value(samples, "support_case_awaiting_analysis", **slow) == 1
    deadline = value(samples, "support_case_reaction_deadline_timestamp_seconds", **slow)
    assert deadline == NOW.replace(hour=11, minute=30).timestamp()

    down = {"namespace": "shop", "case": "prod-down", "priority": "P1", "impact": "Production"}
    assert value(samples, "support_case_reaction_breached", **down) == 1
    assert value(samples, "support_case_reaction_used_ratio", **down) == 1.5
    assert value(samples, "support_case_reaction_remaining_business_seconds", **down) == 0
    assert value(samples, "support_case_info", **down, calendar="Pikett", state="New") == 1

    question = {"case": "question", "priority": "P3", "category": "Consultation", "impact": "NonProduction"}
    assert value(samples, "support_case_awaiting_analysis", **question) == 0
    assert value(samples, "support_case_reaction_used_ratio", **question) == 0.25  # stopped at 09:30
    assert value(samples, "support_case_reaction_breached", **question) == 0


def test_only_open_cases_have_series_and_labels_hold_no_free_text(store: Store) -> None:
    samples = scrape(collector_at(store))
    cases = {dict(labels)["case"] for name, labels in samples if name.startswith("support_case_")}
    assert cases == {"staging-slow", "prod-down", "question", "orphan"}
    # No contract, no clock: the case is listed, its reaction is not.
    assert value(samples, "support_case_info", case="orphan", contract="missing-contract") == 1
    assert value(samples, "support_case_reaction_breached", case="orphan") is None
    label_names = {name for _, labels in samples for name, _ in labels}
    assert label_names <= {*sla_metrics.CASE_INFO_LABELS, "reaction_time", "distribution", "billing_mode"} | {
        "condition",
        "status",
        "package",
    }
    assert all("503" not in v for _, labels in samples for _, v in labels)


def test_contract_series(store: Store) -> None:
    samples = scrape(collector_at(store))
    acme = {"contract": "acme"}
    assert {
        p: value(samples, "support_contract_open_cases", **acme, priority=p) for p in ("P1", "P2", "P3")
    } == {
        "P1": 1,
        "P2": 1,
        "P3": 1,
    }
    reactions = {
        s: value(samples, "support_contract_case_reactions", **acme, state=s)
        for s in ("Pending", "Met", "Breached")
    }
    assert reactions == {"Pending": 2, "Met": 1, "Breached": 1}  # from the statuses, closed cases included
    assert (
        value(samples, "support_contract_status_condition", **acme, condition="TeamStaffed", status="False")
        == 1
    )
    assert (
        value(samples, "support_contract_status_condition", **acme, condition="TeamStaffed", status="True")
        == 0
    )
    assert value(samples, "support_contract_team_members", **acme) == 2
    assert value(samples, "support_contract_access_identities", **acme) == 2
    expiry = value(samples, "support_contract_access_token_expiry_timestamp_seconds", **acme)
    assert expiry == dt.datetime(2026, 11, 25, 9, 45, tzinfo=dt.UTC).timestamp()
    package = {**acme, "package": "package-2026-a"}
    assert value(samples, "support_contract_package_purchased_seconds", **package) == 40 * 3600
    assert value(samples, "support_contract_package_used_seconds", **package) == 35 * 3600
    assert value(samples, "support_contract_package_remaining_seconds", **package) == 5 * 3600
    assert value(samples, "support_contract_package_expired", **package) == 0
    assert value(samples, "support_contract_knowledge_transfers_pending", **acme) == 1
    info = {**acme, "reaction_time": "2h", "distribution": "OpenShift", "billing_mode": "Package"}
    assert value(samples, "support_contract_info", **info) == 1

    # A contract without status: zeros where the answer is known, nothing where it is not.
    globex = {"contract": "globex"}
    assert value(samples, "support_contract_open_cases", **globex, priority="P1") == 0
    assert value(samples, "support_contract_case_reactions", **globex, state="Breached") == 0
    assert value(samples, "support_contract_team_members", **globex) == 3  # the spec's team
    assert value(samples, "support_contract_access_identities", **globex) == 0
    assert value(samples, "support_contract_access_token_expiry_timestamp_seconds", **globex) is None
    assert value(samples, "support_contract_package_remaining_seconds", **globex) is None
    assert value(samples, "support_contract_knowledge_transfers_pending", **globex) is None


def test_time_moves_the_clock_between_scrapes_without_object_changes(store: Store) -> None:
    now = [NOW]
    collector = SlaCollector(store, clock=lambda: now[0].timestamp())
    slow = {"case": "staging-slow"}
    assert value(scrape(collector), "support_case_reaction_breached", **slow) == 0
    now[0] = NOW + dt.timedelta(hours=1, seconds=1)  # 11:30:01, one second past the deadline
    later = scrape(collector)
    assert value(later, "support_case_reaction_breached", **slow) == 1
    assert value(later, "support_case_reaction_remaining_business_seconds", **slow) == 0
    now[0] = NOW.replace(hour=18)  # after closing: business time stands still
    evening = scrape(collector)
    assert value(evening, "support_case_reaction_used_ratio", **slow) == (7.5 * 3600) / (2 * 3600)


def test_objects_are_parsed_once_per_resource_version(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[tuple[str, str]] = []
    original = sla_metrics._case_facts

    def counting(key, *args, **kwargs):
        parsed.append(key)
        return original(key, *args, **kwargs)

    monkeypatch.setattr(sla_metrics, "_case_facts", counting)
    collector = collector_at(store)
    scrape(collector)
    assert len(parsed) == len(store.cases)
    parsed.clear()
    scrape(collector)
    assert parsed == []

    key = ("shop", "staging-slow")
    store.cases[key] = touched(store.cases[key], impact="Production")  # reclassified: P2 -> P1
    samples = scrape(collector)
    assert parsed == [key]
    assert value(samples, "support_case_info", case="staging-slow", priority="P1", calendar="Pikett") == 1
    assert value(samples, "support_contract_open_cases", contract="acme", priority="P2") == 0

    # A status write to the contract changes its own series, not the derivation of its cases.
    parsed.clear()
    store.contracts["acme"] = touched(store.contracts["acme"], status={**contract_status(), "teamSize": 4})
    samples = scrape(collector)
    assert parsed == []
    assert value(samples, "support_contract_team_members", contract="acme") == 4

    # A spec change (here: no more Pikett) re-derives its cases.
    acme = store.contracts["acme"]
    pikett_off = {**acme["spec"]["addOns"], "pikett": {"enabled": False, "reactionTime": "1h"}}
    store.contracts["acme"] = touched(acme, addOns=pikett_off)
    samples = scrape(collector)
    acme_cases = [k for k, c in store.cases.items() if c["spec"]["contractRef"]["name"] == "acme"]
    assert sorted(parsed) == sorted(acme_cases)
    assert value(samples, "support_case_info", case="prod-down", calendar="Standard") == 1

    del store.cases[key]
    samples = scrape(collector)
    assert value(samples, "support_case_info", case="staging-slow") is None


hours_2026 = st.integers(min_value=0, max_value=365 * 24 * 3600).map(
    lambda s: dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=s)
)


@settings(max_examples=150, deadline=None)
@given(
    reported=hours_2026,
    kind=st.sampled_from([("Incident", "Production"), ("Incident", "NonProduction"), ("Consultation", None)]),
    analysis_after=st.none() | st.integers(min_value=0, max_value=5 * 24 * 3600),
    now_after=st.integers(min_value=0, max_value=10 * 24 * 3600),
    previous=st.sampled_from(["Pending", "Met", "Breached"]),
    pikett=st.booleans(),
)
def test_reaction_agrees_with_the_domain_evaluation(
    reported, kind, analysis_after, now_after, previous, pikett
):
    category, impact = kind
    contract = contract_object("c")
    contract["spec"]["addOns"]["pikett"]["enabled"] = pikett
    analysis = reported + dt.timedelta(seconds=analysis_after) if analysis_after is not None else None
    case = case_object(
        "ns",
        "case",
        "c",
        reported,
        category=category,
        impact=impact,
        state="New" if analysis is None else "InAnalysis",
        analysis_started=analysis,
        reaction_state=previous,
    )
    now = reported + dt.timedelta(seconds=now_after)
    store = Store()
    store.add(contract)
    store.add(case)
    collector = collector_at(store, now)
    collector.rows()
    got = collector.reaction(("ns", "case"))
    assert got is not None

    policy = reaction_policy(SupportContract.from_k8s(contract).spec)
    expected = sla.evaluate_reaction(
        policy,
        reported,
        sla.Category(category),
        sla.Impact(impact or "NonProduction"),
        analysis,
        now,
        sla.ReactionState(previous),
    )
    assert got.deadline == expected.deadline.timestamp()
    assert got.breached == (expected.state == sla.ReactionState.BREACHED)
    assert got.remaining_seconds == expected.remaining_seconds
    assert got.used_ratio == expected.used_ratio
    assert got.awaiting == (analysis is None)


def test_render_writes_what_generate_latest_writes(store: Store) -> None:
    metrics = OperatorMetrics()
    metrics.reconcile_errors.labels(kind="case").inc()
    collector = sla_metrics.install(metrics.registry, store)
    collector.clock = lambda: NOW.timestamp()
    expected = generate_latest(metrics.registry)
    assert b"support_case_reaction_used_ratio{" in expected
    assert b"support_operator_reconcile_errors_total{" in expected
    assert render_text(metrics.registry) == expected


def test_install_registers_once_per_registry(store: Store) -> None:
    registry = CollectorRegistry()
    first = sla_metrics.install(registry, None)
    assert scrape_registry(registry).count("support_case_info{") == 0  # no reconciler yet: no series
    again = sla_metrics.install(registry, store)  # the operator started again in the same process
    assert again is first and first.store is store
    again.clock = lambda: NOW.timestamp()
    assert scrape_registry(registry).count("support_case_info{") == 4


def scrape_registry(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_metrics_server_serves_the_same_text_plain_and_gzipped(store: Store) -> None:
    metrics = OperatorMetrics()
    collector = sla_metrics.install(metrics.registry, store)
    collector.clock = lambda: NOW.timestamp()
    port = free_port()
    server, thread = start_metrics_server(port, "127.0.0.1", metrics.registry)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            plain = response.read()
        request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            zipped = gzip.decompress(response.read())
        filtered = f"{url}?name[]=support_case_reaction_breached"
        with urllib.request.urlopen(filtered, timeout=10) as response:
            only = parse(response.read().decode())
    finally:
        server.shutdown()
        thread.join(5)
    assert plain == zipped == generate_latest(metrics.registry)
    assert {name for name, _ in only} == {"support_case_reaction_breached"}
