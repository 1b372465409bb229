"""All Kopf decorators in one place. Handlers are thin: they hand watch events to the Reconciler."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, cast

import kopf
from kubernetes.client.rest import ApiException

from support_operator.access.plan import PlatformTraits
from support_operator.access.provisioner import OPENSHIFT_USER_GROUP, Provisioner
from support_operator.api.v1alpha1 import CASE_PLURAL, CONTRACT_PLURAL, GROUP, STATEMENT_PLURAL, VERSION
from support_operator.config import OperatorConfig
from support_operator.controllers.reconciler import Reconciler
from support_operator.kube.client import new_api_client, replica_identity
from support_operator.kube.fencing import fence_api_client
from support_operator.kube.platform import RANCHER_GROUP, detect_platform, served_groups
from support_operator.observability import collector as sla_metrics
from support_operator.observability.health import Health
from support_operator.observability.metrics import OperatorMetrics

log = logging.getLogger(__name__)
ANNOTATION_PREFIX = GROUP


# Kopf retries a failed startup handler after 60 s by default: an operator started while the API server is
# unreachable would idle for a minute after it is back. Its API requests retry on connection errors and 5xx
# with these pauses (Kopf's default grows to 21 s, which delays recovery by as much).
STARTUP_RETRY_SECONDS = 1.0
API_ERROR_BACKOFFS = (0.5, 1.0, 1.0, *([2.0] * 150))  # about five minutes of retries, at most 2 s apart


class Runtime:
    """Process-wide state: set by `controllers.register()` and `runtime.run_operator()` before Kopf starts."""

    config = OperatorConfig()
    metrics = OperatorMetrics()
    reconciler: Reconciler | None = None
    health = Health()
    leading: Callable[[], bool] = staticmethod(lambda: True)  # no election: this process leads
    may_write: Callable[[], bool] = staticmethod(lambda: True)


async def lead() -> None:
    """This replica became the leader: reconcile, and serve the SLA metrics (only the leader does, so that
    alerts do not double)."""
    reconciler = Runtime.reconciler
    if reconciler is None:  # still loading: startup() leads once the initial list is in
        return
    sla_metrics.install(Runtime.metrics.registry, reconciler)
    Runtime.metrics.leader.set(1)
    Runtime.health.role = "leader"
    reconciler.activate()


async def follow() -> None:
    """This replica is (again) a standby: stop reconciling, keep the cache warm."""
    sla_metrics.install(Runtime.metrics.registry, None)
    Runtime.metrics.leader.set(0)
    Runtime.health.role = "standby"
    if Runtime.reconciler is not None:
        await Runtime.reconciler.deactivate()


def _reconciler() -> Reconciler:
    if Runtime.reconciler is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return Runtime.reconciler


@kopf.on.startup(backoff=STARTUP_RETRY_SECONDS)
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Our own prefix for anything Kopf stores on objects; Events for warnings and errors only, since the
    # reconciler posts its own Events for every transition users care about.
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATION_PREFIX)
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.error_backoffs = API_ERROR_BACKOFFS
    api = fence_api_client(new_api_client(replica_identity()), Runtime.may_write)
    try:
        platform = await asyncio.to_thread(
            detect_platform, api, dt.datetime.now(dt.UTC).replace(microsecond=0)
        )
    except ApiException as error:
        log.warning("platform detection failed (%s); the platform record stays empty", error.reason)
        platform = None
    groups = await asyncio.to_thread(served_groups, api)
    reconciler = Reconciler(
        api,
        Runtime.config,
        Runtime.metrics,
        platform,
        provisioner=Provisioner(api, Runtime.config.namespace, Runtime.config.api_server_url),
        platform_traits=PlatformTraits(
            openshift_users=OPENSHIFT_USER_GROUP[0] in groups, rancher_principals=RANCHER_GROUP in groups
        ),
        may_write=Runtime.may_write,
    )
    # SLA metrics are computed at scrape time from the reconciler's objects, once this replica leads.
    sla_metrics.install(Runtime.metrics.registry, None)
    await reconciler.start(activate=False)
    Runtime.reconciler = reconciler
    Runtime.health.mark_ready()
    Runtime.health.role = "standby"
    if Runtime.leading():
        await lead()


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else KUBECONFIG as it is *now* (the kubernetes client reads it once at
    import, before `support-operator dev` has started its control plane)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if Runtime.reconciler is not None:
        await Runtime.reconciler.stop()


@kopf.on.event(GROUP, VERSION, CONTRACT_PLURAL)
async def contract_event(event: kopf.RawEvent, **_: Any) -> None:
    _reconciler().observe_contract(event.get("type"), cast(dict[str, Any], event["object"]))


@kopf.on.event("", "v1", "namespaces")
async def namespace_event(event: kopf.RawEvent, **_: Any) -> None:
    _reconciler().observe_namespace(event.get("type"), cast(dict[str, Any], event["object"]))


@kopf.on.event(GROUP, VERSION, CASE_PLURAL)
async def case_event(event: kopf.RawEvent, **_: Any) -> None:
    _reconciler().observe_case(event.get("type"), cast(dict[str, Any], event["object"]))


@kopf.on.event(GROUP, VERSION, STATEMENT_PLURAL)
async def statement_event(event: kopf.RawEvent, **_: Any) -> None:
    _reconciler().observe_statement(event.get("type"), cast(dict[str, Any], event["object"]))
