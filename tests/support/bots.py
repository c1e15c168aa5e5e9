"""A scripted WebSocket player for end-to-end tests.

It speaks the reference protocol with the ``websockets`` library, plays
seeded random legal moves, records every frame it receives and every move it
saw accepted, and can resume its seat through /ws/reconnect after the server
went away.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import websockets
from websockets.exceptions import ConnectionClosed

from games import rules


@dataclass
class Bot:
    base_url: str
    board_size: int = 7
    series_length: int = 1
    model_name: str = "test_bot"
    username: str | None = None
    seed: int = 0
    # (game number, moves seen in that game): stop there without leaving the
    # seat, so a test can crash the server in the middle of a series.
    pause_at: tuple[int, int] | None = None
    # Seconds to think before each move (lets a page watch the game unfold).
    move_delay: float = 0.0
    # Stay seated after series_over until this event is set.
    hold: threading.Event | None = None
    # Extra handshake headers (X-Forwarded-For through a trusted proxy lets
    # one test give each bot its own client address).
    headers: dict[str, str] | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    accepted_moves: list[tuple[int, int, int, int]] = field(default_factory=list)  # (game, player, q, r)
    player: int | None = None
    slot_id: int | None = None
    token: str | None = None
    series_over: dict[str, Any] | None = None
    close_code: int | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.board: rules.Board | None = None
        self.turn: int | None = None
        self.game_number = 0
        self.paused = asyncio.Event()

    def types(self) -> list[str]:
        return [m["type"] for m in self.received]

    def problems(self) -> list[dict[str, Any]]:
        """Messages a smooth game never sends."""
        return [m for m in self.received if m["type"] in ("error", "move_rejected", "opponent_disconnected")]

    def matchmake_url(self) -> str:
        params = {"board_size": self.board_size, "series_length": self.series_length, "model_name": self.model_name}
        if self.username:
            params["username"] = self.username
        return f"{self.base_url}/ws/matchmake?{urlencode(params)}"

    def reconnect_url(self) -> str:
        return f"{self.base_url}/ws/reconnect?{urlencode({'slot_id': self.slot_id, 'token': self.token})}"

    async def play(self) -> None:
        """Matchmake and play until the series is over (or the pause point)."""
        async with websockets.connect(self.matchmake_url(), max_size=None, additional_headers=self.headers) as ws:
            await self._loop(ws)

    async def resume(self, attempts: int = 100, delay: float = 0.2) -> None:
        """Reconnect with the token (retrying while the server restarts) and
        play to the end of the series."""
        self.pause_at = None
        for _ in range(attempts):
            try:
                async with websockets.connect(self.reconnect_url(), max_size=None,
                                              additional_headers=self.headers) as ws:
                    await self._loop(ws)
                    return
            except (OSError, ConnectionClosed, websockets.InvalidHandshake):
                await asyncio.sleep(delay)
        raise RuntimeError("could not reconnect")

    async def _loop(self, ws: Any) -> None:
        try:
            async for raw in ws:
                msg = json.loads(raw)
                self.received.append(msg)
                if await self._handle(ws, msg):
                    return
        except ConnectionClosed:
            if self.pause_at is None:
                raise
            return
        self.close_code = ws.close_code

    async def _handle(self, ws: Any, msg: dict[str, Any]) -> bool:
        kind, payload = msg["type"], msg["payload"]
        if kind == "joined":
            self.player, self.slot_id, self.token = payload["player"], payload["slot_id"], payload["reconnect_token"]
        elif kind == "game_start":
            self.board = rules.Board(payload["board_size"])
            self.turn = payload["first_turn"]
            self.game_number = payload["current_game_number"]
        elif kind == "move":
            self.board.place(payload["player"], payload["q"], payload["r"])
            self.accepted_moves.append((self.game_number, payload["player"], payload["q"], payload["r"]))
            self.turn = payload["next_turn"]
            in_game = sum(1 for move in self.accepted_moves if move[0] == self.game_number)
            if self.pause_at is not None and self.pause_at == (self.game_number, in_game):
                self.paused.set()
                await ws.wait_closed()  # hold the seat until the server dies
                return True
        elif kind == "reconnected":
            slot = payload["slot"]
            self.player = payload["player"]
            self.board = rules.Board.from_rows(slot["board"])
            self.turn = slot["current_turn"]
            self.game_number = slot["current_game_number"]
        elif kind == "series_over":
            self.series_over = payload
            while self.hold is not None and not self.hold.is_set():
                await asyncio.sleep(0.05)
            return True
        elif kind in ("error", "opponent_left_slot"):
            return True
        if kind in ("game_start", "move", "reconnected", "opponent_reconnected") and self.turn == self.player:
            await self._move(ws)
        return False

    async def _move(self, ws: Any) -> None:
        if self.move_delay:
            await asyncio.sleep(self.move_delay)
        q, r = self.rng.choice(list(self.board.empty_cells()))
        await ws.send(json.dumps({"type": "move", "payload": {"q": q, "r": r}}))


async def play_pair(base_url: str, **options: Any) -> tuple[Bot, Bot]:
    """Two bots with the same options play one series to the end."""
    first = Bot(base_url, seed=1, model_name="bot_one", **options)
    second = Bot(base_url, seed=2, model_name="bot_two", **options)
    await asyncio.wait_for(_staggered(first.play(), second.play()), timeout=120)
    return first, second


async def _staggered(first: Any, second: Any) -> None:
    task = asyncio.create_task(first)
    await asyncio.sleep(0.2)  # the first takes the slot, the second joins it
    await asyncio.gather(task, second)


async def crowd_connect(urls: list[str], while_seated: Any = None) -> tuple[list[dict[str, Any]], Any]:
    """Open every URL at once and read each first message; seated connections
    stay open until all have answered and ``while_seated()`` (if given) ran.
    Returns the first messages and what ``while_seated`` returned."""
    results: list[dict[str, Any]] = []
    hold = asyncio.Event()

    async def connect_one(url: str) -> None:
        async with websockets.connect(url) as ws:
            first = json.loads(await ws.recv())
            results.append(first)
            if first["type"] == "joined":
                await hold.wait()

    tasks = [asyncio.create_task(connect_one(url)) for url in urls]
    while len(results) < len(urls):
        await asyncio.sleep(0.05)
    observed = while_seated() if while_seated is not None else None
    hold.set()
    await asyncio.gather(*tasks)
    return results, observed
