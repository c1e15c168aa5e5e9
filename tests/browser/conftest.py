"""Headless Chromium (Debian's, never a downloaded build) and slow bots for the page tests."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import websockets

from games import rules

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this
    thread while it is open, which would break ``asyncio.run`` in later tests."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make browser-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@dataclass
class SlowBot:
    """Plays seeded random legal moves, waiting ``delay`` seconds before each."""

    ws_url: str
    model_name: str
    username: str
    seed: int
    board_size: int = 7
    series_length: int = 1
    delay: float = 0.0
    # Set: stay seated after series_over until this event is set.
    hold: threading.Event | None = None
    player: int | None = None
    series_over: dict[str, Any] | None = None
    moves_seen: int = 0
    errors: list[str] = field(default_factory=list)

    async def play(self) -> None:
        params = {"board_size": self.board_size, "series_length": self.series_length,
                  "model_name": self.model_name, "username": self.username}
        rng = random.Random(self.seed)
        board = None
        turn = None
        async with websockets.connect(f"{self.ws_url}/ws/matchmake?{urlencode(params)}") as ws:
            async for raw in ws:
                msg = json.loads(raw)
                kind, payload = msg["type"], msg["payload"]
                if kind == "joined":
                    self.player = payload["player"]
                elif kind == "game_start":
                    board, turn = rules.Board(payload["board_size"]), payload["first_turn"]
                elif kind == "move":
                    board.place(payload["player"], payload["q"], payload["r"])
                    turn = payload["next_turn"]
                    self.moves_seen += 1
                elif kind == "series_over":
                    self.series_over = payload
                    while self.hold is not None and not self.hold.is_set():
                        await asyncio.sleep(0.05)
                    return
                elif kind in ("error", "move_rejected", "opponent_disconnected"):
                    self.errors.append(raw)
                    return
                if kind in ("game_start", "move") and turn == self.player:
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    q, r = rng.choice(list(board.empty_cells()))
                    await ws.send(json.dumps({"type": "move", "payload": {"q": q, "r": r}}))


class BotMatch:
    """Two bots playing one series in a background thread (its own event loop)."""

    def __init__(self, ws_url: str, delay: float = 0.0, board_size: int = 7, series_length: int = 1,
                 hold: bool = False) -> None:
        self.release = threading.Event()
        if not hold:
            self.release.set()
        common = {"board_size": board_size, "series_length": series_length, "delay": delay, "hold": self.release}
        self.red = SlowBot(ws_url, "crimson_mcts", "alice", seed=1, **common)
        self.blue = SlowBot(ws_url, "azure_random", "bob", seed=2, **common)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(asyncio.wait_for(self._both(), timeout=120))
        except BaseException as exc:  # reported by join()
            self.failure = exc

    async def _both(self) -> None:
        first = asyncio.create_task(self.red.play())
        while self.red.player is None and not first.done():
            await asyncio.sleep(0.02)  # the first bot owns the slot before the second asks
        await asyncio.gather(first, self.blue.play())

    def start(self) -> BotMatch:
        self.thread.start()
        return self

    def finished(self) -> bool:
        return self.red.series_over is not None and self.blue.series_over is not None

    def join(self, timeout: float = 120) -> None:
        self.release.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the bots did not finish their series"
        if self.failure is not None:
            raise self.failure
        assert not self.red.errors and not self.blue.errors, self.red.errors + self.blue.errors
        assert self.red.series_over is not None and self.blue.series_over is not None
