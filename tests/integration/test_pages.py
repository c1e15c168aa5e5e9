"""The web pages through Django's test client, and the /ws/overview feed
through the real ASGI application (Channels' communicators)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from games import rules
from games.models import Series
from hexsite.asgi import application
from matchmaking.delivery import OVERVIEW_GROUP
from matchmaking.selectors import overview_slots
from tests.integration.helpers import BLUE, RED, pair, play, run, win_game

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 5.0


def completed_series(**fields) -> Series:
    defaults = {
        "slot_id": 1, "board_size": 7, "series_length": 3, "status": Series.Status.COMPLETED,
        "current_game_number": 3, "player_1_wins": 2, "player_2_wins": 1, "winner": RED,
        "player_1_model": "alpha_zero", "player_2_model": "random_walk", "player_1_username": "ann",
        "player_2_username": "ben", "completed_at": timezone.now(),
    }
    defaults.update(fields)
    return Series.objects.create(**defaults)


def text_of(response) -> str:
    """Visible text of a page, roughly: tags removed, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# -- landing ----------------------------------------------------------------------------------


def test_landing_explains_the_arena_and_shows_live_counts(client):
    completed_series()
    completed_series(board_size=11)
    response = client.get("/")
    assert response.status_code == 200
    text = text_of(response)
    assert "Where Hex bots meet" in text
    assert "Slots in use 0 of 6" in text
    assert "Games running 0" in text
    assert "Series completed 2" in text
    # First bot in three commands.
    for command in ("pip install -e .", "hexgame-server", "hexgame random --board-size 11 --seed 1",
                    "hexgame random --board-size 11 --seed 2"):
        assert command in text
    assert 'href="/docs"' in response.content.decode()
    assert 'href="/overview"' in response.content.decode()


def test_landing_counts_fragment_for_htmx_polling(client):
    response = client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="live-counts")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="live-counts"')
    assert "<html" not in html
    # A history restore wants the whole page.
    restore = client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="live-counts",
                         HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restore.content.decode()


def test_landing_counts_running_games(client):
    async def scenario():
        red, blue, start = await pair(7, 1)
        await play(red, blue, [(start["first_turn"], 3, 3)])
        response = await database_sync_to_async(client.get)("/")
        await red.close()
        await blue.close()
        return text_of(response)

    text = run(scenario())
    assert "Slots in use 1 of 6" in text
    assert "Games running 1" in text


# -- docs ---------------------------------------------------------------------------------------


def test_docs_cover_rules_protocol_api_clients_and_configuration(client):
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.content.decode()
    text = text_of(response)
    # Rules and coordinates, with the orientation diagram drawn as SVG.
    assert "board[r][q]" in text
    assert "(+1,0) (-1,0) (0,+1) (0,-1) (+1,-1) (-1,+1)" in text
    assert html.count('<svg class="board docs-board"') == 2
    assert "left and right" in text and "top and bottom" in text
    # Every endpoint and every message of the protocol.
    for endpoint in ("/ws/matchmake", "/ws/join-slot", "/ws/reconnect", "/ws/slots"):
        assert endpoint in text
    client_types = ["move", "chat", "resign", "ping", "hello", "keep_slot"]
    server_types = ["joined", "waiting_for_opponent", "game_start", "move", "move_rejected", "game_over",
                    "series_update", "series_over", "reconnected", "opponent_disconnected",
                    "opponent_reconnected", "chat", "slot_kept", "opponent_left_slot", "pong", "error"]
    for type_ in client_types + server_types:
        assert f"<code>{type_}</code>" in html, type_
    for reason in (rules.REASON_MALFORMED, rules.REASON_NOT_STARTED, rules.REASON_PAUSED, rules.REASON_FINISHED,
                   rules.REASON_NOT_YOUR_TURN, rules.REASON_OFF_BOARD, rules.REASON_OCCUPIED):
        assert reason in text
    # HTTP API and clients.
    assert 'href="/api/docs"' in html
    assert "GET /slots" in text and "GET /api/statistics" in text
    assert "def agent(board, action_set):" in text
    assert "(row, col)" in text
    for command in ("hexgame random", "hexgame play", "hexgame gui"):
        assert command in text


def test_docs_list_every_environment_variable_of_the_settings(client):
    """The configuration table stays complete when settings.py or the
    ``hexgame-server`` command line grows."""
    source = (ROOT / "hexsite" / "settings.py").read_text()
    names = set(re.findall(r"""env(?:\.\w+)?\(\s*["'](HEX_[A-Z0-9_]+)["']""", source))
    assert {"HEX_DATABASE_URL", "HEX_REDIS_URL", "HEX_MAX_SLOTS", "HEX_OVERVIEW", "HEX_SECRET_KEY"} <= names
    command_line = (ROOT / "hexsite" / "cli.py").read_text()
    names |= set(re.findall(r"""os\.environ\.get\(\s*["'](HEX_[A-Z0-9_]+)["']""", command_line))
    assert {"HEX_HOST", "HEX_PORT", "HEX_SERVER"} <= names
    text = text_of(client.get("/docs"))
    missing = sorted(name for name in names if name not in text)
    assert missing == []


# -- overview ---------------------------------------------------------------------------------


def test_overview_lists_every_slot_with_players_board_and_last_move(client):
    async def scenario():
        red, blue, start = await pair(7, 3, red_extra={"model_name": "alpha_zero", "username": "ann"},
                                      blue_extra={"model_name": "random_walk", "username": "ben"})
        first = start["first_turn"]
        await play(red, blue, [(first, 3, 3), (-first, 2, 4)])
        response = await database_sync_to_async(client.get)("/overview")
        tokens = [red.joined["reconnect_token"], blue.joined["reconnect_token"]]
        await red.close()
        await blue.close()
        return response, tokens, first

    response, tokens, first = run(scenario())
    assert response.status_code == 200
    html = response.content.decode()
    for token in tokens:
        assert token not in html
    card = html[html.index('id="slot-1"'):html.index('id="slot-2"')]
    card_text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card))
    for expected in ("alpha_zero", "ann", "random_walk", "ben", "7×7", "best of 3", "Playing",
                     f"{'Red' if first == RED else 'Blue'} to move", "q=2, r=4"):
        assert expected in card_text.replace("&times;", "×"), expected
    assert card_text.count("online") == 2
    # 49 hexagons, two stones, and the ring on the last move (q=2, r=4).
    assert card.count('class="cell ') == 49
    assert card.count("cell-red") == 1 and card.count("cell-blue") == 1
    assert re.search(r'class="cell cell-(red|blue) cell-last" points="[^"]+" data-q="2" data-r="4"', card)
    assert card.count('class="last-move"') == 1
    # The other slots are free.
    assert html.count(">Free<") == 5
    # The live feed is wired up.
    assert 'ws-connect="/ws/overview"' in html
    assert "vendor/htmx-ext-ws-2.0.4/ws.min.js" in html


def test_overview_shows_waiting_paused_and_finished_slots(client):
    async def scenario():
        red, blue, start = await pair(7, 1)
        await win_game(red, blue, 7, start["first_turn"], BLUE)
        await red.expect("series_over")
        await blue.expect("series_over")
        finished = await database_sync_to_async(client.get)("/overview")
        await red.close()
        await blue.close()
        # A waiting slot, then its owner's opponent drops mid-game.
        red2, blue2, _ = await pair(9, 1)
        await blue2.close()
        paused = await database_sync_to_async(client.get)("/overview")
        await red2.close()
        return text_of(finished), text_of(paused)

    finished, paused = run(scenario())
    assert "Series over" in finished and "Blue won the series" in finished and "winner" in finished
    assert "Paused: reconnecting" in paused and "away" in paused


def counted_overview_slots(slot_ids=None):
    """``overview_slots`` and the number of queries it made (in this thread)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        slots = overview_slots(slot_ids)
    return slots, len(queries)


def test_overview_selector_adds_last_move_without_n_plus_one():
    async def scenario():
        players = []
        for size in (7, 9, 11):
            red, blue, start = await pair(size, 1)
            await play(red, blue, [(start["first_turn"], 1, 2)])
            players += [red, blue]
        result = await database_sync_to_async(counted_overview_slots)()
        for ws in players:
            await ws.close()
        return result

    slots, queries = run(scenario())
    # The two of list_slot_snapshots, one for the last moves, one for the spectator counts, however many slots.
    assert queries <= 4
    assert [s["last_move"] for s in slots[:3]] == [[1, 2]] * 3
    assert all(s["last_move"] is None for s in slots[3:])
    assert all("token" not in str(s) for s in slots)


def test_overview_selector_ignores_a_last_move_from_another_position(monkeypatch):
    async def scenario():
        red, blue, start = await pair(7, 1)
        await play(red, blue, [(start["first_turn"], 4, 0)])
        await red.close()
        await blue.close()

    run(scenario())
    assert overview_slots([1])[0]["last_move"] == [4, 0]
    from matchmaking import selectors, snapshots

    def read_before_the_move():
        # As if the snapshot was read before the last move committed and the
        # last move after it.
        snaps = snapshots.list_slot_snapshots()
        snaps[0]["move_count"] -= 1
        return snaps

    monkeypatch.setattr(selectors, "list_slot_snapshots", read_before_the_move)
    assert overview_slots([1])[0]["last_move"] is None


# -- statistics ---------------------------------------------------------------------------------


def test_statistics_shows_leaderboard_totals_sizes_lengths_and_recent_matches(client):
    completed_series()
    completed_series(board_size=11, series_length=1, current_game_number=1, player_1_wins=0, player_2_wins=1,
                     winner=BLUE, completed_at=timezone.now() - timedelta(hours=2))
    Series.objects.create(slot_id=2, board_size=13, series_length=1, status=Series.Status.ACTIVE,
                          player_1_model="unfinished_bot")
    response = client.get("/statistics")
    assert response.status_code == 200
    text = text_of(response)
    assert "Series completed 2" in text
    assert "Games played 4" in text
    assert "Models on the board 2" in text
    assert "unfinished_bot" not in text
    rows = re.findall(r"<tr>\s*<td class=\"num col-rank\">(\d+)</td>(.*?)</tr>", response.content.decode(), re.S)
    assert len(rows) == 2
    first = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", rows[0][1])).split()
    # Both have 1 win and 50%, games 2–2: the reference breaks the tie by model name, descending.
    # random_walk/ben: 2 series, 1 won, 1 lost, games 1+1 won, 2+0 lost.
    assert first[:8] == ["random_walk", "ben", "2", "1", "1", "2", "2", "50.0%"]
    # Board sizes and series lengths played.
    assert re.search(r"7×7 1 .*11×11 1", text)
    assert "best of 1 1" in text and "best of 3 1" in text
    # Recent matches, newest first.
    recent = text[text.index("Recent matches"):]
    assert recent.index("Red won") < recent.index("Blue won")
    assert "2 – 1" in recent
    assert "just now" in recent and "2 hours ago" in recent


def test_statistics_sorts_on_the_server(client):
    completed_series(player_1_model="zeta", player_2_model="alpha", winner=BLUE, player_1_wins=0,
                     player_2_wins=2, current_game_number=2)
    completed_series(player_1_model="zeta", player_2_model="mid", winner=RED)

    def order(url: str) -> list[str]:
        html = client.get(url).content.decode()
        return re.findall(r'<th scope="row" class="col-model"><span class="player-name"><span class="model">(\w+)',
                          html)

    # Reference order: wins, then win rate (alpha 1/1 before zeta 1/2), ...
    assert order("/statistics") == ["alpha", "zeta", "mid"]
    assert order("/statistics?sort=model&dir=asc") == ["alpha", "mid", "zeta"]
    assert order("/statistics?sort=model&dir=desc") == ["zeta", "mid", "alpha"]
    assert order("/statistics?sort=losses&dir=desc")[0] == "zeta"
    assert order("/statistics?sort=matches&dir=desc")[0] == "zeta"
    assert order("/statistics?sort=win_rate&dir=asc")[0] == "mid"
    # Unknown values fall back to the default order instead of failing.
    assert order("/statistics?sort=drop_table&dir=sideways") == ["alpha", "zeta", "mid"]
    html = client.get("/statistics?sort=wins&dir=desc").content.decode()
    assert re.search(r'class="col-wins num sorted" aria-sort="descending"', html)
    # The header links toggle the direction and keep the filter.
    html = client.get("/statistics?board_size=7&sort=wins&dir=desc").content.decode()
    assert 'href="?board_size=7&amp;sort=wins&amp;dir=asc"' in html


def test_statistics_filters_by_board_size(client):
    completed_series(player_1_model="small_board_bot")
    completed_series(board_size=11, player_1_model="big_board_bot")
    text = text_of(client.get("/statistics?board_size=11"))
    assert "big_board_bot" in text and "small_board_bot" not in text
    assert "Series completed 1" in text
    assert "11×11 boards" in text
    html = client.get("/statistics?board_size=11").content.decode()
    assert '<option value="11" selected>' in html
    empty = text_of(client.get("/statistics?board_size=19"))
    assert "No completed series on 19×19 boards yet" in empty
    # An invalid size shows everything.
    everything = text_of(client.get("/statistics?board_size=8"))
    assert "big_board_bot" in everything and "small_board_bot" in everything


def test_statistics_fragment_for_htmx_swaps(client):
    completed_series()
    response = client.get("/statistics?sort=wins", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="stats-content")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="stats-content"')
    assert "<html" not in html and "alpha_zero" in html
    assert "HX-Request" in response.headers["Vary"]


def test_pages_share_the_base_template_and_assets(client):
    for path in ("/", "/docs", "/overview", "/statistics"):
        html = client.get(path).content.decode()
        assert html.startswith("<!doctype html>")
        assert '<main id="main"' in html
        assert "/static/css/arena.css" in html
        assert "/static/vendor/htmx-2.0.11/htmx.min.js" in html
        assert "cdn" not in html.lower() and "unpkg" not in html.lower()
        assert 'aria-current="page"' in html
    assert client.get("/static/vendor/htmx-2.0.11/htmx.min.js").status_code == 200
    assert client.get("/static/vendor/htmx-ext-ws-2.0.4/ws.min.js").status_code == 200


# -- HEX_OVERVIEW -------------------------------------------------------------------------------


def test_overview_off_is_a_404_and_hidden_from_navigation(client, settings):
    settings.HEX_OVERVIEW = "off"
    assert client.get("/overview").status_code == 404
    landing = client.get("/").content.decode()
    assert 'href="/overview"' not in landing
    # The rest of the site is unaffected.
    assert client.get("/statistics").status_code == 200


def test_overview_staff_requires_a_staff_login(client, settings):
    settings.HEX_OVERVIEW = "staff"
    response = client.get("/overview")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/") and "next=/overview" in response.url
    user_model = get_user_model()
    user_model.objects.create_user("visitor", password="pw-visitor-123")
    client.login(username="visitor", password="pw-visitor-123")
    assert client.get("/overview").status_code == 302
    assert 'href="/overview"' not in client.get("/").content.decode()
    user_model.objects.create_user("operator", password="pw-operator-123", is_staff=True)
    client.login(username="operator", password="pw-operator-123")
    assert client.get("/overview").status_code == 200
    assert 'href="/overview"' in client.get("/").content.decode()


async def overview_socket(headers: list[tuple[bytes, bytes]] | None = None) -> tuple[WebsocketCommunicator, bool]:
    comm = WebsocketCommunicator(application, "/ws/overview", headers=headers or [])
    connected, _ = await comm.connect(timeout=TIMEOUT)
    return comm, connected


def test_live_feed_follows_hex_overview(client, settings):
    settings.HEX_OVERVIEW = "off"

    async def refused() -> bool:
        comm, connected = await overview_socket()
        await comm.disconnect()
        return connected

    assert run(refused()) is False
    settings.HEX_OVERVIEW = "staff"
    assert run(refused()) is False
    get_user_model().objects.create_user("operator", password="pw-operator-123", is_staff=True)
    client.login(username="operator", password="pw-operator-123")
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"

    async def staff() -> str:
        comm, connected = await overview_socket([(b"cookie", cookie.encode())])
        assert connected
        first = await comm.receive_from(TIMEOUT)
        await comm.disconnect()
        return first

    assert 'id="overview-summary"' in run(staff())


# -- the live feed ------------------------------------------------------------------------------


def test_live_feed_pushes_new_stones_and_never_tokens():
    async def scenario():
        comm, connected = await overview_socket()
        assert connected
        initial = await comm.receive_from(TIMEOUT)
        red, blue, start = await pair(7, 1, red_extra={"model_name": "alpha_zero"})
        await play(red, blue, [(start["first_turn"], 5, 1)])
        # Keep reading pushes until one shows the stone (joins came first).
        pushes = []
        while True:
            html = await comm.receive_from(TIMEOUT)
            pushes.append(html)
            if 'data-q="5" data-r="1"' in html and "cell-last" in html:
                break
        tokens = [red.joined["reconnect_token"], blue.joined["reconnect_token"]]
        await red.close()
        await blue.close()
        await comm.disconnect()
        return initial, pushes, tokens

    initial, pushes, tokens = run(scenario())
    # The first push brings the whole page up to date: summary and all six slots.
    assert 'id="overview-summary"' in initial and initial.count('<article id="slot-') == 6
    assert initial.count('hx-swap-oob="true"') == 7
    last = pushes[-1]
    # Only the changed slot's card travels, plus the summary.
    assert last.count('<article id="slot-') == 1 and 'id="slot-1"' in last
    assert "alpha_zero" in last
    assert re.search(r'cell-last" points="[^"]+" data-q="5" data-r="1"', last)
    for html in [initial, *pushes]:
        for token in tokens:
            assert token not in html


def test_live_feed_coalesces_bursts():
    async def scenario():
        comm, connected = await overview_socket()
        assert connected
        await comm.receive_from(TIMEOUT)  # the initial full push
        layer = get_channel_layer()
        for i in range(40):
            await layer.group_send(OVERVIEW_GROUP, {"type": "slots.changed", "slot_ids": [1 + i % 3]})
        pushes = []
        while not await comm.receive_nothing(1.0):
            pushes.append(await comm.receive_from(TIMEOUT))
        await comm.disconnect()
        return pushes

    pushes = run(scenario())
    # 40 announcements become one or two pushes carrying the three slots.
    assert 1 <= len(pushes) <= 3
    ids = set(re.findall(r'<article id="slot-(\d+)"', "".join(pushes)))
    assert ids == {"1", "2", "3"}


def test_overview_shows_verified_badges_options_and_a_swap(client):
    from matchmaking import services

    async def scenario():
        token = await database_sync_to_async(lambda: services.issue_bot_token("ann", "hexnet")[1])()
        options = {"swap": 1, "time_base": 300, "time_increment": 5}
        red, blue, _ = await pair(7, 1, red_extra={**options, "bot_token": token},
                                  blue_extra={**options, "model_name": "guest"})
        before = await database_sync_to_async(client.get)("/overview")
        await play(red, blue, [(RED, 2, 0)])
        await blue.send("swap")
        await red.expect("swap")
        await blue.expect("swap")
        after = await database_sync_to_async(client.get)("/overview")
        await red.close()
        await blue.close()
        return before.content.decode(), after.content.decode()

    before, after = run(scenario())
    card = before.split('id="slot-1"', 1)[1].split("</article>", 1)[0]
    assert card.count("✓ verified") == 1  # ann/hexnet only, not the guest
    assert "swap rule" in card and "clock: 300 s + 5 s per move" in card
    assert "swapped the opening stone" not in card
    assert "the second player swapped the opening stone (pie rule)" in after
