"""The pure rules of e-mail intake: parsing, loop protection, allowed senders, threading, decisions."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support_operator.api.v1alpha1 import CaseCategory, EmailIntake, Impact
from support_operator.intake import rules
from support_operator.intake.mail import MailError, html_to_text, parse_mail, shortened
from support_operator.intake.plan import DESCRIPTION_LIMIT, Outcome, decide
from support_operator.intake.threads import MESSAGE_ID_ANNOTATION, CaseIndex, case_token, thread_of
from support_operator.notify.confirmation import CaseConfirmation, render

NOW = dt.datetime(2026, 11, 3, 8, 12, tzinfo=dt.UTC)
INTAKE = EmailIntake.model_validate(
    {
        "host": "imap.example",
        "credentialsSecretRef": {"name": "imap", "namespace": "support-operator"},
        "namespace": "intake",
        "allowedSenders": {"addresses": ["boss@partner.example"], "domains": ["acme.example"]},
        "maxCasesPerSenderPerHour": 2,
    }
)
TEAM = ["anna.meier@puzzle.ch"]


def raw_mail(
    subject: str = "Shop down", body: str = "It is down.", html: str | None = None, **headers: str
) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Petra Keller <Petra.Keller@acme.example>")
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("Message_ID", "<m1@acme.example>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if html is not None:
        message.set_content(html, subtype="html")
    else:
        message.set_content(body)
    return message.as_bytes()


def test_parse_takes_sender_subject_text_and_internaldate() -> None:
    mail = parse_mail(raw_mail(In_Reply_To="<a@x>", References="<b@x> <c@x>"), NOW)
    assert (mail.sender, mail.sender_name, mail.subject) == (
        "petra.keller@acme.example",
        "Petra Keller",
        "Shop down",
    )
    assert mail.text == "It is down."
    assert mail.received_at == NOW
    assert mail.references == ("<a@x>", "<c@x>", "<b@x>")  # nearest first


def test_html_only_mail_becomes_text() -> None:
    html = "<html><head><style>p{}</style></head><body><p>Router <b>503</b></p><p>since&nbsp;09:00</p></body>"
    assert parse_mail(raw_mail(html=html), NOW).text == "Router 503\n\nsince 09:00"
    assert html_to_text("a<br>b<script>x()</script>") == "a\nb"


def test_a_mail_without_from_is_unreadable() -> None:
    with pytest.raises(MailError, match="no usable From"):
        parse_mail(b"Subject: x\r\n\r\nbody\r\n", NOW)


def test_a_missing_message_id_is_derived_from_the_content() -> None:
    raw = b"From: a@acme.example\r\nSubject: x\r\n\r\nbody\r\n"
    assert parse_mail(raw, NOW).message_id == parse_mail(raw, NOW + dt.timedelta(hours=1)).message_id


@given(st.text(min_size=0, max_size=3000))
def test_shortened_stays_within_the_limit_and_says_so(text: str) -> None:
    result = shortened(text, 500, "[shortened]")
    assert len(result) <= 500
    assert result == text or result.endswith("[shortened]")


def test_long_bodies_are_truncated_with_a_note() -> None:
    mail = parse_mail(raw_mail(body="word " * 5000), NOW)
    decision = decide(mail, INTAKE, "acme", TEAM, CaseIndex("acme"), [], NOW)
    description = decision.body["spec"]["description"]  # type: ignore[index]
    assert len(description) <= DESCRIPTION_LIMIT
    assert "the mail has 24999 characters" in description and "Processed" in description


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted"),
        ({"Auto_Submitted": "auto-generated"}, "Auto-Submitted"),
        ({"Precedence": "bulk"}, "Precedence"),
        ({"Precedence": "list"}, "Precedence"),
        ({"Precedence": "junk"}, "Precedence"),
        ({"X_Loop": "support@puzzle.ch"}, "X-Loop"),
        ({"List_Id": "<users.acme.example>"}, "List-Id"),
        ({"From": "MAILER-DAEMON@acme.example"}, "system address"),
        ({"From": "noreply@acme.example"}, "system address"),
        ({"From": "no-reply+bounces@acme.example"}, "system address"),
    ],
)
def test_automated_mail_is_recognised(headers: dict[str, str], reason: str) -> None:
    found = rules.automated_reason(parse_mail(raw_mail(**headers), NOW))
    assert found is not None and reason in found


@pytest.mark.parametrize("headers", [{}, {"Auto_Submitted": "no"}, {"Precedence": "first-class"}])
def test_a_persons_mail_is_not_automated(headers: dict[str, str]) -> None:
    assert rules.automated_reason(parse_mail(raw_mail(**headers), NOW)) is None


@pytest.mark.parametrize(
    ("sender", "allowed"),
    [
        ("petra@acme.example", True),
        ("PETRA@ACME.EXAMPLE", True),
        ("boss@partner.example", True),
        ("other@partner.example", False),
        ("anna.meier@puzzle.ch", True),  # a team member
        ("x@sub.acme.example", False),
        ("x@acme.example.evil.example", False),
    ],
)
def test_allowed_senders(sender: str, allowed: bool) -> None:
    assert rules.sender_allowed(sender, INTAKE.allowed_senders, TEAM) is allowed


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Shop down", (CaseCategory.INCIDENT, Impact.NON_PRODUCTION)),
        ("PROD: shop down", (CaseCategory.INCIDENT, Impact.PRODUCTION)),
        ("Ausfall Produktion", (CaseCategory.INCIDENT, Impact.PRODUCTION)),
        ("shop-prod is down", (CaseCategory.INCIDENT, Impact.PRODUCTION)),
        ("Product page slow", (CaseCategory.INCIDENT, Impact.NON_PRODUCTION)),  # "prod" only as a word
        ("Frage zu Quotas", (CaseCategory.CONSULTATION, None)),
    ],
)
def test_category_and_impact_from_subject_keywords(subject: str, expected: tuple[object, object]) -> None:
    assert (
        rules.classify(subject, INTAKE.keywords(), INTAKE.default_category, INTAKE.default_impact) == expected
    )


def test_configured_keywords_replace_the_defaults() -> None:
    intake = EmailIntake.model_validate(
        {**INTAKE.to_json_dict(), "subjectKeywords": [{"keyword": "P1", "impact": "Production"}]}
    )
    assert rules.classify("[P1] down", intake.keywords(), CaseCategory.INCIDENT, Impact.NON_PRODUCTION)[
        1
    ] == (Impact.PRODUCTION)
    assert rules.classify("production down", intake.keywords(), CaseCategory.INCIDENT, Impact.NON_PRODUCTION)[
        1
    ] == (Impact.NON_PRODUCTION)


def test_case_name_is_a_dns_label_derived_from_the_message_id() -> None:
    first = parse_mail(raw_mail("Re: Ingress returns 503 for shop.acme.ch!!"), NOW)
    again = parse_mail(raw_mail("Re: Ingress returns 503 for shop.acme.ch!!"), NOW + dt.timedelta(days=1))
    other = parse_mail(
        raw_mail("Re: Ingress returns 503 for shop.acme.ch!!", Message_ID="<m2@acme.example>"), NOW
    )
    assert rules.case_name(first) == rules.case_name(again) != rules.case_name(other)
    assert rules.case_name(first).startswith("ingress-returns-503-for-shop-acme-ch-")
    assert len(rules.case_name(parse_mail(raw_mail("x" * 300), NOW))) <= 63


def test_rate_limit_counts_the_last_hour() -> None:
    recent = [NOW - dt.timedelta(minutes=10), NOW - dt.timedelta(minutes=50)]
    assert rules.over_rate_limit(recent, NOW, 2)
    assert not rules.over_rate_limit([*recent[:1], NOW - dt.timedelta(minutes=70)], NOW, 2)


def case_obj(name: str, uid: str, contract: str = "acme", message_id: str | None = None) -> dict:
    return {
        "metadata": {
            "namespace": "shop-prod",
            "name": name,
            "uid": uid,
            "annotations": {MESSAGE_ID_ANNOTATION: message_id} if message_id else {},
        },
        "spec": {"contractRef": {"name": contract}},
        "status": {"conversation": [{"messageID": "<reply1@acme.example>"}]},
    }


def confirmation_id(uid: str) -> str:
    now = NOW
    confirmation = CaseConfirmation(
        uid, "shop-prod", "shop-ingress-503", "t", "P1", now, now, "UTC", "en", "s@p.ch", "P", ("a@b.ch",)
    )
    return str(render(confirmation)["Message-ID"])


def test_confirmation_mails_carry_the_case_token_and_auto_submitted() -> None:
    now = NOW
    confirmation = CaseConfirmation(
        "u1", "shop-prod", "shop-ingress-503", "t", "P1", now, now, "UTC", "de", "s@p.ch", "P", ("a@b.ch",),
        in_reply_to="<m1@acme.example>",
    )  # fmt: skip
    message = render(confirmation)
    assert message["Subject"].startswith("[Case shop-prod/shop-ingress-503] ")
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] == "<m1@acme.example>"


def test_threading_by_confirmation_id_recorded_ids_and_subject_token() -> None:
    index = CaseIndex.of(
        "acme",
        [
            case_obj("shop-ingress-503", "uid-1", message_id="<orig@acme.example>"),
            case_obj("other-tenant", "uid-2", contract="globex"),
        ],
    )
    key = ("shop-prod", "shop-ingress-503")
    by_confirmation = parse_mail(raw_mail("Re: x", In_Reply_To=confirmation_id("uid-1")), NOW)
    assert thread_of(by_confirmation, index) == key
    assert thread_of(parse_mail(raw_mail("Re: x", References="<orig@acme.example>"), NOW), index) == key
    assert thread_of(parse_mail(raw_mail("Re: x", In_Reply_To="<reply1@acme.example>"), NOW), index) == key
    assert thread_of(parse_mail(raw_mail(f"AW: {case_token(*key)} logs"), NOW), index) == key
    # Never into another contract's case, not even with its token or its confirmation's Message-ID.
    assert thread_of(parse_mail(raw_mail("[Case shop-prod/other-tenant] hi"), NOW), index) is None
    assert thread_of(parse_mail(raw_mail("Re: x", In_Reply_To=confirmation_id("uid-2")), NOW), index) is None


def test_decisions() -> None:
    index = CaseIndex.of("acme", [case_obj("shop-ingress-503", "uid-1", message_id="<orig@acme.example>")])

    def outcome(raw: bytes, recent: list[dt.datetime] | None = None) -> Outcome:
        return decide(parse_mail(raw, NOW), INTAKE, "acme", TEAM, index, recent or [], NOW).outcome

    assert outcome(raw_mail()) == Outcome.CASE_OPENED
    assert outcome(raw_mail(Message_ID="<orig@acme.example>")) == Outcome.DUPLICATE
    assert outcome(raw_mail(From="spam@elsewhere.example")) == Outcome.UNKNOWN_SENDER
    assert outcome(raw_mail(From="spam@elsewhere.example", In_Reply_To=confirmation_id("uid-1"))) == (
        Outcome.UNKNOWN_SENDER
    )
    assert outcome(raw_mail(Auto_Submitted="auto-replied")) == Outcome.AUTOMATED
    # An out-of-office answering our confirmation joins the case's conversation; nothing answers it.
    assert outcome(raw_mail(Auto_Submitted="auto-replied", In_Reply_To=confirmation_id("uid-1"))) == (
        Outcome.REPLY_ATTACHED
    )
    assert outcome(raw_mail(), [NOW - dt.timedelta(minutes=5)] * 2) == Outcome.RATE_LIMITED


def test_the_case_body() -> None:
    mail = parse_mail(raw_mail("Production: shop down"), NOW)
    decision = decide(mail, INTAKE, "acme", TEAM, CaseIndex("acme"), [], NOW)
    body = decision.body
    assert body is not None
    assert body["metadata"]["namespace"] == "intake"
    assert body["metadata"]["annotations"][MESSAGE_ID_ANNOTATION] == "<m1@acme.example>"
    assert body["spec"] == {
        "contractRef": {"name": "acme"},
        "title": "Production: shop down",
        "description": "It is down.",
        "category": "Incident",
        "impact": "Production",
        "reportedAt": "2026-11-03T08:12:00Z",
        "reportedVia": "Email",
        "reporter": {"name": "Petra Keller", "email": "petra.keller@acme.example"},
    }
