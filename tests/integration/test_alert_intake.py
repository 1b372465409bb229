"""Alert intake through a real Alertmanager (built from its Go module), its webhook notifier and the
operator's receiver, with real SMTP for the confirmations: an alert storm opens exactly the de-duplicated
cases."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from support_resources import Resources, iso
from test_confirmation_email import SmtpServer, confirmed

from support_operator.intake.alerts import INTAKE_LABEL
from support_operator.testing.alertmanager import AlertmanagerServer
from support_operator.testing.operator_process import OperatorProcess
from support_operator.testing.wait import eventually

OPERATOR_NAMESPACE = "support-operator"
RECEIVER_SECRET = "alert-receiver"  # the operator's default --alert-receiver-secret
# Five alert names, ten instances each: three critical (Production), one warning (NonProduction), one info
# that no rule matches.
SEVERITIES = {
    "StormA": "critical",
    "StormB": "critical",
    "StormC": "critical",
    "StormD": "warning",
    "StormE": "info",
}
INSTANCES = 10


@pytest.fixture(scope="module")
def receiver_token(api_client: client.ApiClient, operator: OperatorProcess) -> Iterator[str]:
    token = secrets.token_urlsafe(32)
    core = client.CoreV1Api(api_client)
    core.create_namespaced_secret(
        OPERATOR_NAMESPACE,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=RECEIVER_SECRET),
            data={"token": base64.b64encode(token.encode()).decode()},
        ),
    )
    yield token
    core.delete_namespaced_secret(RECEIVER_SECRET, OPERATOR_NAMESPACE)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def alert_contract(
    resources: Resources, api_client: client.ApiClient, namespace: str, smtp_server: SmtpServer
) -> Iterator[str]:
    data = {"host": "127.0.0.1", "port": str(smtp_server.port), "security": "none"}
    secret = f"smtp-{namespace[-6:]}"
    core = client.CoreV1Api(api_client)
    core.create_namespaced_secret(
        OPERATOR_NAMESPACE,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=secret),
            data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        ),
    )
    intake = {
        "alerts": {
            "namespace": namespace,
            "reporter": {"name": "ACME operations", "email": "ops@acme.example"},
            "rules": [
                {"matchers": [{"name": "severity", "value": "critical"}], "impact": "Production"},
                {
                    "matchers": [{"name": "severity", "value": "warn.*", "matchType": "Regex"}],
                    "impact": "NonProduction",
                },
            ],
        }
    }
    notification = {
        "smtpSecretRef": {"name": secret, "namespace": OPERATOR_NAMESPACE},
        "from": "support@puzzle.ch",
    }
    yield str(resources.contract(notification=notification, intake=intake)["metadata"]["name"])
    core.delete_namespaced_secret(secret, OPERATOR_NAMESPACE)


@pytest.fixture
def alertmanager(
    operator: OperatorProcess, receiver_token: str, tmp_path: Path
) -> Iterator[AlertmanagerServer]:
    token_file = tmp_path / "receiver-token"
    token_file.write_text(receiver_token)
    config = {
        "route": {
            "receiver": "support",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "3s",  # repeated notifications during the test: they must open nothing new
        },
        "receivers": [
            {
                "name": "support",
                "webhook_configs": [
                    {
                        "url": operator.alert_receiver_url,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
                        },
                    }
                ],
            }
        ],
    }
    with AlertmanagerServer(config, workdir=tmp_path / "alertmanager") as server:
        yield server


def storm_alert(name: str, instance: int, started: dt.datetime, ends: dt.datetime | None = None) -> dict:
    alert = {
        "labels": {"alertname": name, "severity": SEVERITIES[name], "instance": f"node-{instance}"},
        "annotations": {"summary": f"{name} on node-{instance}", "description": f"{name} fired"},
        "startsAt": iso(started),
        "generatorURL": f"http://prometheus.example/graph?g0.expr={name}",
    }
    if ends is not None:
        alert["endsAt"] = iso(ends)
    return alert


def alert_cases(resources: Resources, namespace: str) -> list[dict]:
    listed = resources.objects.list_namespaced_custom_object(
        "support.puzzle.ch", "v1alpha1", namespace, "supportcases", label_selector=f"{INTAKE_LABEL}=alert"
    )
    return list(listed["items"])


def webhook_notifications(alertmanager: AlertmanagerServer) -> float:
    return alertmanager.metric("alertmanager_notifications_total", integration="webhook")


def test_an_alert_storm_opens_exactly_the_deduplicated_cases(
    operator: OperatorProcess,
    resources: Resources,
    namespace: str,
    alert_contract: str,
    smtp_server: SmtpServer,
    alertmanager: AlertmanagerServer,
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # Each alert name's first instance started at its own time, the others a second apart after it.
    first_start = {name: now - dt.timedelta(minutes=10 + k) for k, name in enumerate(SEVERITIES)}
    posted = 0
    storm_began = time.monotonic()
    for instance in range(INSTANCES):  # 50 firing alerts in 10 s: five a second
        alertmanager.post_alerts(
            [
                storm_alert(name, instance, first_start[name] + dt.timedelta(seconds=instance))
                for name in SEVERITIES
            ]
        )
        posted += len(SEVERITIES)
        time.sleep(max(0.0, storm_began + instance + 1 - time.monotonic()))
    assert posted == 50

    expected = {name for name, severity in SEVERITIES.items() if severity != "info"}
    cases = eventually(
        lambda: found if len(found := alert_cases(resources, namespace)) >= len(expected) else None,
        timeout=60,
        what="a case per matching alert group",
    )
    by_alert = {c["metadata"]["name"].split("-")[1]: c for c in cases}
    assert set(by_alert) == {name.lower() for name in expected}
    for name in expected:
        spec = by_alert[name.lower()]["spec"]
        assert spec["reportedVia"] == "Alert"
        assert dt.datetime.fromisoformat(spec["reportedAt"]) == first_start[name]
        assert spec["impact"] == ("Production" if SEVERITIES[name] == "critical" else "NonProduction")
        assert spec["reporter"]["email"] == "ops@acme.example"
        assert name in spec["title"] and "node-0" in spec["description"]

    # Repeated notifications (repeat_interval 3 s) and an operator restart open nothing new.
    delivered = webhook_notifications(alertmanager)
    operator.restart()
    eventually(
        lambda: webhook_notifications(alertmanager) >= delivered + 2 * len(expected),
        timeout=60,
        what="repeated notifications after the restart",
    )
    assert len(alert_cases(resources, namespace)) == len(expected)

    # Every case is confirmed by exactly one e-mail that auto-responders must not answer.
    for case in cases:
        name = case["metadata"]["name"]
        resources.wait_case(namespace, name, confirmed, timeout=60)
        messages = smtp_server.mailbox.for_case(name)
        assert len(messages) == 1, f"{name}: {len(messages)} confirmations"
        assert messages[0]["Auto-Submitted"] == "auto-replied"
        assert "ops@acme.example" in messages[0]["To"]
    assert len(smtp_server.mailbox.messages) == len(expected)


def test_a_resolved_group_adds_a_conversation_entry_and_keeps_the_case_open(
    operator: OperatorProcess,
    resources: Resources,
    namespace: str,
    alert_contract: str,
    alertmanager: AlertmanagerServer,
) -> None:
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    alertmanager.post_alerts([storm_alert("StormA", i, started) for i in range(2)])
    [case] = eventually(lambda: alert_cases(resources, namespace) or None, timeout=60, what="the alert case")
    name = case["metadata"]["name"]

    ended = dt.datetime.now(dt.UTC).replace(microsecond=0)
    alertmanager.post_alerts([storm_alert("StormA", i, started, ends=ended) for i in range(2)])

    def conversation() -> list | None:
        return (resources.get_case(namespace, name).get("status") or {}).get("conversation")

    [entry] = eventually(conversation, timeout=60, what="the resolution in the case's conversation")
    assert entry["channel"] == "Alert" and entry["subject"].startswith("Resolved: ")
    assert dt.datetime.fromisoformat(entry["at"]) == ended
    assert "node-0" in entry["text"] and "node-1" in entry["text"]
    time.sleep(4)  # later notifications (none for a resolved group, or a retried one) add nothing
    assert len(conversation() or []) == 1
    after = resources.get_case(namespace, name)
    assert after["spec"]["state"] == "New" and len(alert_cases(resources, namespace)) == 1
    eventually(lambda: any(e.reason == "AlertResolved" for e in resources.events_for(namespace, name)))


def post(url: str, body: bytes, authorization: str | None) -> int:
    headers = {
        "Content-Type": "application/json",
        **({"Authorization": authorization} if authorization else {}),
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_receiver_wants_the_bearer_token(
    operator: OperatorProcess, receiver_token: str, resources: Resources, namespace: str, alert_contract: str
) -> None:
    notification = {
        "version": "4",
        "groupKey": '{}:{alertname="StormA"}',
        "status": "firing",
        "receiver": "support",
        "groupLabels": {"alertname": "StormA"},
        "alerts": [{**storm_alert("StormA", 1, dt.datetime.now(dt.UTC)), "status": "firing"}],
    }
    body = json.dumps(notification).encode()
    url = operator.alert_receiver_url
    assert post(url, body, None) == 401
    assert post(url, body, "Bearer wrong") == 401
    assert post(url, body, f"Basic {receiver_token}") == 401
    assert alert_cases(resources, namespace) == []
    assert post(url, b"{not json", f"Bearer {receiver_token}") == 400
    assert post(url, body, f"Bearer {receiver_token}") == 200
    assert post(url, body, f"Bearer {receiver_token}") == 200  # the same group again: the same case
    assert len(alert_cases(resources, namespace)) == 1
    with urllib.request.urlopen(operator.metrics_url, timeout=10) as response:
        scraped = response.read().decode()
    counts = {
        result: float(line.rsplit(" ", 1)[1])
        for line in scraped.splitlines()
        for result in ("unauthorized", "invalid", "accepted")
        if line.startswith(f'support_operator_alert_notifications_total{{result="{result}"}}')
    }
    assert counts["unauthorized"] >= 3 and counts["invalid"] >= 1 and counts["accepted"] >= 2


def test_a_case_that_cannot_be_opened_is_a_503_and_an_event_on_the_contract(
    operator: OperatorProcess, receiver_token: str, resources: Resources, api_client: client.ApiClient
) -> None:
    intake = {
        "alerts": {
            "namespace": f"missing-{secrets.token_hex(3)}",
            "reporter": {"name": "ACME operations", "email": "ops@acme.example"},
            "rules": [{"matchers": [{"name": "severity", "value": "critical"}]}],
        }
    }
    contract = resources.contract(intake=intake)["metadata"]["name"]
    notification = {
        "version": "4",
        "groupKey": '{}:{alertname="StormA"}',
        "status": "firing",
        "alerts": [{**storm_alert("StormA", 1, dt.datetime.now(dt.UTC)), "status": "firing"}],
    }
    assert (
        post(operator.alert_receiver_url, json.dumps(notification).encode(), f"Bearer {receiver_token}")
        == 503
    )

    def warned() -> list:
        events = client.CoreV1Api(api_client).list_namespaced_event(
            "default", field_selector=f"involvedObject.name={contract}"
        )
        return [e for e in events.items if e.reason == "AlertIntakeFailed"]

    [event] = eventually(warned, what="the AlertIntakeFailed Event")
    assert event.type == "Warning" and "cannot open case" in event.message
    # Alertmanager retries: still refused (nothing lost), but the Event is not repeated for every retry.
    assert (
        post(operator.alert_receiver_url, json.dumps(notification).encode(), f"Bearer {receiver_token}")
        == 503
    )
    time.sleep(2)
    assert len(warned()) == 1
