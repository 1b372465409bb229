"""E-mail intake against a real IMAP server (hack/imap, go-imap) and a real SMTP server (aiosmtpd): mails
appended over IMAP open cases, replies join them, loops and strangers open nothing, outages and crashes
lose nothing. Every case opened is confirmed by exactly one e-mail that carries Auto-Submitted."""

from __future__ import annotations

import base64
import datetime as dt
import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from kubernetes import client
from support_resources import Resources, condition
from test_confirmation_email import SmtpServer

from support_operator.api.v1alpha1 import CASE_PLURAL, GROUP, VERSION, EmailIntake
from support_operator.intake.mail import parse_mail
from support_operator.intake.plan import VIA_LABEL, case_body
from support_operator.testing.imap import ImapServer
from support_operator.testing.wait import eventually

OPERATOR_NAMESPACE = "support-operator"
CUSTOMER = "petra.keller@acme.example"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _secret(core: client.CoreV1Api, name: str, data: dict[str, str]) -> None:
    core.create_namespaced_secret(
        OPERATOR_NAMESPACE,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=name),
            data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        ),
    )


class Intake:
    """A contract reading `imap_server`, confirming over `smtp_server`, opening cases in `namespace`."""

    def __init__(
        self, resources: Resources, core: client.CoreV1Api, imap: ImapServer, smtp: SmtpServer, namespace: str
    ) -> None:
        self.resources, self.core, self.imap, self.smtp = resources, core, imap, smtp
        self.namespace = namespace
        self.secrets: list[str] = []
        self.contract = ""

    def open(self, *, intake_namespace: str | None = None, oauth: bool = False, **email_spec: object) -> str:
        suffix = self.namespace[-6:]
        _secret(
            self.core,
            f"smtp-{suffix}",
            {"host": "127.0.0.1", "port": str(self.smtp.port), "security": "none"},
        )
        credentials = {"username": self.imap.username}
        credentials.update(
            {"accessToken": self.imap.oauth_token} if oauth else {"password": self.imap.password}
        )
        _secret(self.core, f"imap-{suffix}", credentials)
        self.secrets += [f"smtp-{suffix}", f"imap-{suffix}"]
        spec = {
            "host": "127.0.0.1",
            "port": self.imap.port,
            "security": "none",
            "credentialsSecretRef": {"name": f"imap-{suffix}", "namespace": OPERATOR_NAMESPACE},
            "namespace": intake_namespace or self.namespace,
            "allowedSenders": {"domains": ["acme.example"]},
            "pollInterval": "5s",
            **email_spec,
        }
        self.contract = self.resources.contract(
            notification={
                "smtpSecretRef": {"name": f"smtp-{suffix}", "namespace": OPERATOR_NAMESPACE},
                "from": "support@puzzle.ch",
            },
            intake={"email": spec},
        )["metadata"]["name"]
        self.wait_intake("Watching")
        return self.contract

    def wait_intake(self, reason: str, timeout: float = 40) -> dict:
        return self.resources.wait_contract(
            self.contract, lambda c: (condition(c, "EmailIntake") or {}).get("reason") == reason, timeout
        )

    def cases(self, namespace: str | None = None) -> list[dict]:
        listed = self.resources.objects.list_namespaced_custom_object(
            GROUP, VERSION, namespace or self.namespace, CASE_PLURAL, label_selector=f"{VIA_LABEL}=email"
        )
        return list(listed["items"])

    def wait_cases(self, count: int, namespace: str | None = None, timeout: float = 40) -> list[dict]:
        return eventually(
            lambda: found if len(found := self.cases(namespace)) >= count else None,
            timeout,
            what=f"{count} e-mail case(s)",
        )

    def confirmations(self, case: str) -> list[EmailMessage]:
        return [m for m in self.smtp.mailbox.messages if f"/{case}]" in str(m["Subject"])]  # type: ignore[misc]

    def wait_folder(self, folder: str, count: int, timeout: float = 40) -> list[bytes]:
        return eventually(
            lambda: found if len(found := self.imap.messages(folder)) == count else None,
            timeout,
            what=f"{count} mail(s) in {folder}",
        )

    def cleanup(self) -> None:
        for name in self.secrets:
            self.core.delete_namespaced_secret(name, OPERATOR_NAMESPACE)


@pytest.fixture
def intake(
    operator: object,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    imap_server: ImapServer,
    smtp_server: SmtpServer,
) -> Iterator[Intake]:
    made = Intake(resources, client.CoreV1Api(api_client), imap_server, smtp_server, namespace)
    yield made
    made.cleanup()


def mail(
    subject: str,
    body: str = "The shop answers 503 since 09:00.",
    *,
    sender: str = f"Petra Keller <{CUSTOMER}>",
    message_id: str | None = None,
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@puzzle.ch"
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = message_id or make_msgid(domain="acme.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def confirmed(obj: dict) -> bool:
    return (condition(obj, "Confirmed") or {}).get("status") == "True"


def metric(operator: object, name: str, **labels: str) -> float:
    text = urllib.request.urlopen(operator.metrics_url, timeout=5).read().decode()  # type: ignore[attr-defined]
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def assert_one_auto_submitted_confirmation(intake: Intake, case: dict) -> EmailMessage:
    name = case["metadata"]["name"]
    messages = eventually(lambda: intake.confirmations(name), what=f"the confirmation of {name}")
    time.sleep(1)  # a second one would arrive right after the first
    messages = intake.confirmations(name)
    assert len(messages) == 1, [m["Subject"] for m in messages]
    assert messages[0]["Auto-Submitted"] == "auto-replied"
    assert f"[Case {case['metadata']['namespace']}/{name}]" in messages[0]["Subject"]
    return messages[0]


def test_a_mail_opens_one_case_confirmed_once_and_a_reply_joins_it(intake: Intake, operator: object) -> None:
    intake.open()
    received = time.time() - 300  # the mail reached the mailbox five minutes ago
    raw = mail("Production shop returns 503", "The shop answers 503.\nPods are Ready.")
    intake.imap.append(raw, received=received)

    (case,) = intake.wait_cases(1)
    spec = case["spec"]
    assert spec["title"] == "Production shop returns 503"
    assert spec["description"] == "The shop answers 503.\nPods are Ready."
    assert spec["reportedVia"] == "Email"
    assert spec["reporter"] == {"name": "Petra Keller", "email": CUSTOMER}
    assert (spec["category"], spec["impact"]) == ("Incident", "Production")  # the keyword "production"
    reported = dt.datetime.fromisoformat(spec["reportedAt"].replace("Z", "+00:00"))
    assert abs(reported.timestamp() - received) < 2  # IMAP INTERNALDATE, not the fetch time
    intake.wait_folder("Processed", 1)
    assert intake.imap.messages("INBOX") == []
    name = case["metadata"]["name"]
    case = intake.resources.wait_case(intake.namespace, name, confirmed)
    confirmation = assert_one_auto_submitted_confirmation(intake, case)
    assert confirmation["In-Reply-To"] == parse_mail(raw, dt.datetime.now(dt.UTC)).message_id
    assert any(e.reason == "OpenedByEmail" for e in intake.resources.events_for(intake.namespace, name))

    # A reply to the confirmation (In-Reply-To), and one that only keeps the case token in its subject.
    reply = mail(f"Re: {confirmation['Subject']}", "It works again.", In_Reply_To=confirmation["Message-ID"])
    intake.imap.append(reply)
    token_only = mail(f"AW: [Case {intake.namespace}/{name}] more logs", "Here are the logs.")
    intake.imap.append(token_only)
    case = intake.resources.wait_case(
        intake.namespace, name, lambda c: len((c.get("status") or {}).get("conversation") or []) == 2
    )
    first, second = case["status"]["conversation"]
    assert (first["sender"], first["text"]) == (CUSTOMER, "It works again.")
    assert first["messageID"] == parse_mail(reply, dt.datetime.now(dt.UTC)).message_id
    assert second["text"] == "Here are the logs."
    assert len(intake.cases()) == 1
    intake.wait_folder("Processed", 3)
    assert any(e.reason == "ReplyReceived" for e in intake.resources.events_for(intake.namespace, name))
    time.sleep(2)
    assert len(intake.smtp.mailbox.messages) == 1  # replies are never answered


def test_duplicate_delivery_opens_one_case(intake: Intake) -> None:
    intake.open()
    raw = mail("Disk full on node 3")
    intake.imap.append(raw)
    intake.imap.append(raw)  # the MTA delivered it twice
    (case,) = intake.wait_cases(1)
    intake.wait_folder("Processed", 2)
    intake.imap.append(raw)  # and once more, after the case exists
    intake.wait_folder("Processed", 3)
    assert len(intake.cases()) == 1
    assert_one_auto_submitted_confirmation(
        intake, intake.resources.wait_case(intake.namespace, case["metadata"]["name"], confirmed)
    )


def test_auto_replies_and_system_mail_open_nothing_and_get_no_answer(
    intake: Intake, operator: object
) -> None:
    intake.open(maxCasesPerSenderPerHour=2)
    intake.imap.append(mail("Out of office", "Back on Monday.", Auto_Submitted="auto-replied"))
    intake.imap.append(mail("Newsletter", "News.", Precedence="bulk"))
    intake.imap.append(mail("Looped", "Again.", X_Loop="support@puzzle.ch"))
    intake.imap.append(mail("Delivery failed", "Undeliverable.", sender="MAILER-DAEMON@acme.example"))
    intake.wait_folder("Rejected", 4)
    # The rate limit: a broken autoresponder without any header still opens at most 2 cases an hour.
    for n in range(3):
        intake.imap.append(mail(f"Alert {n}", "Same again."))
    intake.wait_cases(2)
    intake.wait_folder("Rejected", 5)
    time.sleep(2)
    assert len(intake.cases()) == 2
    events = intake.resources.events_for("default", intake.contract)
    reasons = [e.reason for e in events]
    assert reasons.count("AutomatedMailIgnored") == 4 and reasons.count("SenderRateLimited") == 1
    assert (
        metric(operator, "support_operator_intake_mails_total", contract=intake.contract, outcome="automated")
        == 4
    )
    for case in intake.cases():
        assert_one_auto_submitted_confirmation(
            intake, intake.resources.wait_case(intake.namespace, case["metadata"]["name"], confirmed)
        )
    assert len(intake.smtp.mailbox.messages) == 2  # the two cases' confirmations, nothing else


def test_unknown_senders_open_nothing_and_get_no_reply(intake: Intake, operator: object) -> None:
    intake.open(oauth=True)  # XOAUTH2 with an access token instead of a password
    intake.imap.append(mail("Cheap watches", "Buy now.", sender="spam@elsewhere.example"))
    intake.imap.append(mail("Hi", "Hello.", sender="someone@acme.example.evil.example"))
    intake.wait_folder("Rejected", 2)
    time.sleep(2)
    assert intake.cases() == []
    assert intake.smtp.mailbox.messages == []  # no backscatter
    assert (
        metric(
            operator,
            "support_operator_intake_mails_total",
            contract=intake.contract,
            outcome="unknown_sender",
        )
        == 2
    )
    # A team member is always allowed, although the contract lists only the customer's domain.
    intake.imap.append(mail("Question about quotas", "How big?", sender="anna.meier@puzzle.ch"))
    (case,) = intake.wait_cases(1)
    assert case["spec"]["category"] == "Consultation"  # the keyword "question"


def test_mailbox_down_and_back(intake: Intake, operator: object) -> None:
    intake.open()
    intake.imap.stop()
    down = intake.wait_intake("MailboxUnreachable")
    assert condition(down, "EmailIntake")["status"] == "False"
    assert f"127.0.0.1:{intake.imap.port}" in condition(down, "EmailIntake")["message"]
    assert metric(operator, "support_operator_intake_mailbox_up", contract=intake.contract) == 0
    intake.imap.start()  # same port, empty mailbox
    intake.wait_intake("Watching", timeout=90)
    intake.imap.append(mail("After the outage"))
    (case,) = intake.wait_cases(1)
    assert case["spec"]["title"] == "After the outage"
    assert metric(operator, "support_operator_intake_mailbox_up", contract=intake.contract) == 1


def test_operator_killed_between_fetch_and_case_creation(
    intake: Intake, operator: object, control_plane: object
) -> None:
    missing = f"{intake.namespace}-later"  # cases cannot be created until this namespace exists
    intake.open(intake_namespace=missing)
    raw = mail("Fetched before the crash")
    intake.imap.append(raw)
    blocked = intake.wait_intake("CasesNotCreated")
    assert missing in condition(blocked, "EmailIntake")["message"]
    assert len(intake.imap.messages("INBOX")) == 1  # fetched, not moved: nothing lost
    operator.kill()  # type: ignore[attr-defined]
    control_plane.kubectl("create", "namespace", missing)  # type: ignore[attr-defined]
    try:
        operator.start()  # type: ignore[attr-defined]
        (case,) = intake.wait_cases(1, namespace=missing, timeout=60)
        intake.wait_folder("Processed", 1)
        assert_one_auto_submitted_confirmation(
            intake, intake.resources.wait_case(missing, case["metadata"]["name"], confirmed)
        )
    finally:
        control_plane.kubectl("delete", "namespace", missing, "--wait=false", check=False)  # type: ignore[attr-defined]


def test_a_case_created_before_a_crash_is_not_created_again(intake: Intake) -> None:
    """The operator died after creating the case and before moving the mail: the next fetch only moves it."""
    intake.open()
    raw = mail("Created, then the crash")
    parsed = parse_mail(raw, dt.datetime.now(dt.UTC))
    spec = intake.resources.get_contract(intake.contract)["spec"]["intake"]["email"]
    body = case_body(parsed, EmailIntake.model_validate(spec), intake.contract)
    intake.resources.objects.create_namespaced_custom_object(
        GROUP, VERSION, intake.namespace, CASE_PLURAL, body
    )
    intake.imap.append(raw)
    intake.wait_folder("Processed", 1)
    assert [c["metadata"]["name"] for c in intake.cases()] == [body["metadata"]["name"]]
    assert_one_auto_submitted_confirmation(
        intake, intake.resources.wait_case(intake.namespace, body["metadata"]["name"], confirmed)
    )


def test_unprocessable_mail_goes_to_the_rejected_folder(intake: Intake) -> None:
    intake.open()
    intake.imap.append(b"Subject: no sender at all\r\n\r\nbody\r\n")
    rejected = intake.wait_folder("Rejected", 1)
    assert b"no sender at all" in rejected[0]
    eventually(
        lambda: any(
            e.reason == "MailRejected" for e in intake.resources.events_for("default", intake.contract)
        ),
        what="the MailRejected Event",
    )
    assert intake.cases() == []


def test_an_smtp_error_names_the_missing_secret(
    operator: object, resources: Resources, namespace: str
) -> None:
    contract = resources.contract(
        notification={
            "smtpSecretRef": {"name": "no-such-smtp", "namespace": OPERATOR_NAMESPACE},
            "from": "s@p.ch",
        }
    )["metadata"]["name"]
    resources.case(namespace, contract, name="no-mail")
    case = resources.wait_case(
        namespace, "no-mail", lambda c: (condition(c, "Confirmed") or {}).get("reason") == "EmailFailed"
    )
    assert f"Secret {OPERATOR_NAMESPACE}/no-such-smtp not found" in condition(case, "Confirmed")["message"]


def test_an_html_mail_becomes_a_text_description_cut_with_a_note(intake: Intake) -> None:
    intake.open()
    message = EmailMessage()
    message["From"] = f"Petra Keller <{CUSTOMER}>"
    message["Subject"] = "Logs attached"
    message["Message-ID"] = make_msgid(domain="acme.example")
    lines = "".join(f"<p>line {n}: <b>error</b> in pod shop-{n}</p>" for n in range(1000))
    message.set_content(
        f"<html><head><style>p {{}}</style></head><body>{lines}</body></html>", subtype="html"
    )
    intake.imap.append(message.as_bytes())
    (case,) = intake.wait_cases(1)
    description = case["spec"]["description"]
    assert description.startswith("line 0: error in pod shop-0\n\nline 1: error")
    assert "<p>" not in description and "{}" not in description
    assert len(description) <= 8000
    assert description.endswith("the whole mail is in folder Processed of the intake mailbox]")
