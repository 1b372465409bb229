"""The confirmation e-mail: sent exactly once (also across a restart), retried while SMTP is down."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Iterator

import pytest
from kubernetes import client
from support_resources import Resources, condition, iso

from smtp_sink import SmtpServer
from support_operator.testing.wait import eventually

OPERATOR_NAMESPACE = "support-operator"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailing_contract(
    resources: Resources, api_client: client.ApiClient, namespace: str, smtp_server: SmtpServer
) -> Iterator[str]:
    """A contract whose SMTP Secret lives in the operator's namespace, the only one it may read Secrets in."""
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
    notification = {
        "smtpSecretRef": {"name": secret, "namespace": OPERATOR_NAMESPACE},
        "from": "support@puzzle.ch",
    }
    yield str(resources.contract(notification=notification)["metadata"]["name"])
    core.delete_namespaced_secret(secret, OPERATOR_NAMESPACE)


def confirmed(obj: dict) -> bool:
    return (condition(obj, "Confirmed") or {}).get("status") == "True"


def test_confirmation_is_sent_once_across_a_restart(
    operator, resources: Resources, namespace: str, mailing_contract: str, smtp_server: SmtpServer
) -> None:
    reported = dt.datetime.now(dt.UTC)
    resources.case(
        namespace, mailing_contract, name="db-down", title="Database down", reportedAt=iso(reported)
    )
    case = resources.wait_case(namespace, "db-down", confirmed)
    messages = eventually(lambda: smtp_server.mailbox.for_case("db-down"), what="the confirmation e-mail")
    assert len(messages) == 1
    message = messages[0]
    assert message["Message-ID"] == case["status"]["confirmation"]["messageID"]
    assert "bestätigt" in message["Subject"]  # the contract language is German
    assert "petra.keller@acme.example" in message["To"] and "anna.meier@puzzle.ch" in message["To"]
    assert "P1" in message["Subject"]

    operator.restart()
    # Touch the case so the restarted operator certainly reconciles it again.
    resources.objects.patch_namespaced_custom_object(
        "support.puzzle.ch",
        "v1alpha1",
        namespace,
        "supportcases",
        "db-down",
        {"metadata": {"labels": {"touched": "yes"}}},
    )
    time.sleep(5)
    assert len(smtp_server.mailbox.for_case("db-down")) == 1
    history = [h["type"] for h in resources.get_case(namespace, "db-down")["status"]["history"]]
    assert history.count("ConfirmationSent") == 1


def test_smtp_outage_is_a_condition_and_the_mail_follows_when_it_is_back(
    operator, resources: Resources, namespace: str, mailing_contract: str, smtp_server: SmtpServer
) -> None:
    smtp_server.stop()
    resources.case(
        namespace,
        mailing_contract,
        name="disk-full",
        title="Disk full",
        reportedAt=iso(dt.datetime.now(dt.UTC)),
    )
    failing = resources.wait_case(
        namespace, "disk-full", lambda c: (condition(c, "Confirmed") or {}).get("reason") == "EmailFailed"
    )
    assert condition(failing, "Confirmed")["status"] == "False"
    assert condition(failing, "Ready")["status"] == "True"  # the case itself is tracked all the same
    eventually(lambda: any(e.reason == "EmailFailed" for e in resources.events_for(namespace, "disk-full")))

    smtp_server.start()
    resources.wait_case(namespace, "disk-full", confirmed, timeout=90)
    assert len(smtp_server.mailbox.for_case("disk-full")) == 1
