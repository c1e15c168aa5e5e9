"""``bench/load.py`` leaves the shared Redis as it found it: the keys of the
server it ran (the reference never deletes its own) go when it stops."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import load  # noqa: E402


def test_stopping_a_benchmarked_server_deletes_its_redis_keys_and_no_others(redis_url):
    server = load.ServerUnderTest(target="reference", backend="postgres-redis", workers=1, server_impl="uvicorn",
                                  slots=10, cpus=None)
    other = f"hexarena-test-{uuid.uuid4().hex[:8]}:kept"
    with redis.Redis.from_url(load.REDIS_URL) as client:
        client.set(f"{server.redis_prefix}:slots", "left by the reference")
        client.zadd(f"{server.redis_prefix}:group:watch.1", {"channel": 1})
        client.set(other, "someone else's")
        try:
            server.stop()  # never started: only the cleanup runs
            assert list(client.scan_iter(match=f"{server.redis_prefix}*")) == []
            assert client.get(other) == b"someone else's"
        finally:
            client.delete(other)
