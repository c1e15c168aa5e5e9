"""The replay page in headless Chromium: stepping with the keyboard and the
buttons, a URL per position, move numbers, and a running game kept current."""

from __future__ import annotations

import re
import urllib.request

import pytest

from tests.browser.conftest import DESKTOP, PHONE, BotMatch
from tests.browser.test_pages_browser import open_page, shoot
from tests.support.live import http_json

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

STONES = "#game-view .cell-red, #game-view .cell-blue"


def finished_game(server) -> dict:
    match = BotMatch(server.ws_url).start()
    match.join()
    games = http_json(f"{server.http_url}/api/games")["results"]
    return http_json(f"{server.http_url}/api/games/{games[0]['id']}")


def test_stepping_through_a_replay_with_the_keyboard(browser, daphne_server, screenshot_dir):
    record = finished_game(daphne_server)
    total = record["move_count"]
    assert total >= 7
    context, page, problems = open_page(browser, DESKTOP)
    url = f"{daphne_server.http_url}/games/{record['id']}"
    page.goto(url, wait_until="networkidle")
    view = page.locator("#game-view")
    assert view.get_attribute("data-at") == str(total)
    assert page.locator(STONES).count() == total
    shoot(page, screenshot_dir, "game-replay-desktop-final")

    page.keyboard.press("Home")
    page.wait_for_selector('#game-view[data-at="0"]')
    assert page.locator(STONES).count() == 0
    assert page.url.endswith("?move=0")

    for k in range(1, 4):
        page.keyboard.press("ArrowRight")
        page.wait_for_selector(f'#game-view[data-at="{k}"]')
        assert page.locator(STONES).count() == k
        assert page.url.endswith(f"?move={k}")
        first = record["moves"][k - 1]
        assert page.locator("[data-field=position]").inner_text().endswith(first["cell"])
        # The ringed stone is the move just played.
        ring = page.locator("#game-view circle.last-move title").text_content()
        assert ring == f"Last move: q={first['q']}, r={first['r']}"

    page.keyboard.press("ArrowLeft")
    page.wait_for_selector('#game-view[data-at="2"]')
    assert page.url.endswith("?move=2")
    # History: Back returns to the previous position's URL and board.
    page.go_back()
    page.wait_for_selector('#game-view[data-at="3"]')
    assert page.locator(STONES).count() == 3

    # The buttons do the same; move numbers toggle and stay on while stepping.
    page.click("[data-nav=numbers]")
    page.wait_for_selector("#game-view .move-numbers")
    assert page.locator("#game-view .move-numbers text").all_text_contents() == ["1", "2", "3"]
    page.click("[data-nav=next]")
    page.wait_for_selector('#game-view[data-at="4"]')
    assert page.locator("#game-view .move-numbers text").count() == 4
    assert "numbers=1" in page.url
    page.keyboard.press("End")
    page.wait_for_selector(f'#game-view[data-at="{total}"]')
    assert page.locator("[data-nav=next]").count() == 0
    shoot(page, screenshot_dir, "game-replay-desktop-numbers")

    # A position's URL opens that position directly (no script needed).
    page.goto(f"{url}?move=2", wait_until="networkidle")
    assert page.locator(STONES).count() == 2
    context.close()
    assert problems.items == [], problems.items


def test_replay_without_javascript_and_on_a_phone(browser, daphne_server, screenshot_dir):
    record = finished_game(daphne_server)
    context, page, problems = open_page(browser, PHONE, java_script_enabled=False)
    page.goto(f"{daphne_server.http_url}/games/{record['id']}?move=1", wait_until="load")
    page.click("[data-nav=next]")
    page.wait_for_url(re.compile(r"\?move=2$"))
    assert page.locator(STONES).count() == 2
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    shoot(page, screenshot_dir, "game-replay-phone-nojs")
    # The series page links every game and the SGF collection.
    page.goto(f"{daphne_server.http_url}/series/{record['series_id']}", wait_until="load")
    assert page.locator(f"a[href='/games/{record['id']}']").count() >= 1
    sgf = urllib.request.urlopen(f"{daphne_server.http_url}/series/{record['series_id']}.sgf").read().decode()
    assert sgf.startswith("(;FF[4]GM[11]SZ[7]")
    context.close()
    assert problems.items == [], problems.items


def test_running_game_page_follows_the_game(browser, daphne_server):
    match = BotMatch(daphne_server.ws_url, delay=0.15, board_size=9).start()
    context, page, problems = open_page(browser, DESKTOP)
    try:
        page.goto(f"{daphne_server.http_url}/overview", wait_until="networkidle")
        page.wait_for_selector("#slot-1 .slot-links a")
        page.click("#slot-1 .slot-links a")
        page.wait_for_selector("#game-view")
        start = int(page.locator("#game-view").get_attribute("data-at"))
        # htmx polling brings new moves in without a reload.
        page.wait_for_function(
            f"() => Number(document.querySelector('#game-view').dataset.at) >= {start + 3}", timeout=20000)
        match.join()
        page.wait_for_selector('#game-view[data-status="finished"]', timeout=20000)
        assert "won" in page.locator(".game-result").inner_text()
    finally:
        match.release.set()
        context.close()
    assert problems.items == [], problems.items
