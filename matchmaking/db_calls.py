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
is switched off for that mode only (``hexsite.settings``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from django.conf import settings

P = ParamSpec("P")
R = TypeVar("R")


async def run_in_db(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run the synchronous service ``func`` where this server does database work."""
    if settings.HEX_DB_INLINE:
        return func(*args, **kwargs)
    return await database_sync_to_async(func)(*args, **kwargs)


class InlineDatabaseMixin:
    """For consumers: in inline mode, skip Channels' per-message connection check.

    Channels closes stale database connections before every handler with a
    trip to its ORM thread. In inline mode that thread does none of the edge's
    work, so the trip was pure cost (16 % of the server's time in a profile).
    """

    async def dispatch(self, message: dict) -> None:
        if not settings.HEX_DB_INLINE:
            await super().dispatch(message)  # type: ignore[misc]
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
