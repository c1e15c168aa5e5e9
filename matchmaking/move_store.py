"""The reads and writes of an ordinary move, in plain SQL.

A move is the arena's hot path. Profiling the server at saturation (py-spy,
see docs/benchmarks.md) showed the ORM's query building, not the
database, taking most of each move: four ORM queries cost about 1.5 ms of
CPU, the same statements as plain SQL well under 0.2 ms. So an ordinary move
reads its slot, game, series state and seats in one statement and writes the
move and the new position in two more, inside the caller's transaction. The
rare moves that end a game, and everything else, go through the ORM.

The statements name the ORM's tables and columns through ``_meta``, so a
renamed field fails loudly here instead of writing the wrong column.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg
from django.db import connection
from django.utils import timezone

from games import rules
from games.models import Game, Move, Series
from matchmaking import group_commit, move_contexts, row_sql
from matchmaking.db_calls import database_vendor
from matchmaking.models import Seat, Slot


class SeatRow(NamedTuple):
    """The parts of a seat that addressing a message needs (see ``Outbox.to_seat``)."""

    id: int
    player: int
    connected: bool
    channel_name: str
    generation: int


class MoveContext(NamedTuple):
    """A locked slot as a move sees it (a tuple: a batch builds dozens at once)."""

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
    seats: dict[int, SeatRow]
    # Someone watches the slot (/ws/watch): ``Slot.spectators``, read in the
    # locked row, which a spectator's registration rewrites under the lock.
    watched: bool
    # The game's last move, [q, r] (as stored: JSON text on SQLite), or None.
    last_move: Any = None


def _build_statements(vendor: str) -> dict[str, str]:
    # PostgreSQL: say the JSON parameters are jsonb.
    as_json = "::jsonb" if vendor == "postgresql" else ""
    slot, game, series, seat, move = (m._meta.db_table for m in (Slot, Game, Series, Seat, Move))
    s_state, s_game, s_series, s_spectators = row_sql.columns(Slot, "state", "game", "series", "spectators")
    g_turn, g_winner, g_count, g_board, g_last, g_number = row_sql.columns(
        Game, "current_turn", "winner", "move_count", "board", "last_move", "number")
    r_winner, r_control = row_sql.columns(Series, "winner", "time_control")
    se_slot, se_player, se_connected, se_channel, se_generation = row_sql.columns(
        Seat, "slot", "player", "connected", "channel_name", "generation")
    m_game, m_number, m_player, m_kind, m_q, m_r, m_created = row_sql.columns(
        Move, "game", "number", "player", "kind", "q", "r", "created_at")
    context_select = (
        f"SELECT s.{s_state}, s.{s_game}, r.{r_winner}, g.{g_turn}, g.{g_winner}, g.{g_count}, "
        f"se.id, se.{se_player}, se.{se_connected}, se.{se_channel}, se.{se_generation}, "
        f"s.{s_series}, g.{g_number}, r.{r_control}, "
        f"s.{s_spectators} > 0, s.id, g.{g_last} "
        f"FROM {slot} s LEFT JOIN {game} g ON g.id = s.{s_game} "
        f"LEFT JOIN {series} r ON r.id = s.{s_series} "
        f"LEFT JOIN {seat} se ON se.{se_slot} = s.id "
    )
    statements = {
        # The outer joins may be empty. On PostgreSQL the slot is locked first
        # (``row_sql.locked_reads``, ``lock_slots``), in a statement of its own: one that
        # waited for the lock keeps its snapshot for every other table, and
        # would read the seats, game and series as they were before the lock's
        # holder changed them (a player reconnected: the move went to the
        # connection that had gone).
        "context": f"{context_select}WHERE s.id = %s",
        "board": f"SELECT {g_board} FROM {game} WHERE id = %s",
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
    if vendor == "postgresql":
        # The slot row is the lock every service takes. A batch of moves
        # (``postgres_batch``) locks its slots in id order, so two batches
        # never wait for each other in a cycle.
        statements["lock_slots"] = f"SELECT id FROM {slot} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE"
        statements["contexts"] = f"{context_select}WHERE s.id = ANY(%s::bigint[])"
        statements["boards"] = f"SELECT id, {g_board} FROM {game} WHERE id = ANY(%s::bigint[])"
        # The batch's moves arrive as one JSON text: psycopg binding arrays
        # element by element in Python cost more than the rest of the batch.
        # The position is changed in place, so the board is not sent at all.
        record = ", ".join(f"{key} {kind}" for key, kind in zip(
            ("game", "number", "player", "kind", "q", "r"),
            _types(Move, "game", "number", "player", "kind", "q", "r"), strict=True))
        statements["write_moves"] = (
            f"WITH v AS (SELECT * FROM json_to_recordset(%s::json) AS v({record}, turn integer)), "
            f"inserted AS (INSERT INTO {move} ({m_game}, {m_number}, {m_player}, {m_kind}, {m_q}, {m_r}, "
            f"{m_created}) SELECT game, number, player, kind, q, r, clock_timestamp() FROM v) "
            f"UPDATE {game} g SET {g_count} = v.number, "
            f"{g_board} = jsonb_set(g.{g_board}, ARRAY[v.r::text, v.q::text], to_jsonb(v.player)), "
            f"{g_last} = jsonb_build_array(v.q, v.r), {g_turn} = v.turn FROM v WHERE g.id = v.game"
        )
    return statements


def _types(model: type[Any], *names: str) -> list[str]:
    """The PostgreSQL column types of ``model``'s fields ``names``."""
    return [model._meta.get_field(name).db_type(connection) for name in names]


_statements: dict[str, dict[str, str]] = {}
# The SQLite statements in the sqlite3 module's own parameter style, for
# writing on the raw connection of a group commit.
_raw_statements: dict[str, str] = {}


def _sql(name: str) -> str:
    vendor = connection.vendor
    if vendor not in _statements:
        _statements[vendor] = _build_statements(vendor)
    return _statements[vendor][name]


# Per thread: on PostgreSQL, batches of moves run on several threads at once.
_postgres_moves = threading.local()

# The batch statements PostgreSQL keeps prepared, per connection (``PREPARE``
# lasts as long as the database session, so a reconnect prepares again):
# planning the read's four-table join took PostgreSQL about 150 µs a time,
# more than running it, and PostgreSQL shares the machine's cores with the server.
_PREPARED = ("lock_slots", "contexts", "boards", "write_moves")
_prepared_on: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


# Every move statement looks rows up by key, so their plans should be index
# lookups whatever the tables' sizes. A prepared statement keeps the plan
# PostgreSQL made for it, and a new arena's tables are tiny: the plans made
# then scanned and hashed the whole games table, which grows by a row per
# game and a dead version per move until vacuumed. That was a third of
# PostgreSQL's time per move under load (perf). The settings last until the
# transaction ends and apply to whatever these statements plan meanwhile.
# And they use the plan made once: with their parameters as arrays of ids,
# PostgreSQL never switched the reads to a generic plan on its own
# (``pg_prepared_statements``: custom plans only), so it planned the
# four-table read of every batch afresh, 0.13-0.3 ms each.
_BEGIN = ("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
          "SET LOCAL plan_cache_mode = force_generic_plan; ")


def _prepare(raw: Any) -> None:
    """Prepare the move statements on the raw connection ``raw``, once."""
    if raw in _prepared_on:
        return
    with raw.cursor() as cursor:
        cursor.execute(_prepare_statements())
    _prepared_on[raw] = True


def _prepare_statements() -> str:
    return "; ".join(f"PREPARE hex_{name} AS {_numbered(_sql(name))}" for name in _PREPARED)


def forget_prepared(raw: Any) -> None:
    """Our statements are gone from ``raw`` (a DISCARD ALL, a pooler that
    switched sessions): the next batch prepares them again."""
    _prepared_on.pop(raw, None)


def _numbered(sql: str) -> str:
    """``sql`` with its ``%s`` placeholders as PREPARE's ``$1``, ``$2``, ..."""
    count = iter(range(1, sql.count("%s") + 1))
    return re.sub("%s", lambda _: f"${next(count)}", sql)


def _executed(name: str, params: list[Any]) -> str:
    """The prepared statement ``name``, run with ``params`` (bound by psycopg)."""
    return f"EXECUTE hex_{name}({', '.join(['%s'] * len(params))})"


class BoardNotReadError(Exception):
    """A batch on the event loop needs a board it did not read with its
    contexts (evicted from the cache since): the move takes the ORM path."""


class PostgresBatch:
    """Ordinary moves of several slots in one PostgreSQL transaction.

    Each move as a transaction of its own cost PostgreSQL about 290 µs of CPU
    (and the server as much again): two round trips and a commit, each with
    its statement overhead, its loopback sends and the commit's WAL flush,
    with two rows of work in them. A batch locks all its slots and reads
    their contexts in one round trip, writes all its moves and positions in
    one more with ``COMMIT``, and flushes the WAL once. ``BEGIN`` travels with
    the lock and the read, ``COMMIT`` with the write: several statements in
    one simple query, which psycopg's client-side binding allows. A single
    move outside the server's batching (``services.apply_move``) is a batch
    of one.

    While a batch is open on a thread, ``lock_for_move``, ``position_for``
    and ``record_move`` use it instead of running statements of their own.
    """

    def __init__(self, raw: Any, on_loop: bool = False) -> None:
        self.raw = raw
        self.on_loop = on_loop  # on an async connection: no statement may run between its round trips
        self.contexts: dict[int, MoveContext] = {}
        self.boards: dict[int, Any] = {}  # stored boards of the games whose position is not cached
        self.moves: list[dict[str, Any]] = []  # a record of the write_moves statement per move
        self.hooks: list[Callable[[], None]] = []

    def mark(self) -> tuple[int, int]:
        """Where the writes stand now, to ``undo`` a move that failed half-way."""
        return len(self.moves), len(self.hooks)

    def undo(self, mark: tuple[int, int]) -> None:
        del self.moves[mark[0]:], self.hooks[mark[1]:]

    def read_contexts(self, rows: list[tuple[Any, ...]]) -> list[int]:
        """Keep the contexts read (rows of the contexts statement); return
        the ids of their games whose position is not cached."""
        by_slot: dict[int, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_slot.setdefault(row[15], []).append(row)  # column 15: the slot id
        self.contexts = {slot_id: _context(slot_id, slot_rows) for slot_id, slot_rows in by_slot.items()}
        return [context.game_id for context in self.contexts.values()
                if context.game_id is not None and _cached_position(context) is None]

    def write_and_commit(self) -> tuple[str, list[Any] | None]:
        """The statement (and its parameters) that writes the moves and commits."""
        if not self.moves:
            return "COMMIT", None
        params = [json.dumps(self.moves)]
        return _executed("write_moves", params) + "; COMMIT", params

    def committed(self) -> None:
        for hook in self.hooks:
            hook()


@contextlib.contextmanager
def postgres_batch(slot_ids: list[int]) -> Iterator[PostgresBatch]:
    """Lock the slots ``slot_ids`` and read their move contexts; on leaving,
    write the moves recorded meanwhile and commit, in one round trip.

    Outside any transaction. An exception rolls everything back, and nothing
    of the batch is written.
    """
    assert connection.vendor == "postgresql" and not connection.in_atomic_block
    assert _batch() is None
    connection.ensure_connection()
    raw = connection.connection
    _prepare(raw)
    batch = PostgresBatch(raw)
    begun = finished = False
    try:
        with raw.cursor() as cursor:
            begun = True
            ids = [_id_array(slot_ids)]
            cursor.execute(_begin_and_read(ids), ids + ids)
            _to_last_result(cursor)
            uncached = batch.read_contexts(cursor.fetchall())
            if uncached:
                ids = [_id_array(uncached)]
                cursor.execute(_executed("boards", ids), ids)
                batch.boards = dict(cursor.fetchall())
        with batch_open(batch):
            yield batch
        with raw.cursor() as cursor:
            cursor.execute(*batch.write_and_commit())
        finished = True
    except psycopg.Error as exc:
        _failed(raw, exc)
        raise
    finally:
        if begun and not finished:
            with contextlib.suppress(Exception):
                raw.execute("ROLLBACK")
    batch.committed()


async def begin_batch_on_loop(raw: psycopg.AsyncConnection[Any], slot_ids: list[int]) -> PostgresBatch:
    """``postgres_batch``'s first part on an async connection in autocommit
    mode: begin, lock the slots and read their contexts. Apply the moves
    within ``batch_open``, then ``commit_batch_on_loop``; on any failure
    the caller rolls back or drops the connection."""
    if raw not in _prepared_on:
        await raw.execute(_prepare_statements())
        _prepared_on[raw] = True
    batch = PostgresBatch(raw, on_loop=True)
    ids = [_id_array(slot_ids)]
    cursor = await raw.execute(_begin_and_read(ids), ids + ids)
    _to_last_result(cursor)
    uncached = batch.read_contexts(await cursor.fetchall())
    if uncached:
        ids = [_id_array(uncached)]
        cursor = await raw.execute(_executed("boards", ids), ids)
        batch.boards = dict(await cursor.fetchall())
    return batch


async def commit_batch_on_loop(batch: PostgresBatch) -> None:
    """Write what the moves applied in ``batch`` recorded and commit."""
    await batch.raw.execute(*batch.write_and_commit())
    batch.committed()


@contextlib.contextmanager
def batch_open(batch: PostgresBatch) -> Iterator[PostgresBatch]:
    """``lock_for_move``, ``position_for`` and ``record_move`` use ``batch``
    on this thread meanwhile."""
    assert _batch() is None
    _postgres_moves.batch = batch
    try:
        yield batch
    finally:
        _postgres_moves.batch = None


def _begin_and_read(ids: list[str]) -> str:
    return f"{_BEGIN}{_executed('lock_slots', ids)}; {_executed('contexts', ids)}"


def refused_by_postgres(exc: BaseException) -> bool:
    """True when PostgreSQL itself refused a batch (a deadlock, statements
    lost to a pooler) and the connection lives on, so its moves may be tried
    one at a time. False when the database could not be reached: trying each
    move would wait for the same failure once per move."""
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    return isinstance(cause, psycopg.Error) and cause.sqlstate is not None


def _failed(raw: Any, exc: psycopg.Error) -> None:
    """After a move's statements failed on the raw connection ``raw``."""
    connection.errors_occurred = True  # Django checks the connection before its next use
    if isinstance(exc, psycopg.errors.InvalidSqlStatementName):
        forget_prepared(raw)  # this move fails, the next prepares them again


def _to_last_result(cursor: Any) -> None:
    """Past the results of ``_BEGIN``'s statements and the lock, to the last statement's."""
    while cursor.nextset():
        pass


def _id_array(ids: list[int]) -> str:
    """``ids`` as the text of a PostgreSQL array (one string for psycopg to quote, not a list to adapt)."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def _batch() -> PostgresBatch | None:
    return getattr(_postgres_moves, "batch", None)


def _rows(name: str, params: list[Any]) -> list[tuple[Any, ...]]:
    batch = group_commit.open_batch()
    if batch is not None:
        return batch.raw.execute(_raw_sql(name), params).fetchall()
    with connection.cursor() as cursor:
        cursor.execute(_sql(name), params)
        return cursor.fetchall()


def _write(name: str, params: list[Any]) -> None:
    batch = group_commit.open_batch()
    if batch is not None:
        batch.raw.execute(_raw_sql(name), params)
        return
    with connection.cursor() as cursor:
        cursor.execute(_sql(name), params)


def _raw_sql(name: str) -> str:
    if not _raw_statements:
        _raw_statements.update({key: sql.replace("%s", "?") for key, sql in _build_statements("sqlite").items()})
    return _raw_statements[name]


def _json(value: Any) -> Any:
    # SQLite hands JSON columns back as text; psycopg may already have decoded them.
    return json.loads(value) if isinstance(value, str) else value


def lock_for_move(slot_id: int) -> MoveContext | None:
    """Lock the slot and read what a move needs, or None if there is no such slot.

    Inside the embedded default's batch, the slot's kept context when there
    is one (``move_contexts``)."""
    batch = _batch()
    if batch is not None:
        return batch.contexts.get(slot_id)
    contexts = move_contexts.in_sqlite_batch()
    if contexts is not None:
        cached = contexts.get(slot_id)
        if cached is not None:
            return cached
    if connection.vendor == "postgresql":  # outside a batch: an atomic block of the caller's
        (rows,) = row_sql.locked_reads(slot_id, [_sql("context")])
    else:
        rows = _rows("context", [slot_id])
    if not rows:
        return None
    context = _context(slot_id, rows)
    if contexts is not None:
        contexts[slot_id] = context
    return context


def _context(slot_id: int, rows: list[tuple[Any, ...]]) -> MoveContext:
    """The context of slot ``slot_id`` from its rows of the context statement (one per seat)."""
    state, game_id, series_winner, turn, winner, count = rows[0][:6]
    seats = {
        row[7]: SeatRow(id=row[6], player=row[7], connected=bool(row[8]), channel_name=row[9], generation=row[10])
        for row in rows if row[6] is not None
    }
    series_id, game_number, time_control, watched = rows[0][11:15]
    return MoveContext(slot_id=slot_id, state=state, game_id=game_id, series_id=series_id,
                       game_number=game_number or 0, series_winner=series_winner, time_control=time_control or "",
                       current_turn=turn, winner=winner, move_count=count or 0, seats=seats,
                       watched=bool(watched), last_move=rows[0][16])


@dataclass
class Position:
    """A game's position: its board and the board's stored JSON text.

    The text puts every cell in two characters (`` 0``, `` 1``, ``-1``), so a
    move changes two characters of it instead of re-encoding the board
    (encoding it took as long as the move's SQL).
    """

    board: rules.Board
    text: str

    @classmethod
    def of(cls, board: rules.Board) -> Position:
        return cls(board, "[" + ",".join("[" + ",".join(_CELL_TEXT[c] for c in row) + "]" for row in board.cells) + "]")

    def place(self, player: int, q: int, r: int) -> int | None:
        winner = self.board.place(player, q, r)
        at = 2 + r * (3 * self.board.size + 2) + 3 * q
        self.text = self.text[:at] + _CELL_TEXT[player] + self.text[at + 2:]
        return winner


_CELL_TEXT = {rules.EMPTY: " 0", rules.BLUE: " 1", rules.RED: "-1"}

# Positions this process committed last, by game id: (move count, position).
# Rebuilding a board's union-find from the stored rows on every move cost as
# much as the move's SQL. An entry is used only while its move count matches
# the database, so another process's move just means a rebuild.
_positions: OrderedDict[int, tuple[int, Position]] = OrderedDict()
POSITION_CACHE_SIZE = 20_000


def forget_positions() -> None:
    """Drop every cached position and move context (a new database: game ids start over)."""
    _positions.clear()
    move_contexts.forget_all()


def position_for(context: MoveContext) -> Position:
    """The position of the slot's current game. Change it only through ``place``."""
    cached = _cached_position(context)
    if cached is not None:
        return cached
    # The stored board is read only now: most moves find their position cached.
    batch = _batch()
    board = batch.boards.get(context.game_id) if batch is not None else None  # type: ignore[arg-type]
    if board is None:  # not read with the batch's contexts: evicted from the cache since
        if batch is not None and batch.on_loop:
            raise BoardNotReadError
        (board,) = _rows("board", [context.game_id])[0]
    return Position.of(rules.Board.from_rows(_json(board)))


def _cached_position(context: MoveContext) -> Position | None:
    """The cached position of the context's game, if it is still (or can be
    brought) up to date.

    A position one move behind is brought up to date with the game's last
    move: the players of a game on two processes alternate, so each
    process's cache is always one move behind, and rebuilding the board
    from the stored rows was 12 % of a worker's time with two workers. Only
    from the third move on, when the last move can only have been a
    placement (a swap is always the second move).
    """
    cached = _positions.get(context.game_id)  # type: ignore[arg-type]
    if cached is None:
        return None
    count, position = cached
    if count == context.move_count:
        return position
    if (count + 1 != context.move_count or count < 2 or context.last_move is None or context.winner is not None
            or context.current_turn is None):
        return None
    q, r = _json(context.last_move)
    if position.board.cells[r][q] != rules.EMPTY:
        return None
    position.place(rules.opponent(context.current_turn), q, r)
    _positions[context.game_id] = (context.move_count, position)  # type: ignore[index]
    return position


def place(context: MoveContext, position: Position, player: int, q: int, r: int) -> int | None:
    """``Position.place`` that first drops the cached position: until
    ``record_move`` stores the new one, a failure anywhere leaves nothing
    stale behind. A winning move's position is handed to ``won_board``."""
    _positions.pop(context.game_id, None)
    _won.pop(context.game_id, None)  # a win placed before in this game was never scored
    winner = position.place(player, q, r)
    if winner is not None:
        if len(_won) >= _WON_KEPT:  # winning moves whose batch failed before their game end ran
            _won.clear()
        _won[context.game_id] = (context.move_count, player, q, r, position.board)  # type: ignore[index]
    return winner


# By game id, the winning moves ``place`` saw and the ORM path has not yet
# scored: (moves before it, player, q, r, board after it). That path used to
# rebuild the board from its stored rows, a fifth of a game end's time
# (py-spy). Not per thread: a batch places on the event loop, and the game
# end runs on a database thread.
_won: dict[int, tuple[int, int, int, int, rules.Board]] = {}
_WON_KEPT = 1_000


def won_board(game: Game, player: int, q: int, r: int) -> rules.Board | None:
    """The board after ``player``'s winning move at (q, r) in ``game``, as
    ``place`` just checked and placed it, if ``game`` (locked, read afresh)
    is still in the state it was placed in; else None. Used once."""
    last = _won.pop(game.id, None)
    if last is None or last[:4] != (game.move_count, player, q, r):
        return None
    if game.winner is not None or game.current_turn != player:
        return None
    return last[4]


def record_move(context: MoveContext, player: int, q: int, r: int, position: Position, next_turn: int) -> None:
    """Store an ordinary move (a placement that ends nothing, in a game with no
    clock) and ``position``, the position after it."""
    number = context.move_count + 1
    batch = _batch()
    if batch is not None:
        # Its created_at is the moment PostgreSQL inserts it (clock_timestamp()).
        batch.moves.append({"game": context.game_id, "number": number, "player": player,
                            "kind": _PLACE, "q": q, "r": r, "turn": next_turn})
        batch.hooks.append(lambda: _remember(context.game_id, number, position))  # type: ignore[arg-type]
        return
    move_row = [context.game_id, number, player, _PLACE, q, r, _now_param()]
    game_row = [number, position.text, f"[{q},{r}]", next_turn, context.game_id]
    if database_vendor() == "postgresql":
        _write("insert_move_update_game", move_row + game_row)
    else:
        _write("insert_move", move_row)
        _write("update_game", game_row)
        contexts = move_contexts.in_sqlite_batch()
        if contexts is not None:
            contexts[context.slot_id] = context._replace(move_count=number, current_turn=next_turn,
                                                         last_move=game_row[2])
    # Only a committed position may be reused: after a rollback another process
    # could store a different move under the same number.
    group_commit.on_commit(lambda: _remember(context.game_id, number, position))


_PLACE = Move.Kind.PLACE.value


def _now_param() -> Any:
    """Now, as the move's ``created_at`` parameter. The moves of one group
    commit share the moment the first of them was written: one commit
    stores them all, a few milliseconds apart at most."""
    batch = group_commit.open_batch()
    if batch is None:
        return _now_text()
    if batch.created_at is None:
        batch.created_at = _now_text()
    return batch.created_at


def _now_text() -> Any:
    now = timezone.now()
    if database_vendor() == "sqlite" and _sqlite_stores_utc():
        # What Django's adapt_datetimefield_value makes of it, without its
        # time-zone machinery (a sixth of a move's time in a profile).
        return str(now.replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value(now)


@functools.cache
def _sqlite_stores_utc() -> bool:
    return connection.timezone_name == "UTC"


def _remember(game_id: int, move_count: int, position: Position) -> None:
    _positions[game_id] = (move_count, position)
    if len(_positions) > POSITION_CACHE_SIZE:
        _positions.popitem(last=False)
