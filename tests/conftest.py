"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer

os.environ.setdefault("HEX_TESTING", "1")


@pytest.fixture(autouse=True)
def _fresh_runtime() -> Iterator[None]:
    """Each test runs its own event loop: forget the per-process sweeper."""
    from matchmaking import runtime

    runtime.reset_for_tests()
    yield
    runtime.reset_for_tests()


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """Each test runs its own event loop: drop the in-memory channel layer, whose
    queues belong to the loop that first used them."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator:
    """Start real daphne servers: ``live_server_factory(env={...})``."""
    servers: list[LiveServer] = []

    def start(env: dict[str, str] | None = None, port: int | None = None, workdir: Path | None = None) -> LiveServer:
        server = LiveServer(workdir or tmp_path, env=env, port=port)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def daphne_server(live_server_factory) -> LiveServer:
    """One real daphne server with the default configuration."""
    return live_server_factory()
