"""The mail catcher of `support-operator dev`: an SMTP server on loopback that keeps our confirmations as
.eml files, and a local IMAP mailbox (hack/imap) the sample contract reads for e-mail intake. Mail files put
into the drop folder are delivered into that mailbox, so a newcomer opens a case with `cp`."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import threading
import time
from pathlib import Path
from typing import Any

from support_operator.testing.controlplane import ControlPlaneError, free_port
from support_operator.testing.imap import ImapServer, locate_imap_server

log = logging.getLogger(__name__)
SMTP_SECRET = "support-smtp"  # the name crds/samples/supportcontract.yaml refers to
IMAP_SECRET = "support-imap"
SAMPLE_MAIL = """From: Petra Keller <petra.keller@acme.example>
To: support@puzzle.ch
Subject: Production: shop returns 503
Message-ID: <{stamp}@acme.example>

Since 09:00 the router answers 503 for shop.acme.ch.
"""


class _Catcher:
    """aiosmtpd handler: each mail becomes a file, and a line on the console."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{len(list(self.folder.iterdir())) + 1}.eml"
        path.write_bytes(envelope.content)
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']}\n  -> {path}", flush=True)
        return "250 OK"


class DevMail:
    def __init__(self, home: Path) -> None:
        self.sent = home / "mail" / "sent"
        self.drop = home / "mail" / "drop"
        self.smtp_port = free_port()
        self.imap: ImapServer | None = None
        self._controller: Any = None
        self._stop = threading.Event()

    def start(self) -> DevMail:
        self.sent.mkdir(parents=True, exist_ok=True)
        self.drop.mkdir(parents=True, exist_ok=True)
        try:
            from aiosmtpd.controller import Controller  # a dev dependency, as `make run` installs it
        except ImportError:
            log.warning("no mail catcher: aiosmtpd is not installed (pip install -e '.[dev]')")
        else:
            self._controller = Controller(_Catcher(self.sent), hostname="127.0.0.1", port=self.smtp_port)
            self._controller.start()
        try:
            self.imap = ImapServer(binary=locate_imap_server(), workdir=self.drop.parent).start()
        except ControlPlaneError as error:
            log.warning("no local IMAP mailbox, so no e-mail intake: %s", error)
        if self.imap is not None:
            threading.Thread(target=self._deliver_drops, name="dev-mail-drop", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._controller is not None:
            self._controller.stop()
        if self.imap is not None:
            self.imap.stop()

    def _deliver_drops(self) -> None:
        while not self._stop.wait(1.0):
            for path in sorted(self.drop.glob("*.eml")):
                try:
                    assert self.imap is not None
                    self.imap.append(path.read_bytes())
                    path.rename(path.with_suffix(".delivered"))
                    print(f"delivered {path.name} into the intake mailbox (INBOX)", flush=True)
                except OSError as error:
                    log.warning("could not deliver %s: %s", path, error)

    def secrets(self, namespace: str) -> list[dict[str, Any]]:
        smtp = {"host": "127.0.0.1", "port": str(self.smtp_port), "security": "none"}
        # Without a catcher no SMTP Secret: the Confirmed condition then names the missing Secret.
        found = [_secret(SMTP_SECRET, namespace, smtp)] if self._controller is not None else []
        if self.imap is not None:
            credentials = {"username": self.imap.username, "password": self.imap.password}
            found.append(_secret(IMAP_SECRET, namespace, credentials))
        return found

    def configure(self, contract: dict[str, Any], namespace: str) -> None:
        """Points the sample contract's intake at the local mailbox (its SMTP Secret already has our name)."""
        if self.imap is None:
            return
        contract["spec"]["intake"] = {
            "email": {
                "host": "127.0.0.1",
                "port": self.imap.port,
                "security": "none",
                "credentialsSecretRef": {"name": IMAP_SECRET, "namespace": namespace},
                "namespace": "default",
                "allowedSenders": {"domains": ["acme.example"]},
                "pollInterval": "10s",
            }
        }

    def instructions(self) -> str:
        lines = [f"Confirmation mails (SMTP 127.0.0.1:{self.smtp_port}) land in {self.sent}/"]
        if self._controller is None:
            lines = ["No mail catcher (aiosmtpd missing): confirmations fail with the missing Secret named."]
        if self.imap is None:
            lines.append(
                "E-mail intake is off: build the local mailbox with `hack/build-tools.sh imap-server`."
            )
            return "\n".join(lines)
        sample = self.drop / "example.eml.txt"
        sample.write_text(SAMPLE_MAIL.format(stamp=int(time.time())))
        lines += [
            f"Intake mailbox: IMAP 127.0.0.1:{self.imap.port}, user {self.imap.username}, "
            f"password {self.imap.password}; the sample contract acme-openshift reads its INBOX.",
            "Open a case by e-mail (the mail lands in INBOX, a case appears in namespace default):",
            f"  cp {sample} {self.drop}/first.eml",
        ]
        return "\n".join(lines)


def _secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
