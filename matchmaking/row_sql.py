"""Model rows read and written in plain SQL, for the services' busy paths.

A matchmake, a move that ends a game and a leave each ran about ten ORM
queries, and profiling them (``bench/move_path.py``, cProfile) showed the
ORM building those queries, not SQLite running them, taking most of their
2-3 ms: on a server where every call runs on the one event loop, that time
delays every game. The services keep working with model instances; only the
trips to the database go through here:

- ``locked_slot`` reads a slot with its series and game (what
  ``select_related`` did) and locks it, ``seats_of`` reads its seats, and
  ``locked_slot_with_seats`` does both in one round trip;
- ``insert`` and ``update`` write an instance's fields as ``save`` does
  (``auto_now`` fields included, values prepared by the fields themselves);
- the few other statements are named functions below.

Columns and tables come from ``_meta``, and values pass through the same
field conversions the ORM applies, so a model change shows up here at once.
Nothing here sends signals: the arena's models have no receivers.

The statements go straight to the driver's connection (``_direct``), with
Django's error translation around them: Django's cursor wrapper (on SQLite
its placeholder rewriting by regular expression; its proxies and checks)
cost about 15 µs a statement, as much as SQLite running a primary-key
lookup, and a game end runs ten of them. Whenever Django would do more
(query logging, execute wrappers, a transaction that must roll back), the
statement goes through Django's cursor as before.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from games.models import Game, Series
from matchmaking import move_contexts
from matchmaking.models import BotToken, Seat, Slot

M = TypeVar("M", bound=Model)


class _Reader:
    """Turns a model's columns, as the database driver returns them, into an
    instance, with the converters Django's compiler would apply."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.columns = [field.column for field in self.fields]
        self.converters: list[tuple[int, list[Any], Any]] = []
        db = _db()
        for index, field in enumerate(self.fields):
            column = field.get_col(model._meta.db_table)
            found = db.ops.get_db_converters(column) + column.get_db_converters(db)
            if found:
                self.converters.append((index, found, column))

    def select_list(self, alias: str) -> str:
        return ", ".join(f"{alias}.{column}" for column in self.columns)

    def instance(self, values: Sequence[Any], db: BaseDatabaseWrapper) -> Model:
        values = list(values)
        for index, converters, column in self.converters:
            value = values[index]
            for convert in converters:
                value = convert(value, column, db)
            values[index] = value
        return self.model.from_db(DEFAULT_DB_ALIAS, None, values)


_readers: dict[tuple[str, type[Model]], _Reader] = {}


def _reader(model: type[Model]) -> _Reader:
    key = (_db().vendor, model)
    reader = _readers.get(key)
    if reader is None:
        reader = _readers[key] = _Reader(model)
    return reader


def _table(model: type[Model]) -> str:
    return model._meta.db_table


def columns(model: type[Model], *names: str) -> list[str]:
    """The database columns of ``model``'s fields ``names``: a renamed field
    fails here, loudly, instead of the SQL writing the wrong column."""
    return [model._meta.get_field(name).column for name in names]


def _column(model: type[Model], name: str) -> str:
    return columns(model, name)[0]


def _db() -> BaseDatabaseWrapper:
    """The connection itself: each use of Django's ``connection`` proxy is a lookup."""
    return connections[DEFAULT_DB_ALIAS]


def _direct(db: BaseDatabaseWrapper) -> bool:
    """A statement may skip Django's cursor wrapper: connected, and nothing
    the wrapper adds is needed (query logging for the debug toolbar and
    tests, execute wrappers, the refusal to run in a broken transaction)."""
    return db.connection is not None and not db.needs_rollback and not db.execute_wrappers and not db.queries_logged


@functools.lru_cache(maxsize=256)
def _qmark(sql: str) -> str:
    """``sql`` in the sqlite3 module's parameter style, as Django's SQLite cursor rewrites it."""
    return re.sub(r"(?<!%)%s", "?", sql).replace("%%", "%")


def _execute(sql: str, params: Sequence[Any], read: Callable[[Any], Any]) -> Any:
    """Run ``sql`` (``%s`` placeholders) and return ``read(cursor)``."""
    db = _db()
    if _direct(db):
        if db.vendor == "sqlite":
            with db.wrap_database_errors:
                return read(db.connection.execute(_qmark(sql), params))
        # psycopg: a cursor of the class Django's connection makes (client-side binding, %s placeholders).
        with db.wrap_database_errors, db.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return read(cursor)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return read(cursor)


def _all_rows(cursor: Any) -> list[tuple[Any, ...]]:
    return cursor.fetchall()


def _nothing(cursor: Any) -> None:
    return None


def _fetch(sql: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
    return _execute(sql, list(params), _all_rows)


def _run(sql: str, params: Sequence[Any]) -> None:
    _execute(sql, params, _nothing)


# Statements built once per (vendor, what), from the models' ``_meta``.
_built: dict[tuple[Any, ...], Any] = {}


def _statement(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    key = (_db().vendor, *key)
    found = _built.get(key)
    if found is None:
        found = _built[key] = build()
    return found


def _lock_clause() -> str:
    # PostgreSQL locks the slot row; SQLite's writers are serialised already.
    return " FOR UPDATE OF s" if _db().vendor == "postgresql" else ""


# -- reads ------------------------------------------------------------------------------------


def _slot_sql() -> str:
    slot_reader, series_reader, game_reader = _reader(Slot), _reader(Series), _reader(Game)
    return (
        f"SELECT {slot_reader.select_list('s')}, {series_reader.select_list('r')}, {game_reader.select_list('g')} "
        f"FROM {_table(Slot)} s LEFT JOIN {_table(Series)} r ON r.id = s.{_column(Slot, 'series')} "
        f"LEFT JOIN {_table(Game)} g ON g.id = s.{_column(Slot, 'game')} WHERE s.id = %s"
    )


def locked_slot(slot_id: int) -> Slot | None:
    """Lock slot ``slot_id`` and read it with its series and game attached
    (``slot.series`` and ``slot.game`` need no further query)."""
    if not _holds_slot_id(slot_id):
        return None
    (slot_rows,) = locked_reads(slot_id, [_statement(("slot",), _slot_sql)])
    return _locked_slot_from(slot_rows)


def locked_slot_with_seats(slot_id: int) -> tuple[Slot | None, dict[int, Seat]]:
    """``locked_slot`` and ``seats_of`` together: nearly every service needs
    both, and on PostgreSQL a round trip costs the server more than the
    rows it returns."""
    if not _holds_slot_id(slot_id):
        return None, {}
    slot_rows, seat_rows = locked_reads(slot_id, [_statement(("slot",), _slot_sql),
                                                   _statement(("seats_of",), _seats_sql)])
    slot = _locked_slot_from(slot_rows)
    return (None, {}) if slot is None else (slot, _seats_from(seat_rows))


def locked_reads(slot_id: int, reads: list[str]) -> list[list[tuple[Any, ...]]]:
    """Lock slot ``slot_id``, then run ``reads`` (each with the slot id as
    its one parameter, ``%s`` placeholders); the rows of each.

    On PostgreSQL the lock is a statement of its own, sent with the reads in
    one round trip: a statement that waited for a row lock keeps the
    snapshot it started with for every other table, so reading the slot's
    seats, series or game in the locking statement returned them as they
    were before the lock's holder changed them (a leave, a reconnect, a
    game end). SQLite serialises writers: its reads need no lock.
    """
    move_contexts.forget(slot_id)  # the caller may change it
    if _db().vendor != "postgresql":
        return [_fetch(sql, [slot_id]) for sql in reads]
    sql = "; ".join([f"SELECT id FROM {_table(Slot)} WHERE id = %s FOR UPDATE", *reads])
    return _execute(sql, [slot_id] * (len(reads) + 1), _results_after_the_first)


def _results_after_the_first(cursor: Any) -> list[list[tuple[Any, ...]]]:
    """The rows of each statement of a multi-statement query but the first."""
    results = []
    while cursor.nextset():
        results.append(cursor.fetchall())
    return results


def _holds_slot_id(slot_id: int) -> bool:
    """False for a client's number the column cannot even hold (the ORM
    answered "no such row" for those too)."""
    low, high = _db().ops.integer_field_range(Slot._meta.pk.get_internal_type())
    return low <= slot_id <= high


def _locked_slot_from(rows: list[tuple[Any, ...]]) -> Slot | None:
    if not rows:
        return None
    db = _db()
    slot_reader, series_reader, game_reader = _reader(Slot), _reader(Series), _reader(Game)
    row = rows[0]
    ends = len(slot_reader.columns), len(slot_reader.columns) + len(series_reader.columns)
    slot = slot_reader.instance(row[:ends[0]], db)
    series_values, game_values = row[ends[0]:ends[1]], row[ends[1]:]
    # Only the forward caches: the reverse ones (series.slot) would tie each
    # pair into a reference cycle for the garbage collector to find.
    Slot.series.field.set_cached_value(slot, series_reader.instance(series_values, db) if series_values[0] else None)
    Slot.game.field.set_cached_value(slot, game_reader.instance(game_values, db) if game_values[0] else None)
    return slot  # type: ignore[return-value]


def attach(slot: Slot, name: str, related: Model) -> None:
    """``slot.<name> = related`` for the one-to-one ``series`` or ``game``,
    setting the forward cache only: Django's assignment also caches the
    reverse (``related.slot``), which would tie the pair into a reference
    cycle for the garbage collector to find."""
    field = Slot._meta.get_field(name)
    setattr(slot, field.attname, related.pk)
    field.set_cached_value(slot, related)


def _seats_sql() -> str:
    return f"SELECT {_reader(Seat).select_list('se')} FROM {_table(Seat)} se WHERE se.{_column(Seat, 'slot')} = %s"


def seats_of(slot_id: int) -> dict[int, Seat]:
    """The slot's seats by player."""
    return _seats_from(_fetch(_statement(("seats_of",), _seats_sql), [slot_id]))


def _seats_from(rows: list[tuple[Any, ...]]) -> dict[int, Seat]:
    db, reader = _db(), _reader(Seat)
    seats = [reader.instance(row, db) for row in rows]
    return {seat.player: seat for seat in seats}  # type: ignore[attr-defined]


def _first_slot(where: Callable[[], str], params: Sequence[Any]) -> Slot | None:
    """Lock and read the lowest-numbered slot matching ``where()`` (SQL on
    alias ``s``), without its series or game."""
    reader = _reader(Slot)

    def build() -> str:
        return (f"SELECT {reader.select_list('s')} FROM {_table(Slot)} s WHERE {where()} ORDER BY s.id LIMIT 1"
                f"{_lock_clause()}")

    rows = _fetch(_statement(("first_slot", where), build), params)
    if not rows:
        return None
    slot = reader.instance(rows[0], _db())
    move_contexts.forget(slot.id)  # the caller seats a player there
    return slot  # type: ignore[return-value]


def _waiting_where() -> str:
    return (
        f"s.id > %s AND s.id <= %s AND s.{_column(Slot, 'state')} = %s AND s.{_column(Slot, 'board_size')} = %s "
        f"AND s.{_column(Slot, 'series_length')} = %s AND s.{_column(Slot, 'swap')} = %s "
        f"AND s.{_column(Slot, 'time_control')} = %s AND EXISTS (SELECT 1 FROM {_table(Seat)} se "
        f"WHERE se.{_column(Seat, 'slot')} = s.id AND se.{_column(Seat, 'player')} = %s "
        f"AND se.{_column(Seat, 'connected')} = %s)"
    )


def _waiting_here_where() -> str:
    return _waiting_where()[:-1] + f" AND se.{_column(Seat, 'process_id')} = %s)"


def waiting_slot(max_slot: int, board_size: int, series_length: int, swap: bool, time_control: str,
                 owner: int, after: int = 0, owner_process: str | None = None) -> Slot | None:
    """The lowest waiting slot above ``after`` with these options whose
    ``owner`` seat is connected (to server process ``owner_process``, if
    given), locked.

    On PostgreSQL the owner is checked in the statement that takes the lock,
    with that statement's snapshot: if it waited for the lock, the owner may
    have left meanwhile. Check the seats again once the lock is held."""
    params: list[Any] = [after, max_slot, Slot.State.WAITING.value, board_size, series_length, swap, time_control,
                         owner, True]
    if owner_process is None:
        return _first_slot(_waiting_where, params)
    return _first_slot(_waiting_here_where, [*params, owner_process])


def _empty_where() -> str:
    return f"s.id <= %s AND s.{_column(Slot, 'state')} = %s"


def empty_slot(max_slot: int) -> Slot | None:
    """The lowest empty slot, locked."""
    return _first_slot(_empty_where, [max_slot, Slot.State.EMPTY.value])


def slot_exists(slot_id: int) -> bool:
    return bool(_fetch(f"SELECT 1 FROM {_table(Slot)} WHERE id = %s", [slot_id]))


def connected_seats_from(client_ip: str, origin: str) -> int:
    """How many connected seats of ``origin`` the address ``client_ip`` holds."""
    (count,), = _fetch(
        f"SELECT COUNT(*) FROM {_table(Seat)} WHERE {_column(Seat, 'client_ip')} = %s "
        f"AND {_column(Seat, 'origin')} = %s AND {_column(Seat, 'connected')} = %s",
        [client_ip, origin, True],
    )
    return int(count)


def identity_reserved(model_name: str, username: str) -> bool:
    """A live bot token holds this model name and username (ignoring case,
    as ``iexact`` does)."""
    return bool(_fetch(
        f"SELECT 1 FROM {_table(BotToken)} WHERE UPPER({_column(BotToken, 'model_name')}) = UPPER(%s) "
        f"AND UPPER({_column(BotToken, 'username')}) = UPPER(%s) AND {_column(BotToken, 'revoked')} = %s LIMIT 1",
        [model_name, username, False],
    ))


def _expired_seats_sql() -> str:
    return (f"SELECT DISTINCT {_column(Seat, 'slot')} FROM {_table(Seat)} WHERE {_column(Seat, 'connected')} = %s "
            f"AND {_column(Seat, 'reconnect_deadline')} <= %s")


def slots_with_expired_seats(now: datetime) -> list[int]:
    """Slots holding a disconnected seat whose reconnect window ended by ``now``."""
    rows = _fetch(_expired_seats_sql(), [False, _db().ops.adapt_datetimefield_value(now)])
    return sorted(slot_id for (slot_id,) in rows)


def matchmaking_chores(max_slot: int, now: datetime) -> tuple[bool, list[int]]:
    """What a matchmaker must do before it looks for a slot, in one
    statement: whether slot ``max_slot`` is missing (``ensure_slots``), and
    ``slots_with_expired_seats(now)``."""
    sql = _statement(("matchmaking_chores",), lambda: (
        f"SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {_table(Slot)} WHERE id = %s) UNION ALL {_expired_seats_sql()}"))
    rows = _fetch(sql, [max_slot, False, _db().ops.adapt_datetimefield_value(now)])
    # Slot ids start at 1: a 0 says the slots are missing.
    return any(slot_id == 0 for (slot_id,) in rows), sorted(slot_id for (slot_id,) in rows if slot_id != 0)


# -- writes -----------------------------------------------------------------------------------


def _insert_sql(meta: Any, auto_pk: bool) -> tuple[list[Any], str]:
    fields = [field for field in meta.concrete_fields if not (auto_pk and field is meta.auto_field)]
    sql = (f"INSERT INTO {meta.db_table} ({', '.join(field.column for field in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    if auto_pk and _db().vendor == "postgresql":
        sql += f" RETURNING {meta.pk.column}"
    return fields, sql


def _new_pk(cursor: Any) -> Any:
    """The id of the row just inserted: returned by PostgreSQL, the last row id on SQLite."""
    return cursor.fetchone()[0] if _db().vendor == "postgresql" else cursor.lastrowid


def insert(instance: M) -> M:
    """``instance.save()`` for a new row: every field (``auto_now_add`` ones
    set now); an automatic primary key is read back."""
    meta = instance._meta
    auto_pk = meta.auto_field is not None and instance.pk is None
    fields, sql = _statement(("insert", meta.label, auto_pk), functools.partial(_insert_sql, meta, auto_pk))
    db = _db()
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection=db) for field in fields]
    new_pk = _execute(sql, values, _new_pk if auto_pk else _nothing)
    if auto_pk:
        instance.pk = new_pk
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    return instance


def _update_sql(meta: Any, names: tuple[str, ...] | None) -> tuple[list[Any], str]:
    fields = ([field for field in meta.concrete_fields if not field.primary_key] if names is None
              else [meta.get_field(name) for name in names])
    assignments = ", ".join(f"{field.column} = %s" for field in fields)
    return fields, f"UPDATE {meta.db_table} SET {assignments} WHERE {meta.pk.column} = %s"


def update(instance: Model, fields: Sequence[str] | None = None) -> None:
    """``instance.save(update_fields=fields)`` (every field when None); an
    ``auto_now`` field is written whenever the whole row is, or when named."""
    meta = instance._meta
    names = None if fields is None else tuple(fields)
    chosen, sql = _statement(("update", meta.label, names), functools.partial(_update_sql, meta, names))
    db = _db()
    values = [field.get_db_prep_save(field.pre_save(instance, False), connection=db) for field in chosen]
    values.append(instance.pk)
    _run(sql, values)


def delete_seats(slot_id: int) -> None:
    """Delete every seat of the slot (no model refers to a seat)."""
    _run(f"DELETE FROM {_table(Seat)} WHERE {_column(Seat, 'slot')} = %s", [slot_id])


def delete_seat(seat_id: int) -> None:
    _run(f"DELETE FROM {_table(Seat)} WHERE id = %s", [seat_id])
