"""The controllers over a real cache, writer and work queues, with the status API in memory (the one fake,
controller_harness.StatusApi) and a real SMTP server on loopback for the confirmation e-mail."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterator
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

import pytest
from controller_harness import (
    CONTRACT,
    Harness,
    case_obj,
    condition,
    contract_obj,
    edited,
    fast_coalescing,
)
from fake_access_api import FakeApi
from kubernetes.client.rest import ApiException

from smtp_sink import SmtpServer
from support_operator.access.provisioner import Provisioner
from support_operator.api.v1alpha1 import SecretReference, reasons
from support_operator.api.v1alpha1.reasons import EMAIL_SENDING
from support_operator.controllers import confirmation as confirmation_module
from support_operator.notify import smtp
from support_operator.notify.smtp import SmtpSettings

KEY = ("shop", "first")


def minutes_ago(minutes: int) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).replace(microsecond=0)


async def wait_until(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def run(harness: Harness, scenario: Callable[[], Awaitable[None]], start: bool = True) -> None:
    """Runs `scenario` in an event loop (as Kopf calls the manager), with the controllers' queues working
    unless `start` is false, and stops them (and their timers) whatever happens."""

    async def main() -> None:
        if start:
            harness.start()
        try:
            await scenario()
        finally:
            await harness.stop()

    asyncio.run(main())


# -- case status and queue order ---------------------------------------------------------------------------


def test_a_new_case_gets_one_status_write_with_its_queue_position() -> None:
    harness = Harness()
    manager = harness.manager

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj())
        manager.observe_case("ADDED", case_obj("first", reported=minutes_ago(5)))
        await manager.case_status.reconcile(KEY)
        await manager.case_status.reconcile(KEY)  # nothing changed: nothing written

    run(harness, scenario, start=False)
    [write] = harness.api.of("shop/first")
    assert (write["queuePosition"], write["priority"], write["observedState"]) == (1, "P1", "New")
    assert written(write, reasons.READY)["reason"] == reasons.TRACKING
    assert harness.case("first")["status"]["queuePosition"] == 1  # the response is in the cache
    assert KEY in manager.queue_order.served
    assert manager.metrics.status_writes.labels(kind="SupportCase")._value.get() == 1


def test_cases_placed_ahead_move_the_first_one_by_one_coalesced_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_coalescing(monkeypatch)
    harness = Harness()
    manager = harness.manager

    def positions(name: str) -> list[int | None]:
        return [w["queuePosition"] for w in harness.api.of(f"shop/{name}") if "queuePosition" in w]

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj())
        manager.observe_case("ADDED", case_obj("first", reported=minutes_ago(10)))
        await wait_until(lambda: positions("first") == [1], what="the first case's status")
        await asyncio.sleep(0.2)  # the queue pass its creation asked for: nothing to move
        assert positions("first") == [1]
        # Two earlier reports (deadlines before the first's), in one burst.
        manager.observe_case("ADDED", case_obj("second", reported=minutes_ago(30)))
        manager.observe_case("ADDED", case_obj("third", reported=minutes_ago(20)))
        await wait_until(lambda: len(positions("first")) == 2, what="the queue pass")
        await asyncio.sleep(0.2)

    run(harness, scenario)
    assert positions("second") == [1] and positions("third") == [2]  # their own first writes
    assert positions("first") == [1, 3]  # one write for both moves
    assert harness.api.of("shop/first")[-1] == {"queuePosition": 3}


def test_a_case_the_contract_does_not_serve_shows_no_position() -> None:
    harness = Harness()
    manager = harness.manager

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj(caseNamespaces={"namespaces": ["elsewhere"]}))
        manager.observe_case("ADDED", case_obj("first"))
        await manager.case_status.reconcile(KEY)

    run(harness, scenario, start=False)
    [write] = harness.api.of("shop/first")
    assert write.get("queuePosition") is None
    assert written(write, reasons.READY)["reason"] == reasons.NOT_ENTITLED
    assert KEY not in manager.queue_order.served


def test_a_case_the_models_refuse_gets_an_event_and_no_write() -> None:
    harness = Harness()

    async def scenario() -> None:
        harness.manager.observe_contract("ADDED", contract_obj())
        harness.manager.observe_case("ADDED", case_obj("first", title=None))
        await harness.manager.case_status.reconcile(KEY)

    run(harness, scenario, start=False)
    assert harness.api.of("shop/first") == []
    [(name, note)] = harness.events
    assert (name, note.reason, note.type) == ("first", reasons.INVALID_SPEC, "Warning")


# -- confirmation ------------------------------------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def secret_reads(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> list[tuple[str, str]]:
    """The SMTP Secret, read from memory instead of the API server; every read is counted."""
    reads: list[tuple[str, str]] = []

    def read_secret_data(api: object, namespace: str, name: str) -> dict[str, str]:
        reads.append((namespace, name))
        return {"host": "127.0.0.1", "port": str(smtp_server.port), "security": "none"}

    monkeypatch.setattr(confirmation_module, "read_secret_data", read_secret_data)
    return reads


class SmtpSpy:
    """Every hand-over to SMTP: when (monotonic) and what `look` saw at that moment; the real send follows."""

    def __init__(self) -> None:
        self.attempts: list[tuple[float, Any]] = []
        self.look: Callable[[EmailMessage], Any] = lambda message: None
        self._send = smtp.send

    async def send(self, message: EmailMessage, settings: SmtpSettings) -> None:
        self.attempts.append((time.monotonic(), self.look(message)))
        await self._send(message, settings)


@pytest.fixture
def smtp_spy(monkeypatch: pytest.MonkeyPatch) -> SmtpSpy:
    spy = SmtpSpy()
    monkeypatch.setattr(smtp, "send", spy.send)
    return spy


def mailing_harness(monkeypatch: pytest.MonkeyPatch) -> Harness:
    fast_coalescing(monkeypatch)
    harness = Harness()
    for queue in harness.manager.queues:
        queue.base_backoff = 0.05  # a failed status write comes back within a fraction of a second
        queue.transient_max_backoff = 0.2
    return harness


def confirmed(obj: dict[str, Any]) -> dict[str, Any] | None:
    return condition(obj, reasons.CONFIRMED)


def written(patch: dict[str, Any], kind: str = reasons.CONFIRMED) -> dict[str, Any]:
    """A condition in a status patch (empty when the patch leaves conditions alone)."""
    return condition({"status": patch}, kind) or {}


def test_the_intent_is_written_before_smtp_is_called_and_settings_are_read_once(
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SmtpServer,
    secret_reads: list[tuple[str, str]],
    smtp_spy: SmtpSpy,
) -> None:
    smtp_server.start()
    harness = mailing_harness(monkeypatch)
    manager = harness.manager

    def seen_at_send(message: EmailMessage) -> tuple[str, Any, Any]:
        cases = manager.cache.raw_cases.values()
        case = next(c for c in cases if c["metadata"]["uid"] in message["Message-ID"])
        state = confirmed(case) or {}
        return case["metadata"]["name"], state.get("status"), state.get("reason")

    smtp_spy.look = seen_at_send

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj(notification=True))
        for name in ("first", "second"):  # one after the other: the second finds the settings cached
            manager.observe_case("ADDED", case_obj(name))
            await wait_until(
                lambda name=name: bool(harness.case(name).get("status", {}).get("confirmation")),
                what=f"{name}'s confirmation recorded",
            )
        await asyncio.sleep(0.2)

    run(harness, scenario)
    assert sorted(seen for _, seen in smtp_spy.attempts) == [
        ("first", "Unknown", reasons.EMAIL_SENDING),
        ("second", "Unknown", reasons.EMAIL_SENDING),
    ]
    assert len(smtp_server.mailbox.messages) == 2
    for name in ("first", "second"):
        obj = harness.case(name)
        assert (confirmed(obj) or {}).get("status") == "True"
        sent_ids = {str(m["Message-ID"]) for m in smtp_server.mailbox.messages}
        assert obj["status"]["confirmation"]["messageID"] in sent_ids
        intents = [w for w in harness.api.of(f"shop/{name}") if written(w).get("reason") == EMAIL_SENDING]
        assert len(intents) == 1
    assert secret_reads == [("support-operator", "support-smtp")]  # two mails, one Secret read
    assert not [n for _, n in harness.events if n.reason == reasons.CONFIRMATION_RESENT]


def test_a_failed_mail_is_retried_after_its_backoff_and_not_before(
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SmtpServer,
    secret_reads: list[tuple[str, str]],
    smtp_spy: SmtpSpy,
) -> None:
    monkeypatch.setattr(confirmation_module, "MAIL_RETRY_BASE", 0.8)
    harness = mailing_harness(monkeypatch)
    manager = harness.manager

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj(notification=True))
        manager.observe_case("ADDED", case_obj("first"))  # SMTP is down: connection refused
        await wait_until(
            lambda: (confirmed(harness.case("first")) or {}).get("status") == "False",
            what="the failure shown",
        )
        for _ in range(5):  # whatever asks meanwhile (status reconciles, events), the backoff holds
            manager.confirmation.request(KEY)
            manager.case_status.queue.add(KEY)
            await asyncio.sleep(0.05)
        assert len(smtp_spy.attempts) == 1
        await asyncio.to_thread(smtp_server.start)
        await wait_until(lambda: len(smtp_server.mailbox.messages) == 1, what="the retry")
        await wait_until(lambda: bool(harness.case("first")["status"].get("confirmation")), what="its record")

    run(harness, scenario)
    assert len(smtp_spy.attempts) == 2
    assert smtp_spy.attempts[1][0] - smtp_spy.attempts[0][0] >= 0.7
    failed = [written(w) for w in harness.api.of("shop/first") if written(w).get("status") == "False"]
    assert "not delivered" in failed[0]["message"]
    assert manager.metrics.email_failures._value.get() == 1
    assert manager.metrics.emails_sent._value.get() == 1
    assert secret_reads == [("support-operator", "support-smtp")] * 2  # a failure forgets the settings


def test_a_sent_mail_is_never_sent_twice_when_recording_it_fails(
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SmtpServer,
    secret_reads: list[tuple[str, str]],
    smtp_spy: SmtpSpy,
) -> None:
    smtp_server.start()
    harness = mailing_harness(monkeypatch)
    manager = harness.manager
    api_down = {"on": True}
    refused: list[dict[str, Any]] = []

    def fail(name: str, patch: dict[str, Any]) -> ApiException | None:
        if api_down["on"] and "confirmation" in patch:
            refused.append(patch)
            return ApiException(status=503, reason="Service Unavailable")
        return None

    harness.api.fail = fail

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj(notification=True))
        manager.observe_case("ADDED", case_obj("first"))
        await wait_until(lambda: len(refused) >= 2, what="the record refused, retried")
        for _ in range(3):  # asked again: the accepted mail is recorded, never resent
            await manager.confirmation.reconcile(KEY)
            manager.confirmation.request(KEY)
            await asyncio.sleep(0.05)
        assert len(smtp_server.mailbox.messages) == 1
        assert not harness.case("first")["status"].get("confirmation")
        api_down["on"] = False
        await wait_until(lambda: bool(harness.case("first")["status"].get("confirmation")), what="the record")
        await asyncio.sleep(0.2)

    run(harness, scenario)
    assert len(smtp_spy.attempts) == 1 and len(smtp_server.mailbox.messages) == 1
    uid = harness.case("first")["metadata"]["uid"]
    assert manager.confirmation.outcome(uid) is None and manager.confirmation.sending(uid) is None
    assert (confirmed(harness.case("first")) or {}).get("status") == "True"


def test_a_contract_without_notification_is_answered_once_not_in_a_loop(
    monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer, secret_reads: list[tuple[str, str]]
) -> None:
    smtp_server.start()
    harness = mailing_harness(monkeypatch)
    manager = harness.manager
    reconciles: list[str] = []
    real = manager.confirmation.reconcile

    async def counted(key: tuple[str, str]) -> None:
        reconciles.append(key[1])
        await real(key)

    manager.confirmation.queue.reconcile = counted

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj())
        manager.observe_case("ADDED", case_obj("first"))
        await wait_until(
            lambda: (
                (confirmed(harness.case("first")) or {}).get("reason") == reasons.NOTIFICATION_NOT_CONFIGURED
            ),
            what="NotificationNotConfigured",
        )
        await asyncio.sleep(0.3)
        assert len(reconciles) <= 3  # once per status reconcile that asks, not thousands a second
        assert secret_reads == []
        # Notification configured later: the cases follow the contract's spec, and the mail goes.
        notification = contract_obj(notification=True)["spec"]["notification"]
        manager.observe_contract("MODIFIED", edited(harness.contract(), spec={"notification": notification}))
        await wait_until(lambda: bool(harness.case("first")["status"].get("confirmation")), what="the mail")

    run(harness, scenario)
    assert len(smtp_server.mailbox.messages) == 1
    assert (confirmed(harness.case("first")) or {}).get("status") == "True"


def test_smtp_settings_are_read_once_per_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    now = [1000.0]

    def read_secret_data(api: object, namespace: str, name: str) -> dict[str, str]:
        reads.append(name)
        return {"host": f"smtp-{len(reads)}.example", "port": "25", "security": "none"}

    monkeypatch.setattr(confirmation_module, "read_secret_data", read_secret_data)
    monkeypatch.setattr(confirmation_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    cache = confirmation_module.SmtpSettingsCache(api=None, timeout=3.0)  # type: ignore[arg-type]
    ref = SecretReference(name="support-smtp", namespace="support-operator")
    other = SecretReference(name="other-smtp", namespace="support-operator")

    first = cache.get(ref)
    assert (first.host, first.port, first.timeout) == ("smtp-1.example", 25, 3.0)
    now[0] += confirmation_module.SMTP_SETTINGS_TTL - 1
    assert cache.get(ref) is first and reads == ["support-smtp"]
    now[0] += 2  # the TTL is over: a rotated password is picked up
    assert cache.get(ref).host == "smtp-2.example"
    assert cache.get(ref).host == "smtp-2.example"
    cache.forget(ref)  # after a failed delivery
    assert cache.get(ref).host == "smtp-3.example"
    cache.get(other)
    assert reads == ["support-smtp"] * 3 + ["other-smtp"]


# -- contract status and access ----------------------------------------------------------------------------


def test_a_burst_of_cases_updates_the_contract_counts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_coalescing(monkeypatch)
    harness = Harness()
    manager = harness.manager

    def counts() -> list[dict[str, int]]:
        return [w["openCases"] for w in harness.api.of(CONTRACT) if "openCases" in w]

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj())
        await wait_until(lambda: "status" in harness.contract(), what="the contract's first status")
        await asyncio.sleep(0.2)
        before = len(harness.api.of(CONTRACT))
        counted = len(counts())
        for i in range(20):
            impact = "Production" if i % 2 else "NonProduction"
            manager.observe_case("ADDED", case_obj(f"case-{i:02}", impact=impact))
        await wait_until(lambda: len(harness.api.of(CONTRACT)) > before, what="the counts")
        await asyncio.sleep(0.3)  # the cases' own status writes follow: they move no count
        assert len(harness.api.of(CONTRACT)) == before + 1
        manager.observe_case("MODIFIED", edited(harness.case("case-00"), spec={"state": "Closed"}))
        await wait_until(lambda: len(counts()) == counted + 2, what="the count after a close")
        await asyncio.sleep(0.2)
        # Merge patches: the burst's counts in one, the close in the next.
        assert counts()[counted:] == [{"p1": 10, "p2": 10, "total": 20}, {"p2": 9, "total": 19}]

    run(harness, scenario)
    assert harness.contract()["status"]["openCases"] == {"p1": 10, "p2": 9, "p3": 0, "total": 19}


class TimedFakeApi(FakeApi):
    """Tokens that expire `expirationSeconds` from now, not from the fixed instant FakeApi uses."""

    def _token(self, body: dict[str, Any]) -> dict[str, Any]:
        token = super()._token(body)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=body["spec"]["expirationSeconds"])
        token["status"]["expirationTimestamp"] = expires.isoformat()
        return token


def test_access_keeps_minted_token_records_until_the_status_shows_them() -> None:
    api = TimedFakeApi({"app-1"})
    harness = Harness(provisioner=Provisioner(api, "support-operator"))  # type: ignore[arg-type]
    manager = harness.manager
    manager.cache.put_namespace("app-1", {"support.puzzle.ch/supported": "true"})

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj(access=True))
        await manager.access.reconcile(CONTRACT)
        result = manager.access.result_for(CONTRACT)
        assert result is not None and result.condition.ok is True
        minted = [t.credential_id for t in result.minted]
        assert minted == ["JTI=jti-1", "JTI=jti-2", "JTI=jti-3"]
        await manager.access.reconcile(CONTRACT)  # a pass that mints nothing keeps what is unrecorded
        assert [t.credential_id for t in manager.access.result_for(CONTRACT).minted] == minted  # type: ignore[union-attr]
        manager.access.recorded(CONTRACT, minted[:1])
        assert [t.credential_id for t in manager.access.result_for(CONTRACT).minted] == minted[1:]  # type: ignore[union-attr]
        await manager.contract_status.reconcile(CONTRACT)  # writes the rest, then says so
        assert manager.access.result_for(CONTRACT).minted == []  # type: ignore[union-attr]
        manager.access.contract_gone(CONTRACT)
        await asyncio.gather(*manager.access._tasks)
        assert manager.access.result_for(CONTRACT) is None

    run(harness, scenario, start=False)
    status = harness.contract()["status"]
    assert [t["credentialID"] for t in status["tokens"]] == ["JTI=jti-2", "JTI=jti-3"]  # jti-1: said recorded
    assert condition(harness.contract(), reasons.ACCESS_PROVISIONED)["status"] == "True"  # type: ignore[index]


def test_access_failure_is_handed_to_the_contract_status() -> None:
    class Refusing(TimedFakeApi):
        def call_api(self, path: str, method: str, **kwargs: Any) -> Any:
            if method == "PATCH":
                raise ApiException(status=403, reason="Forbidden")
            return super().call_api(path, method, **kwargs)

    harness = Harness(provisioner=Provisioner(Refusing({"app-1"}), "support-operator"))  # type: ignore[arg-type]
    manager = harness.manager
    manager.cache.put_namespace("app-1", {"support.puzzle.ch/supported": "true"})
    handed: list[str] = []
    manager.access.provisioned = handed.append

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj(access=True))
        await manager.access.reconcile(CONTRACT)

    run(harness, scenario, start=False)
    result = manager.access.result_for(CONTRACT)
    assert result is not None and result.condition.reason == reasons.PROVISIONING_FAILED
    assert handed == [CONTRACT]
    assert manager.metrics.reconcile_errors.labels(kind="access")._value.get() == 1


# -- the manager's routing ---------------------------------------------------------------------------------


class Requeues:
    """Records what the manager asks of each controller's queue (the queues are not running)."""

    def __init__(self, harness: Harness) -> None:
        manager = harness.manager
        self.asked: list[tuple[str, str, Any]] = []
        names = {
            "case_status": manager.case_status, "confirmation": manager.confirmation,
            "contract_status": manager.contract_status, "access": manager.access,
            "queue_order": manager.queue_order,
        }  # fmt: skip
        for name, controller in names.items():
            for method in ("add", "add_after", "add_at"):
                setattr(controller.queue, method, self._recorder(name, method))
        real_place = manager.queue_order.place

        def place(key: Any) -> None:
            self.asked.append(("queue_order", "place", key))
            real_place(key)

        manager.queue_order.place = place  # type: ignore[method-assign]

    def _recorder(self, name: str, method: str) -> Callable[..., None]:
        def record(key: Any, *_: Any) -> None:
            self.asked.append((name, method, key))

        return record

    def clear(self) -> None:
        self.asked.clear()

    def of(self, name: str) -> set[Any]:
        return {key for who, _, key in self.asked if who == name}


def test_our_own_status_write_and_its_watch_echo_requeue_nothing() -> None:
    harness = Harness()
    manager = harness.manager
    requeues = Requeues(harness)

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj())
        manager.observe_case("ADDED", case_obj("first"))
        assert requeues.of("case_status") == {KEY}
        assert ("queue_order", "place", KEY) in requeues.asked
        assert requeues.of("contract_status") == {CONTRACT}

        requeues.clear()
        await manager.case_status.reconcile(KEY)  # writes status; the response enters the cache
        assert len(harness.api.of("shop/first")) == 1
        own = {("case_status", "add_at", KEY), ("confirmation", "add", KEY)}  # its recheck and its mail
        assert set(requeues.asked) <= own
        requeues.clear()
        echo = copy.deepcopy(harness.case("first"))  # the watch event of our write, after its response
        manager.observe_case("MODIFIED", echo)
        stale = copy.deepcopy(echo)
        stale["metadata"]["resourceVersion"] = str(int(echo["metadata"]["resourceVersion"]) - 1)
        manager.observe_case("MODIFIED", stale)  # an event trailing our write: ignored
        assert requeues.asked == []
        assert harness.case("first")["metadata"]["resourceVersion"] == echo["metadata"]["resourceVersion"]

    run(harness, scenario, start=False)


def test_a_contract_status_echo_requeues_nothing_and_a_spec_change_everything() -> None:
    harness = Harness()
    manager = harness.manager

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj())
        manager.observe_case("ADDED", case_obj("first"))
        await manager.contract_status.reconcile(CONTRACT)  # Ready appears: the cases follow
        requeues = Requeues(harness)
        manager.observe_contract("MODIFIED", copy.deepcopy(harness.contract()))
        assert requeues.asked == []
        manager.observe_contract("MODIFIED", edited(harness.contract(), spec={"reactionTime": "4h"}))
        assert requeues.of("contract_status") == {CONTRACT}
        assert requeues.of("case_status") == {KEY}
        assert requeues.of("queue_order") == {CONTRACT}  # rebuilt, and one pass

    run(harness, scenario, start=False)


def test_case_routing_by_what_changed() -> None:
    harness = Harness()
    manager = harness.manager

    async def scenario() -> None:
        manager.observe_contract("ADDED", contract_obj())
        manager.observe_contract("ADDED", contract_obj("other"))
        first = case_obj("first")
        manager.observe_case("ADDED", first)
        requeues = Requeues(harness)

        labelled = edited(first, metadata={"labels": {"team": "web"}})
        manager.observe_case("MODIFIED", labelled)
        assert requeues.asked == [("case_status", "add", KEY)]

        requeues.clear()
        moved = edited(labelled, spec={"contractRef": {"name": "other"}})
        manager.observe_case("MODIFIED", moved)
        assert requeues.of("contract_status") == {CONTRACT, "other"}
        assert requeues.of("queue_order") == {KEY, CONTRACT, "other"}
        assert manager.queue_order.position(KEY, "other") == 1
        assert manager.queue_order.position(KEY, CONTRACT) is None

        requeues.clear()
        manager.queue_order.served.add(KEY)
        manager.observe_case("DELETED", moved)
        assert requeues.of("case_status") == set() and requeues.of("contract_status") == {"other"}
        assert manager.cache.case(KEY) is None and KEY not in manager.queue_order.served
        assert manager.queue_order.position(KEY, "other") is None

    run(harness, scenario, start=False)
