"""Which platform the operator runs on: OpenShift, Rancher or plain Kubernetes, and their versions."""

from __future__ import annotations

import datetime as dt
import logging

from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.api.v1alpha1 import Distribution, PlatformRecord

log = logging.getLogger(__name__)
OPENSHIFT_GROUP = "config.openshift.io"
RANCHER_GROUP = "management.cattle.io"


def served_groups(api: client.ApiClient) -> set[str]:
    return {group.name for group in client.ApisApi(api).get_api_versions().groups}


def detect_platform(api: client.ApiClient, now: dt.datetime) -> PlatformRecord:
    groups = served_groups(api)
    version = client.VersionApi(api).get_code().git_version
    record = PlatformRecord(distribution=Distribution.KUBERNETES, kubernetes_version=version, detected_at=now)
    if OPENSHIFT_GROUP in groups:
        record.distribution = Distribution.OPENSHIFT
        record.openshift_version = _openshift_version(api)
    elif RANCHER_GROUP in groups:
        record.distribution = Distribution.RANCHER
        record.rancher_version = _rancher_version(api)
    return record


def _openshift_version(api: client.ApiClient) -> str | None:
    try:
        version = client.CustomObjectsApi(api).get_cluster_custom_object(
            OPENSHIFT_GROUP, "v1", "clusterversions", "version"
        )
    except ApiException as error:
        log.info("OpenShift ClusterVersion not readable (%s); version left empty", error.status)
        return None
    desired = version.get("status", {}).get("desired", {}) if isinstance(version, dict) else {}
    return desired.get("version")


def _rancher_version(api: client.ApiClient) -> str | None:
    try:
        setting = client.CustomObjectsApi(api).get_cluster_custom_object(
            RANCHER_GROUP, "v3", "settings", "server-version"
        )
    except ApiException as error:
        log.info("Rancher server-version setting not readable (%s); version left empty", error.status)
        return None
    return setting.get("value") if isinstance(setting, dict) else None
