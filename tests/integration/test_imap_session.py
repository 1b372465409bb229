"""intake.imap against the real IMAP server of hack/imap: authentication, folders, INTERNALDATE, moving with
and without MOVE, waiting with IDLE and by polling (the fallback for servers without IDLE)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from test_email_intake import mail

from support_operator.api.v1alpha1 import ImapSecurity
from support_operator.intake.imap import ImapError, ImapSettings, MailboxSession
from support_operator.testing.imap import ImapServer
from support_operator.testing.pki import CertificateAuthority


@pytest.fixture
def server(imap_server: ImapServer) -> ImapServer:
    return imap_server


def session(server: ImapServer, **changes: str) -> MailboxSession:
    settings = ImapSettings("127.0.0.1", server.port, ImapSecurity.NONE, server.username, server.password)
    for key, value in changes.items():
        settings = ImapSettings(**{**settings.__dict__, key: value})
    return MailboxSession(settings)


def test_password_and_xoauth2_logins_and_their_failures(server: ImapServer) -> None:
    session(server).close()
    session(server, password="", access_token=server.oauth_token).close()
    with pytest.raises(ImapError) as refused:
        session(server, password="", access_token="expired-token")
    assert refused.value.reason == "AuthenticationFailed" and "XOAUTH2" in str(refused.value)
    with pytest.raises(ImapError) as unreachable:
        server.stop()
        session(server)
    assert unreachable.value.reason == "MailboxUnreachable"
    assert f"127.0.0.1:{server.port}" in str(unreachable.value)


@pytest.mark.parametrize("with_move", [True, False], ids=["MOVE", "COPY+EXPUNGE"])
def test_fetch_keeps_internaldate_and_move_empties_the_folder(server: ImapServer, with_move: bool) -> None:
    received = time.time() - 3600
    server.append(mail("Hello"), received=received)
    mailbox = session(server)
    if not with_move:
        mailbox.capabilities.discard("MOVE")  # an RFC 3501 server
    mailbox.ensure_folders("Processed", "Rejected")
    mailbox.select("INBOX")
    (uid,) = mailbox.uids()
    fetched = mailbox.fetch(uid)
    assert fetched is not None
    raw, at = fetched
    assert b"Subject: Hello" in raw
    assert abs(at - dt.datetime.fromtimestamp(received, dt.UTC)) < dt.timedelta(seconds=1)
    assert server.messages("INBOX") == [raw]  # fetching leaves the mail where it is
    mailbox.move(uid, "Processed")
    assert mailbox.uids() == []
    assert server.messages("Processed") == [raw]
    mailbox.close()


def test_idle_wakes_on_new_mail_and_polling_is_the_fallback(server: ImapServer) -> None:
    mailbox = session(server)
    mailbox.select("INBOX")
    assert mailbox.idle_supported
    threading.Timer(1.0, lambda: server.append(mail("Wake up"))).start()
    started = time.monotonic()
    mailbox.wait(30)
    assert time.monotonic() - started < 10  # woken by the new mail, not by the 30 s limit
    assert len(mailbox.uids()) == 1

    mailbox.capabilities.discard("IDLE")  # a server without IDLE: sleep, then NOOP
    server.append(mail("Polled"))
    started = time.monotonic()
    mailbox.wait(2)
    assert 2 <= time.monotonic() - started < 10
    assert len(mailbox.uids()) == 2
    mailbox.close()


@pytest.mark.parametrize("security", [ImapSecurity.STARTTLS, ImapSecurity.TLS])
def test_tls_modes_verify_the_server_against_the_secrets_ca(
    imap_binary: Path, tmp_path: Path, security: ImapSecurity
) -> None:
    authority = CertificateAuthority(tmp_path)
    pair = authority.issue(tmp_path / "imap", "127.0.0.1", ip_addresses=("127.0.0.1",), server=True)
    server = ImapServer(
        binary=imap_binary,
        security=security.value,
        certificate=(pair.cert, pair.key),
        ca_file=authority.cert_path,
    ).start()
    try:
        settings = ImapSettings(
            "127.0.0.1",
            server.port,
            security,
            server.username,
            server.password,
            ca_bundle=authority.cert_path.read_text(),
        )
        MailboxSession(settings).close()
        with pytest.raises(ImapError) as untrusted:  # the system trust store does not know the test CA
            MailboxSession(ImapSettings(**{**settings.__dict__, "ca_bundle": None}))
        assert untrusted.value.reason == "MailboxUnreachable"
        assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value)
    finally:
        server.stop()
