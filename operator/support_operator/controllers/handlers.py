"""All Kopf decorators in one place. Handlers are thin: they hand watch events to the Manager, which Kopf's
memo carries (controllers/wiring.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, cast

import kopf
from kubernetes.client.rest import ApiException

from support_operator.access.plan import PlatformTraits
from support_operator.access.provisioner import OPENSHIFT_USER_GROUP, Provisioner
from support_operator.api.v1alpha1 import CASE_PLURAL, CONTRACT_PLURAL, GROUP, STATEMENT_PLURAL, VERSION
from support_operator.controllers.manager import Manager
from support_operator.controllers.wiring import Wiring
from support_operator.kube.client import new_api_client, replica_identity
from support_operator.kube.fencing import fence_api_client
from support_operator.kube.platform import RANCHER_GROUP, detect_platform, served_groups
from support_operator.observability import collector as sla_metrics

log = logging.getLogger(__name__)
ANNOTATION_PREFIX = GROUP


# Kopf retries a failed startup handler after 60 s by default: an operator started while the API server is
# unreachable would idle for a minute after it is back. Its API requests retry on connection errors and 5xx
# with these pauses (Kopf's default grows to 21 s, which delays recovery by as much).
STARTUP_RETRY_SECONDS = 1.0
API_ERROR_BACKOFFS = (0.5, 1.0, 1.0, *([2.0] * 150))  # about five minutes of retries, at most 2 s apart


def wiring(memo: Any) -> Wiring:
    """Ours, from Kopf's memo (runtime.run_operator puts it there)."""
    found = getattr(memo, "wiring", None)
    assert isinstance(found, Wiring), "kopf.operator(memo=kopf.Memo(wiring=...)) first"
    return found


async def lead(wired: Wiring) -> None:
    """This replica became the leader: reconcile, and serve the SLA metrics (only the leader does, so that
    alerts do not double)."""
    manager = wired.manager
    if manager is None:  # still loading: startup() leads once the initial list is in
        return
    sla_metrics.install(wired.metrics.registry, manager)
    wired.metrics.leader.set(1)
    wired.health.role = "leader"
    manager.activate()


async def follow(wired: Wiring) -> None:
    """This replica is (again) a standby: stop reconciling, keep the cache warm."""
    sla_metrics.install(wired.metrics.registry, None)
    wired.metrics.leader.set(0)
    wired.health.role = "standby"
    if wired.manager is not None:
        await wired.manager.deactivate()


def _manager(memo: Any) -> Manager:
    manager = wiring(memo).manager
    if manager is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return manager


@kopf.on.startup(backoff=STARTUP_RETRY_SECONDS)
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Our own prefix for anything Kopf stores on objects; Events for warnings and errors only, since the
    # reconciler posts its own Events for every transition users care about.
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATION_PREFIX)
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.error_backoffs = API_ERROR_BACKOFFS
    wired = wiring(memo)
    api = fence_api_client(new_api_client(replica_identity()), wired.may_write)
    try:
        platform = await asyncio.to_thread(
            detect_platform, api, dt.datetime.now(dt.UTC).replace(microsecond=0)
        )
    except ApiException as error:
        log.warning("platform detection failed (%s); the platform record stays empty", error.reason)
        platform = None
    groups = await asyncio.to_thread(served_groups, api)
    manager = Manager(
        api,
        wired.config,
        wired.metrics,
        platform,
        provisioner=Provisioner(
            api,
            wired.config.namespace,
            wired.config.api_server_url,
            requests_total=wired.metrics.access_requests,
        ),
        platform_traits=PlatformTraits(
            openshift_users=OPENSHIFT_USER_GROUP[0] in groups, rancher_principals=RANCHER_GROUP in groups
        ),
        may_write=wired.may_write,
    )
    # SLA metrics are computed at scrape time from the cache, once this replica leads.
    sla_metrics.install(wired.metrics.registry, None)
    await manager.start(activate=False)
    wired.manager = manager
    wired.health.mark_ready()
    wired.health.role = "standby"
    if wired.leading():
        await lead(wired)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else KUBECONFIG as it is *now* (the kubernetes client reads it once at
    import, before `support-operator dev` has started its control plane)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    if (manager := wiring(memo).manager) is not None:
        await manager.stop()


@kopf.on.event(GROUP, VERSION, CONTRACT_PLURAL)
async def contract_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    _manager(memo).observe_contract(event.get("type"), cast(dict[str, Any], event["object"]))


@kopf.on.event("", "v1", "namespaces")
async def namespace_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    _manager(memo).observe_namespace(event.get("type"), cast(dict[str, Any], event["object"]))


@kopf.on.event(GROUP, VERSION, CASE_PLURAL)
async def case_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    _manager(memo).observe_case(event.get("type"), cast(dict[str, Any], event["object"]))


@kopf.on.event(GROUP, VERSION, STATEMENT_PLURAL)
async def statement_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    _manager(memo).observe_statement(event.get("type"), cast(dict[str, Any], event["object"]))
