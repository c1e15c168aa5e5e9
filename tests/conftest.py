"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer

os.environ.setdefault("HEX_TESTING", "1")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory) -> None:
    """Test database on SQLite: a file, not Django's default in-memory database.

    Django tests SQLite in a shared-cache in-memory database. Shared-cache
    SQLite uses table-level locks that ignore the busy timeout, so as soon as a
    consumer's ``database_sync_to_async`` thread and another thread touch the
    database at once, one fails with "database table is locked". A file
    database behaves like production instead: WAL, ``BEGIN IMMEDIATE`` and a
    busy timeout (see ``database_from_url`` in the settings) serialise writers
    and let readers through. The file lives in pytest's per-session (and, under
    xdist, per-worker) temporary directory. An explicit TEST NAME, or another
    engine (PostgreSQL in tests/services), is left alone.
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3" and not db.get("TEST", {}).get("NAME"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("testdb") / "test.sqlite3")


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

    def start(env: dict[str, str] | None = None, port: int | None = None, workdir: Path | None = None,
              server: str = "daphne", workers: int = 1) -> LiveServer:
        server = LiveServer(workdir or tmp_path, env=env, port=port, server=server, workers=workers)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def daphne_server(live_server_factory) -> LiveServer:
    """One real daphne server with the default configuration."""
    return live_server_factory()
