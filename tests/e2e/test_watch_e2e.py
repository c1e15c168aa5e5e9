"""Spectators on real daphne: watch two bots play a series live, see every move
in order, and replay the stored game through the API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request

import pytest
import websockets

from games import rules
from tests.support.arena_db import moves_in
from tests.support.bots import play_pair
from tests.support.live import ROOT, http_json

pytestmark = pytest.mark.e2e


class Spectator:
    """A raw /ws/watch client that records every frame."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[dict] = []
        self.texts: list[str] = []
        self.moves: list[tuple[int, int, int, int]] = []  # (game, player, q, r) from move events
        self.game = 0
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with websockets.connect(self.url) as ws:
            async for raw in ws:
                self.texts.append(raw)
                msg = json.loads(raw)
                self.frames.append(msg)
                payload = msg["payload"]
                if msg["type"] == "watching":
                    self.game = payload["slot"]["current_game_number"] or 0
                    self.ready.set()
                elif msg["type"] == "game_start":
                    self.game = payload["current_game_number"]
                elif msg["type"] == "move":
                    self.moves.append((self.game, payload["player"], payload["q"], payload["r"]))
                elif msg["type"] == "series_over":
                    return

    def first_snapshot(self) -> dict:
        return self.frames[0]["payload"]


def test_spectators_see_a_live_series_move_by_move(daphne_server, tmp_path):
    base = daphne_server.ws_url
    watch_url = f"{base}/ws/watch?slot_id=1"
    cli_out = tmp_path / "watch.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    async def scenario():
        early = Spectator(watch_url)
        early_task = asyncio.create_task(early.run())
        await early.ready.wait()
        with open(cli_out, "w") as out:
            watcher = subprocess.Popen(
                [sys.executable, "-m", "clients.cli", "watch", "--slot-id", "1", "--server", base, "--until-over"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        # Both spectators are counted on the overview before play starts.
        for _ in range(100):
            overview = await asyncio.to_thread(
                lambda: urllib.request.urlopen(f"{daphne_server.http_url}/overview", timeout=10).read().decode())
            if '<article id="slot-1"' in overview and "2 watching" in overview.split('id="slot-2"')[0]:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the overview never showed 2 spectators on slot 1")

        late = Spectator(watch_url)

        async def join_late():
            while len(early.moves) < 5:
                await asyncio.sleep(0.01)
            await late.run()

        late_task = asyncio.create_task(join_late())
        bots = await play_pair(base, board_size=7, series_length=3, move_delay=0.02)
        await asyncio.wait_for(asyncio.gather(early_task, late_task), timeout=30)
        code = await asyncio.to_thread(watcher.wait, 30)
        return early, late, bots, code

    early, late, (first, second), code = asyncio.run(scenario())
    db_moves = moves_in(tmp_path / "arena.sqlite3")

    # The early spectator saw exactly the stored moves, in order, like the players.
    assert early.moves == db_moves == first.accepted_moves
    assert early.first_snapshot()["slot"]["state"] == "empty"
    kinds = [f["type"] for f in early.frames if f["type"] != "watching"]
    assert kinds.count("game_start") == kinds.count("game_over") + (0 if kinds[-1] == "series_over" else 1)
    assert kinds[-1] == "series_over" and early.frames[-1]["payload"] == first.series_over
    for spectator in (early, late):
        assert not any(f["type"] == "error" for f in spectator.frames)
        assert first.token not in "".join(spectator.texts) and second.token not in "".join(spectator.texts)
        assert "reconnect_token" not in "".join(spectator.texts)

    # The late spectator: its snapshot plus what followed is the whole series, nothing twice.
    snap = late.first_snapshot()["slot"]
    game, seen = snap["current_game_number"], snap["move_count"]
    cut = next(i for i, m in enumerate(db_moves) if m[0] == game) + seen
    board = rules.Board(7)
    for _, player, q, r in db_moves[cut - seen:cut]:
        board.place(player, q, r)
    assert board.rows() == snap["board"]
    assert late.moves == db_moves[cut:]

    # hexgame watch drew every position and ended with the result.
    assert code == 0, cli_out.read_text()
    pictures = [p for p in cli_out.read_text().split("\n\n") if p.strip()]
    assert "series over" in pictures[-1]
    assert sum(1 for p in pictures if "to move" in p or "wins" in p) >= len(db_moves)

    # The last game replays from the API with the same moves.
    games = http_json(f"{daphne_server.http_url}/api/games?page_size=100")["results"]
    last = max(games, key=lambda g: g["game_number"])
    replay = subprocess.run(
        [sys.executable, "-m", "clients.cli", "replay", "--game", str(last["id"]), "--server", base, "--print-all"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stderr
    last_moves = [m for m in db_moves if m[0] == last["game_number"]]
    assert replay.stdout.count("   a b c d e f g") == len(last_moves) + 1
    g, player, q, r = last_moves[-1]
    assert f"move {len(last_moves)}/{len(last_moves)}: {rules.color_of(player)} {'abcdefg'[q]}{r + 1}" in replay.stdout

