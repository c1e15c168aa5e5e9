"""The reads and writes of an ordinary move, in plain SQL.

A move is the arena's hot path. Profiling the server at saturation (py-spy,
see the README's benchmark section) showed the ORM's query building, not the
database, taking most of each move: four ORM queries cost about 1.5 ms of
CPU, the same statements as plain SQL well under 0.2 ms. So an ordinary move
reads its slot, game, series state and seats in one statement and writes the
move and the new position in two more, inside the caller's transaction. The
rare moves that end a game, and everything else, go through the ORM.

The statements name the ORM's tables and columns through ``_meta``, so a
renamed field fails loudly here instead of writing the wrong column.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from games import rules
from games.models import Game, Move, Series
from matchmaking.models import Seat, Slot


@dataclass(frozen=True)
class SeatRow:
    """The parts of a seat that addressing a message needs (see ``Outbox.to_seat``)."""

    id: int
    player: int
    connected: bool
    channel_name: str
    generation: int


@dataclass(frozen=True)
class MoveContext:
    """A locked slot as a move sees it."""

    slot_id: int
    state: str
    game_id: int | None
    series_id: int | None
    game_number: int
    series_winner: int | None
    time_control: str  # "" when the game has no clock
    current_turn: int | None
    winner: int | None
    move_count: int
    board_json: Any  # the stored position, decoded only when the cache misses
    seats: dict[int, SeatRow]


def _columns(model: Any, *names: str) -> list[str]:
    return [model._meta.get_field(name).column for name in names]


def _build_statements(vendor: str) -> dict[str, str]:
    # PostgreSQL: lock only the slot row, and say the JSON parameters are jsonb.
    lock, as_json = (" FOR UPDATE OF s", "::jsonb") if vendor == "postgresql" else ("", "")
    slot, game, series, seat, move = (m._meta.db_table for m in (Slot, Game, Series, Seat, Move))
    s_state, s_game, s_series = _columns(Slot, "state", "game", "series")
    g_turn, g_winner, g_count, g_board, g_last, g_number = _columns(
        Game, "current_turn", "winner", "move_count", "board", "last_move", "number")
    r_winner, r_control = _columns(Series, "winner", "time_control")
    se_slot, se_player, se_connected, se_channel, se_generation = _columns(
        Seat, "slot", "player", "connected", "channel_name", "generation")
    m_game, m_number, m_player, m_kind, m_q, m_r, m_created = _columns(
        Move, "game", "number", "player", "kind", "q", "r", "created_at")
    return {
        # The slot row is the lock every service takes; the outer joins may be empty.
        "context": (
            f"SELECT s.{s_state}, s.{s_game}, r.{r_winner}, g.{g_turn}, g.{g_winner}, g.{g_count}, g.{g_board}, "
            f"se.id, se.{se_player}, se.{se_connected}, se.{se_channel}, se.{se_generation}, "
            f"s.{s_series}, g.{g_number}, r.{r_control} "
            f"FROM {slot} s LEFT JOIN {game} g ON g.id = s.{s_game} "
            f"LEFT JOIN {series} r ON r.id = s.{s_series} "
            f"LEFT JOIN {seat} se ON se.{se_slot} = s.id WHERE s.id = %s{lock}"
        ),
        "insert_move": (
            f"INSERT INTO {move} ({m_game}, {m_number}, {m_player}, {m_kind}, {m_q}, {m_r}, {m_created}) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ),
        # PostgreSQL only: both writes in one statement, one round trip fewer.
        "insert_move_update_game": (
            f"WITH inserted AS (INSERT INTO {move} ({m_game}, {m_number}, {m_player}, {m_kind}, {m_q}, {m_r}, "
            f"{m_created}) VALUES (%s, %s, %s, %s, %s, %s, %s)) "
            f"UPDATE {game} SET {g_count} = %s, {g_board} = %s{as_json}, {g_last} = %s{as_json}, {g_turn} = %s "
            f"WHERE id = %s"
        ),
        "update_game": (
            f"UPDATE {game} SET {g_count} = %s, {g_board} = %s{as_json}, {g_last} = %s{as_json}, {g_turn} = %s "
            f"WHERE id = %s"
        ),
    }


_statements: dict[str, dict[str, str]] = {}


def _sql(name: str) -> str:
    vendor = connection.vendor
    if vendor not in _statements:
        _statements[vendor] = _build_statements(vendor)
    return _statements[vendor][name]


def _json(value: Any) -> Any:
    # SQLite hands JSON columns back as text; psycopg may already have decoded them.
    return json.loads(value) if isinstance(value, str) else value


def lock_for_move(slot_id: int) -> MoveContext | None:
    """Lock the slot and read what a move needs, or None if there is no such slot."""
    with connection.cursor() as cursor:
        cursor.execute(_sql("context"), [slot_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    state, game_id, series_winner, turn, winner, count, board = rows[0][:7]
    seats = {
        row[8]: SeatRow(id=row[7], player=row[8], connected=bool(row[9]), channel_name=row[10], generation=row[11])
        for row in rows if row[7] is not None
    }
    series_id, game_number, time_control = rows[0][12:15]
    return MoveContext(slot_id=slot_id, state=state, game_id=game_id, series_id=series_id,
                       game_number=game_number or 0, series_winner=series_winner, time_control=time_control or "",
                       current_turn=turn, winner=winner, move_count=count or 0, board_json=board, seats=seats)


# Positions this process committed last, by game id: (move count, board).
# Rebuilding a board's union-find from the stored rows on every move cost as
# much as the move's SQL. An entry is used only while its move count matches
# the database, so another process's move just means a rebuild.
_positions: OrderedDict[int, tuple[int, rules.Board]] = OrderedDict()
POSITION_CACHE_SIZE = 20_000


def forget_positions() -> None:
    """Drop every cached position (a new database: game ids start over)."""
    _positions.clear()


def board_for(context: MoveContext) -> rules.Board:
    """The position of the slot's current game. Change it only through ``place``."""
    cached = _positions.get(context.game_id)
    if cached is not None and cached[0] == context.move_count:
        return cached[1]
    return rules.Board.from_rows(_json(context.board_json))


def place(context: MoveContext, board: rules.Board, player: int, q: int, r: int) -> int | None:
    """``board.place`` that first drops the cached position: until ``record_move``
    stores the new one, a failure anywhere leaves nothing stale behind."""
    _positions.pop(context.game_id, None)
    return board.place(player, q, r)


def record_move(context: MoveContext, player: int, q: int, r: int, board: rules.Board, next_turn: int) -> None:
    """Store an ordinary move (a placement that ends nothing, in a game with no
    clock) and ``board``, the position after it."""
    number = context.move_count + 1
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    move_row = [context.game_id, number, player, Move.Kind.PLACE.value, q, r, now]
    game_row = [number, json.dumps(board.cells), json.dumps([q, r]), next_turn, context.game_id]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_sql("insert_move_update_game"), move_row + game_row)
        else:
            cursor.execute(_sql("insert_move"), move_row)
            cursor.execute(_sql("update_game"), game_row)
    # Only a committed position may be reused: after a rollback another process
    # could store a different move under the same number.
    transaction.on_commit(lambda: _remember(context.game_id, number, board))


def _remember(game_id: int, move_count: int, board: rules.Board) -> None:
    _positions[game_id] = (move_count, board)
    if len(_positions) > POSITION_CACHE_SIZE:
        _positions.popitem(last=False)
