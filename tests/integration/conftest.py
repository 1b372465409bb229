"""Fixtures for the operator's integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from support_resources import Resources

from support_operator.testing.controlplane import ControlPlaneError
from support_operator.testing.imap import ImapServer, locate_imap_server


@pytest.fixture
def resources(api_client: client.ApiClient, crds: list[str]) -> Iterator[Resources]:
    made = Resources(api_client)
    yield made
    made.cleanup()


@pytest.fixture(scope="session")
def imap_binary() -> Path:
    """hack/imap's server, built if needed; skips without Go on a user's machine, fails in CI."""
    try:
        return locate_imap_server()
    except ControlPlaneError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the IMAP test server: {error}")
        pytest.skip(f"no IMAP test server (needs Go to build hack/imap): {error}")


@pytest.fixture
def imap_server(imap_binary: Path) -> Iterator[ImapServer]:
    """A real IMAP server with empty folders on a loopback port, for one test."""
    server = ImapServer(binary=imap_binary).start()
    yield server
    server.stop()
