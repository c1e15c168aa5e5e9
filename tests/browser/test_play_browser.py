"""/play in a real headless Chromium against a real daphne server and a real bot.

A person plays whole games by clicking (and by keyboard) over the arena's
WebSocket protocol; a reload in the middle of a game resumes the seat through
/ws/reconnect with the token kept in sessionStorage.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP
from tests.browser.test_pages_browser import open_page, shoot
from tests.support.bots import Bot
from tests.support.live import http_json

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

STONES = "#board-wrap polygon.cell-red, #board-wrap polygon.cell-blue"
MY_TURN_OR_DONE = "document.querySelector('#turn').dataset.mine === '1' || !document.querySelector('#result').hidden"


class BotThread:
    """One test Bot playing its series in a background thread (its own event loop)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(asyncio.wait_for(self.bot.play(), timeout=150))
        except BaseException as exc:  # reported by join()
            self.failure = exc

    def start(self) -> BotThread:
        self.thread.start()
        return self

    def join(self) -> Bot:
        self.thread.join(160)
        assert not self.thread.is_alive(), "the bot did not finish its series"
        if self.failure is not None:
            raise self.failure
        return self.bot


def wait_for_slot(server: Any, state: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        slots = [slot for slot in http_json(server.http_url + "/slots") if slot["state"] == state]
        if slots:
            return slots[0]
        time.sleep(0.1)
    pytest.fail(f"no slot reached state {state!r}")


def click_until_the_game_ends(page: Any, max_moves: int = 60, stop_after: int | None = None) -> int:
    """Click an empty cell on every turn of ours; returns how many moves we made."""
    made = 0
    for _ in range(max_moves):
        page.wait_for_function(MY_TURN_OR_DONE, timeout=30_000)
        if page.locator("#result").is_visible() and "series" in page.locator("#result").inner_text():
            return made
        if stop_after is not None and made >= stop_after:
            return made
        if page.locator("#turn").get_attribute("data-mine") != "1":
            continue
        before = page.locator(STONES).count()
        page.locator("#board-wrap polygon.cell-playable").first.click()
        page.wait_for_function(f"document.querySelectorAll('{STONES}').length > {before}", timeout=10_000)
        made += 1
    pytest.fail("the game did not end")


def stones_on_page(page: Any) -> set[tuple[int, int, int]]:
    cells = page.eval_on_selector_all(
        STONES, "cells => cells.map(c => [c.classList.contains('cell-red') ? -1 : 1, +c.dataset.q, +c.dataset.r])")
    return {tuple(cell) for cell in cells}


def test_a_person_plays_a_whole_game_by_clicks_against_a_waiting_house_bot(
    browser, daphne_server, screenshot_dir
):
    house = BotThread(Bot(daphne_server.ws_url, board_size=7, model_name="model_mcts", username="house",
                          seed=3, move_delay=0.05)).start()
    wait_for_slot(daphne_server, "waiting")
    context, page, problems = open_page(browser, DESKTOP)
    page.goto(daphne_server.http_url + "/play")
    # The waiting house bot is listed, with a link that preselects its board and series.
    listed = page.locator("#house-bots .house-bot")
    assert listed.count() == 1 and "model_mcts" in listed.inner_text() and "7×7" in listed.inner_text()
    listed.get_by_role("link", name="Play it").click()
    page.wait_for_url("**/play?board_size=7&series_length=1")
    page.fill("#play-username", "ada")
    page.get_by_role("button", name="Find an opponent").click()

    page.wait_for_selector("#board-wrap svg.play-board")
    page.wait_for_function("document.querySelector('#turn').textContent.length > 0")
    assert "you" in page.locator(".player-blue").inner_text()  # the joiner is blue
    assert page.locator(".board-wrap .edge-red").count() == 2 and page.locator(".board-wrap .edge-blue").count() == 2
    made = click_until_the_game_ends(page)
    bot = house.join()
    assert made >= 4
    result = page.locator("#result").inner_text()
    winner = bot.series_over["winner"]
    assert result.startswith("You won the series" if winner == 1 else "You lost the series")
    # The page shows every stone the arena accepted, where it was played.
    accepted = {(player, q, r) for _, player, q, r in bot.accepted_moves}
    assert stones_on_page(page) == accepted
    # Score and names: ada (blue, human) against model_mcts (red, house).
    assert page.locator("[data-field='wins-1']").inner_text() == ("1" if winner == 1 else "0")
    assert "ada" in page.locator(".player-blue").inner_text()
    assert "model_mcts" in page.locator(".player-red").inner_text()
    assert page.get_by_role("button", name="Play again").is_visible()
    assert page.evaluate("sessionStorage.getItem('hexarena.play.seat')") is None
    shoot(page, screenshot_dir, "play-desktop-series-over")
    context.close()
    assert problems.items == [], problems.items


def test_a_reload_mid_game_resumes_the_seat_and_the_game_goes_on_to_the_end(browser, daphne_server, screenshot_dir):
    context, page, problems = open_page(browser, DESKTOP)
    page.goto(daphne_server.http_url + "/play")
    page.select_option("#play-board-size", "7")
    page.get_by_role("button", name="Find an opponent").click()
    page.wait_for_function("document.querySelector('#turn').textContent.startsWith('Waiting')")
    slot = wait_for_slot(daphne_server, "waiting")
    assert slot["player_models"] == {"-1": "human"}
    opponent = BotThread(Bot(daphne_server.ws_url, board_size=7, model_name="visitor_bot", seed=8,
                             move_delay=0.05)).start()

    click_until_the_game_ends(page, stop_after=3)
    page.wait_for_function(MY_TURN_OR_DONE)
    before = stones_on_page(page)
    seat = page.evaluate("JSON.parse(sessionStorage.getItem('hexarena.play.seat'))")
    assert seat["slot_id"] == slot["slot_id"] and len(seat["token"]) >= 32
    assert seat["token"] not in page.url

    page.reload()
    page.wait_for_function("document.querySelectorAll('#event-log li').length > 0")
    page.wait_for_function(MY_TURN_OR_DONE, timeout=30_000)
    assert "Back in slot" in page.locator("#event-log").inner_text()
    assert page.locator("#play-form").is_hidden()
    assert stones_on_page(page) == before  # the same position, redrawn from the reconnect snapshot
    assert "you" in page.locator(".player-red").inner_text()
    shoot(page, screenshot_dir, "play-desktop-resumed")

    # One move by keyboard: walk the ring from the centre to an empty cell, then Enter.
    empty = page.eval_on_selector("#board-wrap polygon.cell-playable", "c => [+c.dataset.q, +c.dataset.r]")
    page.focus("#board-wrap")
    q, r = 3, 3
    for _ in range(abs(empty[0] - q)):
        page.keyboard.press("ArrowRight" if empty[0] > q else "ArrowLeft")
    for _ in range(abs(empty[1] - r)):
        page.keyboard.press("ArrowDown" if empty[1] > r else "ArrowUp")
    page.keyboard.press("Enter")
    target = f'#board-wrap polygon[data-q="{empty[0]}"][data-r="{empty[1]}"]'
    page.wait_for_function(f"document.querySelector('{target}').classList.contains('cell-red')")

    click_until_the_game_ends(page)
    bot = opponent.join()
    assert bot.series_over is not None
    assert stones_on_page(page) == {(player, q, r) for _, player, q, r in bot.accepted_moves}
    assert "series" in page.locator("#result").inner_text()
    context.close()
    assert problems.items == [], problems.items
