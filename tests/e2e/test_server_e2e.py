"""Real daphne, real WebSocket clients: complete series, crashes, crowds."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from urllib.parse import urlencode

import pytest
import websockets

from games import rules
from tests.support.arena_db import moves_in
from tests.support.bots import Bot, crowd_connect, play_pair
from tests.support.live import http_json

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["daphne", "uvicorn"])
def server(request, live_server_factory):
    """Each protocol-level test runs on both supported ASGI servers."""
    return live_server_factory(server=request.param)


@pytest.mark.parametrize("series_length", [1, 3])
def test_two_bots_complete_a_series_and_it_is_recorded(server, tmp_path, series_length):
    first, second = asyncio.run(play_pair(server.ws_url, board_size=7, series_length=series_length))

    assert first.series_over == second.series_over
    result = first.series_over
    needed = rules.wins_required(series_length)
    assert max(result["player_1_wins"], result["player_2_wins"]) == needed
    assert result["winner"] == (rules.RED if result["player_1_wins"] == needed else rules.BLUE)
    # The creator is red and hears joined before waiting_for_opponent; the joiner is blue.
    assert first.types()[:2] == ["joined", "waiting_for_opponent"]
    assert second.types()[:2] == ["joined", "game_start"]
    assert (first.player, second.player) == (rules.RED, rules.BLUE)
    # First turn alternates by game number.
    starts = [m["payload"] for m in first.received if m["type"] == "game_start"]
    assert [s["first_turn"] for s in starts] == [rules.first_turn(s["current_game_number"]) for s in starts]
    # Both saw the same moves, and exactly those are in the database.
    assert first.accepted_moves == second.accepted_moves
    assert moves_in(tmp_path / "arena.sqlite3") == first.accepted_moves

    stats = http_json(f"{server.http_url}/api/statistics")
    assert stats["totals"]["matches"] == 1
    match = stats["recent_matches"][0]
    assert match["series_length"] == series_length
    assert (match["player_1_model"], match["player_2_model"]) == ("bot_one", "bot_two")
    assert (match["player_1_wins"], match["player_2_wins"]) == (result["player_1_wins"], result["player_2_wins"])
    slots_text = urllib.request.urlopen(f"{server.http_url}/slots", timeout=10).read().decode()
    assert first.token not in slots_text and second.token not in slots_text


def test_kill_9_mid_series_then_both_players_resume_and_finish(live_server_factory, tmp_path):
    """Crash the server in game 2 of a best-of-3; after a restart on the same
    database both players return with their tokens and every accepted move is
    still there."""
    env = {"HEX_RECONNECT_TIMEOUT": "60", "HEX_SWEEP_INTERVAL": "0.2"}
    server = live_server_factory(env=env)

    async def scenario() -> tuple[Bot, Bot, list]:
        red = Bot(server.ws_url, series_length=3, seed=11, model_name="red_bot", pause_at=(2, 5))
        blue = Bot(server.ws_url, series_length=3, seed=12, model_name="blue_bot", pause_at=(2, 5))
        red_task = asyncio.create_task(red.play())
        await asyncio.sleep(0.2)
        blue_task = asyncio.create_task(blue.play())
        await asyncio.wait_for(asyncio.gather(red.paused.wait(), blue.paused.wait()), timeout=60)
        before = list(red.accepted_moves)

        server.kill()
        await asyncio.gather(red_task, blue_task)
        server.start()

        await asyncio.wait_for(asyncio.gather(red.resume(), blue.resume()), timeout=90)
        return red, blue, before

    red, blue, before = asyncio.run(scenario())

    assert red.series_over is not None and red.series_over == blue.series_over
    assert [m["type"] for m in red.received if m["type"] == "reconnected"] == ["reconnected"]
    stored = moves_in(tmp_path / "arena.sqlite3")
    assert stored[: len(before)] == before, "a move accepted before the crash was lost"
    assert stored == red.accepted_moves == blue.accepted_moves
    assert any(game == 2 for game, *_ in before)
    stats = http_json(f"{server.http_url}/api/statistics")
    assert stats["totals"]["matches"] == 1


def test_simultaneous_connects_never_share_a_seat(live_server_factory):
    """Thirty clients connect at once to six slots: twelve get distinct seats,
    the rest a clear 'No available slot'."""
    server = live_server_factory(env={"HEX_MAX_SLOTS": "6", "HEX_MAX_CONNECTIONS_PER_IP": "0"})
    url = f"{server.ws_url}/ws/matchmake?{urlencode({'board_size': 7, 'series_length': 1})}"

    results, slots = asyncio.run(asyncio.wait_for(
        crowd_connect([url] * 30, while_seated=lambda: http_json(f"{server.http_url}/slots")), timeout=60))
    seats = [(m["payload"]["slot_id"], m["payload"]["player"]) for m in results if m["type"] == "joined"]
    refusals = [m["payload"]["message"] for m in results if m["type"] == "error"]
    assert len(seats) == 12
    assert len(set(seats)) == 12
    assert refusals == ["No available slot"] * 18
    assert all(slot["state"] == "full" and slot["player_count"] == 2 for slot in slots)


def test_oversized_messages_get_an_error_or_a_clean_1009_close(server):
    """Up to the 1 MiB message limit the protocol answers 'Message too large'
    and the connection lives on; beyond it the server closes with 1009 (never a
    dropped TCP connection) and keeps serving others."""
    url = f"{server.ws_url}/ws/matchmake?board_size=7"

    async def scenario() -> tuple[list, int | None, dict]:
        replies = []
        async with websockets.connect(url, max_size=None) as ws:
            await ws.recv()
            await ws.recv()
            await ws.send("x" * 1_000_000)
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await ws.send(json.dumps({"type": "ping"}))
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        async with websockets.connect(url, max_size=None) as ws:
            await ws.recv()
            await ws.recv()
            with pytest.raises(websockets.ConnectionClosed):
                # uvicorn closes while the frame is still being sent, daphne
                # after reading it: either way the client learns 1009.
                await ws.send("x" * 5_000_000)
                await asyncio.wait_for(ws.recv(), 10)
            code = ws.close_code
        async with websockets.connect(url) as ws:
            after = json.loads(await ws.recv())
        return replies, code, after

    replies, code, after = asyncio.run(scenario())
    assert replies == [
        {"type": "error", "payload": {"message": "Message too large"}},
        {"type": "pong", "payload": {}},
    ]
    assert code == 1009
    assert after["type"] == "joined"


def test_unknown_websocket_path_is_refused_not_a_server_error(server):
    async def attempt() -> int:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"{server.ws_url}/nothing/ws/matchmake?board_size=7"):
                pass
        return refused.value.response.status_code

    assert asyncio.run(attempt()) == 403
    assert "Traceback" not in server.log()


def test_close_codes_reach_real_clients_unchanged(server):
    """Through daphne and autobahn, not just the Channels test communicator:
    a refused parameter closes with 1008, a seat taken over by a reconnect
    closes its old socket with 1001."""
    base = server.ws_url

    async def scenario() -> tuple[int | None, int | None, str]:
        async with websockets.connect(f"{base}/ws/matchmake?board_size=8") as refused:
            error = json.loads(await refused.recv())
            with pytest.raises(websockets.ConnectionClosed):
                await refused.recv()
        async with websockets.connect(f"{base}/ws/matchmake?board_size=7") as old:
            joined = json.loads(await old.recv())["payload"]
            await old.recv()
            query = urlencode({"slot_id": joined["slot_id"], "token": joined["reconnect_token"]})
            async with websockets.connect(f"{base}/ws/reconnect?{query}") as new:
                assert json.loads(await new.recv())["type"] == "reconnected"
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(old.recv(), 10)
        return refused.close_code, old.close_code, error["payload"]["message"]

    refused_code, taken_over_code, message = asyncio.run(scenario())
    assert (message, refused_code) == ("Unsupported board size", 1008)
    assert taken_over_code == 1001
    assert "Exception inside application" not in server.log()
