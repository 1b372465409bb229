"""Unit-test helpers: makes tests/reference_calendar.py importable and registers the SLA property profiles.

SLA_HYPOTHESIS_PROFILE=sla-thorough runs the SLA property tests with many more examples.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

TESTS_DIR = str(Path(__file__).resolve().parents[1])
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

settings.register_profile(
    "sla-fast", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "sla-thorough", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
