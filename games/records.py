"""Game records: one game as data, and its SGF and JSON forms.

Pure Python, no Django, so the server (pages, downloads, ``/api/games``) and
the clients (``hexgame replay``) share one reader and one writer.

SGF mapping (the Hex dialect HexGui reads, ``FF[4]GM[11]SZ[n]``):

* blue (player 1, connects top and bottom) is SGF Black ``B``;
  red (player -1, connects left and right) is SGF White ``W``;
* a cell ``(q, r)`` (``board[r][q]``) is the column letter of ``q`` followed by
  the row number ``r + 1``: ``a1`` is the top-left cell, ``b1`` its right
  neighbour, ``a2`` the cell below it;
* ``PB``/``PW`` name blue/red (``model (username)``), ``DT`` is the date the
  game started, ``RE`` the result (``B+``/``W+``, ``B+R``/``W+R`` after a
  resignation, ``B+T``/``W+T`` on time; absent while the game runs), ``PL``
  who opens, ``GN`` the series and game number;
* a swap (swap rule games) is the second move ``B[swap-pieces]`` or
  ``W[swap-pieces]``: the first stone is replaced by the swapper's stone
  mirrored across the long diagonal, as HexGui plays it.

A move has a ``kind``: ``place``, or a special move listed in
``SPECIAL_MOVES`` (SGF value) with its effect in ``_apply``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from games import rules

JSON_FORMAT = 1
PLACE = "place"
#: SGF values of special (non-placing) move kinds: the swap rule's swap-pieces
#: (HexGui's name). Stored swaps keep the new, mirrored stone in q and r.
SPECIAL_MOVES: dict[str, str] = {rules.MOVE_KIND_SWAP: "swap-pieces"}

STATUS_RUNNING = "running"
STATUS_FINISHED = "finished"
STATUS_ABANDONED = "abandoned"
REASON_CONNECTED = "connected_sides"
REASON_RESIGNATION = "resignation"
REASON_TIMEOUT = "timeout"

SGF_COLOR = {rules.BLUE: "B", rules.RED: "W"}
SGF_PLAYER = {"B": rules.BLUE, "W": rules.RED}
SGF_APPLICATION = "hexarena:1"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class RecordError(ValueError):
    """A record (SGF or JSON) that cannot be read or does not follow the rules."""


# -- cells ---------------------------------------------------------------------------


def cell_name(q: int, r: int) -> str:
    """``(q, r)`` → ``"a1"``-style name: column letter of q, row number r + 1."""
    if not (0 <= q < len(_LETTERS)) or r < 0:
        raise RecordError(f"no cell name for q={q}, r={r}")
    return f"{_LETTERS[q]}{r + 1}"


_CELL = re.compile(r"^([a-z])([1-9][0-9]?)$")


def parse_cell(name: str) -> tuple[int, int]:
    """``"a1"`` → ``(0, 0)``; ``"c11"`` → ``(2, 10)``."""
    match = _CELL.match(name.strip().lower())
    if match is None:
        raise RecordError(f"not a cell name: {name!r}")
    return _LETTERS.index(match.group(1)), int(match.group(2)) - 1


# -- the record -----------------------------------------------------------------------


@dataclass(frozen=True)
class MoveRecord:
    number: int
    player: int
    q: int | None = None
    r: int | None = None
    kind: str = PLACE

    @property
    def cell(self) -> str | None:
        return cell_name(self.q, self.r) if self.kind == PLACE and self.q is not None and self.r is not None else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"number": self.number, "player": self.player, "q": self.q, "r": self.r,
                                "cell": self.cell}
        if self.kind != PLACE:
            data["kind"] = self.kind
        return data


@dataclass(frozen=True)
class PlayerRecord:
    model: str = ""
    username: str = ""

    @property
    def display(self) -> str:
        name = self.model or "unknown"
        return f"{name} ({self.username})" if self.username else name


@dataclass(frozen=True)
class GameRecord:
    board_size: int
    first_turn: int = rules.RED
    moves: tuple[MoveRecord, ...] = ()
    red: PlayerRecord = field(default_factory=PlayerRecord)
    blue: PlayerRecord = field(default_factory=PlayerRecord)
    winner: int | None = None
    end_reason: str = ""
    status: str = STATUS_FINISHED
    id: int | None = None
    series_id: int | None = None
    game_number: int = 1
    series_length: int = 1
    slot_id: int | None = None
    started_at: str | None = None
    finished_at: str | None = None

    def player(self, player: int) -> PlayerRecord:
        return self.red if player == rules.RED else self.blue

    def positions(self) -> Iterator[rules.Board]:
        """The board before any move, then after each move (a fresh Board each time)."""
        board = rules.Board(self.board_size)
        yield rules.Board.from_rows(board.rows())
        for move in self.moves:
            board = _apply(board, move)
            yield rules.Board.from_rows(board.rows())

    def position_after(self, count: int) -> rules.Board:
        """The board after the first ``count`` moves (clamped to the game)."""
        count = max(0, min(count, len(self.moves)))
        board = rules.Board(self.board_size)
        for move in self.moves[:count]:
            board = _apply(board, move)
        return board

    def validate(self) -> GameRecord:
        """Check the moves against the rules (alternating turns from
        ``first_turn``, cells on the board and empty, nothing after a win)."""
        if not rules.is_valid_board_size(self.board_size) and not (1 <= self.board_size <= len(_LETTERS)):
            raise RecordError(f"unsupported board size {self.board_size}")
        if self.first_turn not in rules.PLAYERS:
            raise RecordError(f"first_turn must be -1 or 1, not {self.first_turn!r}")
        board = rules.Board(self.board_size)
        turn = self.first_turn
        for index, move in enumerate(self.moves, start=1):
            if move.number != index:
                raise RecordError(f"move {index} is numbered {move.number}")
            if move.player != turn:
                raise RecordError(f"move {index} is by {move.player}, but {turn} was to play")
            if board.winner is not None:
                raise RecordError(f"move {index} comes after the game was won")
            if move.kind == rules.MOVE_KIND_SWAP and index != 2:
                raise RecordError(f"move {index}: only the second move may swap")
            board = _apply(board, move)
            turn = rules.opponent(turn)
        if self.winner is not None and self.winner not in rules.PLAYERS:
            raise RecordError(f"winner must be -1, 1 or null, not {self.winner!r}")
        if self.end_reason == REASON_CONNECTED and board.winner != self.winner:
            raise RecordError("the result says connected sides, but the moves do not connect them")
        return self


def _apply(board: rules.Board, move: MoveRecord) -> rules.Board:
    """The board after ``move`` (a swap returns a new board, a placement ``board`` itself)."""
    if move.player not in rules.PLAYERS:
        raise RecordError(f"move {move.number}: unknown player {move.player!r}")
    if move.kind == rules.MOVE_KIND_SWAP:
        try:
            swapped, _, new = rules.swap_pieces(board, move.player)
        except ValueError as exc:
            raise RecordError(f"move {move.number}: {exc}") from None
        if move.q is not None and (move.q, move.r) != new:
            raise RecordError(f"move {move.number}: a swap to q={move.q}, r={move.r} does not mirror the first stone")
        return swapped
    if move.kind != PLACE:
        raise RecordError(f"move {move.number}: unsupported kind {move.kind!r}")
    reason = rules.check_move(board, move.player, move.player, move.q, move.r)
    if reason is not None:
        raise RecordError(f"move {move.number} at q={move.q}, r={move.r}: {reason}")
    board.place(move.player, move.q, move.r)
    return board


# -- JSON --------------------------------------------------------------------------------


def to_json(record: GameRecord) -> dict[str, Any]:
    """The JSON record (also the body of ``/api/games/<id>``)."""
    return {
        "format": JSON_FORMAT,
        "id": record.id,
        "series_id": record.series_id,
        "game_number": record.game_number,
        "series_length": record.series_length,
        "slot_id": record.slot_id,
        "board_size": record.board_size,
        "first_turn": record.first_turn,
        "status": record.status,
        "winner": record.winner,
        "end_reason": record.end_reason or None,
        "red": {"player": rules.RED, "model": record.red.model, "username": record.red.username},
        "blue": {"player": rules.BLUE, "model": record.blue.model, "username": record.blue.username},
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "move_count": len(record.moves),
        "moves": [move.to_json() for move in record.moves],
    }


def _get(data: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None, *,
         required: bool = False) -> Any:
    if key not in data or data[key] is None:
        if required:
            raise RecordError(f"missing field {key!r}")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise RecordError(f"field {key!r} has the wrong type")
    return value


def _player_from_json(data: Any) -> PlayerRecord:
    if not isinstance(data, dict):
        return PlayerRecord()
    return PlayerRecord(model=_get(data, "model", str, ""), username=_get(data, "username", str, ""))


def from_json(data: Any) -> GameRecord:
    """Read a JSON record (a dict, or its text) and check it against the rules."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise RecordError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RecordError("a game record is a JSON object")
    raw_moves = data.get("moves", [])
    if not isinstance(raw_moves, list):
        raise RecordError("field 'moves' must be a list")
    moves = []
    for index, raw in enumerate(raw_moves, start=1):
        if not isinstance(raw, dict):
            raise RecordError(f"move {index} is not an object")
        kind = _get(raw, "kind", str, PLACE)
        q, r = _get(raw, "q", int), _get(raw, "r", int)
        if kind == PLACE and (q is None or r is None) and isinstance(raw.get("cell"), str):
            q, r = parse_cell(raw["cell"])
        moves.append(MoveRecord(number=_get(raw, "number", int, index), player=_get(raw, "player", int, required=True),
                                q=q, r=r, kind=kind))
    record = GameRecord(
        board_size=_get(data, "board_size", int, required=True),
        first_turn=_get(data, "first_turn", int, moves[0].player if moves else rules.RED),
        moves=tuple(moves),
        red=_player_from_json(data.get("red")),
        blue=_player_from_json(data.get("blue")),
        winner=_get(data, "winner", int),
        end_reason=_get(data, "end_reason", str, ""),
        status=_get(data, "status", str, STATUS_FINISHED),
        id=_get(data, "id", int),
        series_id=_get(data, "series_id", int),
        game_number=_get(data, "game_number", int, 1),
        series_length=_get(data, "series_length", int, 1),
        slot_id=_get(data, "slot_id", int),
        started_at=_get(data, "started_at", str),
        finished_at=_get(data, "finished_at", str),
    )
    return record.validate()


# -- SGF writer ------------------------------------------------------------------------------


def _sgf_text(value: str) -> str:
    """Escape a SimpleText/Text value: backslash and closing bracket."""
    return value.replace("\\", "\\\\").replace("]", "\\]")


def _sgf_move_value(move: MoveRecord) -> str:
    if move.kind == PLACE:
        return cell_name(move.q, move.r)
    if move.kind in SPECIAL_MOVES:
        return SPECIAL_MOVES[move.kind]
    raise RecordError(f"move {move.number}: no SGF form for kind {move.kind!r}")


def sgf_result(record: GameRecord) -> str | None:
    if record.winner not in rules.PLAYERS:
        return None
    suffix = {REASON_RESIGNATION: "R", REASON_TIMEOUT: "T"}.get(record.end_reason, "")
    return f"{SGF_COLOR[record.winner]}+{suffix}"


def _game_tree(record: GameRecord) -> str:
    props: list[tuple[str, str]] = [
        ("FF", "4"), ("GM", "11"), ("SZ", str(record.board_size)), ("CA", "UTF-8"), ("AP", SGF_APPLICATION),
        ("PB", record.blue.display), ("PW", record.red.display),
    ]
    if record.started_at:
        props.append(("DT", record.started_at[:10]))
    result = sgf_result(record)
    if result:
        props.append(("RE", result))
    if record.series_id is not None:
        props.append(("GN", f"Series {record.series_id}, game {record.game_number} of best of {record.series_length}"))
    props.append(("PL", SGF_COLOR[record.first_turn]))
    root = ";" + "".join(f"{key}[{_sgf_text(value)}]" for key, value in props)
    nodes = [f";{SGF_COLOR[move.player]}[{_sgf_move_value(move)}]" for move in record.moves]
    lines = [root]
    # A few moves per line keeps long games readable in a text editor.
    for start in range(0, len(nodes), 10):
        lines.append("".join(nodes[start:start + 10]))
    return "(" + "\n".join(lines) + ")"


def to_sgf(records: GameRecord | Sequence[GameRecord]) -> str:
    """One game as an SGF game tree, or several (a series) as one collection."""
    if isinstance(records, GameRecord):
        records = [records]
    return "\n".join(_game_tree(record) for record in records) + "\n"


# -- SGF parser ------------------------------------------------------------------------------


@dataclass
class _Cursor:
    text: str
    pos: int = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise RecordError(f"SGF: expected {char!r} at offset {self.pos}")
        self.pos += 1


def _parse_value(cur: _Cursor) -> str:
    cur.expect("[")
    out = []
    while True:
        if cur.pos >= len(cur.text):
            raise RecordError("SGF: unterminated property value")
        char = cur.text[cur.pos]
        cur.pos += 1
        if char == "\\":
            if cur.pos >= len(cur.text):
                raise RecordError("SGF: unterminated property value")
            escaped = cur.text[cur.pos]
            cur.pos += 1
            if escaped != "\n":  # a soft line break disappears
                out.append(escaped)
        elif char == "]":
            return "".join(out)
        else:
            out.append(char)


def _parse_node(cur: _Cursor) -> list[tuple[str, list[str]]]:
    cur.expect(";")
    props = []
    while True:
        cur.skip_space()
        match = re.compile(r"[A-Za-z]+").match(cur.text, cur.pos)
        if match is None:
            return props
        cur.pos = match.end()
        values = []
        while cur.peek() == "[":
            values.append(_parse_value(cur))
        if not values:
            raise RecordError(f"SGF: property {match.group()} without a value")
        props.append((match.group().upper(), values))


def _parse_tree(cur: _Cursor, depth: int = 0) -> list[list[tuple[str, list[str]]]]:
    """A game tree's main line: its sequence, then the first variation's, recursively."""
    if depth > 100:
        raise RecordError("SGF: variations nested too deeply")
    cur.expect("(")
    nodes = []
    while cur.peek() == ";":
        nodes.append(_parse_node(cur))
    first = True
    while cur.peek() == "(":
        variation = _parse_tree(cur, depth + 1)
        if first:
            nodes.extend(variation)
            first = False
    cur.expect(")")
    return nodes


def _names(display: str) -> PlayerRecord:
    match = re.match(r"^(.*) \(([^()]*)\)$", display)
    if match:
        return PlayerRecord(model=match.group(1), username=match.group(2))
    return PlayerRecord(model="" if display == "unknown" else display)


def _record_from_nodes(nodes: list[list[tuple[str, list[str]]]]) -> GameRecord:
    if not nodes:
        raise RecordError("SGF: empty game tree")
    root = {key: values[0] for key, values in nodes[0]}
    if root.get("GM", "11") != "11":
        raise RecordError(f"SGF: GM[{root['GM']}] is not Hex (GM[11])")
    try:
        size = int(root.get("SZ", "11").split(":")[0])
    except ValueError:
        raise RecordError(f"SGF: bad board size SZ[{root.get('SZ')}]") from None
    moves = []
    for node in nodes:
        for key, values in node:
            if key not in SGF_PLAYER:
                continue
            value = values[0].strip().lower()
            kinds = {sgf: kind for kind, sgf in SPECIAL_MOVES.items()}
            number = len(moves) + 1
            if value in kinds:
                moves.append(MoveRecord(number, SGF_PLAYER[key], kind=kinds[value]))
            else:
                q, r = parse_cell(value)
                moves.append(MoveRecord(number, SGF_PLAYER[key], q, r))
    winner, reason = None, ""
    result = root.get("RE", "")
    if result[:2] in ("B+", "W+"):
        winner = SGF_PLAYER[result[0]]
        reason = {"R": REASON_RESIGNATION, "T": REASON_TIMEOUT}.get(result[2:3].upper(), REASON_CONNECTED)
    first = SGF_PLAYER.get(root.get("PL", ""), moves[0].player if moves else rules.RED)
    series_id = game_number = series_length = None
    match = re.match(r"^Series (\d+), game (\d+) of best of (\d+)$", root.get("GN", ""))
    if match:
        series_id, game_number, series_length = (int(g) for g in match.groups())
    record = GameRecord(
        board_size=size, first_turn=first, moves=tuple(moves),
        red=_names(root.get("PW", "")), blue=_names(root.get("PB", "")),
        winner=winner, end_reason=reason,
        status=STATUS_FINISHED if winner is not None else STATUS_RUNNING,
        series_id=series_id, game_number=game_number or 1, series_length=series_length or 1,
        started_at=root.get("DT") or None,
    )
    return record.validate()


def parse_sgf(text: str) -> list[GameRecord]:
    """Every game tree of an SGF collection, each checked against the rules.

    Variations are ignored beyond the main line (the first one at each fork).
    """
    cur = _Cursor(text)
    records = []
    while cur.peek() == "(":
        records.append(_record_from_nodes(_parse_tree(cur)))
    if cur.peek():
        raise RecordError(f"SGF: unexpected {cur.peek()!r} at offset {cur.pos}")
    if not records:
        raise RecordError("SGF: no game tree")
    return records


def with_moves(record: GameRecord, moves: Sequence[tuple[int, int, int]]) -> GameRecord:
    """``record`` with ``moves`` given as ``(player, q, r)`` placements, numbered from 1."""
    return replace(record, moves=tuple(MoveRecord(i, p, q, r) for i, (p, q, r) in enumerate(moves, start=1)))
