"""Starting the operator process: metrics endpoint, Kopf with our handlers, liveness probe."""

from __future__ import annotations

import logging

import kopf
import prometheus_client

from support_operator import controllers
from support_operator.config import OperatorConfig

log = logging.getLogger(__name__)


def run_operator(config: OperatorConfig) -> None:
    """Blocks until SIGINT/SIGTERM. Watches the whole cluster: contracts are cluster-scoped and access
    scopes may name any namespace."""
    controllers.register(config)
    prometheus_client.start_http_server(
        config.metrics_port, addr=config.bind_address, registry=controllers.registry()
    )
    log.info("metrics on http://%s:%d/metrics", config.bind_address, config.metrics_port)
    kopf.run(
        standalone=True,  # one replica with strategy Recreate: no peering objects needed
        clusterwide=True,
        liveness_endpoint=f"http://{config.bind_address}:{config.liveness_port}/healthz",
    )
