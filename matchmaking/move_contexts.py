"""The embedded default's move contexts, kept between moves.

An ordinary move reads its slot's state, game, series and seats
(``move_store.MoveContext``) in a four-table join: about 12 µs of the 150 a
move costs the server at saturation. On SQLite every move of the process
runs on the event loop's one connection, so the context a move wrote is
the context the next move of that slot would read, and ``move_store`` keeps
it here, by slot id. An entry stays current as long as nothing else changes
its slot:

- every other service locks the slot before it changes the slot, its
  seats, game or series, or its spectators (``row_sql.locked_slot``, or
  ``row_sql`` finding a waiting or empty slot), and locking drops the entry
  (``forget``);
- a commit by another connection (an admin edit, a management command)
  changes ``PRAGMA data_version``, read once per batch under the batch's
  write lock, and drops every entry, as does a new connection of the loop's;
- a move updates its entry as it writes, before the batch commits (a
  second move of the same slot in the same pass must see the first), so a
  batch that is rolled back drops every entry.
"""

from __future__ import annotations

from typing import Any

from matchmaking import group_commit

_contexts: dict[int, Any] = {}  # slot id → move_store.MoveContext
# The connection and its data_version the entries belong to. Counters of
# different connections do not compare: a new connection drops them all.
# (sqlite3 connections take no weak references; the last one is kept alive
# until the next batch, on whatever connection, replaces it.)
_read_on: list[Any] = [None, None]  # [the raw connection, its data_version]


def forget(slot_id: int) -> None:
    """The slot is about to change outside an ordinary move: read it afresh next time."""
    _contexts.pop(slot_id, None)


def forget_all() -> None:
    _contexts.clear()


def in_sqlite_batch() -> dict[int, Any] | None:
    """The kept contexts, inside the event loop's SQLite batch; else None
    (PostgreSQL, or any other transaction)."""
    batch = group_commit.open_batch()
    if batch is None:
        return None
    if batch.data_version is None:
        (batch.data_version,) = batch.raw.execute("PRAGMA data_version").fetchone()
        batch.failures.append(_rolled_back)
        raw, version = _read_on
        if raw is not batch.raw or version != batch.data_version:
            _contexts.clear()
            _read_on[:] = [batch.raw, batch.data_version]
    return _contexts


def _rolled_back(_failure: BaseException) -> None:
    _contexts.clear()
