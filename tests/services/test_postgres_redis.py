"""The arena on PostgreSQL + Redis, as operators run it: several daphne
processes sharing one database and one channel layer."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import psycopg
import pytest
import websockets

from tests.support.arena_db import moves_in
from tests.support.bots import Bot, crowd_connect, play_pair
from tests.support.live import http_json

pytestmark = [pytest.mark.services, pytest.mark.e2e]


def test_best_of_3_on_postgres_and_redis(live_server_factory, production_env):
    server = live_server_factory(env=production_env)
    first, second = asyncio.run(play_pair(server.ws_url, board_size=9, series_length=3))

    assert first.series_over is not None and first.series_over == second.series_over
    assert moves_in(production_env["HEX_DATABASE_URL"]) == first.accepted_moves == second.accepted_moves
    stats = http_json(f"{server.http_url}/api/statistics")
    assert stats["totals"]["matches"] == 1
    assert stats["board_sizes"] == {"9": 1}


def test_players_on_two_processes_play_one_series(live_server_factory, production_env, tmp_path):
    """Red talks to one daphne process, blue to another: moves cross through
    Redis and the shared database, no sticky sessions needed."""
    one = live_server_factory(env=production_env, workdir=tmp_path)
    two = live_server_factory(env=production_env, workdir=tmp_path)

    async def scenario() -> tuple[Bot, Bot]:
        red = Bot(one.ws_url, series_length=3, seed=5, model_name="via_one")
        blue = Bot(two.ws_url, series_length=3, seed=6, model_name="via_two")
        red_task = asyncio.create_task(red.play())
        await asyncio.sleep(0.3)
        await asyncio.wait_for(asyncio.gather(red_task, blue.play()), timeout=120)
        return red, blue

    red, blue = asyncio.run(scenario())
    assert (red.player, blue.player) == (-1, 1)
    assert red.series_over is not None and red.series_over == blue.series_over
    assert moves_in(production_env["HEX_DATABASE_URL"]) == red.accepted_moves


def test_simultaneous_connects_across_two_processes_never_share_a_seat(live_server_factory, production_env,
                                                                        tmp_path):
    env = {**production_env, "HEX_MAX_SLOTS": "4", "HEX_MAX_CONNECTIONS_PER_IP": "0"}
    servers = [live_server_factory(env=env, workdir=tmp_path), live_server_factory(env=env, workdir=tmp_path)]

    query = urlencode({"board_size": 11, "series_length": 1})
    urls = [f"{servers[i % 2].ws_url}/ws/matchmake?{query}" for i in range(20)]
    results, _ = asyncio.run(asyncio.wait_for(crowd_connect(urls), timeout=60))
    seats = [(m["payload"]["slot_id"], m["payload"]["player"]) for m in results if m["type"] == "joined"]
    assert len(seats) == len(set(seats)) == 8, results  # every first message, to tell a refusal from a lost seat
    assert [m["payload"]["message"] for m in results if m["type"] == "error"] == ["No available slot"] * 12


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_hexgame_server_workers_share_one_port(live_server_factory, production_env, server):
    """``hexgame-server --workers 2``: two processes accept on one port, both
    seat players, and a game whose players sit on different processes plays
    to the end."""
    env = {**production_env, "HEX_MAX_SLOTS": "20", "HEX_MAX_CONNECTIONS_PER_IP": "0"}
    live = live_server_factory(env=env, server=server, workers=2)
    query = urlencode({"board_size": 11, "series_length": 1})
    dsn = production_env["HEX_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")

    def serving_processes() -> set[str]:
        with psycopg.connect(dsn) as db:
            return {row[0] for row in db.execute("SELECT process_id FROM matchmaking_seat")}

    # Each worker accepts on its own SO_REUSEPORT socket and the kernel hashes
    # connections over them, so a crowd of 24 lands on both.
    results, processes = asyncio.run(asyncio.wait_for(
        crowd_connect([f"{live.ws_url}/ws/matchmake?{query}"] * 24, while_seated=serving_processes), timeout=60))
    assert [m["type"] for m in results].count("joined") == 24
    assert len(processes) == 2

    first, second = asyncio.run(play_pair(live.ws_url, board_size=7, series_length=3))
    assert first.series_over is not None and first.series_over == second.series_over
    assert moves_in(production_env["HEX_DATABASE_URL"]) == first.accepted_moves == second.accepted_moves
def test_rated_swap_series_with_a_clock_on_postgres_and_redis(live_server_factory, production_env, tmp_path):
    """Swap moves (the conditional unique-cell constraint), clocks and rating
    updates under row locks, on the production database."""
    from tests.e2e.test_clients_e2e import finish, start_client
    from tests.e2e.test_competitive_e2e import issue_token, wait_for_waiting_slot

    server = live_server_factory(env=production_env)
    red_token = issue_token(server, "pg-red", "random_client")
    blue_token = issue_token(server, "pg-blue", "model_first")
    common = ["--server", server.ws_url, "--board-size", "7", "--series-length", "3", "--move-delay", "0",
              "--swap", "--time-per-move", "60", "--replay-log", "off"]
    red = start_client(["random", "--seed", "2", "--bot-token", red_token, *common], tmp_path)
    wait_for_waiting_slot(server)
    blue = start_client(["play", "--model-name", "model_first", "--bot-token", blue_token, *common], tmp_path)
    (red_code, _, red_err), (blue_code, _, blue_err) = finish(red), finish(blue)
    assert (red_code, blue_code) == (0, 0), (red_err, blue_err)

    dsn = production_env["HEX_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as db:
        swaps = db.execute("SELECT count(*) FROM games_move WHERE kind = 'swap'").fetchone()[0]
        games = db.execute("SELECT count(*) FROM games_game WHERE winner IS NOT NULL").fetchone()[0]
        deadlines = db.execute("SELECT count(*) FROM games_game WHERE turn_deadline IS NOT NULL").fetchone()[0]
    assert swaps >= 1 and deadlines == 0
    ratings = http_json(f"{server.http_url}/api/statistics?board_size=7")["ratings"]
    assert sorted(r["games"] for r in ratings) == [games, games]


def test_players_idle_longer_than_a_redis_read_timeout_keep_their_game(live_server_factory, production_env):
    """With nothing arriving through Redis for a while (both players on one
    process, thinking), the channel layer's blocking read outlasts the Redis
    client's socket timeout unless that is set longer: every such connection
    was closed with 1011."""

    async def scenario() -> dict:
        query = urlencode({"board_size": 7, "series_length": 1})
        url = f"{server.ws_url}/ws/matchmake?{query}"
        async with websockets.connect(url) as red, websockets.connect(url) as blue:
            for ws in (red, blue):
                while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "game_start":
                    pass
            await asyncio.sleep(12)  # two of channels-redis' 5 s blocking reads, and more
            await red.send(json.dumps({"type": "move", "payload": {"q": 3, "r": 3}}))
            return json.loads(await asyncio.wait_for(blue.recv(), 10))

    server = live_server_factory(env=production_env)
    assert asyncio.run(scenario()) == {"type": "move", "payload": {"player": -1, "q": 3, "r": 3, "next_turn": 1}}


def test_eight_games_moving_at_once_on_one_process_store_every_move_once(live_server_factory, production_env):
    """Moves of different games run on several database threads at once,
    each in its own two-round-trip transaction: none may see another's."""
    server = live_server_factory(env={**production_env, "HEX_MAX_SLOTS": "20", "HEX_MAX_CONNECTIONS_PER_IP": "0"})
    options = [{"board_size": size, "series_length": length} for size in (7, 9, 11, 13) for length in (1, 3)]

    async def scenario() -> list[tuple[Bot, Bot]]:
        return await asyncio.gather(*(play_pair(server.ws_url, move_delay=0, **o) for o in options))

    pairs = asyncio.run(scenario())
    dsn = production_env["HEX_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as db:
        rows = db.execute(
            "SELECT s.board_size, s.series_length, g.number, m.player, m.q, m.r FROM games_move m "
            "JOIN games_game g ON g.id = m.game_id JOIN games_series s ON s.id = g.series_id "
            "ORDER BY s.id, g.number, m.number").fetchall()
    for o, (first, second) in zip(options, pairs, strict=True):
        assert first.series_over is not None and first.series_over == second.series_over
        stored = [tuple(row[2:]) for row in rows if (row[0], row[1]) == (o["board_size"], o["series_length"])]
        assert stored == first.accepted_moves == second.accepted_moves


def test_the_slot_feed_of_one_process_follows_joins_on_another(live_server_factory, production_env, tmp_path):
    """A /ws/slots follower hears of seats taken through another process
    (which reads the list only when somebody follows the feed)."""
    env = {**production_env, "HEX_MAX_SLOTS": "3"}
    one = live_server_factory(env=env, workdir=tmp_path)
    two = live_server_factory(env=env, workdir=tmp_path)

    async def scenario() -> list[list[str]]:
        states = []
        async with websockets.connect(f"{two.ws_url}/ws/slots") as feed:
            states.append([slot["state"] for slot in json.loads(await feed.recv())])
            query = urlencode({"board_size": 7, "series_length": 1})
            async with websockets.connect(f"{one.ws_url}/ws/matchmake?{query}") as player:
                assert json.loads(await player.recv())["type"] == "joined"
                while states[-1] != ["waiting", "empty", "empty"]:
                    states.append([slot["state"] for slot in json.loads(await asyncio.wait_for(feed.recv(), 10))])
        return states

    states = asyncio.run(scenario())
    assert states[0] == ["empty", "empty", "empty"]
    assert states[-1] == ["waiting", "empty", "empty"]
