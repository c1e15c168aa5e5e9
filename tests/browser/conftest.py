"""Headless Chromium (Debian's, never a downloaded build) and a bot match for the page tests."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bots import Bot

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


class BotMatch:
    """Two bots playing one series in a background thread (its own event loop)."""

    def __init__(self, ws_url: str, delay: float = 0.0, board_size: int = 7, series_length: int = 1,
                 hold: bool = False) -> None:
        self.release = threading.Event()
        if not hold:
            self.release.set()
        common = {"board_size": board_size, "series_length": series_length, "move_delay": delay,
                  "hold": self.release}
        self.red = Bot(ws_url, model_name="crimson_mcts", username="alice", seed=1, **common)
        self.blue = Bot(ws_url, model_name="azure_random", username="bob", seed=2, **common)
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
        assert not self.red.problems() and not self.blue.problems(), self.red.problems() + self.blue.problems()
        assert self.red.series_over is not None and self.blue.series_over is not None
