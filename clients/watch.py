"""``hexgame watch``: follow one slot live as a spectator (``/ws/watch``).

The server sends the slot's snapshot (``watching``), then every move, game
and series message in order; ``GameView`` folds them into a board exactly as
it does for a player, so a spectator and a player never disagree about a
position. The terminal view redraws the board after each change; ``--gui``
draws it in the pygame window of ``hexgame gui``.

A dropped connection is simply reopened (a spectator holds no seat): the
fresh snapshot brings the board up to date.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from websockets.exceptions import ConnectionClosed

from clients.connection import (
    DEFAULT_RECONNECT_WINDOW,
    FINAL_CLOSE_CODES,
    Message,
    describe_connect_error,
    endpoint_url,
    parse_message,
)
from clients.errors import EXIT_OK, ServerRefusedError, ServerUnreachableError
from clients.game_state import GameView, ViewSnapshot
from games import rules
from games.board_text import board_to_text

#: Messages after which the drawing changes.
REDRAW_TYPES = frozenset({"watching", "game_start", "move", "game_over", "series_update", "series_over"})
CLEAR_SCREEN = "\x1b[H\x1b[2J"


def describe(snapshot: ViewSnapshot) -> list[str]:
    """The lines above the board: who plays whom, score, turn or result."""
    def name(player: int) -> str:
        model = snapshot.player_models.get(player) or "-"
        user = snapshot.player_usernames.get(player)
        return model + (f" ({user})" if user else "")

    lines = [f"slot {snapshot.slot_id}  game {snapshot.game_number or '-'} of best of {snapshot.series_length}  "
             f"score red {snapshot.wins[0]} - {snapshot.wins[1]} blue  move {snapshot.move_count}",
             f"red (R, left-right): {name(rules.RED)}    blue (B, top-bottom): {name(rules.BLUE)}"]
    if snapshot.series_winner is not None:
        lines.append(f"series over: {rules.color_of(snapshot.series_winner)} wins")
    elif snapshot.game_winner is not None:
        lines.append(f"game {snapshot.game_number}: {rules.color_of(snapshot.game_winner)} wins")
    elif snapshot.waiting:
        lines.append("waiting for players")
    elif snapshot.paused:
        lines.append("paused: a player is reconnecting")
    elif snapshot.current_turn in rules.PLAYERS:
        lines.append(f"{rules.color_of(snapshot.current_turn)} to move")
    return lines


def render(snapshot: ViewSnapshot) -> str:
    """The whole terminal picture of a position (board lower-cased at the last move)."""
    rows = [list(row) for row in snapshot.cells] if snapshot.cells else None
    return "\n".join([*describe(snapshot), board_to_text(rows, snapshot.last_move)])


@dataclass
class WatchOptions:
    server: str
    slot_id: int
    until_over: bool = False
    reconnect_window: float = DEFAULT_RECONNECT_WINDOW


class Spectator:
    """Reads /ws/watch into a ``GameView``; ``on_change(snapshot, message)``
    runs after every message that changes the picture.

    Shaped like ``clients.session.Session`` where the GUI needs it
    (``options``, ``human``, ``snapshot()``, ``finished_game()``, ``run()``).
    """

    human = None

    def __init__(self, options: WatchOptions,
                 on_change: Callable[[ViewSnapshot, Message], None] | None = None) -> None:
        self.watch = options
        self.options = _GuiOptions(model_name=f"spectator of slot {options.slot_id}")
        self.view = GameView()
        self.on_change = on_change or (lambda snapshot, message: None)
        self._snapshot = self.view.snapshot()
        self.messages: list[Message] = []

    def snapshot(self) -> ViewSnapshot:
        return self._snapshot

    def finished_game(self) -> ViewSnapshot | None:
        return None

    def close(self) -> None:
        return

    async def run(self) -> int:
        """Watch until the series is over (``until_over``) or forever; a lost
        connection is reopened within the reconnect window."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        url = endpoint_url(self.watch.server, "/ws/watch", {"slot_id": self.watch.slot_id})
        lost_since: float | None = None
        backoff = 0.25
        while True:
            try:
                async with connect(url, open_timeout=10, ping_interval=20, ping_timeout=20) as ws:
                    lost_since, backoff = None, 0.25
                    async for frame in ws:
                        message = parse_message(frame)
                        if message.type == "error":
                            raise ServerRefusedError(f"server refused to show slot {self.watch.slot_id}: "
                                                     f"{message.get('message')}")
                        self._apply(message)
                        if self.watch.until_over and message.type == "series_over":
                            return EXIT_OK
                    code = ws.close_code
                if code in FINAL_CLOSE_CODES:
                    return EXIT_OK
            except InvalidStatus as exc:
                raise ServerRefusedError(describe_connect_error(url, exc)) from exc
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                now = time.monotonic()
                lost_since = lost_since if lost_since is not None else now
                if now - lost_since > self.watch.reconnect_window:
                    raise ServerUnreachableError(describe_connect_error(url, exc)) from exc
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 4.0)

    def _apply(self, message: Message) -> None:
        self.messages.append(message)
        self.view.apply(message)
        self._snapshot = self.view.snapshot()
        if message.type in REDRAW_TYPES:
            self.on_change(self._snapshot, message)


@dataclass(frozen=True)
class _GuiOptions:
    model_name: str
    board_size: int = 11


def terminal_printer(out: IO[str] | None = None, clear: bool | None = None) -> Callable[[ViewSnapshot, Message], None]:
    """Redraw in place on a terminal; on a pipe or file, append each picture."""
    stream = out or sys.stdout
    wipe = stream.isatty() if clear is None else clear

    def show(snapshot: ViewSnapshot, message: Message) -> None:
        stream.write((CLEAR_SCREEN if wipe else "\n") + render(snapshot) + "\n")
        stream.flush()

    return show


def run_watch(options: WatchOptions, gui: bool = False, out: IO[str] | None = None) -> int:
    if gui:
        from clients.gui import GuiApp, NetworkThread

        spectator = Spectator(options)
        app = GuiApp(spectator, match_delay=0)  # type: ignore[arg-type]
        network = NetworkThread(spectator)  # type: ignore[arg-type]
        network.start()
        return app.run(network)
    spectator = Spectator(options, terminal_printer(out))
    return asyncio.run(spectator.run())
