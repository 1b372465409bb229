"""Fixtures for the operator's integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client
from support_resources import Resources


@pytest.fixture
def resources(api_client: client.ApiClient, crds: list[str]) -> Iterator[Resources]:
    made = Resources(api_client)
    yield made
    made.cleanup()
