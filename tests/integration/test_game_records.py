"""Game records over HTTP: replay pages, SGF/JSON downloads and /api/games."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from games import records, rules
from games.models import Game, Move, Series

pytestmark = pytest.mark.django_db

RED, BLUE = rules.RED, rules.BLUE


def make_series(m1="alpha", m2="beta", u1="ann", u2="", size=7, length=3, status=Series.Status.COMPLETED,
                winner=RED, days_ago=0) -> Series:
    series = Series.objects.create(
        slot_id=2, board_size=size, series_length=length, status=status, winner=winner,
        player_1_model=m1, player_2_model=m2, player_1_username=u1, player_2_username=u2,
        completed_at=timezone.now() if status == Series.Status.COMPLETED else None,
    )
    if days_ago:
        Series.objects.filter(pk=series.pk).update(started_at=timezone.now() - timedelta(days=days_ago))
    return series


def make_game(series: Series, number: int, moves: list[tuple[int, int, int]], winner=None, reason="",
              first_turn=RED, days_ago=0) -> Game:
    board = rules.Board(series.board_size)
    for player, q, r in moves:
        board.place(player, q, r)
    game = Game.objects.create(
        series=series, number=number, first_turn=first_turn, current_turn=None if winner else first_turn,
        winner=winner, end_reason=reason, move_count=len(moves), board=board.rows(),
        last_move=list(moves[-1][1:]) if moves else None,
        finished_at=timezone.now() if winner is not None else None,
    )
    Move.objects.bulk_create([Move(game=game, number=i, player=p, q=q, r=r)
                              for i, (p, q, r) in enumerate(moves, start=1)])
    if days_ago:
        Game.objects.filter(pk=game.pk).update(started_at=timezone.now() - timedelta(days=days_ago))
    return game


RED_ROW = [m for i in range(7) for m in ([(RED, i, 3)] + ([(BLUE, i, 0)] if i < 6 else []))]


@pytest.fixture
def finished_game() -> Game:
    series = make_series()
    return make_game(series, 1, RED_ROW, winner=RED, reason=Game.EndReason.CONNECTED_SIDES)


def text_of(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# -- pages ---------------------------------------------------------------------------------------


def test_game_page_shows_players_result_board_and_moves(client, finished_game):
    response = client.get(f"/games/{finished_game.id}")
    assert response.status_code == 200
    text = text_of(response)
    assert "alpha" in text and "beta" in text and "ann" in text
    assert "Red won by connecting their sides" in text
    assert f"Series {finished_game.series_id}" in text
    assert "After move 13 of 13: Red g4" in text
    html = response.content.decode()
    # Final position: 7 red and 6 blue stones, the last move ringed.
    assert html.count("cell-red") == 7 and html.count("cell-blue") == 6
    assert 'class="last-move"' in html
    assert 'data-nav="next"' not in html and 'data-nav="prev"' in html
    assert html.count('class="move move-') == 13


def test_each_position_has_its_own_url(client, finished_game):
    html = client.get(f"/games/{finished_game.id}?move=2").content.decode()
    assert html.count("cell-red") == 1 and html.count("cell-blue") == 1
    assert f'href="/games/{finished_game.id}?move=1"' in html  # back
    assert f'href="/games/{finished_game.id}?move=3"' in html  # forward
    assert 'aria-current="step"' in html and "After move 2 of 13: Blue a1" in text_of(
        client.get(f"/games/{finished_game.id}?move=2"))
    start = client.get(f"/games/{finished_game.id}?move=0").content.decode()
    assert "cell-red" not in start and 'data-nav="prev"' not in start
    # Out of range or junk positions clamp or fall back to the latest.
    assert "After move 13 of 13" in text_of(client.get(f"/games/{finished_game.id}?move=999"))
    assert "After move 13 of 13" in text_of(client.get(f"/games/{finished_game.id}?move=-1"))
    assert "After move 13 of 13" in text_of(client.get(f"/games/{finished_game.id}?move=%C2%B2"))


def test_move_numbers_toggle(client, finished_game):
    plain = client.get(f"/games/{finished_game.id}?move=3").content.decode()
    assert "move-numbers" not in plain
    assert f'href="/games/{finished_game.id}?move=3&amp;numbers=1"' in plain
    numbered = client.get(f"/games/{finished_game.id}?move=3&numbers=1").content.decode()
    numbers = re.findall(r'<text class="number-on-(\w+)( is-last)?"[^>]*>(\d+)</text>', numbered)
    assert numbers == [("red", "", "1"), ("blue", "", "2"), ("red", " is-last", "3")]
    assert f'href="/games/{finished_game.id}?move=4&amp;numbers=1"' in numbered  # the stepper keeps them


def test_htmx_step_returns_only_the_viewer(client, finished_game):
    response = client.get(f"/games/{finished_game.id}?move=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="game-view")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="game-view"')
    assert "<html" not in html


def test_running_game_page_polls_only_at_the_latest_position(client):
    series = make_series(status=Series.Status.ACTIVE, winner=None)
    game = make_game(series, 1, [(RED, 3, 3), (BLUE, 2, 2)])
    latest = client.get(f"/games/{game.id}").content.decode()
    assert "In progress" in text_of(client.get(f"/games/{game.id}"))
    assert 'hx-trigger="every 2s"' in latest and 'http-equiv="refresh"' in latest
    assert f"/ws/watch?slot_id={series.slot_id}" in latest
    earlier = client.get(f"/games/{game.id}?move=1").content.decode()
    assert "hx-trigger" not in earlier.split('id="game-view"')[1].split(">")[0]


def test_missing_game_and_series_are_404(client):
    for path in ("/games/999", "/games/999.sgf", "/games/999.json", "/series/999", "/series/999.sgf"):
        assert client.get(path).status_code == 404


def test_series_page_lists_its_games(client):
    series = make_series(length=3)
    g1 = make_game(series, 1, RED_ROW, winner=RED, reason="connected_sides")
    g2 = make_game(series, 2, [(BLUE, 3, 3)], winner=BLUE, reason="resignation", first_turn=BLUE)
    response = client.get(f"/series/{series.id}")
    text = text_of(response)
    html = response.content.decode()
    assert f'href="/games/{g1.id}"' in html and f'href="/games/{g2.id}"' in html
    assert "Red won by connecting their sides" in text and "Blue won by resignation" in text
    assert f'href="/series/{series.id}.sgf"' in html


# -- downloads ----------------------------------------------------------------------------------------


def test_game_sgf_download_reads_back(client, finished_game):
    response = client.get(f"/games/{finished_game.id}.sgf")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-go-sgf")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    assert text.startswith("(;FF[4]GM[11]SZ[7]")
    assert "PB[beta]PW[alpha (ann)]" in text and "RE[W+]" in text
    [record] = records.parse_sgf(text)
    assert [(m.player, m.q, m.r) for m in record.moves] == RED_ROW


def test_game_json_download_matches_the_api(client, finished_game):
    download = json.loads(client.get(f"/games/{finished_game.id}.json").content)
    api = client.get(f"/api/games/{finished_game.id}").json()
    assert {k: v for k, v in api.items() if k != "links"} == download
    record = records.from_json(download)
    assert [(m.player, m.q, m.r) for m in record.moves] == RED_ROW
    assert api["links"]["sgf"] == f"/games/{finished_game.id}.sgf"


def test_series_downloads_as_one_sgf_collection(client):
    series = make_series()
    make_game(series, 1, RED_ROW, winner=RED, reason="connected_sides")
    make_game(series, 2, [(BLUE, 3, 3), (RED, 0, 0)], winner=RED, reason="resignation", first_turn=BLUE)
    text = client.get(f"/series/{series.id}.sgf").content.decode()
    parsed = records.parse_sgf(text)
    assert [r.game_number for r in parsed] == [1, 2]
    assert parsed[1].end_reason == "resignation"
    body = json.loads(client.get(f"/series/{series.id}.json").content)
    assert [g["game_number"] for g in body["games"]] == [1, 2]


# -- /api/games ------------------------------------------------------------------------------------------


@pytest.fixture
def library() -> dict[str, Game]:
    s1 = make_series(m1="alpha", m2="beta", u1="ann", size=7, days_ago=10)
    s2 = make_series(m1="gamma", m2="alpha", u2="ann", size=9, winner=BLUE, days_ago=3)
    s3 = make_series(m1="beta", m2="delta", u1="bob", size=7, status=Series.Status.ACTIVE, winner=None)
    s4 = make_series(m1="eps", m2="zeta", u1="", size=11, status=Series.Status.ABANDONED, winner=None)
    return {
        "old_red": make_game(s1, 1, RED_ROW, winner=RED, reason="connected_sides", days_ago=10),
        "blue": make_game(s2, 1, [(RED, 0, 0)], winner=BLUE, reason="resignation", days_ago=3),
        "running": make_game(s3, 1, [(RED, 1, 1), (BLUE, 2, 2)]),
        "abandoned": make_game(s4, 1, [(RED, 1, 1)]),
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_api_lists_games_newest_first(client, library):
    body = client.get("/api/games").json()
    assert body["count"] == 4
    assert [row["id"] for row in body["results"]] == [
        library["abandoned"].id, library["running"].id, library["blue"].id, library["old_red"].id]
    row = body["results"][-1]
    assert row["red"] == {"player": -1, "model": "alpha", "username": "ann"}
    assert row["status"] == "finished" and row["winner"] == -1 and row["move_count"] == 13
    assert "moves" not in row
    assert row["links"]["page"] == f"/games/{row['id']}"
    assert "token" not in json.dumps(body)


@pytest.mark.parametrize(("query", "expected"), [
    ("model=alpha", ["blue", "old_red"]),
    ("model=nobody", []),
    ("username=ann", ["blue", "old_red"]),
    ("username=bob", ["running"]),
    ("board_size=7", ["running", "old_red"]),
    ("board_size=11", ["abandoned"]),
    ("result=red", ["old_red"]),
    ("result=blue", ["blue"]),
    ("result=running", ["running"]),
    ("result=abandoned", ["abandoned"]),
    ("end_reason=resignation", ["blue"]),
    ("model=alpha&board_size=9", ["blue"]),
])
def test_api_filters(client, library, query, expected):
    assert ids(client.get(f"/api/games?{query}")) == [library[name].id for name in expected]


def test_api_filters_by_date_range(client, library):
    today = timezone.now().date()
    week_ago = (timezone.now() - timedelta(days=7)).date()
    five_days_ago = (timezone.now() - timedelta(days=5)).date()
    assert ids(client.get(f"/api/games?started_before={week_ago}")) == [library["old_red"].id]
    assert set(ids(client.get(f"/api/games?started_after={five_days_ago}&started_before={today}"))) == {
        library["blue"].id, library["running"].id, library["abandoned"].id}
    assert ids(client.get(f"/api/games?started_after={today + timedelta(days=1)}")) == []


@pytest.mark.parametrize("query", ["board_size=8", "board_size=x", "result=draw", "started_after=yesterday",
                                   "end_reason=forfeit", "series=abc"])
def test_api_refuses_bad_filters(client, library, query):
    response = client.get(f"/api/games?{query}")
    assert response.status_code == 400
    assert response.json()  # says which parameter is wrong


def test_api_pagination(client):
    series = make_series(length=15)
    for number in range(1, 6):
        make_game(series, number, [(RED, number, 0)])
    first = client.get("/api/games?page_size=2").json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["previous"] is None
    assert "page=2" in first["next"]
    second = client.get("/api/games?page_size=2&page=2").json()
    third = client.get("/api/games?page_size=2&page=3").json()
    seen = [r["game_number"] for r in first["results"] + second["results"] + third["results"]]
    assert sorted(seen) == [1, 2, 3, 4, 5] and third["next"] is None
    assert client.get("/api/games?page=9").status_code == 404
    assert len(client.get("/api/games?page_size=1000").json()["results"]) == 5  # capped at 100, not refused
    for bad in ("0", "-3", "false", "2.5", ""):
        assert client.get(f"/api/games?page_size={bad}").status_code == 400
        assert client.get(f"/api/games?page={bad}").json() == {"page": ["a positive integer"]}
    assert client.get("/api/games/-4").json() == {"detail": "Not found."}
    assert client.get("/api/games?started_after=").status_code == 400


def test_api_game_detail_has_every_move(client, library):
    game = library["old_red"]
    body = client.get(f"/api/games/{game.id}").json()
    assert body["moves"][0] == {"number": 1, "player": -1, "q": 0, "r": 3, "cell": "a4"}
    assert body["move_count"] == 13 and body["end_reason"] == "connected_sides"
    assert client.get("/api/games/424242").status_code == 404


def test_api_is_in_the_openapi_schema(client):
    schema = client.get("/api/openapi.json?format=json").json()
    assert "/api/games" in schema["paths"] and "/api/games/{game_id}" in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/api/games"]["get"]["parameters"]}
    assert {"model", "username", "board_size", "result", "started_after", "started_before", "page",
            "page_size"} <= params
    assert "GameRecord" in schema["components"]["schemas"]
    assert "/api/statistics" in schema["paths"]


# -- links and docs -------------------------------------------------------------------------------------


def test_statistics_recent_matches_link_to_the_series_page(client, finished_game):
    html = client.get("/statistics").content.decode()
    assert f'href="/series/{finished_game.series_id}"' in html


def test_admin_links_series_and_games_to_their_pages(client, finished_game, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw-for-tests-only")
    client.force_login(admin)
    series_list = client.get("/admin/games/series/").content.decode()
    assert f'href="/series/{finished_game.series_id}"' in series_list
    games_list = client.get("/admin/games/game/").content.decode()
    assert f'href="/games/{finished_game.id}"' in games_list
    change = client.get(f"/admin/games/game/{finished_game.id}/change/").content.decode()
    assert "View on site" in change and "viewsitelink" in change
    series_change = client.get(f"/admin/games/series/{finished_game.series_id}/change/").content.decode()
    assert f'href="/games/{finished_game.id}"' in series_change


def test_docs_page_documents_watching_records_and_the_sgf_mapping(client):
    text = text_of(client.get("/docs"))
    for needle in ("/ws/watch?slot_id=N", "Spectators are read-only; only ping is accepted", "FF[4]GM[11]SZ[n]",
                   "Blue (player 1, connects top and bottom) Black", "a1 (top left)", "GET /api/games",
                   "hexgame watch --slot-id 3", "hexgame replay"):
        assert needle in text, needle
