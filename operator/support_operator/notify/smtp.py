"""Sending mail over SMTP, with settings from a Kubernetes Secret (host, port, username, password, tls)."""

from __future__ import annotations

import asyncio
import functools
import smtplib
import ssl
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage


class DeliveryError(RuntimeError):
    """The mail could not be handed to the SMTP server; the message names server and cause."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    security: str = "starttls"  # starttls | tls | none
    timeout: float = 10.0

    @classmethod
    def from_secret_data(cls, data: Mapping[str, str], timeout: float = 10.0) -> SmtpSettings:
        """`data` is the decoded Secret: keys host (required), port, username, password, security."""
        if not data.get("host"):
            raise ValueError("the SMTP Secret has no 'host' key")
        security = data.get("security", "starttls").lower()
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"the SMTP Secret's 'security' must be starttls, tls or none, not {security!r}")
        try:
            port = int(data.get("port") or (465 if security == "tls" else 587))
        except ValueError as error:
            raise ValueError(f"the SMTP Secret's 'port' is not a number: {data.get('port')!r}") from error
        return cls(
            data["host"], port, data.get("username") or None, data.get("password") or None, security, timeout
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the system's CA certificates costs ~50 ms of CPU: once per process, not once per mail.
    return ssl.create_default_context()


def _send_blocking(message: EmailMessage, settings: SmtpSettings) -> None:
    context = _tls_context()
    server: smtplib.SMTP
    if settings.security == "tls":
        server = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with server:
        if settings.security == "starttls":
            server.starttls(context=context)
        if settings.username and settings.password:
            server.login(settings.username, settings.password)
        server.send_message(message)


# Mail waits on remote servers: threads of its own, so a slow relay never holds up other API work.
MAIL_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="smtp")


async def send(message: EmailMessage, settings: SmtpSettings) -> None:
    try:
        await asyncio.get_running_loop().run_in_executor(MAIL_THREADS, _send_blocking, message, settings)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"SMTP {settings.host}:{settings.port}: {error}") from error
