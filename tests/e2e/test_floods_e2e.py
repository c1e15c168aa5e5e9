"""Floods against a real daphne: one socket sending as fast as it can, and a
crowd of connections from one address, while an unrelated pair plays a whole
series. The flood is limited with the protocol's ``error``, the crowd is
capped per address, and the pair never notices either."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.request

import pytest
import websockets

from tests.support.arena_db import check_history, stored_moves
from tests.support.bots import Bot

pytestmark = pytest.mark.e2e

RATE_LIMITED = {"type": "error", "payload": {"message": "Too many messages; slow down"}}
TOO_MANY = "Too many connections from your IP"
CROWD_SIZE = 10
CAP = 2


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def flood(url: str, stop: asyncio.Event) -> dict:
    """Seat one connection, then send pings, moves, junk and long chat lines
    back to back until ``stop``; afterwards check it is still served."""
    frames = [
        json.dumps({"type": "ping"}),
        json.dumps({"type": "move", "payload": {"q": 1, "r": 1}}),
        "{not json",
        json.dumps({"type": "chat", "payload": {"message": "x" * 4000}}),
    ]
    received: list[dict] = []
    async with websockets.connect(url, additional_headers=forwarded("10.0.0.66"), max_queue=None) as ws:

        async def read() -> None:
            async for raw in ws:
                received.append(json.loads(raw))

        reader = asyncio.create_task(read())
        sent = 0
        # About 1,000 messages a second, twenty times the allowed rate, for as
        # long as the pair plays. (Sent without any pause a client can queue
        # frames faster than daphne reads them; that backlog is daphne's.)
        while not stop.is_set() or sent < 1000:
            for _ in range(50):
                await ws.send(frames[sent % len(frames)])
                sent += 1
            await asyncio.sleep(0.05)
        # The bucket refills: once the flood stops the connection is served
        # again (the first hellos may still find the bucket empty).
        while not any(m["type"] == "hello" for m in received):
            await ws.send(json.dumps({"type": "hello"}))
            await asyncio.sleep(0.1)
        reader.cancel()
        return {"sent": sent, "received": received}


async def hammer(url: str, stop: asyncio.Event) -> tuple[list[dict], list[list[dict]]]:
    """One address takes its CAP seats and holds them, then keeps opening
    CROWD_SIZE more connections at once, round after round, until ``stop``."""
    headers = forwarded("10.0.0.77")
    held = [await websockets.connect(url, additional_headers=headers) for _ in range(CAP)]
    seats = [json.loads(await ws.recv()) for ws in held]
    rounds: list[list[dict]] = []

    async def one() -> dict:
        async with websockets.connect(url, additional_headers=headers) as ws:
            first = json.loads(await ws.recv())
            await ws.wait_closed()
            return {**first, "close_code": ws.close_code}

    while not stop.is_set() or not rounds:
        rounds.append(await asyncio.gather(*(one() for _ in range(CROWD_SIZE))))
        await asyncio.sleep(0.1)
    for ws in held:
        await ws.close()
    return seats, rounds


def test_a_flooding_socket_and_a_capped_crowd_never_starve_a_playing_pair(live_server_factory, tmp_path):
    server = live_server_factory(env={
        "HEX_TRUSTED_PROXIES": "127.0.0.1",
        "HEX_MAX_CONNECTIONS_PER_IP": str(CAP),
        "HEX_MAX_SLOTS": "8",
    })

    async def scenario():
        stop = asyncio.Event()
        flooder = asyncio.create_task(flood(f"{server.ws_url}/ws/matchmake?board_size=9&series_length=1", stop))
        crowd = asyncio.create_task(hammer(f"{server.ws_url}/ws/matchmake?board_size=11&series_length=1", stop))
        await asyncio.sleep(0.5)  # both are at it before the pair arrives
        red = Bot(server.ws_url, board_size=7, series_length=3, seed=41, model_name="calm_red",
                  headers=forwarded("10.0.0.1"))
        blue = Bot(server.ws_url, board_size=7, series_length=3, seed=42, model_name="calm_blue",
                   headers=forwarded("10.0.0.2"))
        red_task = asyncio.create_task(red.play())
        await asyncio.sleep(0.2)
        await asyncio.wait_for(asyncio.gather(red_task, blue.play()), timeout=120)
        stop.set()
        return red, blue, await asyncio.wait_for(flooder, 60), await asyncio.wait_for(crowd, 60)

    red, blue, flooded, crowd = asyncio.run(scenario())

    # The pair played its series undisturbed, and exactly its moves are stored.
    assert red.series_over is not None and red.series_over == blue.series_over
    assert red.problems() == [] and blue.problems() == []
    with sqlite3.connect(tmp_path / "arena.sqlite3") as db:
        assert check_history(db) == []
        pair_moves = db.execute(
            "SELECT g.number, m.player, m.q, m.r FROM games_move m JOIN games_game g ON g.id = m.game_id "
            "JOIN games_series s ON s.id = g.series_id WHERE s.player_1_model = 'calm_red' "
            "ORDER BY g.number, m.number").fetchall()
        assert pair_moves == red.accepted_moves == blue.accepted_moves
        assert stored_moves(db) == pair_moves  # nobody else got a move in

    # The flood was limited with the protocol's error, not served and not dropped.
    replies = flooded["received"]
    assert RATE_LIMITED in replies
    assert sum(1 for m in replies if m["type"] in ("pong", "move_rejected")) < flooded["sent"] / 2
    assert {m["type"] for m in replies} <= {"joined", "waiting_for_opponent", "pong", "move_rejected", "error",
                                              "hello"}

    # The address holds its CAP seats; every further connection, however
    # many at once, is refused with the reason and 1008.
    seats, rounds = crowd
    assert [m["type"] for m in seats] == ["joined"] * CAP
    for results in rounds:
        assert [(m["type"], m["payload"]["message"], m["close_code"]) for m in results] == [
            ("error", TOO_MANY, 1008)] * CROWD_SIZE

    with urllib.request.urlopen(f"{server.http_url}/health", timeout=10) as response:
        assert response.status == 200
