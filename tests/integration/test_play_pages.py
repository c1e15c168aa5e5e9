"""/play, its board fragment and the house-bot listings, through Django's test client."""

from __future__ import annotations

import re

import pytest
from channels.db import database_sync_to_async

from matchmaking.selectors import waiting_house_bots
from tests.integration.helpers import creator, run
from tests.integration.test_pages import text_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_play_page_offers_every_board_size_and_series_length_and_is_in_the_nav(client):
    response = client.get("/play?board_size=11&series_length=3")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'src="/static/js/play.js"' in html
    assert '<option value="11" selected>' in html and '<option value="3" selected>' in html
    for size in (7, 9, 11, 13, 19):
        assert f'<option value="{size}"' in html
    assert 'href="/play" aria-current="page"' in html
    assert "No house bot is waiting right now" in text_of(response)
    # Junk in the query falls back to the defaults instead of failing.
    junk = client.get("/play?board_size=8&series_length=abc").content.decode()
    assert '<option value="7" selected>' in junk and '<option value="1" selected>' in junk
    assert 'href="/play"' in client.get("/").content.decode()


@pytest.mark.parametrize("size", [7, 19])
def test_board_fragment_has_one_addressable_cell_per_field_and_the_goal_edges(client, size):
    response = client.get(f"/play/board/{size}")
    assert response.status_code == 200
    html = response.content.decode()
    cells = re.findall(r'<polygon class="cell cell-empty" points="[^"]+" data-q="(\d+)" data-r="(\d+)"', html)
    assert len(cells) == size * size
    assert {(int(q), int(r)) for q, r in cells} == {(q, r) for q in range(size) for r in range(size)}
    assert html.count('class="edge-red"') == 2 and html.count('class="edge-blue"') == 2


def test_board_fragment_refuses_sizes_the_arena_does_not_play(client):
    assert client.get("/play/board/8").status_code == 404


def test_waiting_house_bots_are_listed_on_the_landing_page_and_play(client):
    async def scenario():
        house = await creator(7, 3, model_name="model_mcts", username="house")
        other = await creator(9, model_name="someone_else", username="ann")
        listed = await database_sync_to_async(waiting_house_bots)("house")
        landing = await database_sync_to_async(client.get)("/")
        fragment = await database_sync_to_async(client.get)("/play/house-bots")
        await house.close()
        await other.close()
        return listed, landing, fragment

    listed, landing, fragment = run(scenario())
    assert listed == [{"slot_id": 1, "board_size": 7, "series_length": 3, "model_name": "model_mcts"}]
    for response in (landing, fragment):
        text = text_of(response)
        assert "House bots waiting" in text
        assert "model_mcts 7×7 · best of 3 Play it" in text
        assert "someone_else" not in text
    assert 'href="/play?board_size=7&amp;series_length=3"' in fragment.content.decode()
