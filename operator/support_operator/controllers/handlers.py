"""All Kopf decorators in one place. Handlers are thin: they hand watch events to the Reconciler."""

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
from support_operator.config import OperatorConfig
from support_operator.controllers.reconciler import Reconciler
from support_operator.kube.client import new_api_client
from support_operator.kube.platform import RANCHER_GROUP, detect_platform, served_groups
from support_operator.observability import collector as sla_metrics
from support_operator.observability.metrics import OperatorMetrics

log = logging.getLogger(__name__)
ANNOTATION_PREFIX = GROUP


class Runtime:
    """Process-wide state: set by `controllers.register()` before Kopf starts."""

    config = OperatorConfig()
    metrics = OperatorMetrics()
    reconciler: Reconciler | None = None


def _reconciler() -> Reconciler:
    if Runtime.reconciler is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return Runtime.reconciler


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Our own prefix for anything Kopf stores on objects; Events for warnings and errors only, since the
    # reconciler posts its own Events for every transition users care about.
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATION_PREFIX)
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    api = new_api_client()
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
    )
    # SLA metrics are computed at scrape time from the reconciler's objects; registered once per process.
    sla_metrics.install(Runtime.metrics.registry, reconciler)
    await reconciler.start()
    Runtime.reconciler = reconciler


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
