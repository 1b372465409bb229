"""IMAP for e-mail intake (imaplib, blocking: run it in a thread). Fetches with BODY.PEEK, so a mail is
neither marked seen nor moved until the caller says its case exists."""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import re
import select
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from support_operator.api.v1alpha1 import EmailIntake, ImapSecurity

INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


class ImapError(RuntimeError):
    """The mailbox cannot be used; `reason` is a condition reason, the message says why in our words."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: ImapSecurity
    username: str
    password: str | None = None
    access_token: str | None = None  # OAuth2: AUTHENTICATE XOAUTH2
    ca_bundle: str | None = None  # PEM: a private CA instead of the system's trust store
    timeout: float = 30.0

    @classmethod
    def of(cls, intake: EmailIntake, secret: Mapping[str, str], name: str) -> ImapSettings:
        username = secret.get("username", "")
        password, token = secret.get("password") or None, secret.get("accessToken") or None
        if not username or not (password or token):
            raise ImapError(
                "CredentialsIncomplete",
                f"Secret {name} needs the keys username and password (or accessToken)",
            )
        port = intake.port or (993 if intake.security == ImapSecurity.TLS else 143)
        return cls(
            intake.host, port, intake.security, username, password, token, secret.get("ca.crt") or None
        )


def _text(data: object) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)


class MailboxSession:
    """One logged-in IMAP connection with one selected folder."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        where = f"{settings.host}:{settings.port}"
        try:
            self.conn = self._connect()
        except (OSError, imaplib.IMAP4.error) as error:
            raise ImapError("MailboxUnreachable", f"IMAP server {where} unreachable: {error}") from error
        try:
            self._authenticate()
        except imaplib.IMAP4.error as error:
            self.close()
            method = "XOAUTH2" if settings.access_token else "password"
            raise ImapError(
                "AuthenticationFailed", f"IMAP {where} refused {settings.username} ({method}): {error}"
            ) from error
        self.capabilities = {c.upper() for c in self.conn.capabilities}
        self._refresh_capabilities()

    def _connect(self) -> imaplib.IMAP4:
        settings = self.settings
        context = ssl.create_default_context(cadata=settings.ca_bundle)
        if settings.security == ImapSecurity.TLS:
            return imaplib.IMAP4_SSL(
                settings.host, settings.port, ssl_context=context, timeout=settings.timeout
            )
        conn = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == ImapSecurity.STARTTLS:
            conn.starttls(ssl_context=context)
        return conn

    def _authenticate(self) -> None:
        settings = self.settings
        if settings.access_token:
            blob = f"user={settings.username}\x01auth=Bearer {settings.access_token}\x01\x01".encode()
            self.conn.authenticate("XOAUTH2", lambda _challenge: blob)
        else:
            self.conn.login(settings.username, settings.password or "")

    def _refresh_capabilities(self) -> None:
        typ, data = self.conn.capability()
        if typ == "OK" and data and data[0]:
            self.capabilities = set(_text(data[0]).upper().split())

    def ensure_folders(self, *folders: str) -> None:
        typ, listed = self.conn.list()
        existing = {_text(line).rsplit(" ", 1)[-1].strip('"') for line in listed or () if line}
        for folder in folders:
            if folder not in existing:
                typ, data = self.conn.create(_quoted(folder))
                if typ != "OK":
                    raise ImapError("FolderMissing", f"folder {folder!r} cannot be created: {_text(data[0])}")

    def select(self, folder: str) -> None:
        typ, data = self.conn.select(_quoted(folder))
        if typ != "OK":
            raise ImapError("FolderMissing", f"folder {folder!r} cannot be selected: {_text(data[0])}")

    def uids(self) -> list[str]:
        typ, data = self.conn.uid("SEARCH", "UNDELETED")
        if typ != "OK":
            raise ImapError("MailboxUnreachable", f"SEARCH failed: {_text(data[0])}")
        return _text(data[0]).split() if data and data[0] else []

    def fetch(self, uid: str) -> tuple[bytes, dt.datetime] | None:
        """The raw mail and its INTERNALDATE; None when it is gone (moved by someone else)."""
        typ, data = self.conn.uid("FETCH", uid, "(UID INTERNALDATE BODY.PEEK[])")
        if typ != "OK":
            raise ImapError("MailboxUnreachable", f"FETCH {uid} failed: {_text(data[0])}")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                found = INTERNALDATE.search(item[0])
                received = _internaldate(found.group(1)) if found else dt.datetime.now(dt.UTC)
                return bytes(item[1]), received
        return None

    def move(self, uid: str, folder: str) -> None:
        if "MOVE" in self.capabilities:
            typ, data = self.conn.uid("MOVE", uid, _quoted(folder))
        else:  # RFC 3501 only: copy, then flag and expunge the original
            typ, data = self.conn.uid("COPY", uid, _quoted(folder))
            if typ == "OK":
                self.conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
                typ, data = self.conn.expunge()
        if typ != "OK":
            raise ImapError("MoveFailed", f"mail {uid} cannot be moved to {folder!r}: {_text(data[0])}")

    @property
    def idle_supported(self) -> bool:
        return "IDLE" in self.capabilities

    def wait(self, seconds: float) -> None:
        """Until the folder changes (IDLE) or `seconds` pass; without IDLE a NOOP after sleeping."""
        if not self.idle_supported:
            time.sleep(seconds)
            self.conn.noop()
            return
        tag = self.conn._new_tag()  # imaplib has no IDLE before Python 3.14
        self.conn.send(tag + b" IDLE\r\n")
        first = self.conn.readline()
        if not first.startswith(b"+"):
            raise ImapError("MailboxUnreachable", f"IDLE refused: {_text(first).strip()}")
        sock = self.conn.socket()
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
        if pending or select.select([sock], [], [], seconds)[0]:
            self.conn.readline()  # an untagged update: something arrived or changed
        self.conn.send(b"DONE\r\n")
        while True:
            line = self.conn.readline()
            if not line:
                raise ImapError("MailboxUnreachable", "the IMAP server closed the connection during IDLE")
            if line.startswith(tag):
                return

    def abort(self) -> None:
        """From another thread: breaks a blocking wait."""
        with contextlib.suppress(OSError):
            self.conn.socket().shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.conn.logout()


def _quoted(folder: str) -> str:
    return f'"{folder}"'


def _internaldate(text: bytes) -> dt.datetime:
    return dt.datetime.strptime(text.decode().strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(dt.UTC)
