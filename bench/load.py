"""Load benchmark: G concurrent games of random legal moves against a live server.

    python bench/load.py --games 200 --think-ms 50            # our server: daphne, SQLite, in-memory layer
    python bench/load.py --games 50 --think-ms 0              # saturation
    python bench/load.py --server-impl uvicorn --games 200 --think-ms 50
    python bench/load.py --backend postgres-redis --workers 2 --games 200 --think-ms 50
    python bench/load.py --target reference --games 50        # hexgame-server==0.4.3 from a scratch venv
    python bench/load.py --idle-connections 2000 --hold 60    # open connections waiting for opponents
    python bench/load.py --url ws://127.0.0.1:8000 --server-pid 1234   # a server you started yourself

Each game is two WebSocket clients that matchmake, play random legal moves
and, when their series ends, queue again. A player sends its move ``think``
milliseconds after the previous move of its game was *sent* (or at once, if
the broadcast arrives later), so the offered load is ``G × 1000 / think``
moves a second whatever the server does, and a slow server shows up as
served < 100 % rather than as a quietly slower load.

Printed: offered and accepted moves per second, the share served, move
round trip (send → the ``move`` broadcast back to its sender) p50/p95/p99/max,
matchmaking latency (connect → ``game_start``), errors by kind, and the
server's CPU (percent of one core, all its processes) and peak RSS (sum over
its processes); with ``--backend postgres-redis``, also the CPU of PostgreSQL
and Redis (all their processes on the machine; Redis only for the reference,
which keeps nothing in PostgreSQL), which share the cores. The
server and the load generator are pinned to different cores
(``--server-cpus`` / ``--client-cpus``). Only loopback addresses are
accepted, and the run stops by itself after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lean_ws  # noqa: E402  (beside this file)

from games import rules  # noqa: E402

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# What ends a player's connection, counted as a connection error.
CONNECTION_ERRORS = (TimeoutError, OSError, lean_ws.ProtocolError, lean_ws.ConnectionClosedError)
REFERENCE_VENV = Path(os.environ.get("HEX_REFERENCE_VENV", "/tmp/refvenv"))
REDIS_URL = "redis://127.0.0.1:6379/0"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# -- the server under test -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (daphne workers under ``hexgame-server``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return found


def cpu_ticks_and_rss(pids: list[int]) -> tuple[int, int]:
    ticks = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
            with open(f"/proc/{pid}/statm") as statm:
                rss += int(statm.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
    return ticks, rss


# The services a server on PostgreSQL + Redis leans on, by process name. They
# share the machine's cores with the server (unpinned), so their CPU per move
# is part of what a move costs.
SERVICES = {"postgresql": ("postgres",), "redis": ("redis-server",)}


def services_used(target: str, backend: str) -> tuple[str, ...]:
    """The ``SERVICES`` the server under test leans on: the reference's Redis
    backend keeps nothing in PostgreSQL, whose idle CPU would otherwise read
    as a cost per move of the reference's few moves."""
    if backend != "postgres-redis":
        return ()
    return ("redis",) if target == "reference" else tuple(SERVICES)


def service_cpu_ticks(names: tuple[str, ...]) -> dict[str, int]:
    """CPU ticks used so far by every process of each of the ``SERVICES`` ``names`` on this machine."""
    pids: dict[str, list[int]] = {name: [] for name in names}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                command = comm.read().strip()
        except OSError:
            continue
        for name in names:
            if command in SERVICES[name]:
                pids[name].append(int(entry))
    return {name: cpu_ticks_and_rss(found)[0] for name, found in pids.items()}


class ResourceSampler(threading.Thread):
    """Samples the server's process tree: CPU between ``mark()`` calls, RSS peak and trace."""

    def __init__(self, root_pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.peak_rss = 0
        self.rss_trace: list[tuple[float, int]] = []
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            _, rss = cpu_ticks_and_rss(process_tree(self.root_pid))
            self.peak_rss = max(self.peak_rss, rss)
            self.rss_trace.append((time.monotonic(), rss))

    def mark(self) -> tuple[float, int]:
        ticks, _ = cpu_ticks_and_rss(process_tree(self.root_pid))
        return time.monotonic(), ticks

    def stop(self) -> None:
        self._stop.set()


@dataclass
class ServerUnderTest:
    """A server this benchmark starts (ours or the reference), pinned to ``cpus``."""

    target: str
    backend: str
    workers: int
    server_impl: str
    slots: int
    cpus: str | None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hexbench-")))
    database: str | None = None
    redis_prefix: str = field(default_factory=lambda: f"hexbench-{uuid.uuid4().hex[:8]}")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        if self.target == "reference":
            env.update(MAX_SLOTS=str(self.slots), HEX_RECONNECT_TIMEOUT="0", HEX_STATE_BACKEND="memory")
            if self.backend == "postgres-redis":
                env.update(HEX_STATE_BACKEND="redis", HEX_REDIS_URL=REDIS_URL, HEX_REDIS_KEY_PREFIX=self.redis_prefix)
            return env
        env.update(DJANGO_SETTINGS_MODULE="hexsite.settings", PYTHONPATH=str(ROOT), HEX_LOG_LEVEL="WARNING",
                   HEX_DATA_DIR=str(self.workdir), HEX_DATABASE_URL=f"sqlite:///{self.workdir / 'arena.sqlite3'}",
                   HEX_MAX_SLOTS=str(self.slots), HEX_MAX_CONNECTIONS_PER_IP="0",
                   HEX_RATE_LIMIT_PER_SECOND="1000", HEX_RATE_LIMIT_BURST="1000")
        if self.backend == "postgres-redis":
            import psycopg

            self.database = f"hexarena_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.database}"')
            env.update(HEX_DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{self.database}",
                       HEX_REDIS_URL=REDIS_URL, HEX_REDIS_KEY_PREFIX=self.redis_prefix)
        return env

    def start(self) -> ServerUnderTest:
        if self.target == "reference":
            executable = REFERENCE_VENV / "bin" / "hexgame-server"
            if not executable.exists():
                raise SystemExit(f"reference server not found at {executable}: python3 -m venv {REFERENCE_VENV} && "
                                 f"{REFERENCE_VENV}/bin/pip install hexgame-server==0.4.3 redis")
            cmd = [str(executable), "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        else:
            cmd = [sys.executable, "-m", "hexsite.cli", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(self.workers), "--server", self.server_impl, "--log-level", "warning"]
        if self.cpus:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(cmd, cwd=ROOT, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited with {self.process.returncode}; see {self.workdir / 'server.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise SystemExit("server did not answer /health within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.database:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        if self.backend == "postgres-redis":
            # Leave Redis as found: the reference never deletes its slots key,
            # and channels-redis keeps a group for a day.
            import redis

            with redis.Redis.from_url(REDIS_URL) as client:
                for key in client.scan_iter(match=f"{self.redis_prefix}*"):
                    client.delete(key)


# -- the load --------------------------------------------------------------------------------------


@dataclass
class Figures:
    measuring: bool = False
    accepted: int = 0
    rtt: list[float] = field(default_factory=list)
    # The round trips of the moves that ended a game: a game end does more
    # work than any other move, and these moves are about 1 % of the load.
    rtt_game_end: list[float] = field(default_factory=list)
    # Send → the opponent receiving the move: what the other bot waits for.
    # With several workers it includes the hop between them when the two
    # players sit on different workers, which the mover's round trip never does.
    to_opponent: list[float] = field(default_factory=list)
    matchmaking: list[float] = field(default_factory=list)
    errors: collections.Counter = field(default_factory=collections.Counter)
    games_started: int = 0


class Player:
    """One bot: matchmake, play random legal moves on its game's cadence, queue again."""

    def __init__(self, url: str, index: int, args: argparse.Namespace, figures: Figures,
                 last_sent: dict[int, float], stop: asyncio.Event) -> None:
        query = urlencode({"board_size": args.board_size, "series_length": args.series_length,
                           "model_name": "bench", "username": f"bot{index}"})
        self.url = f"{url}/ws/matchmake?{query}"
        self.rng = random.Random(index)
        self.think = args.think_ms / 1000
        self.figures = figures
        self.last_sent = last_sent  # slot id → when the last move of that slot's game was sent
        self.stop = stop

    async def run(self) -> None:
        while not self.stop.is_set():
            try:
                await self.play_series()
            except CONNECTION_ERRORS as exc:
                if not self.stop.is_set():
                    self.figures.errors[f"connection: {exc.__class__.__name__}"] += 1
                    await asyncio.sleep(0.5)

    async def play_series(self) -> None:
        started = time.perf_counter()
        async with await lean_ws.connect(self.url, timeout=30) as ws:
            player = slot_id = None
            board: rules.Board | None = None
            sent_at: float | None = None
            # A plain recv per message: a task and an asyncio.wait per message
            # to notice the end of the run cost this generator a third of its
            # CPU, which the server's PostgreSQL shares. ``run_games`` cancels
            # whoever still waits when the run is over.
            while True:
                msg = json.loads(await ws.recv())
                if self.stop.is_set():
                    return  # the run is over: from now on opponents are leaving, not failing
                kind, payload = msg.get("type"), msg.get("payload", {})
                if kind == "joined":
                    player, slot_id = payload["player"], payload["slot_id"]
                elif kind == "game_start":
                    if started is not None:
                        if self.figures.measuring:
                            self.figures.matchmaking.append(time.perf_counter() - started)
                        self.figures.games_started += 1
                        started = None
                    board = rules.Board(payload["board_size"])
                    self.last_sent.setdefault(slot_id, time.perf_counter())
                    turn = payload["first_turn"]
                elif kind == "move":
                    won = board.place(payload["player"], payload["q"], payload["r"])
                    turn = payload["next_turn"]
                    if payload["player"] == player and sent_at is not None:
                        if self.figures.measuring:
                            self.figures.rtt.append(time.perf_counter() - sent_at)
                            if won is not None:
                                self.figures.rtt_game_end.append(self.figures.rtt[-1])
                            self.figures.accepted += 1
                        sent_at = None
                    elif payload["player"] != player and self.figures.measuring and slot_id in self.last_sent:
                        self.figures.to_opponent.append(time.perf_counter() - self.last_sent[slot_id])
                elif kind == "series_over":
                    return
                elif kind in ("error", "move_rejected", "opponent_disconnected"):
                    detail = payload.get("message") or payload.get("reason") or ""
                    self.figures.errors[f"{kind}: {detail}"] += 1
                    if kind != "move_rejected":
                        return
                    continue
                else:
                    continue
                if kind in ("game_start", "move") and turn == player:
                    due = self.last_sent.get(slot_id, 0.0) + self.think
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    q, r = self.rng.choice(list(board.empty_cells()))
                    sent_at = time.perf_counter()
                    self.last_sent[slot_id] = sent_at
                    await ws.send(json.dumps({"type": "move", "payload": {"q": q, "r": r}}))


async def run_games(url: str, args: argparse.Namespace, sampler: ResourceSampler | None) -> dict:
    figures, stop, last_sent = Figures(), asyncio.Event(), {}
    players = [Player(url, i, args, figures, last_sent, stop) for i in range(2 * args.games)]
    tasks = []
    for player in players:
        tasks.append(asyncio.create_task(player.run()))
        await asyncio.sleep(args.ramp / len(players))
    # Measure once every game has started, so the ramp does not count.
    deadline = time.monotonic() + 120
    while figures.games_started < 2 * args.games and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(args.warmup)
    figures.measuring = True
    mark = sampler.mark() if sampler else None
    services = services_used(args.target, args.backend)
    services_before = service_cpu_ticks(services) if services else None
    began, client_began = time.perf_counter(), time.process_time()
    await asyncio.sleep(args.duration)
    figures.measuring = False
    elapsed = time.perf_counter() - began
    client_cpu = (time.process_time() - client_began) / elapsed * 100
    after = sampler.mark() if sampler else None
    services_cpu = None
    if services_before is not None:
        services_cpu = {name: (ticks - services_before[name]) / CLK_TCK / elapsed * 100
                        for name, ticks in service_cpu_ticks(services).items()}
    stop.set()
    await asyncio.wait(tasks, timeout=2)  # players in a game see the flag at their next message
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu = (after[1] - mark[1]) / CLK_TCK / (after[0] - mark[0]) * 100 if sampler else None
    return {"figures": figures, "elapsed": elapsed, "cpu": cpu, "client_cpu": client_cpu,
            "services_cpu": services_cpu}


async def hold_idle(url: str, args: argparse.Namespace, sampler: ResourceSampler | None) -> dict:
    """Open ``--idle-connections`` matchmaking connections and keep them idle for ``--hold`` s.

    The protocol lets one connection wait in matchmaking per board size and
    series length (40 at most); the rest pair up into games in which nobody
    moves, so every connection waits for an opponent or for its move.
    """
    errors: collections.Counter = collections.Counter()
    sockets = []
    query = urlencode({"board_size": args.board_size, "series_length": args.series_length, "model_name": "idle"})
    for _ in range(args.idle_connections):
        try:
            ws = await lean_ws.connect(f"{url}/ws/matchmake?{query}", timeout=30)
            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if msg.get("type") != "joined":
                errors[f"{msg.get('type')}: {msg.get('payload', {}).get('message')}"] += 1
            sockets.append(ws)
        except CONNECTION_ERRORS as exc:
            errors[f"connection: {exc.__class__.__name__}"] += 1
    rss_start = cpu_ticks_and_rss(process_tree(sampler.root_pid))[1] if sampler else None
    began = time.monotonic()
    while time.monotonic() - began < args.hold:
        await asyncio.sleep(min(10.0, args.hold))
        # Every connection still answers: one ping each, all at once.
        results = await asyncio.gather(*(_ping(ws) for ws in sockets), return_exceptions=True)
        for result in results:
            if result is not True:
                errors[f"ping: {result.__class__.__name__ if isinstance(result, Exception) else result}"] += 1
    rss_end = cpu_ticks_and_rss(process_tree(sampler.root_pid))[1] if sampler else None
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {"open": len(sockets), "errors": errors, "rss_start": rss_start, "rss_end": rss_end}


async def _ping(ws) -> bool | str:
    await ws.send(json.dumps({"type": "ping", "payload": {}}))
    while True:  # skip waiting_for_opponent, game_start, ... still queued
        msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if msg.get("type") == "pong":
            return True
        if msg.get("type") == "error":
            return f"error {msg['payload'].get('message')}"


# -- report ----------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def describe(args: argparse.Namespace) -> str:
    if args.url:
        return f"external server {args.url}"
    if args.target == "reference":
        return f"reference hexgame-server 0.4.3 ({'redis' if args.backend == 'postgres-redis' else 'memory'} backend)"
    return f"ours: {args.server_impl} ×{args.workers}, {args.backend}"


def report_games(args: argparse.Namespace, result: dict, sampler: ResourceSampler | None) -> dict:
    """Print the figures of a games run and return them (for ``--json``)."""
    fig: Figures = result["figures"]
    rtt = [value * 1000 for value in fig.rtt]
    mm = [value * 1000 for value in fig.matchmaking]
    delivered = [value * 1000 for value in fig.to_opponent]
    ending = [value * 1000 for value in fig.rtt_game_end]
    others = list((collections.Counter(rtt) - collections.Counter(ending)).elements())
    offered = args.games * 1000 / args.think_ms if args.think_ms else None
    rate = fig.accepted / result["elapsed"]
    figures = {
        "server": describe(args), "games": args.games, "think_ms": args.think_ms, "offered": offered,
        "accepted": fig.accepted, "accepted_per_s": rate, "served_pct": 100 * rate / offered if offered else None,
        "rtt_ms": {"p50": percentile(rtt, .5), "p95": percentile(rtt, .95), "p99": percentile(rtt, .99),
                   "max": max(rtt, default=None)},
        "rtt_game_end_ms": {"count": len(ending), "p50": percentile(ending, .5), "p99": percentile(ending, .99),
                            "others_p99": percentile(others, .99)},
        "to_opponent_ms": {"p50": percentile(delivered, .5), "p95": percentile(delivered, .95),
                           "p99": percentile(delivered, .99), "max": max(delivered, default=None)},
        "matchmaking_ms": {"p50": percentile(mm, .5), "p99": percentile(mm, .99)},
        "errors": dict(fig.errors), "client_cpu_pct": result["client_cpu"],
        "server_cpu_pct": result["cpu"], "peak_rss_mb": sampler.peak_rss / 2**20 if sampler else None,
        "services_cpu_pct": result["services_cpu"],
    }
    print(f"server              {describe(args)}")
    print(f"load                {args.games} games, board {args.board_size}, best of {args.series_length}, "
          f"think {args.think_ms} ms, {result['elapsed']:.1f} s measured")
    if offered:
        print(f"offered             {offered:.0f} moves/s")
    print(f"accepted            {rate:.0f} moves/s ({fig.accepted} moves)" +
          (f", served {100 * rate / offered:.1f} %" if offered else ""))
    print(f"move round trip     p50 {percentile(rtt, .5):.2f}  p95 {percentile(rtt, .95):.2f}  "
          f"p99 {percentile(rtt, .99):.2f}  max {max(rtt, default=float('nan')):.2f} ms")
    print(f"  game-ending moves p50 {percentile(ending, .5):.2f}  p99 {percentile(ending, .99):.2f} ms "
          f"({len(ending)} moves, {100 * len(ending) / max(len(rtt), 1):.1f} % of the round trips); "
          f"the others p99 {percentile(others, .99):.2f} ms")
    print(f"move to opponent    p50 {percentile(delivered, .5):.2f}  p95 {percentile(delivered, .95):.2f}  "
          f"p99 {percentile(delivered, .99):.2f}  max {max(delivered, default=float('nan')):.2f} ms")
    print(f"matchmaking         p50 {percentile(mm, .5):.1f}  p99 {percentile(mm, .99):.1f}  "
          f"max {max(mm, default=float('nan')):.1f} ms ({len(mm)} games started while measuring)")
    errors = ", ".join(f"{kind} ×{count}" for kind, count in fig.errors.most_common()) or "none"
    print(f"errors              {errors}")
    if sampler:
        per_move = result["cpu"] / 100 / rate * 1e6 if rate else float("nan")
        print(f"server cpu          {result['cpu']:.0f} % of one core, {per_move:.0f} µs per accepted move")
        print(f"server peak rss     {sampler.peak_rss / 2**20:.0f} MB")
    for name, pct in (result["services_cpu"] or {}).items():
        per_move = pct / 100 / rate * 1e6 if rate else float("nan")
        print(f"{name + ' cpu':<20}{pct:.0f} % of one core, {per_move:.0f} µs per accepted move "
              "(all its processes on this machine)")
    print(f"load generator cpu  {result['client_cpu']:.0f} % of one core (near 100 %: the figures are its limit)")
    return figures


T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed (it is, with uvicorn):
    the load generator's own CPU is taken from the machine the server runs on."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--url", help="ws:// URL of a running server on loopback (default: start one)")
    parser.add_argument("--server-pid", type=int, help="with --url: sample this process tree's CPU and RSS")
    parser.add_argument("--target", choices=["ours", "reference"], default="ours")
    parser.add_argument("--backend", choices=["sqlite", "postgres-redis"], default="sqlite",
                        help="ours: SQLite + in-memory layer, or PostgreSQL + Redis; reference: memory or redis")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server-impl", choices=["daphne", "uvicorn"], default="daphne")
    parser.add_argument("--games", type=int, default=50)
    parser.add_argument("--think-ms", type=float, default=0.0)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds played before measuring")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds over which the clients connect")
    parser.add_argument("--board-size", type=int, default=11, choices=rules.BOARD_SIZES)
    parser.add_argument("--series-length", type=int, default=3, choices=rules.SERIES_LENGTHS)
    parser.add_argument("--idle-connections", type=int, default=0,
                        help="instead of games: open this many connections and keep them idle")
    parser.add_argument("--hold", type=float, default=60.0, help="with --idle-connections: seconds to hold them")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list for a server we start ('' = none)")
    parser.add_argument("--client-cpus", default="1", help="CPU list for this load generator ('' = none)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        parser.error("load tests only target loopback addresses")
    if args.client_cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in args.client_cpus.split(",")})
    # The reference caps open matchmaking sockets per address at MAX_SLOTS.
    slots = 2 * max(args.games, args.idle_connections) + 8
    server = None
    if not args.url:
        server = ServerUnderTest(args.target, args.backend, args.workers, args.server_impl, slots,
                                 args.server_cpus or None).start()
    url = args.url or server.url
    root_pid = server.process.pid if server else args.server_pid
    sampler = ResourceSampler(root_pid) if root_pid else None
    if sampler:
        sampler.start()
    try:
        if args.idle_connections:
            result = run(hold_idle(url, args, sampler))
            figures = {"server": describe(args), "open": result["open"], "errors": dict(result["errors"]),
                       "rss_start_mb": (result["rss_start"] or 0) / 2**20,
                       "rss_end_mb": (result["rss_end"] or 0) / 2**20,
                       "peak_rss_mb": sampler.peak_rss / 2**20 if sampler else None}
            print(f"server              {describe(args)}")
            print(f"open connections    {result['open']} of {args.idle_connections}, held {args.hold:.0f} s")
            errors = ", ".join(f"{kind} ×{count}" for kind, count in result["errors"].most_common()) or "none"
            print(f"errors              {errors}")
            if sampler:
                print(f"server rss          {result['rss_start'] / 2**20:.0f} MB after connecting, "
                      f"{result['rss_end'] / 2**20:.0f} MB after holding, peak {sampler.peak_rss / 2**20:.0f} MB")
        else:
            figures = report_games(args, run(run_games(url, args, sampler)), sampler)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
    finally:
        if sampler:
            sampler.stop()
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
