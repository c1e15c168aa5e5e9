"""Where the WebSocket edge runs its database work.

Channels runs ORM work on one thread per process (``database_sync_to_async``).
For PostgreSQL that is right: queries wait on the network and must not stall
the event loop. For the embedded default, one process on a local SQLite file,
a move's three statements take tens of microseconds, while the hop to that
thread and back (an executor future, a self-pipe wake-up, GIL hand-offs and
Django's connection checks around every call) cost more than the work itself
(py-spy profiles in docs/benchmarks.md). So with ``HEX_DB_INLINE``
on, the default for SQLite, service calls run directly on the event-loop
thread. They never await, so no other coroutine interleaves with a
transaction. Otherwise calls run on a pool of threads (see ``run_in_db``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

from matchmaking import group_commit
from matchmaking.hot_settings import hot

P = ParamSpec("P")
R = TypeVar("R")


_pool: ThreadPoolExecutor | None = None


@functools.cache
def database_vendor() -> str:
    """The default database's vendor ("sqlite", "postgresql"), looked up once.

    ``connection.vendor`` goes through Django's connection handler and
    asgiref's context-local storage at every use: on the move path, the
    lookups cost more than some of the move's statements (py-spy).
    """
    return connections[DEFAULT_DB_ALIAS].vendor


def run_inline(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``func`` on the event-loop thread as if no loop were running there.

    Django keeps database connections in a "thread critical" asgiref
    ``Local``. With a loop running, that is per contextvars context, so per
    task: every WebSocket connection would open (and hold) its own SQLite
    connection, about 400 KB each, and every one of the dozens of
    ``connection`` lookups in a query pays for the context machinery (13 %
    of the server's time in a profile). Without a running loop it is a plain
    thread-local: the process keeps one connection, looked up cheaply, and
    Django's guard against synchronous queries in async code has nothing to
    refuse. ``func`` never awaits, so no other coroutine can run meanwhile.

    Moves, matchmakes and leaves are committed in groups
    (``matchmaking.group_commit``); any other call commits the open group first.
    """
    loop = asyncio._get_running_loop()
    joinable = group_commit.joinable(func)
    if not joinable:
        group_commit.flush()  # it sees (and may lock) what the moves so far wrote
    asyncio._set_running_loop(None)
    group_commit.loop = loop if joinable else None  # only a joinable call may write into a batch
    try:
        return func(*args, **kwargs)
    finally:
        group_commit.loop = None
        asyncio._set_running_loop(loop)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.HEX_DB_THREADS, thread_name_prefix="hex-db")
    return _pool


async def run_in_db(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run the synchronous service ``func`` where this server does database work.

    Not inline, calls go to a pool of ``HEX_DB_THREADS`` threads, each with its
    own connection, instead of Channels' single ORM thread: on PostgreSQL a
    move mostly waits for round trips and the commit's WAL flush, and one
    thread made every move of the process wait for all the others (about
    7 ms each here, so 140 moves a second). Services need no more than that:
    they already serialise on row locks, as they must across processes.
    """
    if hot("HEX_DB_INLINE"):
        return run_inline(func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor(), _in_thread, func, args, kwargs)


def _in_thread(func: Callable[..., R], args: tuple[object, ...], kwargs: dict[str, object]) -> R:
    """What Channels' ``database_sync_to_async`` does around a call, without
    asgiref's context copying and executor bookkeeping (a third of the hop's
    cost, about 15 µs per call, measured): drop connections that broke or
    aged out before and after, so a pooled thread never reuses a dead one."""
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()
