"""Group commit for the embedded default: one SQLite commit per event-loop pass.

A SQLite commit in WAL mode writes every page the transaction touched to the
log: about 45 µs per move here, more than the move's own statements, and
Django's transaction bookkeeping around it cost as much again. With database
work inline on the event loop (``HEX_DB_INLINE``), the moves that arrive in
one pass of the loop are written in one transaction instead:

- the first ordinary move of a pass opens it (``BEGIN IMMEDIATE`` on the raw
  connection) and schedules ``flush`` for the end of the pass;
- a move that fails before writing takes nothing of the others with it; one
  that fails after a write dooms the batch (see ``joined``);
- ``flush`` commits, runs the moves' commit hooks, queues their messages
  (``Batch.deliveries``, in the order the moves were written) and resolves
  ``Batch.committed``. Nothing of a move is sent before that
  (``Outbox.pending_commit``), so a broadcast move is a committed move, as
  before. If the commit fails, ``Batch.failures`` tell the movers instead.

A game end (or a clocked move), a matchmake and a leave join the batch too,
each in a savepoint of its own (``joined(alone=True)``): they open no
``atomic`` block, and committing the batch first and then themselves cost
two commits each. Any other database call first flushes the open batch
(``run_in_db``), so the rest of the code only ever sees Django's usual
autocommit connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

log = logging.getLogger(__name__)


class Batch:
    """The open transaction of one loop pass."""

    def __init__(self, raw: sqlite3.Connection, loop: asyncio.AbstractEventLoop) -> None:
        self.raw = raw
        # Resolves to None once committed, or to the exception the commit failed with.
        self.committed: asyncio.Future[BaseException | None] = loop.create_future()
        self.hooks: list[Callable[[], None]] = []
        # Queue each move's messages, in the order the moves were written (see ``deliver``).
        self.deliveries: list[Callable[[], None]] = []
        # The moves' ``created_at``, as written (``move_store``).
        self.created_at: Any = None
        # Told instead when the commit fails (``delivery.deliver_at_commit``).
        self.failures: list[Callable[[BaseException], None]] = []
        # Why the batch must be rolled back instead of committed (see ``joined``).
        self.doomed: BaseException | None = None
        # ``PRAGMA data_version`` once the batch began, read when first needed (``move_contexts``).
        self.data_version: int | None = None


# The event loop of the joinable inline call running now (``db_calls.run_inline``), else None.
loop: asyncio.AbstractEventLoop | None = None
_batch: Batch | None = None
_call_hooks: list[Callable[[], None]] | None = None  # the joined call's hooks, until it returns


def joins(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a service that may write into the open batch: ``run_in_db`` does
    not flush before calling it."""
    func.joins_group_commit = True  # type: ignore[attr-defined]
    return func


def joinable(func: Callable[..., Any]) -> bool:
    return getattr(func, "joins_group_commit", False)


def enabled() -> bool:
    """True inside a joinable inline call on SQLite: the only place a batch
    may be used. (Not in any other call, even one that runs a joinable
    service itself: it may hold an ``atomic`` block of its own, or merge the
    service's outbox into one delivered without waiting for a commit.)"""
    if loop is None:
        return False
    db = connections[DEFAULT_DB_ALIAS]
    return db.vendor == "sqlite" and not db.in_atomic_block


@contextlib.contextmanager
def joined(alone: bool = False) -> Iterator[Batch]:
    """Write inside the open batch (opening one).

    A move that fails before it wrote anything leaves the batch as it was: a
    failed SQLite statement undoes itself. One that fails after a write (an
    I/O error between a move's two statements) dooms the whole batch: it is
    rolled back at once and its moves reported like a failed commit, so
    nothing is ever half-written. Each move used to run in a savepoint of its
    own instead, two more statements on every move for a failure that never
    comes alone: a disk that refuses one write refuses the commit too.
    Whether the move wrote is SQLite's own count of changed rows.

    ``alone``: the call runs in a savepoint of its own, and one that fails is
    undone alone, as if it had had a transaction of its own. For the rarer
    calls that write several rows and may refuse their caller after writing
    (a matchmake that found no slot after noting a bot token's use, say);
    only if the savepoint cannot be rolled back is the batch doomed.
    """
    global _batch, _call_hooks
    assert loop is not None and _call_hooks is None
    batch = _batch
    if batch is None:
        connection.ensure_connection()
        raw = connection.connection
        raw.execute("BEGIN IMMEDIATE")
        batch = _batch = Batch(raw, loop)
        loop.call_soon(flush)
    changes = batch.raw.total_changes
    if alone:
        batch.raw.execute("SAVEPOINT joined_call")
    hooks: list[Callable[[], None]] = []
    _call_hooks = hooks
    try:
        yield batch
        if alone:
            batch.raw.execute("RELEASE joined_call")
    except BaseException as exc:
        _call_hooks = None
        if alone:
            try:
                batch.raw.execute("ROLLBACK TO joined_call")
                batch.raw.execute("RELEASE joined_call")
            except Exception:  # noqa: BLE001 - the batch cannot be trusted any more
                batch.doomed = exc
                flush()
        elif batch.raw.total_changes != changes:
            batch.doomed = exc
            flush()
        raise
    else:
        batch.hooks.extend(hooks)
    finally:
        _call_hooks = None


def open_batch() -> Batch | None:
    """The batch being written into now (inside ``joined``), else None."""
    return _batch if _call_hooks is not None else None


def on_commit(hook: Callable[[], None]) -> None:
    """``transaction.on_commit`` that also knows about batches."""
    if _call_hooks is not None:
        _call_hooks.append(hook)
    else:
        transaction.on_commit(hook)


def flush() -> None:
    """Commit the open batch, if any, and wake the moves waiting on it."""
    global _batch
    batch, _batch = _batch, None
    if batch is None:
        return
    failure = batch.doomed
    if failure is None:
        try:
            batch.raw.execute("COMMIT")
        except Exception as exc:  # disk full, I/O error: every move of the batch is lost, and told so
            failure = exc
    if failure is not None:
        log.error("committing %d moves failed (%s: %s)", len(batch.hooks), type(failure).__name__, failure)
        with contextlib.suppress(Exception):
            batch.raw.execute("ROLLBACK")
        told, batch.hooks, batch.deliveries, batch.failures = batch.failures, [], [], []
        for tell in told:
            try:
                tell(failure)
            except Exception:
                log.exception("telling a mover its batch failed")
        batch.committed.set_result(failure)
        return
    # Emptied before they run: the deliveries hold the moves' outboxes, which
    # hold this batch. Left as a cycle, every pass's moves waited for the
    # cyclic garbage collector, whose collections then stalled the loop for
    # 20-45 ms each (bench/load.py, 200 games at 50 ms).
    hooks, batch.hooks, batch.deliveries, batch.failures = batch.hooks + batch.deliveries, [], [], []
    for hook in hooks:
        try:
            hook()
        except Exception:  # one broken delivery must not keep the others' moves from their players
            log.exception("after committing a batch of moves")
    batch.committed.set_result(None)


class CommitFailedError(Exception):
    """A move was applied but its batch could not be committed."""


async def committed(batch: Batch) -> None:
    """Wait for a batch's commit; raise ``CommitFailedError`` if it failed."""
    failure = await batch.committed
    if failure is not None:
        raise CommitFailedError(str(failure)) from failure
