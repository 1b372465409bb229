"""The process's parts, built once by `runtime.run_operator` and handed to every Kopf handler in its memo:
no module-level state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from support_operator.config import OperatorConfig
from support_operator.controllers.manager import Manager
from support_operator.observability.health import Health
from support_operator.observability.metrics import OperatorMetrics


@dataclass
class Wiring:
    config: OperatorConfig = field(default_factory=OperatorConfig)
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    health: Health = field(default_factory=Health)
    manager: Manager | None = None  # set once the initial lists are in (the startup handler)
    leading: Callable[[], bool] = lambda: True  # no election: this process leads
    may_write: Callable[[], bool] = lambda: True
