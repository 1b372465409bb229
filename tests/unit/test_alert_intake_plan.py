"""Alert intake without an API server: matching, de-duplicating names, the cases and entries planned."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from support_operator.api.v1alpha1 import (
    MAX_CONVERSATION,
    AlertMatcher,
    SupportCase,
    SupportContract,
)
from support_operator.intake import alerts
from support_operator.intake.receiver import authorized

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
STARTED = dt.datetime(2026, 11, 23, 14, 5, tzinfo=dt.UTC)
INTAKE = {
    "namespace": "shop-prod",
    "reporter": {"name": "ACME operations", "email": "ops@acme.example"},
    "impactLabel": "support_impact",
    "rules": [
        {"matchers": [{"name": "severity", "value": "critical"}], "impact": "Production"},
        {
            "matchers": [
                {"name": "severity", "value": "warning"},
                {"name": "namespace", "value": "shop-.*", "matchType": "Regex"},
            ],
            "impact": "NonProduction",
        },
    ],
}


def contract(name: str = "acme", **intake: Any) -> SupportContract:
    raw = yaml.safe_load((SAMPLES / "supportcontract.yaml").read_text())
    raw["metadata"] = {"name": name}
    raw["spec"]["intake"] = {"alerts": {**copy.deepcopy(INTAKE), **intake}}
    return SupportContract.from_k8s(raw)


def alert(status: str = "firing", minutes: int = 0, **labels: str) -> dict[str, Any]:
    labels = {"alertname": "IngressDown", "severity": "critical", **labels}
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"Ingress {labels.get('instance', '?')} down", "description": "503s"},
        "startsAt": (STARTED + dt.timedelta(minutes=minutes)).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z"
        if status == "firing"
        else (STARTED + dt.timedelta(hours=1)).isoformat(),
        "generatorURL": "http://prometheus/graph?g0.expr=up",
        "fingerprint": f"fp{minutes}{labels.get('instance', '')}",
    }


def notification(
    *items: dict[str, Any], status: str = "firing", group: str = "IngressDown"
) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "status": status,
        "receiver": "support",
        "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": group},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(items),
    }


def planned(body: dict[str, Any], *contracts: SupportContract) -> list[alerts.Action]:
    return alerts.plan(alerts.parse_notification(body), contracts or (contract(),))


@pytest.mark.parametrize(
    ("match_type", "value", "label", "expected"),
    [
        ("Equal", "critical", "critical", True),
        ("Equal", "critical", "warning", False),
        ("NotEqual", "critical", "warning", True),
        ("Regex", "crit.*", "critical", True),
        ("Regex", "crit", "critical", False),  # anchored at both ends, as in Alertmanager
        ("Regex", "a|critical", "critical", True),
        ("NotRegex", "warn.*", "critical", True),
        ("Equal", "", None, True),  # a missing label is the empty string
        ("Regex", "(", "(", False),  # an expression that does not compile matches nothing
    ],
)
def test_matchers_follow_alertmanager(match_type: str, value: str, label: str | None, expected: bool) -> None:
    matcher = AlertMatcher.model_validate({"name": "severity", "value": value, "matchType": match_type})
    labels = {} if label is None else {"severity": label}
    assert alerts.matches(matcher, labels) is expected


def test_a_firing_group_opens_one_case_reported_at_its_earliest_alert() -> None:
    body = notification(alert(minutes=3, instance="b"), alert(minutes=1, instance="a"), alert(minutes=2))
    [action] = planned(body)
    assert isinstance(action, alerts.OpenCase)
    assert action.namespace == "shop-prod" and action.contract == "acme"
    spec = action.body["spec"]
    assert spec["reportedAt"] == "2026-11-23T14:06:00Z"
    assert (
        spec["reportedVia"] == "Alert" and spec["category"] == "Incident" and spec["impact"] == "Production"
    )
    assert spec["reporter"] == {"name": "ACME operations", "email": "ops@acme.example"}
    assert spec["title"] == "IngressDown: 3 alerts firing"
    assert "instance=a" in spec["description"] and "http://alertmanager:9093" in spec["description"]
    # What the operator will create is a valid SupportCase.
    SupportCase.from_k8s({**action.body, "metadata": {**action.body["metadata"], "name": action.names[0]}})


def test_a_single_alert_gives_its_summary_and_description() -> None:
    [action] = planned(notification(alert(instance="lb-1")))
    assert isinstance(action, alerts.OpenCase)
    assert action.body["spec"]["title"] == "Ingress lb-1 down"
    assert action.body["spec"]["description"].startswith("503s")


def test_the_name_depends_only_on_contract_and_group() -> None:
    first = planned(notification(alert(minutes=0)))[0]
    repeated = planned(notification(alert(minutes=0), alert(minutes=5, instance="x")))[0]
    other_group = planned(notification(alert(), group="DiskFull"))[0]
    other_contract = planned(notification(alert()), contract("globex"))[0]
    assert first.names == repeated.names
    assert first.names[0].startswith("alert-ingressdown-") and len(first.names[0]) <= 63
    assert first.names[1] == f"{first.names[0]}-2"
    assert len({first.names[0], other_group.names[0], other_contract.names[0]}) == 3


@given(st.text(max_size=300), st.text(max_size=80))
def test_names_are_valid_object_names(group_key: str, alertname: str) -> None:
    body = notification(alert())
    body["groupKey"] = group_key or "x"
    body["groupLabels"] = {"alertname": alertname}
    name = alerts.case_name("acme", alerts.parse_notification(body), 7)
    assert len(name) <= 63
    assert alerts._DNS_LABEL.match(name)


def test_rules_decide_impact_and_unmatched_alerts_open_nothing() -> None:
    warning = alert(severity="warning", namespace="shop-web")
    [action] = planned(notification(warning))
    assert isinstance(action, alerts.OpenCase)
    assert action.body["spec"]["impact"] == "NonProduction"
    assert "affectedNamespaces" not in action.body["spec"]  # alert labels never choose where access goes
    assert "namespace=shop-web" in action.body["spec"]["description"]
    assert planned(notification(alert(severity="warning", namespace="other"))) == []
    assert planned(notification(alert(severity="info"))) == []


def test_the_impact_label_wins_over_the_rule() -> None:
    [action] = planned(notification(alert(support_impact="NonProduction")))
    assert isinstance(action, alerts.OpenCase) and action.body["spec"]["impact"] == "NonProduction"
    [fallback] = planned(notification(alert(support_impact="urgent")))
    assert isinstance(fallback, alerts.OpenCase) and fallback.body["spec"]["impact"] == "Production"


def test_contracts_without_intake_or_suspended_open_nothing() -> None:
    plain = contract()
    plain.spec.intake = None
    suspended = contract("paused")
    suspended.spec.suspended = True
    assert planned(notification(alert()), plain, suspended) == []


def test_a_resolved_group_records_an_entry_with_a_stable_key() -> None:
    body = notification(alert("resolved", instance="a"), alert("resolved", minutes=1), status="resolved")
    [action] = planned(body)
    assert isinstance(action, alerts.RecordResolution)
    entry = action.entry.to_json_dict()
    assert entry["channel"] == "Alert" and entry["sender"] == "Alertmanager (support)"
    assert entry["at"] == "2026-11-23T15:05:00Z" and entry["subject"].startswith("Resolved: ")
    assert planned(body)[0].entry == action.entry  # type: ignore[union-attr]
    assert action.names == planned(notification(alert()))[0].names


def test_conversation_entries_are_deduplicated_and_bounded() -> None:
    [action] = planned(notification(alert("resolved"), status="resolved"))
    assert isinstance(action, alerts.RecordResolution)
    existing = [{"at": "2026-11-01T00:00:00Z", "sender": "x", "messageID": f"m{i}"} for i in range(60)]
    appended = alerts.append_entry(existing, action.entry, MAX_CONVERSATION)
    assert appended is not None and len(appended) == MAX_CONVERSATION
    assert appended[-1]["messageID"] == action.entry.message_id and appended[0]["messageID"] == "m31"
    assert alerts.append_entry(appended, action.entry, MAX_CONVERSATION) is None


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"status": "firing"},
        {**notification(alert()), "version": "3"},
        notification({"status": "odd"}),
    ],
)
def test_malformed_notifications_are_refused_in_our_words(body: Any) -> None:
    with pytest.raises(alerts.NotificationError, match=r"notification|version"):
        alerts.parse_notification(body)


def test_long_annotations_are_truncated_with_a_note() -> None:
    long = alert()
    long["annotations"] = {"summary": "x" * 500, "description": "y" * 20000}
    [action] = planned(notification(long))
    assert isinstance(action, alerts.OpenCase)
    assert len(action.body["spec"]["title"]) == alerts.MAX_TITLE
    assert action.body["spec"]["description"].endswith("(truncated)")
    assert len(action.body["spec"]["description"]) <= alerts.MAX_DESCRIPTION


@pytest.mark.parametrize(
    ("header", "token", "expected"),
    [
        ("Bearer s3cret", "s3cret", True),
        ("bearer s3cret", "s3cret", True),
        ("Bearer wrong", "s3cret", False),
        ("Basic s3cret", "s3cret", False),
        (None, "s3cret", False),
        ("Bearer ", "", False),  # an empty or missing token never authorizes
        ("Bearer s3cret", None, False),
    ],
)
def test_bearer_tokens(header: str | None, token: str | None, expected: bool) -> None:
    assert authorized(header, token) is expected


def test_only_alerts_that_start_after_the_closing_open_a_follow_up() -> None:
    [action] = planned(notification(alert(minutes=0), alert(minutes=30, instance="late")))
    assert isinstance(action, alerts.OpenCase)
    assert action.reopens(None)
    assert not action.reopens(STARTED + dt.timedelta(minutes=45))  # all firing since before the closing
    assert action.reopens(STARTED + dt.timedelta(minutes=15))  # one started after it
