"""How a process groups its PostgreSQL moves into batches (``MoveBatcher``):
moves that wait together go together, at most ``MAX_IN_FLIGHT`` batches run,
a slot never has two moves in the database at once, and every caller gets
its own answer. The database call is replaced by one the test controls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from matchmaking import loop_batches, move_batches
from matchmaking.outbox import Outbox


class FakeDatabase:
    """Stands in for ``loop_batches.apply_moves(connections, requests, committed)``:
    records each batch and finishes it when the test says so. A move with
    ``q == "end"`` stands for one the batch leaves to run on its own after it
    committed (a game end): the batch then reports the others as committed
    and waits for ``finish_after`` before it returns."""

    def __init__(self) -> None:
        self.batches: list[list[tuple]] = []
        self.release: list[asyncio.Future[None]] = []
        self.release_after: dict[int, asyncio.Future[None]] = {}

    async def apply_moves(self, connections: Any, requests: list[tuple], committed: Any) -> list[Outbox | Exception]:
        index = len(self.batches)
        self.batches.append(list(requests))
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self.release.append(done)
        await done
        results: list[Outbox | Exception] = []
        for slot_id, _seat_id, channel, q, r in requests:
            if q == "boom":
                results.append(RuntimeError(f"slot {slot_id}"))
            else:
                outbox = Outbox()
                outbox.send(channel, {"type": "move", "payload": {"q": q, "r": r}})
                results.append(outbox)
        if any(request[3] == "end" for request in requests):
            committed({i: result for i, result in enumerate(results) if requests[i][3] != "end"})
            self.release_after[index] = loop.create_future()
            await self.release_after[index]
        return results

    def finish(self, index: int) -> None:
        self.release[index].set_result(None)

    def finish_after(self, index: int) -> None:
        self.release_after[index].set_result(None)


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> FakeDatabase:
    fake = FakeDatabase()
    monkeypatch.setattr(loop_batches, "apply_moves", fake.apply_moves)
    return fake


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_moves_that_wait_together_go_in_one_batch_and_each_caller_gets_its_own_answer(database):
    async def scenario() -> list[Any]:
        batcher = move_batches.MoveBatcher()
        calls = [asyncio.create_task(batcher.apply_move(slot, 1, f"c{slot}", slot, 0)) for slot in (1, 2, 3)]
        await settle()
        assert [len(batch) for batch in database.batches] == [3]
        database.finish(0)
        return await asyncio.gather(*calls)

    outboxes = asyncio.run(scenario())
    assert [outbox.messages for outbox in outboxes] == [
        {f"c{slot}": [{"type": "move", "payload": {"q": slot, "r": 0}}]} for slot in (1, 2, 3)]


def test_at_most_max_in_flight_batches_run_and_the_rest_wait_for_one_to_finish(database):
    async def scenario() -> list[list[int]]:
        batcher = move_batches.MoveBatcher()
        calls = []
        for slot in range(1, 6):
            calls.append(asyncio.create_task(batcher.apply_move(slot, 1, "c", 0, 0)))
            await settle()  # each arrives in a pass of its own
        running = len(database.batches)
        assert running == move_batches.MAX_IN_FLIGHT
        database.finish(0)
        await settle()
        # Everything that waited meanwhile goes in the next batch.
        assert len(database.batches) == running + 1
        for index in range(1, len(database.batches)):
            database.finish(index)
        await asyncio.gather(*calls)
        return [[request[0] for request in batch] for batch in database.batches]

    batches = asyncio.run(scenario())
    assert sorted(slot for batch in batches for slot in batch) == [1, 2, 3, 4, 5]
    assert batches[-1] == list(range(move_batches.MAX_IN_FLIGHT + 1, 6))


def test_a_slots_next_move_waits_until_the_batch_holding_its_last_one_finished(database):
    async def scenario() -> None:
        batcher = move_batches.MoveBatcher()
        first = asyncio.create_task(batcher.apply_move(7, 1, "red", 0, 0))
        second = asyncio.create_task(batcher.apply_move(7, 2, "blue", 1, 1))  # same pass, same slot
        other = asyncio.create_task(batcher.apply_move(8, 1, "x", 2, 2))
        await settle()
        # One move per slot per batch; a second batch may run, but not for slot 7.
        assert [[request[0] for request in batch] for batch in database.batches] == [[7, 8]]
        database.finish(0)
        await settle()
        assert [request[0] for request in database.batches[1]] == [7]
        assert first.done() and not second.done()
        database.finish(1)
        await asyncio.gather(first, second, other)

    asyncio.run(scenario())


def test_a_move_that_fails_fails_alone(database):
    async def scenario() -> tuple[Any, ...]:
        batcher = move_batches.MoveBatcher()
        good = asyncio.create_task(batcher.apply_move(1, 1, "good", 0, 0))
        bad = asyncio.create_task(batcher.apply_move(2, 1, "bad", "boom", 0))
        await settle()
        database.finish(0)
        return await asyncio.gather(good, bad, return_exceptions=True)

    good, bad = asyncio.run(scenario())
    assert isinstance(good, Outbox) and "good" in good.messages
    assert isinstance(bad, RuntimeError) and str(bad) == "slot 2"


@pytest.mark.parametrize("with_game_end", [False, True], ids=["batch", "answered-before-a-game-end"])
def test_a_committed_move_whose_caller_went_away_is_delivered_once(database, monkeypatch, with_game_end):
    delivered: list[Outbox] = []

    async def deliver(outbox: Outbox) -> None:
        delivered.append(outbox)

    monkeypatch.setattr(move_batches, "deliver", deliver)

    async def scenario() -> None:
        batcher = move_batches.MoveBatcher()
        gone = asyncio.create_task(batcher.apply_move(1, 1, "gone", 0, 0))
        if with_game_end:
            game_end = asyncio.create_task(batcher.apply_move(2, 1, "two", "end", 0))
        await settle()
        gone.cancel()
        await settle()
        database.finish(0)
        await settle()
        if with_game_end:
            database.finish_after(0)
            await game_end

    asyncio.run(scenario())
    assert [list(outbox.messages) for outbox in delivered] == [["gone"]]


def test_moves_the_batch_committed_are_answered_while_a_game_end_after_it_still_runs(database):
    async def scenario() -> None:
        batcher = move_batches.MoveBatcher()
        ordinary = asyncio.create_task(batcher.apply_move(1, 1, "one", 0, 0))
        game_end = asyncio.create_task(batcher.apply_move(2, 1, "two", "end", 0))
        await settle()
        database.finish(0)
        await settle()
        assert ordinary.done() and "one" in ordinary.result().messages
        assert not game_end.done()
        # The answered slot takes its next move at once; the game end's slot waits for it.
        following = asyncio.create_task(batcher.apply_move(1, 2, "one", 1, 1))
        after_end = asyncio.create_task(batcher.apply_move(2, 2, "two", 1, 1))
        await settle()
        assert [[request[0] for request in batch] for batch in database.batches] == [[1, 2], [1]]
        database.finish(1)
        await settle()
        assert following.done() and not after_end.done()
        database.finish_after(0)
        await settle()
        assert "two" in game_end.result().messages
        assert [request[0] for request in database.batches[2]] == [2]
        database.finish(2)
        await asyncio.gather(after_end)

    asyncio.run(scenario())


def test_batches_busy_only_with_game_ends_after_their_commit_leave_room_for_new_batches(database):
    """A game end runs after its batch committed, for milliseconds under load:
    meanwhile the batch no longer counts against ``MAX_IN_FLIGHT``, so other
    games' moves still reach the database."""
    async def scenario() -> None:
        batcher = move_batches.MoveBatcher()
        game_ends = []
        for slot in range(1, move_batches.MAX_IN_FLIGHT + 1):
            game_ends.append(asyncio.create_task(batcher.apply_move(slot, 1, f"c{slot}", "end", 0)))
            await settle()
        for index in range(move_batches.MAX_IN_FLIGHT):
            database.finish(index)  # committed; each batch's game end still runs
        await settle()
        other = asyncio.create_task(batcher.apply_move(99, 1, "other", 0, 0))
        await settle()
        assert [request[0] for request in database.batches[-1]] == [99]
        database.finish(len(database.batches) - 1)
        assert "other" in (await other).messages
        assert not any(task.done() for task in game_ends)
        for index in range(move_batches.MAX_IN_FLIGHT):
            database.finish_after(index)
        await asyncio.gather(*game_ends)
        assert batcher.in_flight == 0

    asyncio.run(scenario())
