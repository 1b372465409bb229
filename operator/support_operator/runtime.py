"""Starting the operator process: metrics endpoint, Kopf with our handlers, liveness probe."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, cast

import kopf

from support_operator import controllers
from support_operator.config import OperatorConfig
from support_operator.observability.exposition import start_metrics_server

log = logging.getLogger(__name__)


def run_operator(config: OperatorConfig) -> None:
    """Blocks until SIGINT/SIGTERM. Watches the whole cluster: contracts are cluster-scoped and access
    scopes may name any namespace."""
    controllers.register(config)
    # Our own exposition: label sets prepared once per object version keep a scrape of 10,000 open cases
    # under 250 ms (prometheus-client formats every sample anew, over a second at that size).
    start_metrics_server(config.metrics_port, config.bind_address, controllers.registry())
    log.info("metrics on http://%s:%d/metrics", config.bind_address, config.metrics_port)
    if config.alert_receiver_port:
        _start_alert_receiver(config)
    kopf.run(
        identity=cast(Any, _identity()),
        standalone=True,  # one replica with strategy Recreate: no peering objects needed
        clusterwide=True,
        liveness_endpoint=f"http://{config.bind_address}:{config.liveness_port}/healthz",
    )


def _start_alert_receiver(config: OperatorConfig) -> None:
    from support_operator.intake.receiver import start_alert_receiver
    from support_operator.kube.client import new_api_client

    secret = (config.namespace, config.alert_receiver_secret)
    start_alert_receiver(
        config.alert_receiver_port, config.bind_address, new_api_client(), secret, controllers.registry()
    )
    log.info(
        "Alertmanager webhook receiver on http://%s:%d/alerts (bearer token: Secret %s/%s, key token)",
        config.bind_address,
        config.alert_receiver_port,
        *secret,
    )


def _identity() -> str:
    """Kopf names itself after the login user, which an arbitrary UID (OpenShift's restricted SCC) lacks in
    /etc/passwd: prefer the pod name (POD_ID, set by our manifests), else UID and host."""
    return os.environ.get("POD_ID") or f"support-operator-{os.getuid()}@{socket.gethostname()}"
