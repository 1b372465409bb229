"""Kopf adapters: watch events in, status/Events out. The logic lives in contract.py and case.py (pure)
and domain/; the work queue and state in reconciler.py."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from support_operator.config import OperatorConfig


def register(config: OperatorConfig) -> None:
    """Registers the Kopf handlers (by importing them) with this process's settings."""
    from support_operator.controllers import handlers

    handlers.Runtime.config = config


def registry() -> CollectorRegistry:
    from support_operator.controllers import handlers

    return handlers.Runtime.metrics.registry
