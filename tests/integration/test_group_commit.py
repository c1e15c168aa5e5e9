"""Group commit (embedded default): the moves of one event-loop pass share a
commit, nobody hears of a move before it is committed, and a failed commit
loses those moves cleanly."""

from __future__ import annotations

import gc
import sqlite3
import weakref

import pytest

from games.models import Move
from matchmaking import group_commit
from tests.integration.helpers import RED, db, pair, run

pytestmark = pytest.mark.django_db(transaction=True)


def first_movers(*games):
    """Each game's (mover, waiter), by its game_start."""
    return [(red, blue) if start["first_turn"] == RED else (blue, red) for red, blue, start in games]


async def first_move_played(opened: list[group_commit.Batch]):
    """A new game whose first mover has just sent (2, 2), the batches
    ``opened`` before it forgotten: (red, blue, mover, waiter)."""
    red, blue, start = await pair(7)
    (mover, waiter), = first_movers((red, blue, start))
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


class FailingCommit:
    """A raw connection whose COMMIT fails (a full disk, say)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, *params):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.raw.execute(sql, *params)


class FailingSecondUpdate:
    """A raw connection whose second game update fails (an I/O error between
    a move's two statements)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self.updates = 0

    def execute(self, sql: str, *params):
        if sql.startswith("UPDATE games_game"):
            self.updates += 1
            if self.updates == 2:
                raise sqlite3.OperationalError("disk I/O error")
        return self.raw.execute(sql, *params)


@pytest.mark.parametrize("failing", [FailingCommit, FailingSecondUpdate], ids=["commit", "second-move-half-way"])
def test_a_failed_batch_tells_its_movers_loses_nothing_else_and_play_goes_on(monkeypatch, failing):
    """A commit that fails, or a move that fails between its two writes (no
    savepoint per move: that dooms its batch, rolled back at once): every
    mover of the batch hears of it, nothing of it is stored, and play goes on."""
    init = group_commit.Batch.__init__

    def failing_init(self, raw, loop):
        init(self, failing(raw), loop)

    async def scenario() -> None:
        games = [await pair(7), await pair(7)]
        (mover_a, waiter_a), (mover_b, waiter_b) = first_movers(*games)
        with monkeypatch.context() as patch:
            patch.setattr(group_commit.Batch, "__init__", failing_init)
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
