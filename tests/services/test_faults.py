"""Faults survived, against real processes on PostgreSQL + Redis: a worker
killed mid-series, Redis restarted or partitioned mid-game (both ways, or
with only its answers to one worker lost), PostgreSQL unreachable for a few
seconds (its connections reset, or its packets silently dropped). After each, play
resumes and the database holds a consistent history with every move the
players saw accepted, exactly once, in order."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import psycopg
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.support import network_partition
from tests.support.arena_db import check_history, is_subsequence, stored_moves
from tests.support.bots import Bot
from tests.support.live import http_json
from tests.support.network_partition import PartitionedPath
from tests.support.redis_server import PrivateRedis
from tests.support.tcp_proxy import CuttableProxy

pytestmark = [pytest.mark.services, pytest.mark.e2e]

BUSY = {"type": "error", "payload": {"message": "Server is busy; try again"}}


def connect_db(database_url: str) -> psycopg.Connection:
    return psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


async def play_through_faults(bot: Bot) -> Bot:
    """Play, and whenever the server drops the connection or answers with an
    error, resume the seat through /ws/reconnect until the series is over."""
    try:
        await bot.play()
    except ConnectionClosed:
        pass
    while bot.series_over is None:
        await bot.resume(attempts=200, delay=0.1)
    return bot


def assert_consistent(database_url: str, *bots: Bot) -> list[tuple]:
    with connect_db(database_url) as db:
        assert check_history(db) == []
        moves = stored_moves(db)
        series = db.execute("SELECT player_1_wins, player_2_wins, winner, status FROM games_series").fetchall()
    assert len(series) == 1
    wins_1, wins_2, winner, status = series[0]
    for bot in bots:
        assert is_subsequence(bot.accepted_moves, moves), f"{bot.model_name} saw moves the database lacks"
        assert (bot.series_over["player_1_wins"], bot.series_over["player_2_wins"], bot.series_over["winner"]) == (
            wins_1, wins_2, winner)
    assert status == "completed"
    return moves


# -- 1. kill -9 one of two workers in the middle of a series ---------------------------------------------


def test_killing_one_of_two_workers_mid_series_its_player_finishes_the_series_elsewhere(
    live_server_factory, production_env, tmp_path
):
    """Best of 3, red on worker one and blue on worker two. Worker one is
    killed in game 2; red resumes through worker two, blue never reconnects,
    the series finishes and every move both saw is stored once, in order."""
    env = {**production_env, "HEX_RECONNECT_TIMEOUT": "60"}
    one = live_server_factory(env=env, workdir=tmp_path)
    two = live_server_factory(env=env, workdir=tmp_path)

    async def scenario() -> tuple[Bot, Bot]:
        # Game 2 opens with blue; after 4 moves blue is to move, red waits.
        red = Bot(one.ws_url, series_length=3, seed=21, model_name="doomed_worker", pause_at=(2, 5))
        blue = Bot(two.ws_url, series_length=3, seed=22, model_name="surviving_worker")
        red_task = asyncio.create_task(red.play())
        await asyncio.sleep(0.3)
        blue_task = asyncio.create_task(blue.play())
        await asyncio.wait_for(red.paused.wait(), timeout=60)
        one.kill()
        await red_task
        red.base_url = two.ws_url
        await asyncio.wait_for(asyncio.gather(red.resume(), blue_task), timeout=90)
        return red, blue

    red, blue = asyncio.run(scenario())
    assert red.game_number >= 2
    assert "reconnected" not in blue.types()
    assert "opponent_reconnected" in blue.types()
    moves = assert_consistent(env["HEX_DATABASE_URL"], red, blue)
    # Nobody was away at a move: both saw exactly the stored history.
    assert moves == red.accepted_moves == blue.accepted_moves
    assert red.series_over == blue.series_over


def _partitioned(port: int) -> Iterator[PartitionedPath]:
    """A path to the service on 127.0.0.1:``port`` that the test can
    partition (``network_partition``)."""
    reason = network_partition.available()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires it")
        pytest.skip(f"{reason}; set CI=true to make this a failure")
    path = PartitionedPath("127.0.0.1", port).start()
    yield path
    path.close()


@pytest.fixture
def partitioned_postgres() -> Iterator[PartitionedPath]:
    yield from _partitioned(5432)


@pytest.fixture
def partitioned_redis() -> Iterator[PartitionedPath]:
    yield from _partitioned(6379)


# -- 2. Redis restarted during a game -------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    """A Redis of the test's own: the machine's shared one is never restarted."""
    if not PrivateRedis.available():
        message = "redis-server is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI=true requires it")
        pytest.skip(message)
    redis = PrivateRedis(tmp_path).start()
    yield redis
    redis.stop()


def test_redis_restart_during_a_game_clients_resume_and_finish(live_server_factory, production_env, private_redis,
                                                               tmp_path):
    """Redis dies (SIGKILL) mid-game and comes back empty on the same port.
    Every connection loses its channel layer: the server answers ``error``
    and closes with 1011 instead of hanging, the seats wait for their owners,
    both bots resume through /ws/reconnect from the database and finish."""
    env = {**production_env, "HEX_REDIS_URL": private_redis.url, "HEX_RECONNECT_TIMEOUT": "60"}

    async def restart(red: Bot, blue: Bot) -> None:
        private_redis.kill()
        await asyncio.sleep(1.0)
        private_redis.start()

    split_series_survives(live_server_factory, env, tmp_path, restart, seed=31)


def test_redis_silently_partitioned_mid_game_clients_resume_and_finish(live_server_factory, production_env,
                                                                       partitioned_redis, tmp_path):
    """Packets to Redis vanish, with red and blue on different workers, so
    their moves need Redis. The layer's calls time out (its sockets' 10 s)
    instead of hanging, the connections that lost it get ``error`` + 1011,
    and once the path heals both bots resume from the database and finish
    the series."""
    host, port = partitioned_redis.address
    env = {**production_env, "HEX_REDIS_URL": f"redis://{host}:{port}/0", "HEX_RECONNECT_TIMEOUT": "60"}

    split_series_survives(live_server_factory, env, tmp_path, partition_until_announced(partitioned_redis), seed=41)


def test_redis_answers_lost_to_one_worker_no_event_reaches_a_player_twice(live_server_factory, production_env,
                                                                          partitioned_redis, redis_url, tmp_path):
    """Only what Redis sends back to red's worker vanishes (a one-way
    partition on that worker's path; blue's worker reaches Redis directly),
    just as red's worker has sent red's move on to blue's: Redis stores it
    and blue's worker routes it at once, but red's worker never hears that it
    was stored, and sends it again once the path heals. Blue, whose
    connection never lost Redis, must see that move once: a bot shown a move
    twice cannot place it or holds it twice among its accepted moves, which
    the history check refuses. Red's worker announces the fault to red, who
    resumes; the series finishes.

    To have the move's command in flight when the answers start to vanish,
    Redis holds its write commands for a few seconds (``CLIENT PAUSE ...
    WRITE``) from just before red moves until after the partition begins."""
    import redis

    host, port = partitioned_redis.address
    env = {**production_env, "HEX_RECONNECT_TIMEOUT": "60"}
    red_env = {**env, "HEX_REDIS_URL": f"redis://{host}:{port}/0"}

    async def red_moves_as_answers_vanish(red: Bot, blue: Bot) -> None:
        seen, red.move_delay = len(red.accepted_moves), 0.5
        while not (len(red.accepted_moves) > seen and red.turn == red.player):
            await asyncio.sleep(0.01)  # red's turn: it waits half a second before it moves
        with redis.Redis.from_url(redis_url) as direct:
            direct.execute_command("CLIENT", "PAUSE", 4000, "WRITE")
        played = len(red.accepted_moves)
        while not (len(red.accepted_moves) > played and red.accepted_moves[-1][1] == red.player):
            await asyncio.sleep(0.01)  # red's worker stored the move and sends it on to blue's
        await asyncio.sleep(0.2)
        red.move_delay = 0.02
        partitioned_redis.partition(one_way=True)
        await heal_once_announced(partitioned_redis, red, blue)

    red, blue = split_series_survives(live_server_factory, red_env, tmp_path, red_moves_as_answers_vanish,
                                      seed=51, env_two=env)
    assert BUSY in red.received and "reconnected" in red.types()
    assert BUSY not in blue.received and "reconnected" not in blue.types()


def partition_until_announced(path: PartitionedPath, one_way: bool = False):
    """A fault for ``split_series_survives``: partition ``path`` until a player
    is told, then heal it."""
    async def fault(red: Bot, blue: Bot) -> None:
        path.partition(one_way)
        await heal_once_announced(path, red, blue)

    return fault


async def heal_once_announced(path: PartitionedPath, *bots: Bot) -> None:
    """Heal the partitioned ``path`` once one of ``bots`` is told of the fault
    (the layer's reads time out after 10 s: not a hang)."""
    for _ in range(300):
        if any(BUSY in bot.received for bot in bots):
            break
        await asyncio.sleep(0.1)
    path.heal()


def split_series_survives(live_server_factory, env: dict[str, str], workdir, fault, seed: int,
                          env_two: dict[str, str] | None = None) -> tuple[Bot, Bot]:
    """A best of 3 with red on one worker and blue on another (every move
    crosses Redis; ``env_two``, if given, is the second worker's), ``fault(red,
    blue)`` awaited after red's sixth move. The fault must be announced, not
    swallowed: an ``error``, a 1011 close and a resume for whoever it reached
    (a connection that touched no Redis during it may just carry on); then
    the series finishes with a consistent history."""
    one = live_server_factory(env=env, workdir=workdir)
    two = live_server_factory(env=env_two or env, workdir=workdir)

    async def scenario() -> tuple[Bot, Bot]:
        red = Bot(one.ws_url, series_length=3, seed=seed, model_name="red_split", move_delay=0.02)
        blue = Bot(two.ws_url, series_length=3, seed=seed + 1, model_name="blue_split", move_delay=0.02)
        red_task = asyncio.create_task(play_through_faults(red))
        await asyncio.sleep(0.3)
        blue_task = asyncio.create_task(play_through_faults(blue))
        while len(red.accepted_moves) < 6:
            await asyncio.sleep(0.02)
        await fault(red, blue)
        await asyncio.wait_for(asyncio.gather(red_task, blue_task), timeout=90)
        return red, blue

    red, blue = asyncio.run(scenario())
    hit = [bot for bot in (red, blue) if BUSY in bot.received]
    assert hit, "the fault reached neither player"
    for bot in hit:
        assert "reconnected" in bot.types()
    assert red.series_over == blue.series_over
    assert_consistent(env["HEX_DATABASE_URL"], red, blue)
    for server in (one, two):
        assert "Exception inside application" not in server.log()
    return red, blue


def test_after_a_redis_restart_a_player_who_never_returns_times_out_like_any_disconnect(
    live_server_factory, production_env, private_redis
):
    """The consumers that lost their layer release their seats: the player
    who comes back waits for the other, and the reconnect window frees the
    slot when the other never returns (instead of a seat that stays
    "connected" to a dead consumer forever)."""
    env = {**production_env, "HEX_REDIS_URL": private_redis.url, "HEX_RECONNECT_TIMEOUT": "2"}
    server = live_server_factory(env=env)
    matchmake = f"{server.ws_url}/ws/matchmake?board_size=7&series_length=1"

    async def scenario() -> Player:
        red = await Player.open(matchmake + "&model_name=red_gone")
        await red.next("waiting_for_opponent")
        blue = await Player.open(matchmake + "&model_name=blue_back")
        joined = (await blue.next("joined"))["payload"]
        await asyncio.gather(red.next("game_start"), blue.next("game_start"))
        private_redis.kill()
        for player in (red, blue):
            assert await player.next("error") == BUSY
            await player.ws.wait_closed()
            assert player.ws.close_code == 1011
        private_redis.start()
        query = f"slot_id={joined['slot_id']}&token={joined['reconnect_token']}"
        # A pooled Redis connection that went stale with the restart can still
        # fail the first reconnect with error + 1011 (README, faults table):
        # a client then reconnects again, as the bundled clients do.
        for _attempt in range(3):
            back = await Player.open(f"{server.ws_url}/ws/reconnect?{query}")
            await back.next("reconnected")
            try:
                await back.next("waiting_for_opponent")
                notice = await back.next("opponent_disconnected")
            except websockets.ConnectionClosedError:
                assert back.ws.close_code == 1011 and back.received[-1] == BUSY
                continue
            assert notice["payload"]["reason"] == "reconnect_timeout"
            return back
        raise AssertionError("the returning player never got its seat back")

    asyncio.run(asyncio.wait_for(scenario(), timeout=90))
    slots = http_json(f"{server.http_url}/slots")
    assert all(slot["state"] == "empty" for slot in slots)


# -- 3. PostgreSQL unreachable for a few seconds ------------------------------------------------------------


class Player:
    """A scripted client that records every message it receives."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.received: list[dict] = []

    @classmethod
    async def open(cls, url: str) -> Player:
        return cls(await websockets.connect(url))

    async def next(self, *types: str) -> dict:
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout=30))
            self.received.append(msg)
            if msg["type"] in types:
                return msg

    async def move(self, q: int, r: int) -> None:
        await self.ws.send(json.dumps({"type": "move", "payload": {"q": q, "r": r}}))

    def moves(self) -> list[tuple[int, int, int, int]]:
        return [(1, m["payload"]["player"], m["payload"]["q"], m["payload"]["r"])
                for m in self.received if m["type"] == "move"]


@pytest.fixture
def postgres_proxy() -> Iterator[CuttableProxy]:
    proxy = CuttableProxy("127.0.0.1", 5432).start()
    yield proxy
    proxy.close()


def test_postgres_unreachable_for_a_few_seconds_gives_errors_then_play_resumes(
    live_server_factory, production_env, postgres_proxy
):
    """The server reaches PostgreSQL through a proxy the test cuts: open
    connections reset, new ones refused. Meanwhile a move and a new seat get
    the protocol's ``error`` (no hang, no crash, no half-written move); when
    the database is back the same move is accepted and the game finishes."""
    via_proxy = f"127.0.0.1:{postgres_proxy.port}"

    async def outage() -> None:
        postgres_proxy.cut()

    async def back() -> None:
        await asyncio.sleep(2)
        postgres_proxy.restore()

    newcomer = postgres_outage_mid_game(live_server_factory, production_env, via_proxy, {}, outage, back)
    assert newcomer.ws.close_code == 1011


def postgres_outage_mid_game(live_server_factory, production_env: dict[str, str], reached_at: str,
                             env: dict[str, str], outage, back) -> Player:
    """Four moves into a game on a server that reaches PostgreSQL at
    ``reached_at``, ``outage()`` is awaited: then a move and a newcomer's seat
    must each get ``error``. After ``back()`` the same move is tried until it
    is accepted, the game is played out, and the database holds exactly what
    both players saw, the newcomer's seat not among it. Returns the newcomer."""
    direct_url = production_env["HEX_DATABASE_URL"]
    server = live_server_factory(env={**production_env, "HEX_RECONNECT_TIMEOUT": "60", **env,
                                      "HEX_DATABASE_URL": direct_url.replace("127.0.0.1:5432", reached_at)})
    matchmake = f"{server.ws_url}/ws/matchmake?board_size=7&series_length=1"

    async def scenario() -> tuple[Player, Player, Player]:
        red = await Player.open(matchmake + "&model_name=red_pg")
        await red.next("waiting_for_opponent")
        blue = await Player.open(matchmake + "&model_name=blue_pg")
        await asyncio.gather(red.next("game_start"), blue.next("game_start"))
        opening = [(red, 0, 0), (blue, 6, 0), (red, 0, 1), (blue, 6, 1)]
        for mover, q, r in opening:
            await mover.move(q, r)
            await asyncio.gather(red.next("move"), blue.next("move"))

        await outage()
        await red.move(3, 3)
        assert await red.next("error", "move") == BUSY
        newcomer = await Player.open(matchmake + "&model_name=late")
        assert await newcomer.next("error", "joined") == BUSY
        await newcomer.ws.wait_closed()
        await back()

        # The same move again, until the server has its database back.
        for _ in range(100):
            await red.move(3, 3)
            if (await red.next("error", "move"))["type"] == "move":
                break
            await asyncio.sleep(0.1)
        assert (await blue.next("move"))["payload"] == {"player": -1, "q": 3, "r": 3, "next_turn": 1}
        await finish_game(red, blue, opening + [(red, 3, 3)], next_mover=blue)
        return red, blue, newcomer

    red, blue, newcomer = asyncio.run(asyncio.wait_for(scenario(), timeout=150))
    with connect_db(direct_url) as db:
        assert check_history(db) == []
        moves = stored_moves(db)
        assert db.execute("SELECT status FROM games_series").fetchall() == [("completed",)]
        assert db.execute("SELECT count(*) FROM matchmaking_seat WHERE model_name = 'late'").fetchone() == (0,)
    assert moves == red.moves() == blue.moves()
    assert moves.count((1, -1, 3, 3)) == 1
    assert "move_rejected" not in [m["type"] for m in red.received + blue.received]
    return newcomer


async def finish_game(red: Player, blue: Player, played: list, next_mover: Player) -> None:
    """Fill the board in a fixed order (blue from the far side) until the
    single game of the series ends."""
    from games import rules

    board = rules.Board(7)
    for mover, q, r in played:
        board.place(rules.RED if mover is red else rules.BLUE, q, r)
    mover = next_mover
    while True:
        cells = sorted(board.empty_cells(), reverse=mover is blue)
        q, r = cells[0]
        await mover.move(q, r)
        seen = await asyncio.gather(red.next("move"), blue.next("move"))
        assert seen[0] == seen[1] and seen[0]["payload"]["q"] == q
        board.place(seen[0]["payload"]["player"], q, r)
        if seen[0]["payload"]["next_turn"] is None:
            await asyncio.gather(red.next("series_over"), blue.next("series_over"))
            return
        mover = blue if mover is red else red




def test_postgres_silently_partitioned_gives_errors_not_a_hang_then_play_resumes(
    live_server_factory, production_env, partitioned_postgres
):
    """Packets to PostgreSQL vanish mid-game: no reset, no refusal, as in a
    network partition. With the operating system's TCP timeouts the worker
    would wait on its open connections for many minutes; with
    ``HEX_DB_NETWORK_TIMEOUT`` (2 s here) the move and a new seat get the
    protocol's ``error`` well inside each message's 30 s wait, nothing is
    half-written, and when the path heals the same move is accepted."""
    host, port = partitioned_postgres.address

    async def outage() -> None:
        assert partitioned_postgres.proxy.connections > 0  # the server's connections do take this path
        partitioned_postgres.partition()

    async def back() -> None:
        partitioned_postgres.heal()

    postgres_outage_mid_game(live_server_factory, production_env, f"{host}:{port}", {"HEX_DB_NETWORK_TIMEOUT": "2"},
                             outage, back)


def test_a_player_leaving_while_postgres_is_unreachable_is_recorded_when_it_returns(
    live_server_factory, production_env, postgres_proxy
):
    """Blue's connection closes while the database is cut off, so its seat
    cannot be marked disconnected then. Once PostgreSQL is back the server
    records it anyway: red hears ``opponent_disconnected`` and blue's seat
    waits for a reconnect instead of staying "connected" to nobody."""
    direct_url = production_env["HEX_DATABASE_URL"]
    via_proxy = direct_url.replace("127.0.0.1:5432", f"127.0.0.1:{postgres_proxy.port}")
    server = live_server_factory(env={**production_env, "HEX_DATABASE_URL": via_proxy, "HEX_RECONNECT_TIMEOUT": "60"})
    matchmake = f"{server.ws_url}/ws/matchmake?board_size=7&series_length=1"

    async def scenario() -> dict:
        red = await Player.open(matchmake + "&model_name=red_stays")
        await red.next("waiting_for_opponent")
        blue = await Player.open(matchmake + "&model_name=blue_leaves")
        await asyncio.gather(red.next("game_start"), blue.next("game_start"))

        postgres_proxy.cut()
        await blue.ws.close()
        await asyncio.sleep(2)
        postgres_proxy.restore()
        return await red.next("opponent_disconnected")

    notice = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert notice["payload"]["reason"] == "waiting_for_reconnect"
    with connect_db(direct_url) as db:
        seats = db.execute("SELECT model_name, connected, reconnect_deadline IS NOT NULL FROM matchmaking_seat "
                           "ORDER BY model_name").fetchall()
    assert seats == [("blue_leaves", False, True), ("red_stays", True, False)]
