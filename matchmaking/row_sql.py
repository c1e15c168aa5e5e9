"""Model rows read and written in plain SQL, for the services' busy paths.

A matchmake, a move that ends a game and a leave each ran about ten ORM
queries, and profiling them (``bench/move_path.py``, cProfile) showed the
ORM building those queries, not SQLite running them, taking most of their
2-3 ms: on a server where every call runs on the one event loop, that time
delays every game. The services keep working with model instances; only the
trips to the database go through here:

- ``locked_slot`` reads a slot with its series and game (what
  ``select_related`` did) and locks it, ``seats_of`` reads its seats;
- ``insert`` and ``update`` write an instance's fields as ``save`` does
  (``auto_now`` fields included, values prepared by the fields themselves);
- the few other statements are named functions below.

Columns and tables come from ``_meta``, and values pass through the same
field conversions the ORM applies, so a model change shows up here at once.
Nothing here sends signals: the arena's models have no receivers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model

from games.models import Game, Series
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
        for index, field in enumerate(self.fields):
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self.converters.append((index, found, column))

    def select_list(self, alias: str) -> str:
        return ", ".join(f"{alias}.{column}" for column in self.columns)

    def instance(self, values: Sequence[Any]) -> Model:
        values = list(values)
        for index, converters, column in self.converters:
            value = values[index]
            for convert in converters:
                value = convert(value, column, connection)
            values[index] = value
        return self.model.from_db(DEFAULT_DB_ALIAS, None, values)


_readers: dict[tuple[str, type[Model]], _Reader] = {}


def _reader(model: type[Model]) -> _Reader:
    key = (connection.vendor, model)
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


def _fetch(sql: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def _lock_clause() -> str:
    # PostgreSQL locks the slot row; SQLite's writers are serialised already.
    return " FOR UPDATE OF s" if connection.vendor == "postgresql" else ""


# -- reads ------------------------------------------------------------------------------------


def locked_slot(slot_id: int) -> Slot | None:
    """Lock slot ``slot_id`` and read it with its series and game attached
    (``slot.series`` and ``slot.game`` need no further query)."""
    low, high = connection.ops.integer_field_range(Slot._meta.pk.get_internal_type())
    if not low <= slot_id <= high:
        return None  # a client's number the column cannot even hold (the ORM answered "no such row" too)
    slot_reader, series_reader, game_reader = _reader(Slot), _reader(Series), _reader(Game)
    sql = (
        f"SELECT {slot_reader.select_list('s')}, {series_reader.select_list('r')}, {game_reader.select_list('g')} "
        f"FROM {_table(Slot)} s LEFT JOIN {_table(Series)} r ON r.id = s.{_column(Slot, 'series')} "
        f"LEFT JOIN {_table(Game)} g ON g.id = s.{_column(Slot, 'game')} WHERE s.id = %s{_lock_clause()}"
    )
    rows = _fetch(sql, [slot_id])
    if not rows:
        return None
    row = rows[0]
    ends = len(slot_reader.columns), len(slot_reader.columns) + len(series_reader.columns)
    slot = slot_reader.instance(row[:ends[0]])
    series_values, game_values = row[ends[0]:ends[1]], row[ends[1]:]
    # Only the forward caches: the reverse ones (series.slot) would tie each
    # pair into a reference cycle for the garbage collector to find.
    Slot.series.field.set_cached_value(slot, series_reader.instance(series_values) if series_values[0] else None)
    Slot.game.field.set_cached_value(slot, game_reader.instance(game_values) if game_values[0] else None)
    return slot  # type: ignore[return-value]


def seats_of(slot_id: int) -> dict[int, Seat]:
    """The slot's seats by player."""
    reader = _reader(Seat)
    rows = _fetch(f"SELECT {reader.select_list('se')} FROM {_table(Seat)} se WHERE se.{_column(Seat, 'slot')} = %s",
                  [slot_id])
    seats = [reader.instance(row) for row in rows]
    return {seat.player: seat for seat in seats}  # type: ignore[attr-defined]


def first_slot(where: str, params: Sequence[Any]) -> Slot | None:
    """Lock and read the lowest-numbered slot matching ``where`` (SQL on alias
    ``s``), without its series or game."""
    reader = _reader(Slot)
    rows = _fetch(f"SELECT {reader.select_list('s')} FROM {_table(Slot)} s WHERE {where} ORDER BY s.id LIMIT 1"
                  f"{_lock_clause()}", params)
    return reader.instance(rows[0]) if rows else None  # type: ignore[return-value]


def waiting_slot(max_slot: int, board_size: int, series_length: int, swap: bool, time_control: str,
                 owner: int) -> Slot | None:
    """The lowest waiting slot with these options whose ``owner`` seat is
    connected, locked."""
    seat = _table(Seat)
    return first_slot(
        f"s.id <= %s AND s.{_column(Slot, 'state')} = %s AND s.{_column(Slot, 'board_size')} = %s "
        f"AND s.{_column(Slot, 'series_length')} = %s AND s.{_column(Slot, 'swap')} = %s "
        f"AND s.{_column(Slot, 'time_control')} = %s AND EXISTS (SELECT 1 FROM {seat} se "
        f"WHERE se.{_column(Seat, 'slot')} = s.id AND se.{_column(Seat, 'player')} = %s "
        f"AND se.{_column(Seat, 'connected')} = %s)",
        [max_slot, Slot.State.WAITING.value, board_size, series_length, swap, time_control, owner, True],
    )


def empty_slot(max_slot: int) -> Slot | None:
    """The lowest empty slot, locked."""
    return first_slot(f"s.id <= %s AND s.{_column(Slot, 'state')} = %s", [max_slot, Slot.State.EMPTY.value])


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


def slots_with_expired_seats(now: datetime) -> list[int]:
    """Slots holding a disconnected seat whose reconnect window ended by ``now``."""
    rows = _fetch(
        f"SELECT DISTINCT {_column(Seat, 'slot')} FROM {_table(Seat)} WHERE {_column(Seat, 'connected')} = %s "
        f"AND {_column(Seat, 'reconnect_deadline')} <= %s",
        [False, connection.ops.adapt_datetimefield_value(now)],
    )
    return sorted(slot_id for (slot_id,) in rows)


# -- writes -----------------------------------------------------------------------------------


def _prepared(instance: Model, field: Any, add: bool) -> Any:
    return field.get_db_prep_save(field.pre_save(instance, add), connection=connection)


def insert(instance: M) -> M:
    """``instance.save()`` for a new row: every field (``auto_now_add`` ones
    set now); an automatic primary key is read back."""
    meta = instance._meta
    auto_pk = meta.auto_field is not None and instance.pk is None
    fields = [field for field in meta.concrete_fields if not (auto_pk and field is meta.auto_field)]
    columns = ", ".join(field.column for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {meta.db_table} ({columns}) VALUES ({marks})"
    values = [_prepared(instance, field, True) for field in fields]
    with connection.cursor() as cursor:
        if auto_pk and connection.vendor == "postgresql":
            cursor.execute(sql + f" RETURNING {meta.pk.column}", values)
            instance.pk = cursor.fetchone()[0]
        else:
            cursor.execute(sql, values)
            if auto_pk:
                instance.pk = cursor.lastrowid
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    return instance


def update(instance: Model, fields: Sequence[str] | None = None) -> None:
    """``instance.save(update_fields=fields)`` (every field when None); an
    ``auto_now`` field is written whenever the whole row is, or when named."""
    meta = instance._meta
    chosen = ([field for field in meta.concrete_fields if not field.primary_key] if fields is None
              else [meta.get_field(name) for name in fields])
    assignments = ", ".join(f"{field.column} = %s" for field in chosen)
    values = [_prepared(instance, field, False) for field in chosen]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {meta.db_table} SET {assignments} WHERE {meta.pk.column} = %s", [*values, instance.pk])


def delete_seats(slot_id: int) -> None:
    """Delete every seat of the slot (no model refers to a seat)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table(Seat)} WHERE {_column(Seat, 'slot')} = %s", [slot_id])


def delete_seat(seat_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table(Seat)} WHERE id = %s", [seat_id])
