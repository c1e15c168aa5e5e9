"""Where the WebSocket edge runs its database work.

Channels runs ORM work on one thread per process (``database_sync_to_async``).
For PostgreSQL that is right: queries wait on the network and must not stall
the event loop. For the embedded default, one process on a local SQLite file,
a move's three statements take tens of microseconds, while the hop to that
thread and back (an executor future, a self-pipe wake-up, GIL hand-offs and
Django's connection checks around every call) cost more than the work itself
(py-spy profiles in the README's benchmark section). So with ``HEX_DB_INLINE``
on, the default for SQLite, service calls run directly on the event-loop
thread. They never await, so no other coroutine interleaves with a
transaction. Django's guard against synchronous queries inside an event loop
is switched off for that mode only (``hexsite.settings``). Otherwise calls
run on a pool of threads (see ``run_in_db``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from django.conf import settings

P = ParamSpec("P")
R = TypeVar("R")


_pool: ThreadPoolExecutor | None = None
# Django keeps database connections in a "thread critical" asgiref Local,
# which inside an event loop is per contextvars context, that is per task:
# every WebSocket connection would open (and hold) its own SQLite connection,
# about 400 KB each. Inline calls all run in this one context instead, so the
# process keeps a single connection. Calls never nest and never await, so
# the context is never entered twice at once.
_inline_context = contextvars.Context()


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
    if settings.HEX_DB_INLINE:
        return _inline_context.run(func, *args, **kwargs)
    call = DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())
    return await call(*args, **kwargs)


class DirectDispatchMixin:
    """For consumers: dispatch without Channels' per-message connection check.

    Channels closes stale database connections before every handler, with a
    trip to its ORM thread (16 % of the server's time in a profile). Our
    consumers do all database work through ``run_in_db``, and
    ``database_sync_to_async`` already does that check around each call (inline
    mode needs none), so the extra trip per message is skipped.
    """

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
