"""The arena's channel layers: the embedded default's in-memory one, and
channels-redis for several server processes."""

from __future__ import annotations

import functools
import socket
import struct
import time
from typing import Any

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool, ConnectionPool
from redis.asyncio.connection import Connection, SSLConnection
from redis.driver_info import DriverInfo


class ArenaInMemoryChannelLayer(InMemoryChannelLayer):
    """Channels' in-memory layer, with its expiry sweep amortised.

    The stock ``InMemoryChannelLayer`` walks every channel's queue and every
    group on each ``receive`` and ``group_send``: O(connections) work per
    message, which at 400 connections cost more than the move itself. Expired
    messages (60 s unread) are rare and harmless for a few more moments, so
    this layer sweeps at most once a second.
    """

    CLEAN_INTERVAL = 1.0
    _last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < self.CLEAN_INTERVAL:
            return
        self._last_clean = now
        super()._clean_expired()


class ArenaRedisChannelLayer(RedisChannelLayer):
    """channels-redis whose Redis connections wait for a free one instead of failing.

    redis-py's asyncio pool raises ``MaxConnectionsError`` ("Too many
    connections") as soon as 100 connections of a process are in use. That
    happened whenever hundreds of players left at once (the end of every
    ``bench/load.py`` run on PostgreSQL + Redis: about 250 failures in its
    last second): each leave's group sends and membership changes took a
    connection, and the ones past the hundredth were lost, so live pages and
    even players of another process missed events. A
    ``BlockingConnectionPool`` of the same size queues them for a connection
    instead, for up to ``pool_timeout`` seconds.

    Every connection shares one ``DriverInfo`` (what ``CLIENT SETINFO``
    reports): without one, redis-py builds its own for each new connection,
    reading the installed package's metadata from disk on the event loop,
    about 0.6 ms each on an idle machine and more under load. The pool
    grows while load runs, so that happened mid-game (a py-spy profile of a
    worker at 200 games / 50 ms caught the loop there).

    A blocking read (``BZPOPMIN``, channels-redis' and ``process_mail``'s)
    waits at most half the connections' ``socket_timeout``, so a quiet layer
    never mistakes its own wait for a silent Redis.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.brpop_timeout = blocking_read_seconds(self.hosts[0].get("socket_timeout"), self.brpop_timeout)

    def create_pool(self, index: int) -> ConnectionPool:
        host = dict(self.hosts[index])
        if "address" not in host:  # Sentinel or explicit host/port: channels-redis' own pools
            return super().create_pool(index)
        address = host.pop("address")
        host.setdefault("max_connections", 100)
        host.setdefault("driver_info", _driver_info())
        host["timeout"] = host.pop("pool_timeout", 10)  # BlockingConnectionPool's wait for a connection
        pool = BlockingConnectionPool.from_url(address, **host)
        pool.connection_class = _ABORTING.get(pool.connection_class, pool.connection_class)
        return pool


def blocking_read_seconds(socket_timeout: float | None, longest: int) -> int:
    """How long a blocking read may wait for messages: at most ``longest``
    and half of ``socket_timeout``, in whole seconds (Redis before 6.0 takes
    no fractions), and at least one."""
    if socket_timeout is None:
        return longest
    return max(1, min(longest, int(socket_timeout // 2)))


class _AbortOnClose:
    """A Redis connection whose socket, when closed, is reset at once.

    redis-py closes a connection whose command timed out. A graceful close
    leaves the command in the kernel, which goes on retransmitting it; if the
    network comes back (a partition that healed), Redis runs it late, on a
    connection nobody reads any more. Seen under a partition of the path to
    Redis: a receiver's blocking pop, closed after its timeout, took the
    messages another worker sent once the path healed, so a player who had
    reconnected meanwhile never heard of its opponent's move
    (tests/services/test_faults.py). With SO_LINGER 0 the kernel drops
    what it still holds and sends a reset instead.
    """

    _writer: Any

    async def _connect(self) -> None:
        await super()._connect()  # type: ignore[misc]
        sock = self._writer.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _AbortingConnection(_AbortOnClose, Connection):
    pass


class _AbortingSSLConnection(_AbortOnClose, SSLConnection):
    pass


_ABORTING = {Connection: _AbortingConnection, SSLConnection: _AbortingSSLConnection}


@functools.cache
def _driver_info() -> DriverInfo:
    """redis-py's default ``DriverInfo``, built (and its version read) once."""
    return DriverInfo()
