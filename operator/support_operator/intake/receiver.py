"""The Alertmanager webhook receiver: POST /alerts with `Authorization: Bearer <token>`.

Thin: it checks the token, hands the notification to `intake.alerts.plan()` and carries out the actions
with the operator's API client. It answers 200 only once every case exists (or its conversation entry is
recorded), so a failure is a 5xx that Alertmanager retries: nothing is lost, nothing is opened twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from support_operator.api.v1alpha1 import (
    API_VERSION,
    CASE_PLURAL,
    CONTRACT_KIND,
    CONTRACT_PLURAL,
    GROUP,
    MAX_CONVERSATION,
    VERSION,
    CaseState,
    SupportContract,
)
from support_operator.intake import alerts
from support_operator.kube.events import post_event

log = logging.getLogger(__name__)
PATH = "/alerts"
MAX_BODY = 4 * 1024 * 1024  # Alertmanager sends at most max_alerts alerts; 4 MiB is thousands of them
TOKEN_KEY = "token"
TOKEN_CACHE_SECONDS = 10.0  # a rotated token is honoured within this long
ALERT_INTAKE_FAILED = "AlertIntakeFailed"  # Event reason on the contract when a case cannot be opened
WARNING_INTERVAL_SECONDS = 60.0
ALERT_RESOLVED = "AlertResolved"  # Event reason on the case when its alert group resolved


class ReceiverError(Exception):
    """A notification could not be carried out; answered with 503 so that Alertmanager retries."""


@dataclass
class TokenSource:
    """The bearer token, read from a Secret and cached briefly."""

    api: client.ApiClient
    namespace: str
    name: str
    _value: str | None = None
    _read_at: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def secret(self) -> str:
        return f"{self.namespace}/{self.name}"

    def token(self) -> str | None:
        """The token, or None when the Secret or its key is missing (every request is refused then)."""
        with self._lock:
            if time.monotonic() - self._read_at > TOKEN_CACHE_SECONDS:
                self._value = self._read()
                self._read_at = time.monotonic()
            return self._value

    def _read(self) -> str | None:
        try:
            secret = client.CoreV1Api(self.api).read_namespaced_secret(self.name, self.namespace)
        except ApiException as error:
            log.error(
                "alert receiver: cannot read Secret %s (%s): refusing notifications",
                self.secret,
                error.reason,
            )
            return None
        encoded = (secret.data or {}).get(TOKEN_KEY)
        if not encoded:
            log.error(
                "alert receiver: Secret %s has no key %r: refusing notifications", self.secret, TOKEN_KEY
            )
            return None
        return base64.b64decode(encoded).decode().strip()


def authorized(header: str | None, token: str | None) -> bool:
    """Constant-time comparison of `Authorization: Bearer <token>`; never true without a token."""
    if not token or not header:
        return False
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


@dataclass
class AlertIntake:
    """Carries out the plan for one notification against the API server."""

    api: client.ApiClient
    metrics: ReceiverMetrics
    _warned: dict[str, float] = field(default_factory=dict)  # message -> when its Event was last posted
    _warned_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def objects(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def handle(self, notification: alerts.Notification) -> list[str]:
        """The cases the notification concerned (namespace/name)."""
        touched = []
        for action in alerts.plan(notification, self._contracts()):
            if isinstance(action, alerts.OpenCase):
                touched.append(self._open(action))
            else:
                found = self._record(action)
                if found:
                    touched.append(found)
        return touched

    def _contracts(self) -> Iterable[SupportContract]:
        try:
            listed = self.objects.list_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL)
        except ApiException as error:
            raise ReceiverError(f"cannot list SupportContracts: {error.status} {error.reason}") from None
        for item in listed.get("items", []):
            try:
                yield SupportContract.from_k8s({"kind": "SupportContract", **item})
            except ValidationError:
                continue  # the reconciler reports an unreadable contract on the contract itself

    def _open(self, action: alerts.OpenCase) -> str:
        for name in action.names:
            existing = self._get(action.namespace, name)
            if existing is None:
                created = self._create(action, name)
                if created is not None:
                    return f"{action.namespace}/{name}"
                existing = self._get(action.namespace, name)  # lost a race: somebody created it meanwhile
            if existing is not None and not _closed_before(existing, action):
                return f"{action.namespace}/{name}"
        raise ReceiverError(
            f"alert group of {action.contract} was closed {len(action.names)} times: no name left"
        )

    def _create(self, action: alerts.OpenCase, name: str) -> dict[str, Any] | None:
        body = {**action.body, "metadata": {**action.body["metadata"], "name": name}}
        try:
            created: dict[str, Any] = self.objects.create_namespaced_custom_object(
                GROUP, VERSION, action.namespace, CASE_PLURAL, body
            )
        except ApiException as error:
            if error.status == 409:
                return None
            message = f"cannot open case {action.namespace}/{name} for an alert group: {_message(error)}"
            # Visible where the contract's owner looks; Alertmanager retries the notification meanwhile.
            self._warn(action.contract, message)
            raise ReceiverError(message) from None
        self.metrics.cases_opened.inc()
        log.info("alert group %s opened case %s/%s", action.group[:12], action.namespace, name)
        return created

    def _warn(self, contract: str, message: str) -> None:
        """A Warning Event on the contract, at most once a minute per message: Alertmanager's retries of
        the same notification must not flood the Events."""
        with self._warned_lock:
            now = time.monotonic()
            if now - self._warned.get(message, float("-inf")) < WARNING_INTERVAL_SECONDS:
                return
            self._warned[message] = now
        obj = {"apiVersion": API_VERSION, "kind": CONTRACT_KIND, "metadata": {"name": contract}}
        post_event(self.api, obj, "Warning", ALERT_INTAKE_FAILED, message)

    def _record(self, action: alerts.RecordResolution, attempts: int = 5) -> str | None:
        """Adds the entry to the group's open case (the last one that exists); none open: nothing."""
        case = self._current_case(action)
        for _ in range(attempts):
            if case is None:
                return None
            metadata = case["metadata"]
            conversation = (case.get("status") or {}).get("conversation") or []
            updated = alerts.append_entry(conversation, action.entry, MAX_CONVERSATION)
            if updated is None:
                return f"{metadata['namespace']}/{metadata['name']}"
            patch = {
                "metadata": {"resourceVersion": metadata["resourceVersion"]},
                "status": {"conversation": updated},
            }
            try:
                self.objects.patch_namespaced_custom_object_status(
                    GROUP, VERSION, metadata["namespace"], CASE_PLURAL, metadata["name"], patch
                )
            except ApiException as error:
                if error.status != 409:
                    raise ReceiverError(f"cannot record the resolution: {_message(error)}") from None
                case = self._get(metadata["namespace"], metadata["name"])
                continue
            post_event(self.api, case, "Normal", ALERT_RESOLVED, action.entry.subject)
            return f"{metadata['namespace']}/{metadata['name']}"
        raise ReceiverError("cannot record the resolution: the case kept changing")

    def _current_case(self, action: alerts.RecordResolution) -> dict[str, Any] | None:
        latest = None
        for name in action.names:
            found = self._get(action.namespace, name)
            if found is None:
                break
            latest = found
        if latest is None or latest.get("spec", {}).get("state") == CaseState.CLOSED.value:
            return None
        return latest

    def _get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.objects.get_namespaced_custom_object(
                GROUP, VERSION, namespace, CASE_PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise ReceiverError(f"cannot read case {namespace}/{name}: {_message(error)}") from None
        return found


def _closed_before(case: dict[str, Any], action: alerts.OpenCase) -> bool:
    """Whether `case` is Closed and this firing is news to it (so it opens the next follow-up)."""
    if case.get("spec", {}).get("state") != CaseState.CLOSED.value:
        return False
    closed_at = (case.get("status") or {}).get("closedAt")
    return action.reopens(dt.datetime.fromisoformat(closed_at) if closed_at else None)


def _message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body)["message"])
    except (ValueError, TypeError, KeyError):
        return f"{error.status} {error.reason}"


class ReceiverMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "support_operator_alert_notifications",
            "Alertmanager webhook requests by result (accepted, unauthorized, invalid, failed).",
            ["result"],
            registry=registry,
        )
        self.cases_opened = Counter(
            "support_operator_alert_cases_opened", "Cases opened by alert groups.", registry=registry
        )
        for result in ("accepted", "unauthorized", "invalid", "failed"):
            self.notifications.labels(result=result)


def _handler(tokens: TokenSource, intake: AlertIntake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "support-operator-alert-receiver"

        def do_POST(self) -> None:
            if self.path.split("?")[0] != PATH:
                return self._answer(HTTPStatus.NOT_FOUND, f"POST alerts to {PATH}")
            if not authorized(self.headers.get("Authorization"), tokens.token()):
                intake.metrics.notifications.labels(result="unauthorized").inc()
                return self._answer(HTTPStatus.UNAUTHORIZED, "a valid bearer token is required")
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                intake.metrics.notifications.labels(result="invalid").inc()
                return self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_BODY} bytes")
            try:
                notification = alerts.parse_notification(json.loads(self.rfile.read(length) or b"null"))
            except (ValueError, alerts.NotificationError) as error:
                intake.metrics.notifications.labels(result="invalid").inc()
                return self._answer(HTTPStatus.BAD_REQUEST, str(error))
            try:
                cases = intake.handle(notification)
            except (ReceiverError, ApiException) as error:
                log.error("alert receiver: %s", error)
                intake.metrics.notifications.labels(result="failed").inc()
                return self._answer(HTTPStatus.SERVICE_UNAVAILABLE, str(error))
            intake.metrics.notifications.labels(result="accepted").inc()
            self._answer(HTTPStatus.OK, json.dumps({"cases": cases}), "application/json")

        def do_GET(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, f"POST Alertmanager webhook notifications to {PATH}")

        def _answer(
            self, status: HTTPStatus, text: str, content_type: str = "text/plain; charset=utf-8"
        ) -> None:
            body = (text + "\n").encode()
            self.send_response(status)
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", 'Bearer realm="support-operator"')
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("alert receiver: " + format, *args)

    return Handler


def start_alert_receiver(
    port: int,
    addr: str,
    api: client.ApiClient,
    token_secret: tuple[str, str],
    registry: CollectorRegistry,
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serves the receiver on http://addr:port/alerts from a daemon thread."""
    tokens = TokenSource(api, *token_secret)
    intake = AlertIntake(api, ReceiverMetrics(registry))
    server = ThreadingHTTPServer((addr, port), _handler(tokens, intake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="alert-receiver", daemon=True)
    thread.start()
    return server, thread
