"""Spectators with several daphne processes on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import pytest

from tests.e2e.test_watch_e2e import Spectator
from tests.support.arena_db import moves_in
from tests.support.bots import Bot

pytestmark = [pytest.mark.services, pytest.mark.e2e]


def watching_on_slot_1(server) -> str:
    html = urllib.request.urlopen(f"{server.http_url}/overview", timeout=10).read().decode()
    card = html.split('<article id="slot-1"')[1].split("</article>")[0]
    return card.split('data-field="spectators">')[1].split("<")[0]


def test_a_spectator_on_a_third_process_sees_every_move_and_is_counted_everywhere(
        live_server_factory, production_env, tmp_path):
    one = live_server_factory(env=production_env, workdir=tmp_path)
    two = live_server_factory(env=production_env, workdir=tmp_path)
    three = live_server_factory(env=production_env, workdir=tmp_path)

    async def scenario() -> tuple[Spectator, Bot, Bot]:
        spectator = Spectator(f"{three.ws_url}/ws/watch?slot_id=1")
        watch_task = asyncio.create_task(spectator.run())
        await spectator.ready.wait()
        assert await asyncio.to_thread(watching_on_slot_1, one) == "1 watching"
        red = Bot(one.ws_url, series_length=3, seed=5, model_name="via_one", move_delay=0.01)
        blue = Bot(two.ws_url, series_length=3, seed=6, model_name="via_two", move_delay=0.01)
        red_task = asyncio.create_task(red.play())
        await asyncio.sleep(0.3)
        await asyncio.wait_for(asyncio.gather(red_task, blue.play(), watch_task), timeout=120)
        return spectator, red, blue

    spectator, red, blue = asyncio.run(scenario())
    assert spectator.moves == moves_in(production_env["HEX_DATABASE_URL"]) == red.accepted_moves
    assert spectator.frames[-1]["payload"] == red.series_over
    # The seats taken on the other processes reached the spectator as fresh snapshots.
    refreshed = [frame["payload"]["slot"] for frame in spectator.frames[1:] if frame["type"] == "watching"]
    assert any(slot["player_count"] >= 1 for slot in refreshed)

    # A spectator whose process dies is forgotten by the others' sweepers.
    async def hold_a_spectator() -> None:
        again = Spectator(f"{three.ws_url}/ws/watch?slot_id=1")
        task = asyncio.create_task(again.run())
        await again.ready.wait()
        assert await asyncio.to_thread(watching_on_slot_1, two) == "1 watching"
        three.kill()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(hold_a_spectator())
    deadline = time.monotonic() + 20
    while watching_on_slot_1(one) != "0 watching":
        assert time.monotonic() < deadline, "the dead process's spectator was never forgotten"
        time.sleep(0.2)
