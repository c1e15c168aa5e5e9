"""The client's view of its seat, kept up to date from server messages.

The board is a ``games.rules.Board``, so the client judges moves with the
same rules module as the server. ``GameView.apply`` checks every announced
move against that board and raises ``ProtocolViolationError`` on nonsense rather
than letting the two boards drift apart silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from clients.connection import Message
from clients.errors import ProtocolViolationError
from games import rules


def _labels(raw: Any) -> dict[int, str]:
    """``{"-1": "x", "1": "y"}`` → ``{-1: "x", 1: "y"}``, ignoring junk."""
    labels: dict[int, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            try:
                player = int(key)
            except (TypeError, ValueError):
                continue
            if player in rules.PLAYERS and isinstance(value, str):
                labels[player] = value
    return labels


def _labels_any(raw: dict[str, Any]) -> dict[int, Any]:
    """``{"-1": x, "1": y}`` → ``{-1: x, 1: y}`` for integer values, ignoring junk."""
    out: dict[int, Any] = {}
    for key, value in raw.items():
        try:
            player = int(key)
        except (TypeError, ValueError):
            continue
        if player in rules.PLAYERS and _strict_int(value):
            out[player] = value
    return out


def _strict_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ViewSnapshot:
    """An immutable copy of the view, safe to hand to another thread (the GUI)."""

    player: int | None = None
    slot_id: int | None = None
    board_size: int = 0
    series_length: int = 1
    wins_required: int = 1
    cells: tuple[tuple[int, ...], ...] = ()
    current_turn: int | None = None
    game_number: int = 0
    move_count: int = 0
    last_move: tuple[int, int] | None = None
    wins: tuple[int, int] = (0, 0)
    player_models: dict[int, str] = field(default_factory=dict)
    player_usernames: dict[int, str] = field(default_factory=dict)
    waiting: bool = True
    paused: bool = False
    game_winner: int | None = None
    series_winner: int | None = None
    status: str = ""
    swap_rule: bool = False
    remaining_ms: dict[int, int] = field(default_factory=dict)
    clock_running: int | None = None
    time_control: str = ""
    # time.monotonic() when remaining_ms arrived, so a display can count down.
    clock_received: float = 0.0

    @property
    def can_swap(self) -> bool:
        """Our turn, in a swap game, right after the opponent's first stone."""
        if not (self.my_turn and self.swap_rule and self.move_count == 1):
            return False
        stones = [cell for row in self.cells for cell in row if cell]
        return len(stones) == 1 and stones[0] != self.player

    @property
    def my_turn(self) -> bool:
        return (bool(self.cells) and not self.waiting and not self.paused and self.series_winner is None
                and self.game_winner is None and self.player is not None and self.current_turn == self.player)

    def at(self, q: int, r: int) -> int:
        return self.cells[r][q]


class GameView:
    """Seat, board, turn and score as the server has announced them."""

    def __init__(self, board_size: int = 0) -> None:
        self.player: int | None = None
        self.slot_id: int | None = None
        self.board_size = board_size
        self.series_length = 1
        self.wins_required = 1
        self.board: rules.Board | None = None
        self.current_turn: int | None = None
        self.game_number = 0
        self.move_count = 0
        self.last_move: tuple[int, int] | None = None
        self.wins = {rules.RED: 0, rules.BLUE: 0}
        self.player_models: dict[int, str] = {}
        self.player_usernames: dict[int, str] = {}
        self.waiting = True
        self.paused = False
        self.game_winner: int | None = None
        self.series_winner: int | None = None
        self.status = "connecting"
        # Bumped whenever a resumed connection may have lost a sent move, so
        # the player decides again even though the move count did not change.
        self.epoch = 0
        # Opt-in extensions, as the server announced them for this series.
        self.swap_rule = False
        self.remaining_ms: dict[int, int] = {}
        self.clock_running: int | None = None
        self.clock_received = 0.0
        self.time_control = ""

    # -- queries ---------------------------------------------------------------------------

    @property
    def my_turn(self) -> bool:
        return (self.board is not None and not self.waiting and not self.paused and self.series_winner is None
                and self.game_winner is None and self.player is not None and self.current_turn == self.player)

    def turn_key(self) -> tuple[int, int, int]:
        """Identifies one decision point: game, move number, connection epoch."""
        return (self.game_number, self.move_count, self.epoch)

    def model_board(self) -> list[list[int]]:
        """Rows ``board[r][q]`` of 0/-1/1, a fresh copy a model may mutate."""
        assert self.board is not None
        return self.board.rows()

    def action_set(self) -> list[tuple[int, int]]:
        """Legal ``(row, col)`` moves; in a swap game, when we may swap, also
        ``rules.SWAP_ACTION`` (last), so models of plain games see no change."""
        assert self.board is not None
        if not self.swap_rule or self.player is None:
            return rules.legal_actions(self.board)
        return rules.legal_actions_with_swap(self.board, self.player, self.current_turn, True, self.move_count)

    def snapshot(self) -> ViewSnapshot:
        cells = tuple(tuple(row) for row in self.board.cells) if self.board is not None else ()
        return ViewSnapshot(
            player=self.player, slot_id=self.slot_id, board_size=self.board_size,
            series_length=self.series_length, wins_required=self.wins_required, cells=cells,
            current_turn=self.current_turn, game_number=self.game_number, move_count=self.move_count,
            last_move=self.last_move, wins=(self.wins[rules.RED], self.wins[rules.BLUE]),
            player_models=dict(self.player_models), player_usernames=dict(self.player_usernames),
            waiting=self.waiting, paused=self.paused, game_winner=self.game_winner,
            series_winner=self.series_winner, status=self.status, swap_rule=self.swap_rule,
            remaining_ms=dict(self.remaining_ms), clock_running=self.clock_running, time_control=self.time_control,
            clock_received=self.clock_received,
        )

    def _clock(self, payload: dict[str, Any]) -> None:
        """Remaining times (games with a clock only; absent keys change nothing)."""
        remaining = payload.get("remaining_ms")
        if isinstance(remaining, dict):
            self.remaining_ms = {p: int(ms) for p, ms in _labels_any(remaining).items()}
            self.clock_received = time.monotonic()
            running = payload.get("clock_running")
            self.clock_running = running if running in rules.PLAYERS else None
        control = payload.get("time_control")
        if isinstance(control, dict):
            if control.get("kind") == "per_move":
                self.time_control = f"{control.get('per_move_ms', 0) / 1000:g}s per move"
            else:
                self.time_control = (f"{control.get('base_ms', 0) / 1000:g}s + "
                                     f"{control.get('increment_ms', 0) / 1000:g}s")

    # -- updates ---------------------------------------------------------------------------

    def apply(self, message: Message) -> None:
        """Fold one server message into the view (unknown types are ignored)."""
        handler = getattr(self, f"_on_{message.type}", None)
        if handler is not None:
            handler(message.payload)

    def _seat(self, payload: dict[str, Any]) -> None:
        player = payload.get("player")
        if player not in rules.PLAYERS:
            raise ProtocolViolationError(f"server assigned an unknown player id {player!r}")
        self.player = player
        self.slot_id = payload.get("slot_id", self.slot_id)
        if _strict_int(payload.get("board_size")):
            self.board_size = payload["board_size"]
        if _strict_int(payload.get("series_length")):
            self.series_length = payload["series_length"]
            self.wins_required = rules.wins_required(self.series_length)

    def _reset_series(self) -> None:
        self.board = None
        self.current_turn = None
        self.game_number = 0
        self.move_count = 0
        self.last_move = None
        self.wins = {rules.RED: 0, rules.BLUE: 0}
        self.game_winner = None
        self.series_winner = None
        self.paused = False
        self.waiting = True

    def _on_joined(self, payload: dict[str, Any]) -> None:
        self._seat(payload)
        self.waiting = True
        self.status = f"joined slot {self.slot_id} as {rules.color_of(self.player)}"

    def _on_slot_kept(self, payload: dict[str, Any]) -> None:
        self._seat(payload)
        self._reset_series()
        self.status = f"kept slot {self.slot_id}; waiting for a new opponent"

    def _on_waiting_for_opponent(self, payload: dict[str, Any]) -> None:
        if self.board is not None and self.series_winner is None:
            # After a resume: the game exists but the opponent is away.
            self.paused = True
            self.status = "opponent is away; game paused"
        else:
            self.waiting = True
            self.status = "waiting for an opponent"

    def _on_game_start(self, payload: dict[str, Any]) -> None:
        size = payload.get("board_size", self.board_size)
        if not _strict_int(size) or size < 1:
            raise ProtocolViolationError(f"game_start with an invalid board size {size!r}")
        first = payload.get("first_turn")
        if first not in rules.PLAYERS:
            raise ProtocolViolationError(f"game_start with an invalid first_turn {first!r}")
        self.board_size = size
        if _strict_int(payload.get("series_length")):
            self.series_length = payload["series_length"]
        self.wins_required = payload.get("wins_required") or rules.wins_required(self.series_length)
        self.board = rules.Board(size)
        self.current_turn = first
        self.game_number = payload.get("current_game_number", self.game_number + 1)
        self.move_count = 0
        self.last_move = None
        self.wins = {rules.RED: payload.get("player_1_wins", self.wins[rules.RED]),
                     rules.BLUE: payload.get("player_2_wins", self.wins[rules.BLUE])}
        self.player_models = _labels(payload.get("player_models")) or self.player_models
        self.player_usernames = _labels(payload.get("player_usernames")) or self.player_usernames
        self.waiting = False
        self.paused = False
        self.game_winner = None
        self.series_winner = None
        self.swap_rule = payload.get("swap") is True
        self._clock(payload)
        self.status = f"game {self.game_number} started; {rules.color_of(first)} moves first"

    def _on_move(self, payload: dict[str, Any]) -> None:
        player, q, r = payload.get("player"), payload.get("q"), payload.get("r")
        if self.board is None:
            raise ProtocolViolationError("server announced a move before any game started")
        if player not in rules.PLAYERS or isinstance(player, bool):
            raise ProtocolViolationError(f"server announced a move by unknown player {player!r}")
        # The reference server accepts true/false as 1/0 and echoes them as booleans.
        if isinstance(q, bool):
            q = int(q)
        if isinstance(r, bool):
            r = int(r)
        if not (_strict_int(q) and _strict_int(r)):
            raise ProtocolViolationError(f"server announced a move with non-integer coordinates q={q!r} r={r!r}")
        if not self.board.in_bounds(q, r):
            raise ProtocolViolationError(f"server announced a move outside the board: q={q} r={r}")
        if not self.board.is_empty(q, r):
            raise ProtocolViolationError(f"server announced a move on an occupied cell: q={q} r={r}")
        winner = self.board.place(player, q, r)
        self.move_count += 1
        self.last_move = (q, r)
        if "next_turn" in payload:
            self.current_turn = payload["next_turn"]
        else:
            self.current_turn = None if winner is not None else rules.opponent(player)
        self._clock(payload)
        self.status = f"{rules.color_of(player)} played q={q} r={r}"

    def _on_swap(self, payload: dict[str, Any]) -> None:
        """The swap-pieces answer: checked with the same rules, then applied."""
        player = payload.get("player")
        if self.board is None:
            raise ProtocolViolationError("server announced a swap before any game started")
        if player not in rules.PLAYERS or isinstance(player, bool):
            raise ProtocolViolationError(f"server announced a swap by unknown player {player!r}")
        if rules.check_swap(self.board, player, player, True, self.move_count) is not None:
            raise ProtocolViolationError("server announced a swap the rules do not allow here")
        board, _, new = rules.swap_pieces(self.board, player)
        if (payload.get("q"), payload.get("r")) != new:
            raise ProtocolViolationError(f"server announced a swap to {payload.get('q')},{payload.get('r')}; "
                                         f"the mirrored stone is at {new}")
        self.board = board
        self.move_count += 1
        self.last_move = new
        next_turn = payload.get("next_turn")
        self.current_turn = next_turn if next_turn in rules.PLAYERS else rules.opponent(player)
        self._clock(payload)
        self.status = f"{rules.color_of(player)} swapped: the first stone is now theirs at q={new[0]} r={new[1]}"

    def _on_game_over(self, payload: dict[str, Any]) -> None:
        winner = payload.get("winner")
        self.game_winner = winner if winner in rules.PLAYERS else None
        self.current_turn = None
        reason = payload.get("reason", "")
        self.status = f"game {self.game_number}: {rules.COLORS.get(winner, '?')} wins ({reason})"

    def _on_series_update(self, payload: dict[str, Any]) -> None:
        self.wins = {rules.RED: payload.get("player_1_wins", self.wins[rules.RED]),
                     rules.BLUE: payload.get("player_2_wins", self.wins[rules.BLUE])}
        if _strict_int(payload.get("wins_required")):
            self.wins_required = payload["wins_required"]

    def _on_series_over(self, payload: dict[str, Any]) -> None:
        winner = payload.get("winner")
        self.series_winner = winner if winner in rules.PLAYERS else None
        self.wins = {rules.RED: payload.get("player_1_wins", self.wins[rules.RED]),
                     rules.BLUE: payload.get("player_2_wins", self.wins[rules.BLUE])}
        self.current_turn = None
        self.status = (f"series over: {rules.COLORS.get(winner, '?')} wins "
                       f"{self.wins[rules.RED]}-{self.wins[rules.BLUE]}")

    def _on_reconnected(self, payload: dict[str, Any]) -> None:
        self._seat(payload)
        self.epoch += 1
        self._from_slot_snapshot(payload.get("slot") if isinstance(payload.get("slot"), dict) else {})
        self.swap_rule = payload.get("swap") is True
        self._clock(payload)
        self.status = f"resumed slot {self.slot_id} at move {self.move_count}"

    def _on_watching(self, payload: dict[str, Any]) -> None:
        """A spectator's snapshot (/ws/watch): the whole slot, no seat of ours."""
        slot = payload.get("slot") if isinstance(payload.get("slot"), dict) else {}
        self.slot_id = payload.get("slot_id", self.slot_id)
        if _strict_int(slot.get("series_length")):
            self.series_length = slot["series_length"]
            self.wins_required = rules.wins_required(self.series_length)
        self._from_slot_snapshot(slot)
        last = payload.get("last_move")
        if (isinstance(last, list) and len(last) == 2 and all(_strict_int(v) for v in last)
                and self.board is not None and self.board.in_bounds(*last)):
            self.last_move = (last[0], last[1])
        away = slot.get("disconnected_players") or []
        self.paused = bool(away) and self.board is not None
        self.swap_rule = payload.get("swap") is True
        self._clock(payload)
        state = slot.get("state")
        if state == "empty":
            self.status = f"slot {self.slot_id} is free"
        elif state == "waiting":
            self.status = f"slot {self.slot_id}: waiting for an opponent"
        else:
            self.status = f"watching slot {self.slot_id} at move {self.move_count}"

    def _from_slot_snapshot(self, slot: dict[str, Any]) -> None:
        rows = slot.get("board")
        if isinstance(rows, list) and rows:
            # The reference's documentation shows null for empty cells.
            clean = [[cell or 0 for cell in row] for row in rows]
            try:
                self.board = rules.Board.from_rows(clean)
            except (ValueError, TypeError) as exc:
                raise ProtocolViolationError(f"slot snapshot has an unusable board: {exc}") from None
            self.board_size = self.board.size
            self.waiting = False
        else:
            self.board = None
            self.waiting = True
        self.current_turn = slot.get("current_turn")
        self.move_count = slot.get("move_count", self.move_count) or 0
        self.game_number = slot.get("current_game_number") or self.game_number
        self.wins = {rules.RED: slot.get("player_1_wins", self.wins[rules.RED]) or 0,
                     rules.BLUE: slot.get("player_2_wins", self.wins[rules.BLUE]) or 0}
        self.player_models = _labels(slot.get("player_models")) or self.player_models
        self.player_usernames = _labels(slot.get("player_usernames")) or self.player_usernames
        series_winner = slot.get("series_winner")
        self.series_winner = series_winner if series_winner in rules.PLAYERS else None
        game_winner = slot.get("winner")
        self.game_winner = game_winner if game_winner in rules.PLAYERS else None
        # The snapshot does not say which stone came last.
        self.last_move = None
        away = slot.get("disconnected_players") or []
        self.paused = self.player is not None and rules.opponent(self.player) in away

    def _on_opponent_disconnected(self, payload: dict[str, Any]) -> None:
        if self.waiting and payload.get("reason") != "reconnect_timeout":
            return  # alone in the slot: a late notice about a previous opponent
        self.paused = True
        self._clock(payload)  # a clock paused for the reconnect window stops counting down
        if payload.get("reason") == "reconnect_timeout":
            self.status = "opponent did not come back"
        else:
            self.status = f"opponent disconnected; waiting up to {payload.get('reconnect_timeout_seconds')}s"

    def _on_opponent_reconnected(self, payload: dict[str, Any]) -> None:
        self.paused = False
        self._clock(payload)
        self.status = "opponent reconnected"

    def _on_opponent_left_slot(self, payload: dict[str, Any]) -> None:
        self.status = payload.get("message") or "opponent left the slot"

    def _on_move_rejected(self, payload: dict[str, Any]) -> None:
        self.status = f"move rejected: {payload.get('reason')}"

    def _on_error(self, payload: dict[str, Any]) -> None:
        self.status = f"server error: {payload.get('message')}"
