"""Starting the operator process: health probes, metrics endpoint, leader election, Kopf with our handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

import kopf

from support_operator.config import OperatorConfig
from support_operator.controllers.wiring import Wiring
from support_operator.kube.client import new_api_client, replica_identity
from support_operator.kube.leader import LeaderElection
from support_operator.observability.exposition import start_metrics_server
from support_operator.observability.health import heartbeat, start_health_server

log = logging.getLogger(__name__)


def run_operator(config: OperatorConfig) -> None:
    """Blocks until SIGINT/SIGTERM. Watches the whole cluster: contracts are cluster-scoped and access
    scopes may name any namespace."""
    from support_operator.controllers import handlers  # noqa: F401 (registers the Kopf handlers)

    wired = Wiring(config=config)
    # The probes answer before anything talks to the API server: liveness as soon as the loop runs.
    start_health_server(config.liveness_port, config.bind_address, wired.health)
    # Our own exposition: label sets prepared once per object version keep a scrape of 10,000 open cases
    # under 250 ms (prometheus-client formats every sample anew, over a second at that size).
    start_metrics_server(config.metrics_port, config.bind_address, wired.metrics.registry)
    log.info("metrics on http://%s:%d/metrics", config.bind_address, config.metrics_port)
    if config.alert_receiver_port:
        _start_alert_receiver(config, wired)
    asyncio.run(_operate(wired))


async def _operate(wired: Wiring) -> None:
    config = wired.config
    beating = asyncio.create_task(heartbeat(wired.health), name="heartbeat")
    election = _election(wired) if config.leader_election else None
    campaign = asyncio.create_task(election.run(), name="leader-election") if election else None
    if election is not None:
        wired.leading = lambda: election.leading
        wired.may_write = election.may_write
    try:
        await kopf.operator(
            memo=kopf.Memo(wiring=wired),
            identity=cast(Any, replica_identity()),
            standalone=True,  # Kopf's peering is no leader election: the Lease (kube/leader.py) is
            clusterwide=True,
        )
    finally:
        if election is not None and campaign is not None:
            election.stop()  # releases the Lease, so a standby need not wait for it to expire
            with contextlib.suppress(Exception):
                await asyncio.wait_for(campaign, 5)
        beating.cancel()


def _election(wired: Wiring) -> LeaderElection:
    from support_operator.controllers import handlers

    config = wired.config
    return LeaderElection(
        new_api_client(replica_identity()),
        config.namespace,
        replica_identity(),
        lease_duration=config.lease_duration_seconds,
        renew_deadline=config.renew_deadline_seconds,
        retry_period=config.retry_period_seconds,
        on_started_leading=lambda: handlers.lead(wired),
        on_stopped_leading=lambda: handlers.follow(wired),
    )


def _start_alert_receiver(config: OperatorConfig, wired: Wiring) -> None:
    from support_operator.intake.receiver import start_alert_receiver
    from support_operator.kube.client import new_api_client

    secret = (config.namespace, config.alert_receiver_secret)
    start_alert_receiver(
        config.alert_receiver_port, config.bind_address, new_api_client(), secret, wired.metrics.registry
    )
    log.info(
        "Alertmanager webhook receiver on http://%s:%d/alerts (bearer token: Secret %s/%s, key token)",
        config.bind_address,
        config.alert_receiver_port,
        *secret,
    )
