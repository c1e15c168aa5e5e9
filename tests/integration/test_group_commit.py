"""Group commit (embedded default): the moves of one event-loop pass share a
commit, nobody hears of a move before it is committed, and a failed commit
loses those moves cleanly."""

from __future__ import annotations

import gc
import sqlite3
import weakref

import pytest
from django.db import OperationalError

from games import rules
from games.models import Game, Move, Series
from matchmaking import group_commit, row_sql, runtime, services
from matchmaking import protocol as proto
from matchmaking.db_calls import run_inline
from matchmaking.models import BotToken, Seat
from tests.integration.helpers import (
    RED,
    WS,
    batch_statements,
    both_get,
    db,
    matchmake_path,
    pair,
    play,
    run,
    winning_moves,
)

pytestmark = pytest.mark.django_db(transaction=True)


def first_movers(*games):
    """Each game's (mover, waiter), by its game_start."""
    return [(red, blue) if start["first_turn"] == RED else (blue, red) for red, blue, start in games]


async def first_move_played(opened: list[group_commit.Batch]):
    """A new game whose first mover has just sent (2, 2), the batches
    ``opened`` before it forgotten: (red, blue, mover, waiter)."""
    red, blue, start = await pair(7)
    (mover, waiter), = first_movers((red, blue, start))
    # Both connections idle: a matchmake's connection finishes its handshake
    # a pass after its game_start goes out (it waits for the group commit).
    await mover.alive()
    await waiter.alive()
    opened.clear()
    await mover.move(2, 2)
    return red, blue, mover, waiter


def watch_batches(monkeypatch) -> list[group_commit.Batch]:
    """Every batch opened from now on; each gets ``moves``: how many moves it
    held when it was committed."""
    opened: list[group_commit.Batch] = []
    init = group_commit.Batch.__init__
    flush = group_commit.flush

    def recording_init(self, raw, loop):
        init(self, raw, loop)
        opened.append(self)

    def recording_flush():
        if group_commit._batch is not None:
            group_commit._batch.moves = len(group_commit._batch.hooks)
        flush()

    monkeypatch.setattr(group_commit.Batch, "__init__", recording_init)
    monkeypatch.setattr(group_commit, "flush", recording_flush)
    return opened


def test_moves_of_two_games_in_one_pass_share_one_commit_and_are_all_stored(monkeypatch):
    opened = watch_batches(monkeypatch)

    async def scenario() -> None:
        games = [await pair(7), await pair(7)]
        (mover_a, waiter_a), (mover_b, waiter_b) = first_movers(*games)
        opened.clear()
        await mover_a.move(0, 0)
        await mover_b.move(1, 1)  # both arrive before the server's next loop pass
        for ws, (q, r) in ((mover_a, (0, 0)), (waiter_a, (0, 0)), (mover_b, (1, 1)), (waiter_b, (1, 1))):
            got = await ws.expect("move")
            assert (got["q"], got["r"]) == (q, r)
        assert len(opened) == 1 and opened[0].moves == 2
        stored = await db(lambda: sorted((m.q, m.r) for m in Move.objects.all()))
        assert stored == [(0, 0), (1, 1)]
        for red, blue, _ in games:
            await red.close()
            await blue.close()

    run(scenario())


class WrappedConnection:
    """A raw connection, as the batch uses it, with a fault injected in ``execute``."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def __getattr__(self, name: str):
        return getattr(self.raw, name)


class FailingCommit(WrappedConnection):
    """A raw connection whose COMMIT fails (a full disk, say)."""

    def execute(self, sql: str, *params):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.raw.execute(sql, *params)


class FailingSecondUpdate(WrappedConnection):
    """A raw connection whose second game update fails (an I/O error between
    a move's two statements)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        super().__init__(raw)
        self.updates = 0

    def execute(self, sql: str, *params):
        if sql.startswith("UPDATE games_game"):
            self.updates += 1
            if self.updates == 2:
                raise sqlite3.OperationalError("disk I/O error")
        return self.raw.execute(sql, *params)


def fail_batches(patch, failing=FailingCommit) -> None:
    """Every batch opened from now on writes through ``failing``."""
    init = group_commit.Batch.__init__

    def failing_init(self, raw, loop):
        init(self, failing(raw), loop)

    patch.setattr(group_commit.Batch, "__init__", failing_init)


@pytest.mark.parametrize("failing", [FailingCommit, FailingSecondUpdate], ids=["commit", "second-move-half-way"])
def test_a_failed_batch_tells_its_movers_loses_nothing_else_and_play_goes_on(monkeypatch, failing):
    """A commit that fails, or a move that fails between its two writes (no
    savepoint per move: that dooms its batch, rolled back at once): every
    mover of the batch hears of it, nothing of it is stored, and play goes on."""
    async def scenario() -> None:
        games = [await pair(7), await pair(7)]
        (mover_a, waiter_a), (mover_b, waiter_b) = first_movers(*games)
        with monkeypatch.context() as patch:
            fail_batches(patch, failing)
            await mover_a.move(0, 0)
            await mover_b.move(1, 1)  # one pass, one batch
            await mover_a.expect_error("Server is busy; try again")
            await mover_b.expect_error("Server is busy; try again")
        await waiter_a.silent()
        await waiter_b.silent()  # nobody heard of a move that was never stored
        assert await db(lambda: Move.objects.count()) == 0

        # The positions the failed moves built are forgotten: the same cells are free.
        await mover_a.move(0, 0)
        assert (await waiter_a.expect("move"))["q"] == 0
        await mover_a.expect("move")
        await mover_b.move(1, 1)
        assert (await waiter_b.expect("move"))["q"] == 1
        await mover_b.expect("move")
        assert await db(lambda: sorted((m.q, m.r, m.number) for m in Move.objects.all())) == [(0, 0, 1), (1, 1, 1)]
        for red, blue, _ in games:
            await red.close()
            await blue.close()

    run(scenario())


async def a_win_and_a_move_in_one_pass():
    """Game A one move from red's win, and a new game B; then, in one pass,
    B's first move and A's winning move: (A's winner, A's loser, B's mover,
    B's waiter, the winning move, the sockets to close)."""
    red_a, blue_a, start_a = await pair(7)
    moves = winning_moves(7, start_a["first_turn"], RED)
    await play(red_a, blue_a, moves[:-1])
    red_b, blue_b, start_b = await pair(7)
    (mover_b, waiter_b), = first_movers((red_b, blue_b, start_b))
    return red_a, blue_a, mover_b, waiter_b, moves[-1], (red_a, blue_a, red_b, blue_b)


@pytest.fixture
def commits(monkeypatch):
    """Every COMMIT run on the batches' connection from the first batch on,
    Django's own included."""
    yield from batch_statements(monkeypatch, "COMMIT")


def test_a_game_end_joins_the_open_batch(monkeypatch, commits):
    """A winning move is scored inside the pass's batch, with the other
    games' moves: committing the batch first and then itself cost two more
    commits per game end."""
    opened = watch_batches(monkeypatch)

    async def scenario() -> None:
        winner, loser, mover_b, waiter_b, (_, q, r), sockets = await a_win_and_a_move_in_one_pass()
        opened.clear()
        commits.clear()
        await mover_b.move(3, 3)
        await winner.move(q, r)  # same pass
        for ws in (mover_b, waiter_b):
            assert (await ws.expect("move"))["q"] == 3
        assert await both_get([winner, loser], "move") == {"player": RED, "q": q, "r": r, "next_turn": None}
        assert await both_get([winner, loser], "game_over") == {"winner": RED, "reason": "connected_sides"}
        assert len(opened) == 1 and opened[0].committed.result() is None
        assert len(commits) == 1  # the pass's one commit
        assert await db(lambda: Game.objects.filter(winner=RED).count()) == 1
        assert await db(lambda: Series.objects.filter(player_1_wins=1).count()) == 1
        for ws in sockets:
            await ws.close()

    run(scenario())


def test_a_game_end_failing_half_way_is_undone_alone(monkeypatch):
    """The game end wrote its move and result, then failed scoring the
    series: it is rolled back to its own savepoint, its player hears "Server
    is busy", the other game's move of the same batch is committed, and the
    winning move succeeds when sent again."""
    update = row_sql.update

    def failing_update(instance, fields=None):
        if isinstance(instance, Series):
            raise OperationalError("disk I/O error")
        update(instance, fields)

    async def scenario() -> None:
        winner, loser, mover_b, waiter_b, (_, q, r), sockets = await a_win_and_a_move_in_one_pass()
        stored_before = await db(lambda: Move.objects.count())
        with monkeypatch.context() as patch:
            patch.setattr(row_sql, "update", failing_update)
            await mover_b.move(3, 3)
            await winner.move(q, r)  # same pass
            await winner.expect_error("Server is busy; try again")
            for ws in (mover_b, waiter_b):
                assert (await ws.expect("move"))["q"] == 3
        await loser.silent()
        assert await db(lambda: Move.objects.count()) == stored_before + 1  # B's move only
        assert await db(lambda: Game.objects.filter(winner__isnull=False).count()) == 0

        await winner.move(q, r)
        await both_get([winner, loser], "move")
        assert await both_get([winner, loser], "game_over") == {"winner": RED, "reason": "connected_sides"}
        assert await db(lambda: Move.objects.count()) == stored_before + 2
        for ws in sockets:
            await ws.close()

    run(scenario())


def test_a_leave_joins_the_open_batch(monkeypatch, commits):
    """A player leaving in the same pass as another game's move: one commit
    for both, and the opponent hears of the leave once it is committed."""
    opened = watch_batches(monkeypatch)

    async def scenario() -> None:
        red_a, blue_a, start_a = await pair(7)
        (mover_a, waiter_a), = first_movers((red_a, blue_a, start_a))
        red_b, blue_b, _ = await pair(7)
        opened.clear()
        commits.clear()
        await mover_a.move(0, 0)
        await red_b.close()  # same pass
        for ws in (mover_a, waiter_a):
            assert (await ws.expect("move"))["q"] == 0
        assert (await blue_b.expect("opponent_disconnected"))["reason"] == "waiting_for_reconnect"
        assert len(opened) == 1 and opened[0].committed.result() is None
        assert len(commits) == 1  # the pass's one commit
        assert await db(lambda: Seat.objects.filter(connected=False).count()) == 1
        for ws in (red_a, blue_a, blue_b):
            await ws.close()

    run(scenario())


def test_a_leave_whose_batch_fails_is_recorded_later(monkeypatch):
    """The leave is lost with its batch's failed commit, so its opponent
    hears nothing yet; the sweeper records it once the database answers."""
    async def scenario() -> None:
        red_a, blue_a, start_a = await pair(7)
        (mover_a, waiter_a), = first_movers((red_a, blue_a, start_a))
        red_b, blue_b, _ = await pair(7)
        with monkeypatch.context() as patch:
            fail_batches(patch)
            await mover_a.move(0, 0)
            await red_b.close()  # same pass
            await mover_a.expect_error("Server is busy; try again")
        await blue_b.silent()
        await waiter_a.silent()
        assert len(runtime._unrecorded_leaves) == 1
        assert await db(lambda: Seat.objects.filter(connected=False).count()) == 0

        await db(runtime.record_unrecorded_leaves)
        assert not runtime._unrecorded_leaves
        assert await db(lambda: Seat.objects.filter(connected=False).count()) == 1
        for ws in (red_a, blue_a, blue_b):
            await ws.close()

    runtime._unrecorded_leaves.clear()
    try:
        run(scenario())
    finally:
        runtime._unrecorded_leaves.clear()


def test_two_matchmakes_of_one_pass_pair_up_in_one_commit(commits):
    """Matchmakes join the group commit: the second sees the first's
    uncommitted slot and pairs with it, nobody hears anything before the
    pass's one commit, and then both are seated in the database."""
    request = proto.parse_matchmake(proto.Query.parse(b"board_size=7&model_name=bot"))

    async def scenario() -> None:
        run_inline(services.ensure_slots)  # a missing slot is created in a transaction of its own
        commits.clear()
        first = run_inline(services.matchmake, request, "127.0.0.1", "channel-1", runtime.PROCESS_ID)
        second = run_inline(services.matchmake, request, "127.0.0.1", "channel-2", runtime.PROCESS_ID)
        batch = first.pending_commit
        assert batch is not None and second.pending_commit is batch and not batch.committed.done()
        assert second.identity.slot_id == first.identity.slot_id and second.identity.player == rules.BLUE
        assert any(m["type"] == "game_start" for m in second.messages["channel-2"])
        await batch.committed
        assert batch.committed.result() is None and len(commits) == 1
        assert await db(lambda: Seat.objects.filter(slot_id=first.identity.slot_id).count()) == 2

    run(scenario())


def test_a_matchmake_refused_after_writing_is_undone_alone(settings):
    """A verified bot's matchmake notes its token's use, then finds no slot:
    only that call is undone (its own savepoint), and the matchmake before it
    in the same batch is committed."""
    settings.HEX_MAX_SLOTS = 1

    def request(query: str) -> proto.MatchRequest:
        return proto.parse_matchmake(proto.Query.parse(query.encode()))

    async def scenario() -> None:
        run_inline(services.ensure_slots)
        row, token = await db(lambda: services.issue_bot_token("alice", "bot"))
        first = run_inline(services.matchmake, request("board_size=7&model_name=other"), "127.0.0.1", "channel-1",
                           runtime.PROCESS_ID)
        with pytest.raises(services.ServiceError) as refused:  # board 9: no slot left
            run_inline(services.matchmake, request(f"board_size=9&model_name=bot&username=alice&bot_token={token}"),
                       "127.0.0.1", "channel-2", runtime.PROCESS_ID)
        assert refused.value.message == proto.ERR_NO_SLOT
        assert await first.pending_commit.committed is None
        assert await db(lambda: Seat.objects.filter(channel_name="channel-1").count()) == 1
        assert await db(lambda: BotToken.objects.get(pk=row.pk).last_used_at) is None

    run(scenario())


def test_a_matchmake_lost_with_its_batch_is_refused_and_stores_nothing(monkeypatch):
    """The commit holding a matchmake fails: the client is told "Server is
    busy" and closed (1011), no seat is stored, and matchmaking works again."""
    async def scenario() -> None:
        with monkeypatch.context() as patch:
            fail_batches(patch)
            lost = await WS(matchmake_path(7)).connect()
            await lost.expect_refused("Server is busy; try again", 1011)
        assert await db(lambda: Seat.objects.count()) == 0
        red, blue, _ = await pair(7)
        assert await db(lambda: Seat.objects.count()) == 2
        await red.close()
        await blue.close()

    run(scenario())


def test_a_reply_sent_right_after_a_move_comes_after_its_broadcast(monkeypatch):
    """The move's handler returns before its commit (the commit delivers
    it); a ping the client sent right behind the move must still be
    answered after the move, as the reference answers messages in order."""
    opened = watch_batches(monkeypatch)

    async def scenario() -> None:
        red, blue, mover, waiter = await first_move_played(opened)
        await mover.send("ping")
        assert (await mover.recv())["type"] == "move"
        assert (await mover.recv())["type"] == "pong"
        await waiter.expect("move")
        assert [batch.moves for batch in opened] == [1]
        await red.close()
        await blue.close()

    run(scenario())


def test_any_other_call_commits_the_open_batch_first(monkeypatch):
    opened = watch_batches(monkeypatch)

    async def scenario() -> None:
        red, blue, mover, waiter = await first_move_played(opened)
        await waiter.send("resign")  # same pass: resigning must see (and keep) the move
        await mover.expect("move")
        await waiter.expect("move")
        over = await mover.expect("game_over")
        assert over["reason"] == "resignation"
        assert await db(lambda: [(m.q, m.r) for m in Move.objects.all()]) == [(2, 2)]
        assert len(opened) == 1 and opened[0].committed.result() is None
        await red.close()
        await blue.close()

    run(scenario())


def test_a_committed_batch_is_freed_without_the_cyclic_garbage_collector(monkeypatch):
    """Each pass's moves must be freed by reference counting as soon as they
    are delivered: left to the cyclic collector they piled up, and its
    collections stalled every game on the server for tens of milliseconds."""
    opened = watch_batches(monkeypatch)

    async def scenario() -> None:
        red, blue, start = await pair(7)
        (mover, waiter), = first_movers((red, blue, start))
        opened.clear()
        gc.disable()
        try:
            await mover.move(2, 2)
            await mover.expect("move")
            await waiter.expect("move")
            await waiter.move(3, 3)  # a later pass: the first move's handler has long returned
            await mover.expect("move")
            await waiter.expect("move")
            first = weakref.ref(opened[0])
            opened.clear()
            assert first() is None, gc.get_referrers(first())
        finally:
            gc.enable()
        await red.close()
        await blue.close()

    run(scenario())
