"""A real SMTP server on loopback (aiosmtpd) keeping every message: the unit and integration tests' sink."""

from __future__ import annotations

import email
import email.policy
from email.message import Message

from aiosmtpd.controller import Controller

from support_operator.testing.controlplane import free_port


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        content = envelope.content  # type: ignore[attr-defined]
        self.messages.append(email.message_from_bytes(content, policy=email.policy.default))
        return "250 OK"

    def for_case(self, case: str) -> list[Message]:
        return [m for m in self.messages if f" {case} " in str(m["Subject"])]


class SmtpServer:
    """A real SMTP server on loopback that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
