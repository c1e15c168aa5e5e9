"""PostgreSQL move batches run on the event loop, through psycopg's async connections.

A batch on a database thread, as they ran before, cost its process
a thread hop each way and, for each of its round trips, a wait for the GIL
in a process whose core is busy: under two workers on one core, a call
waited p50 66-125 ms for its thread before running at all
(docs/benchmarks.md, fifteenth session). Here a batch's two round trips are
awaited on the event loop, on a connection of its own, and its moves are
applied between them, synchronously, as on a thread. Only the moves the
batch leaves (game ends, clocks, a slot's second move) still go to a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

from matchmaking import move_store, services
from matchmaking.db_calls import run_in_db
from matchmaking.outbox import Outbox


class LoopConnections:
    """One event loop's idle async connections: a batch takes one for its
    whole transaction and gives it back when the transaction is over."""

    def __init__(self) -> None:
        self.idle: list[psycopg.AsyncConnection[Any]] = []

    async def take(self) -> psycopg.AsyncConnection[Any]:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        return await psycopg.AsyncConnection.connect(**_connection_params())

    def give_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Keep ``conn`` if its transaction ended cleanly; otherwise close it
        (a batch cancelled or failed half-way leaves it in an unknown state)."""
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            self.idle.append(conn)
        else:
            _close_soon(conn)


def _close_soon(conn: psycopg.AsyncConnection[Any]) -> None:
    if not conn.closed:
        task = asyncio.ensure_future(conn.close())
        task.add_done_callback(lambda done: done.cancelled() or done.exception())


def _connection_params() -> dict[str, Any]:
    """Django's parameters for the default database, for an async connection
    with client-side binding (a batch sends several statements at once)."""
    params = dict(connections[DEFAULT_DB_ALIAS].get_connection_params())
    params["cursor_factory"] = psycopg.AsyncClientCursor
    params["autocommit"] = True  # the batch sends its own BEGIN with its first statements
    params.pop("prepare_threshold", None)
    return params


async def apply_moves(connections_: LoopConnections, requests: Sequence[services.MoveRequest],
                      committed: Callable[[dict[int, Outbox | Exception]], None]) -> list[Outbox | Exception]:
    """``services.apply_move`` for each of ``requests``, on PostgreSQL, in
    order: the result of each is its outbox, or the exception ``apply_move``
    would have raised.

    The ordinary moves of different slots share one transaction on one of
    ``connections_``; a move that fails is taken out of it, and takes
    nothing of the others with it. The rest run one at a time, in order, on
    a database thread once the batch has committed: a second move for a
    slot already in the batch (through ``apply_move``), and a move that ends
    its game or has a clock (through the ORM path). If the batch itself
    fails, nothing of it is written: when PostgreSQL refused it (a
    deadlock), every move is tried again on its own; when the database
    could not be reached, every move gets that error at once.

    ``committed`` is called with the batch's results by request index as
    soon as the batch has committed, when moves are left to run on their own
    afterwards: a game end through the ORM path takes milliseconds under
    load, and the batch's other moves need not wait for it.
    """
    moves = services.BatchedMoves(requests)
    if moves.batched:
        try:
            await _run_batch(connections_, moves)
        except Exception as exc:  # noqa: BLE001 - reported to every caller, or retried move by move
            failed = moves.batch_failed(exc)
            if failed is not None:
                return failed
        else:
            moves.report_committed(committed)
    if moves.remaining():
        await run_in_db(moves.apply_remaining)
    return moves.results  # type: ignore[return-value]


async def _run_batch(connections_: LoopConnections, moves: services.BatchedMoves) -> None:
    conn = await connections_.take()
    try:
        batch = await move_store.begin_batch_on_loop(conn, moves.slot_ids())
        with move_store.batch_open(batch):
            moves.apply_in(batch)
        await move_store.commit_batch_on_loop(batch)
    except psycopg.errors.InvalidSqlStatementName:
        move_store.forget_prepared(conn)  # our statements are gone: the next batch prepares them again
        raise
    finally:
        if conn.info.transaction_status in (psycopg.pq.TransactionStatus.INTRANS,
                                            psycopg.pq.TransactionStatus.INERROR):
            with contextlib.suppress(Exception):
                await conn.execute("ROLLBACK")
        connections_.give_back(conn)
