"""Configuration comes from the environment: URL forms and production mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hexsite.settings import database_from_url
from matchmaking.layers import blocking_read_seconds

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://hex:secret@db.example:5433/arena",
        "postgres://hex:secret@db.example:5433/arena",
        "postgresql://hex:secret@db.example:5433/arena",
    ],
)
def test_every_postgres_url_form_reaches_postgresql(url):
    config = database_from_url(url)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "arena", "hex", "secret", "db.example", 5433)
    # Connections are kept; the per-call health check (a round trip per move) is opt-in.
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is False


def test_postgres_connections_give_up_on_a_silent_network_after_the_timeout():
    options = database_from_url("postgresql://hex@db.example/arena")["OPTIONS"]
    # The default 10 s: unacknowledged data, an answer that never comes, a connection attempt.
    assert options == {"connect_timeout": 10, "tcp_user_timeout": 10000, "keepalives": 1,
                       "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def test_libpq_options_in_the_database_url_win_over_the_network_timeout():
    options = database_from_url("postgres://hex@db.example/arena?tcp_user_timeout=30000&sslmode=require")["OPTIONS"]
    assert options["tcp_user_timeout"] == 30000 and options["sslmode"] == "require"
    assert options["keepalives_idle"] == 5


@pytest.mark.parametrize(("timeout", "expected"), [
    ("0", {}),
    ("1", {"connect_timeout": 2, "tcp_user_timeout": 1000, "keepalives": 1, "keepalives_idle": 1,
           "keepalives_interval": 1, "keepalives_count": 3}),
    ("60", {"connect_timeout": 60, "tcp_user_timeout": 60000, "keepalives": 1, "keepalives_idle": 30,
            "keepalives_interval": 10, "keepalives_count": 3}),
])
def test_the_network_timeout_is_configurable_and_zero_leaves_it_to_the_system(timeout, expected):
    env = {"HEX_DATABASE_URL": "postgresql://hex@db.example/arena", "HEX_DB_NETWORK_TIMEOUT": timeout}
    result = print_settings("s.DATABASES['default']['OPTIONS']", env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


@pytest.mark.parametrize("timeout", ["-1", "0.5", "3601", "soon"])
def test_a_network_timeout_out_of_range_is_refused(timeout):
    result = print_settings("s.DATABASES", {"HEX_DATABASE_URL": "postgresql://hex@db.example/arena",
                                            "HEX_DB_NETWORK_TIMEOUT": timeout})
    assert result.returncode != 0 and "HEX_DB_NETWORK_TIMEOUT" in result.stderr


@pytest.mark.parametrize(("timeout", "socket_timeout", "retry_seconds"), [
    (None, 10.0, 30.0),  # the default
    ("4", 4.0, 12.0),
    ("120", 120.0, 360.0),
])
def test_the_redis_network_timeout_bounds_every_redis_command_and_the_retries(timeout, socket_timeout,
                                                                              retry_seconds):
    env = {"HEX_REDIS_URL": "redis://redis.example:6379/0"}
    if timeout is not None:
        env["HEX_REDIS_NETWORK_TIMEOUT"] = timeout
    result = print_settings("[s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]['socket_timeout'], "
                            "__import__('matchmaking.process_mail').process_mail.SEND_RETRY_SECONDS]", env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [socket_timeout, retry_seconds]


@pytest.mark.parametrize("timeout", ["0", "1.5", "3601", "soon"])
def test_a_redis_network_timeout_out_of_range_is_refused(timeout):
    result = print_settings("s.CHANNEL_LAYERS", {"HEX_REDIS_URL": "redis://redis.example:6379/0",
                                                 "HEX_REDIS_NETWORK_TIMEOUT": timeout})
    assert result.returncode != 0 and "HEX_REDIS_NETWORK_TIMEOUT" in result.stderr


@pytest.mark.parametrize(("socket_timeout", "expected"), [
    (None, 5), (10, 5), (60, 5), (9, 4), (4, 2), (3, 1), (2, 1),
])
def test_a_blocking_redis_read_waits_at_most_half_the_socket_timeout(socket_timeout, expected):
    assert blocking_read_seconds(socket_timeout, 5) == expected


def test_sqlite_url_gives_a_file_database_that_serialises_writers(tmp_path):
    config = database_from_url(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "x.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    # Reused between calls: reopening SQLite per move dominated its cost.
    assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is False


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    return print_settings("{'DEBUG': s.DEBUG, 'HOSTS': s.ALLOWED_HOSTS, 'SLOTS': s.HEX_MAX_SLOTS, "
                          "'TIMEOUT': s.HEX_RECONNECT_TIMEOUT, 'LAYER': s.CHANNEL_LAYERS['default']['BACKEND']}", env)


def print_settings(expression: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A fresh process with only ``env`` of the HEX_ variables prints ``expression``
    (of ``s``, the settings, and ``os``) as JSON."""
    code = ("import django, json, os; django.setup(); from django.conf import settings as s; "
            f"print(json.dumps({expression}))")
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("HEX_", "DJANGO_ALLOW")) and k != "MAX_SLOTS"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "hexsite.settings", **env})


def test_production_mode_refuses_to_start_without_secret_key_or_hosts():
    no_key = load_settings({"HEX_PRODUCTION": "1", "HEX_ALLOWED_HOSTS": "hex.example.org"})
    assert no_key.returncode != 0 and "HEX_SECRET_KEY" in no_key.stderr
    no_hosts = load_settings({"HEX_PRODUCTION": "1", "HEX_SECRET_KEY": "k" * 40})
    assert no_hosts.returncode != 0 and "HEX_ALLOWED_HOSTS" in no_hosts.stderr


def test_production_mode_turns_debug_off_and_takes_the_environment():
    result = load_settings({
        "HEX_PRODUCTION": "1", "HEX_SECRET_KEY": "k" * 40, "HEX_ALLOWED_HOSTS": "hex.example.org,arena.example.org",
        "HEX_MAX_SLOTS": "12", "HEX_RECONNECT_TIMEOUT": "7.5", "HEX_REDIS_URL": "redis://127.0.0.1:6379/3",
    })
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {"DEBUG": False, "HOSTS": ["hex.example.org", "arena.example.org"], "SLOTS": 12,
                      "TIMEOUT": 7.5, "LAYER": "matchmaking.layers.ArenaRedisChannelLayer"}


def test_reference_max_slots_name_is_honoured_and_defaults_are_embedded():
    values = json.loads(load_settings({"MAX_SLOTS": "3"}).stdout)
    assert values["SLOTS"] == 3
    assert values["DEBUG"] is False
    assert values["LAYER"] == "matchmaking.layers.ArenaInMemoryChannelLayer"


def test_debug_only_on_request_and_never_in_production():
    assert json.loads(load_settings({"HEX_DEBUG": "1"}).stdout)["DEBUG"] is True
    production = {"HEX_PRODUCTION": "1", "HEX_SECRET_KEY": "k" * 40, "HEX_ALLOWED_HOSTS": "hex.example.org"}
    assert json.loads(load_settings({**production, "HEX_DEBUG": "1"}).stdout)["DEBUG"] is False


def test_sqlite_checkpoint_interval_sets_how_far_the_committing_connection_lets_the_log_grow():
    def read(env: dict[str, str]) -> subprocess.CompletedProcess:
        return print_settings("[s.HEX_SQLITE_CHECKPOINT_INTERVAL, s.WAL_AUTOCHECKPOINT_PAGES]", env)

    assert json.loads(read({}).stdout) == [0.05, 4000]
    assert json.loads(read({"HEX_SQLITE_CHECKPOINT_INTERVAL": "0"}).stdout) == [0, 1000]  # SQLite's default
    for wrong in ("-1", "61"):
        refused = read({"HEX_SQLITE_CHECKPOINT_INTERVAL": wrong})
        assert refused.returncode != 0 and "HEX_SQLITE_CHECKPOINT_INTERVAL" in refused.stderr


def test_database_work_runs_inline_on_sqlite_and_on_threads_for_postgresql(tmp_path):
    def read(env: dict[str, str]) -> list:
        result = print_settings(
            "[s.HEX_DB_INLINE, s.HEX_DB_THREADS, os.environ.get('DJANGO_ALLOW_ASYNC_UNSAFE')]", env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert read({"HEX_DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}"}) == [True, 16, None]
    assert read({"HEX_DATABASE_URL": "postgresql://u@127.0.0.1:5432/x", "HEX_DB_THREADS": "4"}) == [False, 4, None]
    assert read({"HEX_DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}", "HEX_DB_INLINE": "0"}) == [False, 16, None]


def test_in_memory_layer_sweeps_expired_messages_at_most_once_a_second(monkeypatch):
    """Messages still expire, but receiving is not O(connections) any more."""
    import asyncio

    from matchmaking.layers import ArenaInMemoryChannelLayer

    clock = [1000.0]
    monkeypatch.setattr("matchmaking.layers.time.monotonic", lambda: clock[0])
    layer = ArenaInMemoryChannelLayer(expiry=60)
    sweeps = []
    monkeypatch.setattr("channels.layers.InMemoryChannelLayer._clean_expired", lambda self: sweeps.append(1))

    async def traffic() -> None:
        for _ in range(50):
            await layer.send("hex.one", {"type": "hex.deliver"})
            await layer.receive("hex.one")

    asyncio.run(traffic())
    assert len(sweeps) == 1
    clock[0] += 1.5
    asyncio.run(traffic())
    assert len(sweeps) == 2
