"""The two races found under fault injection (issue 13), each reproduced deterministically: the interleaving
is forced by a hook at the exact instant, not hoped for with sleeps.

1. A user's spec edit lands while the operator's own status patch of the same case is in flight: the patch
   response already carries the edit, and the edit's watch event arrives after it. The contract must still
   see the edit (here: the production incident resolved, so its elevation must go).
2. The API server goes away right after SMTP accepted the confirmation: the status write fails. The
   confirmation must be recorded once the API server is back, and never sent a second time, also not
   after a restart.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import secrets
import time
from typing import Any

import pytest
from kubernetes import client, config
from own_plane import OwnPlane, own_plane  # noqa: F401 (the fixture)
from support_resources import Resources, condition, iso
from test_confirmation_email import SmtpServer

from support_operator.access.plan import LABEL_CONTRACT, LABEL_PURPOSE
from support_operator.access.provisioner import Provisioner
from support_operator.api.v1alpha1 import CASE_PLURAL
from support_operator.config import OperatorConfig
from support_operator.controllers.manager import Manager
from support_operator.observability.metrics import OperatorMetrics
from support_operator.testing.install import OPERATOR_NAMESPACE
from support_operator.testing.wait import eventually

SCOPE = {"support.puzzle.ch/race-scope": "yes"}


def elevated_bindings(admin: client.ApiClient, namespace: str, contract: str) -> list[str]:
    listed = client.RbacAuthorizationV1Api(admin).list_namespaced_role_binding(
        namespace, label_selector=f"{LABEL_PURPOSE}=elevated,{LABEL_CONTRACT}={contract}"
    )
    return [b.metadata.name for b in listed.items]


async def until(check: Any, timeout: float, what: str) -> None:
    started = time.monotonic()
    while not await asyncio.to_thread(check):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.1)


def test_a_resolution_carried_by_our_own_patch_response_still_revokes_the_elevation(
    own_plane: OwnPlane,  # noqa: F811
) -> None:
    admin = own_plane.admin
    resources = Resources(admin)
    namespace = own_plane.namespace(SCOPE)
    contract = resources.contract(
        access={
            "mode": "Personal",
            "scope": {"namespaceSelector": {"matchLabels": SCOPE}},
            "baseRoles": ["support-readonly"],
            "elevatedRole": "edit",
            "elevationMaxDuration": "8h",
            "tokenTTL": "1h",
        }
    )["metadata"]["name"]
    operator_api = config.new_client_from_config(str(own_plane.operator_kubeconfig))
    reconciler = Manager(
        operator_api,
        OperatorConfig(),
        OperatorMetrics(),
        provisioner=Provisioner(operator_api, OPERATOR_NAMESPACE, None),
    )
    edits: list[dict[str, Any]] = []
    unhooked = reconciler.writer.patch_status

    def patch_while_the_user_resolves(metadata: dict, plural: str, patch: dict) -> dict:
        """The injected interleaving: this case's first status patch leaves only after the contract has
        elevated (so the grant exists) and after the user resolved the incident (so our response carries
        the resolution)."""
        if plural == CASE_PLURAL and metadata["name"] == "outage" and not edits:
            eventually(lambda: elevated_bindings(admin, namespace, contract), what="the elevation")
            edits.append(
                resources.patch_case(
                    namespace,
                    "outage",
                    {"state": "Resolved", "analysisStartedAt": iso(dt.datetime.now(dt.UTC))},
                )
            )
        return unhooked(metadata, plural, patch)

    reconciler.writer.patch_status = patch_while_the_user_resolves  # type: ignore[method-assign]

    async def scenario() -> None:
        await reconciler.start()
        try:
            created = resources.case(
                namespace,
                contract,
                name="outage",
                impact="Production",
                reportedAt=iso(dt.datetime.now(dt.UTC)),
            )
            reconciler.observe_case("ADDED", created)
            await until(lambda: bool(edits), 30, "the resolution during our status patch")
            # Our patch's response is stored by now; the watch events follow, oldest first, as a watch
            # delivers them: the user's edit, then our own status write.
            await until(
                lambda: reconciler.cases[(namespace, "outage")]["spec"]["state"] == "Resolved", 10, "ok"
            )
            reconciler.observe_case("MODIFIED", edits[0])
            reconciler.observe_case("MODIFIED", resources.get_case(namespace, "outage"))
            await until(
                lambda: not elevated_bindings(admin, namespace, contract), 20, "the elevation revoked"
            )
            status = resources.get_contract(contract)["status"]
            await until(
                lambda: resources.get_contract(contract)["status"]["openCases"]["total"] == 0,
                20,
                f"openCases back to 0 (now {status.get('openCases')})",
            )
        finally:
            await reconciler.stop()

    try:
        asyncio.run(scenario())
    finally:
        resources.cleanup()


class ApiServerStopper:
    """An SMTP handler decorator: kills kube-apiserver the moment the confirmation is accepted, before the
    operator can record it."""

    def __init__(self, smtp: SmtpServer, own: OwnPlane) -> None:
        self.smtp, self.own, self.stopped_at = smtp, own, 0.0
        inner = smtp.mailbox.handle_DATA

        async def handle_data(server: object, session: object, envelope: object) -> str:
            answer = await inner(server, session, envelope)
            if not self.stopped_at:
                await asyncio.to_thread(own.plane.stop_component, "kube-apiserver")
                self.stopped_at = time.monotonic()
            return answer

        smtp.mailbox.handle_DATA = handle_data  # type: ignore[method-assign]


@pytest.fixture
def smtp_server() -> Any:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def mailing_contract(resources: Resources, own: OwnPlane, smtp: SmtpServer) -> str:
    """A contract confirming by e-mail through `smtp` (its Secret in the operator's namespace)."""
    data = {"host": "127.0.0.1", "port": str(smtp.port), "security": "none"}
    secret = f"smtp-{secrets.token_hex(3)}"
    client.CoreV1Api(own.admin).create_namespaced_secret(
        OPERATOR_NAMESPACE,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=secret),
            data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        ),
    )
    notification = {
        "smtpSecretRef": {"name": secret, "namespace": OPERATOR_NAMESPACE},
        "from": "support@puzzle.ch",
    }
    return str(resources.contract(notification=notification)["metadata"]["name"])


def test_a_confirmation_accepted_while_the_api_server_goes_away_is_recorded_once_it_is_back(
    own_plane: OwnPlane,  # noqa: F811
    smtp_server: SmtpServer,
) -> None:
    resources = Resources(own_plane.admin)
    namespace = own_plane.namespace()
    contract = mailing_contract(resources, own_plane, smtp_server)
    stopper = ApiServerStopper(smtp_server, own_plane)
    operator = own_plane.operator("mail")
    operator.start()
    try:
        resources.case(
            namespace,
            contract,
            name="db-down",
            title="Database down",
            reportedAt=iso(dt.datetime.now(dt.UTC)),
        )
        eventually(
            lambda: stopper.stopped_at, timeout=60, what="the mail accepted and the API server stopped"
        )
        assert len(smtp_server.mailbox.for_case("db-down")) == 1
        time.sleep(3)  # the outage's length: the operator's status writes fail meanwhile (forced above)
        restarting = time.monotonic()
        starting = own_plane.plane.start_component("kube-apiserver")
        case = resources.wait_case(
            namespace,
            "db-down",
            lambda c: (condition(c, "Confirmed") or {}).get("status") == "True",
            timeout=60,
        )
        recorded = time.monotonic() - restarting
        print(
            f"kube-apiserver ready {starting:.1f} s after its start; "
            f"confirmation recorded {recorded:.1f} s after that start"
        )
        assert (
            case["status"]["confirmation"]["messageID"]
            == smtp_server.mailbox.for_case("db-down")[0]["Message-ID"]
        )

        operator.restart()
        generation = resources.patch_case(namespace, "db-down", {"title": "Database down (restarted)"})[
            "metadata"
        ]["generation"]
        resources.wait_case(
            namespace, "db-down", lambda c: c["status"].get("observedGeneration") == generation
        )
        assert len(smtp_server.mailbox.for_case("db-down")) == 1
        history = [h["type"] for h in resources.get_case(namespace, "db-down")["status"]["history"]]
        assert history.count("ConfirmationSent") == 1
    finally:
        operator.cleanup()
        if not own_plane.plane.component("kube-apiserver").alive():
            own_plane.plane.start_component("kube-apiserver")
        resources.cleanup()
