"""Load benchmark: many bot pairs playing at full speed against one server.

    python bench/load.py                      # starts its own daphne (SQLite, in-memory layer)
    python bench/load.py --pairs 6 --board-size 11 --series-length 3
    python bench/load.py --server ws://127.0.0.1:8000   # an already running server (loopback only)
    python bench/load.py --postgres-redis     # own daphne on local PostgreSQL + Redis

Prints accepted moves per second, the round-trip latency of a move (send →
its ``move`` broadcast back to the sender) as p50/p95/p99/max, and the time
to complete every series. It only targets loopback addresses and stops by
itself after the series end (or ``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlparse

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from games import rules  # noqa: E402
from tests.support.live import LiveServer  # noqa: E402


class Player:
    def __init__(self, url: str, seed: int, latencies: list[float]) -> None:
        self.url = url
        self.rng = random.Random(seed)
        self.latencies = latencies
        self.moves = 0
        self.sent_at: float | None = None
        self.player: int | None = None
        self.board: rules.Board | None = None
        self.turn: int | None = None

    async def run(self) -> None:
        async with websockets.connect(self.url, max_size=None) as ws:
            async for raw in ws:
                msg = json.loads(raw)
                kind, payload = msg["type"], msg["payload"]
                if kind == "joined":
                    self.player = payload["player"]
                elif kind == "game_start":
                    self.board = rules.Board(payload["board_size"])
                    self.turn = payload["first_turn"]
                elif kind == "move":
                    self.board.place(payload["player"], payload["q"], payload["r"])
                    self.turn = payload["next_turn"]
                    self.moves += 1
                    if payload["player"] == self.player and self.sent_at is not None:
                        self.latencies.append(time.perf_counter() - self.sent_at)
                        self.sent_at = None
                elif kind == "series_over":
                    return
                elif kind in ("error", "opponent_disconnected"):
                    raise RuntimeError(f"{kind}: {payload}")
                if kind in ("game_start", "move") and self.turn == self.player:
                    q, r = self.rng.choice(list(self.board.empty_cells()))
                    self.sent_at = time.perf_counter()
                    await ws.send(json.dumps({"type": "move", "payload": {"q": q, "r": r}}))


async def run_load(base: str, pairs: int, board_size: int, series_length: int) -> dict:
    latencies: list[float] = []
    players = []
    for i in range(pairs * 2):
        query = urlencode({"board_size": board_size, "series_length": series_length, "model_name": f"bench_{i}"})
        players.append(Player(f"{base}/ws/matchmake?{query}", seed=i, latencies=latencies))
    started = time.perf_counter()
    tasks = []
    for index, player in enumerate(players):
        tasks.append(asyncio.create_task(player.run()))
        if index % 2 == 0:
            await asyncio.sleep(0.05)  # let the creator take a slot before its opponent arrives
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    moves = sum(p.moves for p in players) // 2  # each move is seen by both players
    return {"elapsed": elapsed, "moves": moves, "latencies": sorted(latencies)}


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="ws:// URL of a running server on loopback; default: start one")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--board-size", type=int, default=11, choices=rules.BOARD_SIZES)
    parser.add_argument("--series-length", type=int, default=3, choices=rules.SERIES_LENGTHS)
    parser.add_argument("--postgres-redis", action="store_true", help="own server on local PostgreSQL + Redis")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    server = None
    base = args.server
    if base:
        host = urlparse(base).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            parser.error("load tests only target loopback addresses")
    else:
        env = {"HEX_MAX_SLOTS": str(max(6, args.pairs)), "HEX_MAX_CONNECTIONS_PER_IP": "0",
               "HEX_RATE_LIMIT_PER_SECOND": "1000"}
        if args.postgres_redis:
            import psycopg

            name = f"hexarena_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            env.update(HEX_DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}",
                       HEX_REDIS_URL="redis://127.0.0.1:6379/0", HEX_REDIS_KEY_PREFIX=name)
        server = LiveServer(Path(tempfile.mkdtemp(prefix="hexbench-")), env=env).start()
        base = server.ws_url
    try:
        result = asyncio.run(asyncio.wait_for(
            run_load(base, args.pairs, args.board_size, args.series_length), timeout=args.timeout))
    finally:
        if server is not None:
            server.stop()
    lat_ms = [value * 1000 for value in result["latencies"]]
    backend = "postgres+redis" if args.postgres_redis else ("external" if args.server else "sqlite+memory")
    print(f"backend             {backend}")
    print(f"pairs               {args.pairs} (board {args.board_size}, best of {args.series_length})")
    print(f"series time         {result['elapsed']:.2f} s")
    print(f"accepted moves      {result['moves']}")
    print(f"throughput          {result['moves'] / result['elapsed']:.0f} moves/s")
    print(f"move round trip     p50 {percentile(lat_ms, .5):.2f} ms  p95 {percentile(lat_ms, .95):.2f} ms  "
          f"p99 {percentile(lat_ms, .99):.2f} ms  max {max(lat_ms):.2f} ms  mean {statistics.fmean(lat_ms):.2f} ms")
    print(f"cpu count           {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
