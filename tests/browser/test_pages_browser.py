"""The web pages in a real headless Chromium against a real daphne server.

Playwright's sync API runs an event loop in this thread, so these tests never
touch the Django ORM: they see the arena only as a visitor (and two bots) would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, BotMatch

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PAGES = {"landing": "/", "docs": "/docs", "overview": "/overview", "statistics": "/statistics", "play": "/play"}
STONES = "#slot-1 .cell-red, #slot-1 .cell-blue"


class PageProblems:
    """Console errors, uncaught exceptions and failed requests of one page."""

    def __init__(self, page: Any) -> None:
        self.items: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.items.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.items.append(f"pageerror: {exc}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", lambda res: res.status >= 400 and self.items.append(f"HTTP {res.status}: {res.url}"))

    def _request_failed(self, request: Any) -> None:
        # The browser cancels its own favicon fetch when the test navigates on
        # before it finished (net::ERR_ABORTED): nothing the page asked for failed.
        if request.url.endswith("/favicon.svg") and "ERR_ABORTED" in (request.failure or ""):
            return
        self.items.append(f"requestfailed: {request.url} {request.failure}")


def open_page(browser: Any, viewport: dict[str, int], **options: Any) -> tuple[Any, Any, PageProblems]:
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    return context, page, PageProblems(page)


def shoot(page: Any, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path


def test_every_page_loads_without_console_errors(browser, daphne_server, screenshot_dir):
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page, problems = open_page(browser, viewport)
        for name, path in PAGES.items():
            page.goto(daphne_server.http_url + path, wait_until="networkidle")
            assert page.locator("h1").first.is_visible()
            assert page.locator("nav[aria-label=Main]").is_visible()
            if name == "overview":
                page.wait_for_selector("#live-status[data-live=on]")
            shoot(page, screenshot_dir, f"{name}-{width_name}-empty")
            # Nothing wider than the screen (only tables scroll inside their own box).
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} is {overflow}px wider than a {width_name} screen"
            # The main links on one line: on a phone the last one used to wrap onto a line of its own.
            rows = page.evaluate("new Set([...document.querySelectorAll('.site-nav a')]"
                                 ".map(a => Math.round(a.getBoundingClientRect().top))).size")
            assert rows == 1, f"{path}: the main navigation takes {rows} lines on a {width_name} screen"
        context.close()
        assert problems.items == [], problems.items


def test_landing_shows_live_counts_and_first_bot_commands(browser, daphne_server):
    context, page, problems = open_page(browser, DESKTOP)
    page.goto(daphne_server.http_url + "/")
    counts = page.locator("#live-counts")
    for label in ("Slots in use", "Games running", "Series completed"):
        assert counts.get_by_text(label).is_visible()
    assert page.locator("[data-count=slots-in-use]").inner_text() == "0"
    quickstart = page.locator("#quickstart")
    assert "pip install -e ." in quickstart.inner_text()
    assert "hexgame-server" in quickstart.inner_text()
    assert "hexgame random --board-size 11 --seed 1" in quickstart.inner_text()
    context.close()
    assert problems.items == []


HTMX_IDLE = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"


def test_overview_shows_new_stones_without_reload_and_statistics_show_the_series(
    browser, daphne_server, screenshot_dir
):
    context, page, problems = open_page(browser, DESKTOP)
    page.goto(daphne_server.http_url + "/overview")
    page.wait_for_selector("#live-status[data-live=on]")
    assert page.locator("#slot-1 .badge").inner_text() == "Free"
    page.evaluate("window.__sameDocument = true")

    match = BotMatch(daphne_server.ws_url, delay=0.15, hold=True).start()
    try:
        # The slot fills and stones appear, pushed over /ws/overview.
        page.wait_for_function(f"document.querySelectorAll('{STONES}').length >= 1", timeout=20_000)
        first = page.locator(STONES).count()
        page.wait_for_function(f"document.querySelectorAll('{STONES}').length > {first}", timeout=20_000)
        assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
        card = page.locator("#slot-1")
        text = card.inner_text()
        for label in ("crimson_mcts", "alice", "azure_random", "bob", "7×7", "best of 1"):
            assert label in text
        # Read again until it holds: an update may be replacing the card at this very moment.
        page.wait_for_function("document.querySelectorAll('#slot-1 circle.last-move').length === 1", timeout=10_000)
        assert int(card.locator("[data-field=move-count]").inner_text()) >= first + 1
        assert "token" not in page.content().lower().replace("reconnect tokens are never shown", "")
        shoot(page, screenshot_dir, "overview-desktop-playing")
        page.set_viewport_size(PHONE)
        shoot(page, screenshot_dir, "overview-phone-playing")
        page.set_viewport_size(DESKTOP)

        # The bots stay seated after the series: the card shows the result, still without a reload.
        page.wait_for_function("document.querySelector('#slot-1 .badge').textContent.trim() === 'Series over'",
                               timeout=60_000)
        assert match.finished()
        assert "won the series" in card.inner_text()
        assert page.evaluate("window.__sameDocument") is True
        shoot(page, screenshot_dir, "overview-desktop-series-over")
    finally:
        match.join()
    # Both bots left: the slot is free again.
    page.wait_for_function("document.querySelector('#slot-1 .badge').textContent.trim() === 'Free'", timeout=20_000)

    winner = match.red if match.red.series_over["winner"] == match.red.player else match.blue
    page.set_viewport_size(DESKTOP)
    page.goto(daphne_server.http_url + "/statistics")
    board = page.locator("table.leaderboard")
    assert board.get_by_text("crimson_mcts").is_visible()
    assert board.get_by_text("azure_random").is_visible()
    first_row = board.locator("tbody tr").first.inner_text()
    assert winner.model_name in first_row
    assert page.locator("[data-total=matches]").inner_text() == "1"
    recent = page.locator("ol.matches li").first.inner_text()
    assert "crimson_mcts" in recent and "azure_random" in recent and "7×7" in recent
    shoot(page, screenshot_dir, "statistics-desktop-after-series")
    page.set_viewport_size(PHONE)
    shoot(page, screenshot_dir, "statistics-phone-after-series")
    page.set_viewport_size(DESKTOP)

    # Sorting by losses ascending puts the winner first; the swap keeps the page and updates the URL.
    page.evaluate("window.__sameDocument = true")
    page.locator("th.col-losses a").click()  # first click: most losses first
    page.wait_for_url("**sort=losses**")
    page.wait_for_function("document.querySelector('th.col-losses').getAttribute('aria-sort') === 'descending'")
    assert winner.model_name not in board.locator("tbody tr").first.inner_text()
    page.wait_for_function(HTMX_IDLE)
    page.locator("th.col-losses a").click()
    page.wait_for_function("document.querySelector('th.col-losses').getAttribute('aria-sort') === 'ascending'")
    assert winner.model_name in board.locator("tbody tr").first.inner_text()
    assert page.evaluate("window.__sameDocument") is True, "sorting reloaded the page instead of swapping"

    # Filtering to a board size nobody played empties the leaderboard. htmx wires
    # the swapped-in form while it settles; a change fired before that is lost
    # (a person is never that fast, a test is).
    page.wait_for_function(HTMX_IDLE)
    page.select_option("#board-size-filter", "9")
    page.wait_for_url("**board_size=9**")
    page.wait_for_selector("text=No completed series on 9×9 boards yet")
    assert page.locator("[data-total=matches]").inner_text() == "0"
    context.close()
    assert problems.items == [], problems.items


def test_static_content_works_with_javascript_off(browser, daphne_server):
    context, page, problems = open_page(browser, PHONE, java_script_enabled=False)
    page.goto(daphne_server.http_url + "/docs")
    assert page.get_by_role("heading", name="Messages").is_visible()
    assert page.locator("svg.board").first.is_visible()
    page.goto(daphne_server.http_url + "/statistics")
    page.select_option("#board-size-filter", "11")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**board_size=11**")
    assert page.get_by_text("No completed series on 11×11 boards yet").is_visible()
    page.goto(daphne_server.http_url + "/overview")
    assert page.locator("#slot-1").is_visible()
    context.close()
    assert problems.items == []
