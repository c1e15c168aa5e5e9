"""Move clocks: time controls, deadlines and the one source of "now".

Everything that needs the time asks ``now()`` here, so tests control time by
patching one function instead of sleeping. The clock of the player to move
lives in the database (``Game.clock_ms``, ``turn_started_at``,
``turn_deadline``), so whichever server process looks first — the sweeper or
any later access — can end a game on time, even after the worker that
started the turn died.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from games import rules
from matchmaking.hot_settings import hot

# Bounds of what a client may ask for, in seconds.
MAX_CONTROL_SECONDS = 86_400
MAX_INCREMENT_SECONDS = 3_600


def now() -> datetime:
    """The current time for every service decision (patched in tests)."""
    return timezone.now()


@dataclass(frozen=True)
class TimeControl:
    """Either a per-move limit, or a game budget with a Fischer increment."""

    per_move_ms: int | None = None
    base_ms: int | None = None
    increment_ms: int = 0

    @property
    def code(self) -> str:
        """Canonical text stored on slots and series; equal codes pair."""
        if self.per_move_ms is not None:
            return f"move:{self.per_move_ms}"
        return f"fischer:{self.base_ms}+{self.increment_ms}"

    @classmethod
    def from_code(cls, code: str) -> TimeControl | None:
        if not code:
            return None
        kind, _, value = code.partition(":")
        if kind == "move":
            return cls(per_move_ms=int(value))
        base, _, increment = value.partition("+")
        return cls(base_ms=int(base), increment_ms=int(increment or 0))

    @property
    def initial_ms(self) -> int:
        return self.per_move_ms if self.per_move_ms is not None else int(self.base_ms or 0)

    def as_payload(self) -> dict[str, Any]:
        if self.per_move_ms is not None:
            return {"kind": "per_move", "per_move_ms": self.per_move_ms}
        return {"kind": "fischer", "base_ms": self.base_ms, "increment_ms": self.increment_ms}

    def describe(self) -> str:
        if self.per_move_ms is not None:
            return f"{self.per_move_ms / 1000:g} s per move"
        return f"{(self.base_ms or 0) / 1000:g} s + {self.increment_ms / 1000:g} s per move"


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _max_move() -> timedelta | None:
    seconds = hot("HEX_MAX_MOVE_SECONDS")
    return timedelta(seconds=seconds) if seconds else None


def has_deadlines(control: TimeControl | None) -> bool:
    """True when turns of such a game run against a deadline at all."""
    return control is not None or _max_move() is not None


def init_game(game: Any, control: TimeControl | None) -> None:
    """Fresh clocks for a new game (the budget is per game)."""
    game.clock_ms = {str(p): control.initial_ms for p in rules.PLAYERS} if control else None
    game.turn_started_at = None
    game.turn_deadline = None


def start_turn(game: Any, control: TimeControl | None, player: int, at: datetime, fresh: bool = True) -> None:
    """Run ``player``'s clock from ``at``. ``fresh``: a new turn (a per-move
    limit starts over); otherwise a paused turn resumes where it stopped."""
    if not has_deadlines(control):
        return
    game.turn_started_at = at
    deadlines = []
    if control is not None:
        if fresh and control.per_move_ms is not None:
            game.clock_ms[str(player)] = control.per_move_ms
        deadlines.append(at + timedelta(milliseconds=game.clock_ms[str(player)]))
    limit = _max_move()
    if limit is not None:
        deadlines.append(at + limit)
    game.turn_deadline = min(deadlines)


def stop_turn(game: Any, control: TimeControl | None, player: int, at: datetime, moved: bool) -> None:
    """Stop ``player``'s running clock at ``at``: after a move (``moved``,
    which earns the increment) or for a pause."""
    if game.turn_started_at is not None and control is not None:
        left = max(0, game.clock_ms[str(player)] - _ms(at - game.turn_started_at))
        if moved:
            # Per move: the next turn starts with the full limit again.
            left = control.per_move_ms if control.per_move_ms is not None else left + control.increment_ms
        game.clock_ms[str(player)] = left
    game.turn_started_at = None
    game.turn_deadline = None


def running(game: Any) -> bool:
    return game.turn_started_at is not None


def remaining_ms(game: Any, control: TimeControl, at: datetime) -> dict[str, int]:
    """Each player's remaining time as the clients see it, keyed "-1"/"1"."""
    out: dict[str, int] = {}
    for player in rules.PLAYERS:
        key = str(player)
        left = int((game.clock_ms or {}).get(key, 0))
        if running(game) and game.current_turn == player and game.winner is None:
            left = max(0, _ms(game.turn_deadline - at)) if game.turn_deadline else left
        out[key] = left
    return out


def is_due(game: Any, at: datetime) -> bool:
    return game is not None and game.winner is None and game.turn_deadline is not None and game.turn_deadline <= at
