"""The arena on PostgreSQL + Redis, as operators run it: several daphne
processes sharing one database and one channel layer."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import psycopg
import pytest

from tests.support.bots import Bot, crowd_connect, play_pair
from tests.support.live import http_json

pytestmark = [pytest.mark.services, pytest.mark.e2e]


def stored_moves(database_url: str) -> list[tuple]:
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as db:
        return db.execute(
            "SELECT g.number, m.player, m.q, m.r FROM games_move m JOIN games_game g ON g.id = m.game_id "
            "ORDER BY g.series_id, g.number, m.number"
        ).fetchall()


def test_best_of_3_on_postgres_and_redis(live_server_factory, production_env):
    server = live_server_factory(env=production_env)
    first, second = asyncio.run(play_pair(server.ws_url, board_size=9, series_length=3))

    assert first.series_over is not None and first.series_over == second.series_over
    assert stored_moves(production_env["HEX_DATABASE_URL"]) == first.accepted_moves == second.accepted_moves
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
    assert stored_moves(production_env["HEX_DATABASE_URL"]) == red.accepted_moves


def test_simultaneous_connects_across_two_processes_never_share_a_seat(live_server_factory, production_env,
                                                                        tmp_path):
    env = {**production_env, "HEX_MAX_SLOTS": "4", "HEX_MAX_CONNECTIONS_PER_IP": "0"}
    servers = [live_server_factory(env=env, workdir=tmp_path), live_server_factory(env=env, workdir=tmp_path)]

    query = urlencode({"board_size": 11, "series_length": 1})
    urls = [f"{servers[i % 2].ws_url}/ws/matchmake?{query}" for i in range(20)]
    results, _ = asyncio.run(asyncio.wait_for(crowd_connect(urls), timeout=60))
    seats = [(m["payload"]["slot_id"], m["payload"]["player"]) for m in results if m["type"] == "joined"]
    assert len(seats) == len(set(seats)) == 8
    assert [m["payload"]["message"] for m in results if m["type"] == "error"] == ["No available slot"] * 12
