"""A real IMAP server for tests and `support-operator dev`: hack/imap (go-imap's in-memory server with IDLE,
MOVE and XOAUTH2), built by `hack/build-tools.sh imap-server` into the cache outside the clone, or taken
from IMAP_SERVER_ASSETS. Mail lives in memory: a restart on the same port starts with empty folders."""

from __future__ import annotations

import imaplib
import os
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from support_operator.testing.controlplane import (
    ControlPlaneError,
    _die_with_parent,
    free_port,
    repo_root,
    stop_process_group,
)

BINARY = "imap-server"
FOLDERS = ("INBOX",)


class ImapServerError(ControlPlaneError):
    """The IMAP server could not be built or started; the message says why."""


def locate_imap_server() -> Path:
    """The imap-server binary; builds it if needed (needs Go)."""
    assets = os.environ.get("IMAP_SERVER_ASSETS")
    if assets:
        binary = Path(assets) / BINARY
        if not os.access(binary, os.X_OK):
            raise ImapServerError(f"IMAP_SERVER_ASSETS={assets} has no executable {BINARY}")
        return binary
    root = repo_root()
    if root is None:
        raise ImapServerError("no IMAP server: set IMAP_SERVER_ASSETS or run from a source checkout")
    result = subprocess.run(
        [str(root / "hack" / "build-tools.sh"), BINARY], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise ImapServerError("hack/build-tools.sh imap-server failed; its output above says why")
    return Path(result.stdout.strip().splitlines()[-1]) / BINARY


@dataclass
class ImapServer:
    """The server on a loopback port with one user; `stop()` and `start()` again keep the port."""

    username: str = "support"
    password: str = "intake-secret"
    oauth_token: str = "oauth-access-token"
    port: int = 0
    security: str = "none"  # none | starttls | tls (then `certificate` and `ca_file` are needed)
    certificate: tuple[Path, Path] | None = None  # cert and key files for 127.0.0.1
    ca_file: Path | None = None  # the CA that signed `certificate`, for the helpers' own connections
    binary: Path | None = None
    workdir: Path | None = None
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 20.0) -> ImapServer:
        self.binary = self.binary or locate_imap_server()
        self.port = self.port or free_port()
        self.workdir = self.workdir or Path(tempfile.mkdtemp(prefix="support-operator-imap-"))
        self._log = (self.workdir / "imap.log").open("ab")
        tls = []
        if self.security != "none":
            assert self.certificate is not None, "TLS needs a certificate"
            tls = [f"-tls-cert={self.certificate[0]}", f"-tls-key={self.certificate[1]}"]
            tls += ["-tls"] if self.security == "tls" else []
        self._process = subprocess.Popen(
            [
                str(self.binary),
                f"-listen=127.0.0.1:{self.port}",
                f"-username={self.username}",
                f"-password={self.password}",
                f"-oauth-token={self.oauth_token}",
                f"-folders={','.join(FOLDERS)}",
                *tls,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ImapServerError(f"the IMAP server exited: {self.log_text()[-2000:]}")
            try:
                self.client().logout()
                return self
            except OSError:
                time.sleep(0.1)
        raise ImapServerError(f"the IMAP server did not accept connections in {timeout:.0f} s")

    def stop(self) -> None:
        if self._process is not None:
            stop_process_group(self._process, grace=5)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        if self.workdir is None or not (self.workdir / "imap.log").exists():
            return ""
        return (self.workdir / "imap.log").read_text(errors="replace")

    def client(self) -> imaplib.IMAP4:
        context = ssl.create_default_context(cafile=self.ca_file) if self.security != "none" else None
        connection: imaplib.IMAP4
        if self.security == "tls":
            connection = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=10)
        else:
            connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
            if self.security == "starttls":
                connection.starttls(ssl_context=context)
        connection.login(self.username, self.password)
        return connection

    def append(self, raw: bytes, folder: str = "INBOX", received: float | None = None) -> None:
        """Delivers a mail as an MTA would: APPEND with an INTERNALDATE (default now)."""
        connection = self.client()
        try:
            stamp = imaplib.Time2Internaldate(received if received is not None else time.time())
            typ, data = connection.append(folder, None, stamp, raw)
            if typ != "OK":
                raise ImapServerError(f"APPEND to {folder} failed: {data!r}")
        finally:
            connection.logout()

    def messages(self, folder: str) -> list[bytes]:
        """The raw mails in `folder` (none if it does not exist)."""
        connection = self.client()
        try:
            typ, _ = connection.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = connection.uid("SEARCH", "ALL")
            found = []
            for uid in data[0].split() if data and data[0] else []:
                typ, fetched = connection.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                found += [bytes(item[1]) for item in fetched if isinstance(item, tuple)]
            return found
        finally:
            connection.logout()
