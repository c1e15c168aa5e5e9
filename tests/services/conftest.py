"""PostgreSQL + Redis for the production-shaped tests.

Locally without those services the tests skip with the reason; with
``CI=true`` a missing service is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_DSN = os.environ.get("HEX_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_URL_BASE = os.environ.get("HEX_TEST_PG_URL_BASE", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("HEX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(f"{message}; set CI=true to make this a failure")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; its URL in the reference's
    SQLAlchemy form, which the server must accept."""
    import psycopg

    name = f"hexarena_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL on 127.0.0.1:5432", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_URL_BASE}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        _unavailable("Redis on 127.0.0.1:6379", exc)
    return REDIS_URL


@pytest.fixture
def production_env(postgres_database: str, redis_url: str) -> Iterator[dict[str, str]]:
    """The environment of a server on PostgreSQL + Redis. Its Redis keys go
    afterwards: channels-redis keeps a group a day, and CI shares this Redis."""
    import redis

    prefix = f"hexarena-test-{uuid.uuid4().hex[:8]}"
    yield {
        "HEX_DATABASE_URL": postgres_database,
        "HEX_REDIS_URL": redis_url,
        "HEX_REDIS_KEY_PREFIX": prefix,
        "HEX_HEARTBEAT_INTERVAL": "0.5",
        "HEX_SWEEP_INTERVAL": "0.2",
    }
    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
