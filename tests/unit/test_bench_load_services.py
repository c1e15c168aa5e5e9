"""``bench/load.py`` samples the CPU of only the services the server under test uses."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import load  # noqa: E402


def test_our_server_on_postgresql_and_redis_is_charged_for_both():
    assert load.services_used("ours", "postgres-redis") == ("postgresql", "redis")


def test_the_reference_redis_backend_is_charged_for_redis_only():
    # It keeps nothing in PostgreSQL: that server's idle CPU divided by the
    # reference's few moves a second read as tens of µs per move.
    assert load.services_used("reference", "postgres-redis") == ("redis",)


def test_the_embedded_backends_lean_on_no_service():
    assert load.services_used("ours", "sqlite") == ()
    assert load.services_used("reference", "sqlite") == ()
