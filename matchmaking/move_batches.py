"""PostgreSQL moves, committed several at a time.

On PostgreSQL every move used to be a transaction of its own, run on one of
the database threads: two round trips, a thread hop each way and a commit
that flushes the WAL. At 200 games with 50 ms think time
(``bench/load.py``) that cost the server and PostgreSQL about 290 µs of CPU
each per move, so two cores served about 2,500 of the offered 4,000 moves a
second. Here the moves that wait at the same time go to the database
together, in one transaction whose round trips the event loop awaits
(``loop_batches.apply_moves``):

- a move that arrives while no more than ``MAX_IN_FLIGHT - 1`` batches are
  running starts a batch at the end of the loop pass, with every move
  waiting by then; otherwise it waits for the next, so batches grow with
  the load and an idle server adds no delay;
- a batch holds at most one move per slot, and a slot's next move waits
  until that batch has finished: a game's moves are applied, and answered,
  in the order they arrived;
- each caller gets its own move's outbox (or exception) back, in the order
  of the batch, and delivers it as after any other service call. The moves
  committed by the batch's transaction are answered as soon as it commits;
  those it leaves to run on their own afterwards (game ends, clocks) when
  they are done.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable

from matchmaking import loop_batches, services
from matchmaking.db_calls import database_vendor, run_in_db
from matchmaking.delivery import deliver
from matchmaking.hot_settings import hot
from matchmaking.outbox import Outbox

# Two batches at once, so that one can read while the other commits. One,
# two and three gave the same throughput within the run-to-run noise
# (bench/load.py, one worker at 200 games / 50 ms: 2,700-3,300 moves/s each).
MAX_IN_FLIGHT = 2

# A move and its caller's answer (None once answered).
_Waiting = tuple[services.MoveRequest, "asyncio.Future[Outbox] | None"]


class MoveBatcher:
    """The moves of one process that wait for a batch, and the batches running."""

    def __init__(self) -> None:
        self.waiting: list[_Waiting] = []
        self.busy_slots: set[int] = set()  # slots with a move in a running batch
        self.in_flight = 0
        self.start_scheduled = False
        self.connections = loop_batches.LoopConnections()

    async def apply_move(self, slot_id: int, seat_id: int, channel: str, q: object, r: object) -> Outbox:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Outbox] = loop.create_future()
        self.waiting.append(((slot_id, seat_id, channel, q, r), answer))
        if not self.start_scheduled:
            # At the end of this pass: moves read from other sockets in the
            # same pass join the batch.
            self.start_scheduled = True
            loop.call_soon(self._start)
        return await answer

    def _start(self) -> None:
        self.start_scheduled = False
        while self.in_flight < MAX_IN_FLIGHT and self.waiting:
            taken: list[_Waiting] = []
            kept: list[_Waiting] = []
            slots: set[int] = set()
            for waiting in self.waiting:
                slot_id = waiting[0][0]
                if slot_id in self.busy_slots or slot_id in slots:
                    kept.append(waiting)
                else:
                    taken.append(waiting)
                    slots.add(slot_id)
            if not taken:
                return
            self.waiting = kept
            self.busy_slots |= slots
            self.in_flight += 1
            counted = [True]  # the batch still counts against MAX_IN_FLIGHT
            running = asyncio.ensure_future(loop_batches.apply_moves(
                self.connections, [request for request, _ in taken],
                functools.partial(self._committed, taken, slots, counted)))
            running.add_done_callback(functools.partial(self._finished, taken, slots, counted))

    def _committed(self, taken: list[_Waiting], slots: set[int], counted: list[bool],
                   results: dict[int, Outbox | Exception]) -> None:
        """Answer the moves the batch's transaction committed (or refused),
        while the moves it left for afterwards still run: their slots stay
        busy, the others may take their next move.

        The batch stops counting against ``MAX_IN_FLIGHT`` now. Its game ends
        take the ORM path, tens of milliseconds each under load
        (``bench/load.py``: about 40 a second at 200 games, p50 25-80 ms), and
        while two batches were busy with them no other game's move could
        reach the database."""
        self._stop_counting(counted)
        for index, result in results.items():
            request, answer = taken[index]
            if answer is None:
                continue  # the batch's call was cancelled, and its callers told so
            taken[index] = (request, None)
            self._answer(answer, result)
            slots.discard(request[0])
            self.busy_slots.discard(request[0])
        self._start()

    def _finished(self, taken: list[_Waiting], slots: set[int], counted: list[bool],
                  running: asyncio.Future[list[Outbox | Exception]]) -> None:
        self._stop_counting(counted)
        self.busy_slots -= slots
        if running.cancelled():
            results: list[Outbox | BaseException] = [asyncio.CancelledError()] * len(taken)
        elif running.exception() is not None:
            results = [running.exception()] * len(taken)  # type: ignore[list-item]
        else:
            results = running.result()  # type: ignore[assignment]
        for index, ((request, answer), result) in enumerate(zip(taken, results, strict=True)):
            taken[index] = (request, None)
            self._answer(answer, result)
        self._start()

    def _stop_counting(self, counted: list[bool]) -> None:
        if counted[0]:
            counted[0] = False
            self.in_flight -= 1

    @staticmethod
    def _answer(answer: asyncio.Future[Outbox] | None, result: Outbox | BaseException) -> None:
        if answer is None:
            return  # answered when the batch committed
        if isinstance(result, BaseException):
            if not answer.cancelled():
                answer.set_exception(result)
        elif answer.cancelled():
            # Its caller is gone, but the move is committed: its opponent must still hear of it.
            asyncio.ensure_future(deliver(result))
        else:
            answer.set_result(result)


# One per event loop: a batch's futures belong to the loop that made them.
_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MoveBatcher] = weakref.WeakKeyDictionary()


def batches_moves() -> bool:
    """Moves go to the database in batches: on PostgreSQL, on database threads."""
    return database_vendor() == "postgresql" and not hot("HEX_DB_INLINE")


def apply_move(slot_id: int, seat_id: int, channel: str, q: object, r: object) -> Awaitable[Outbox]:
    """``services.apply_move``, run where this server does its database work,
    in a batch with other moves where it batches them. (A plain function
    returning the call to await: a coroutine of its own would add a frame to
    every move.)"""
    if batches_moves():
        loop = asyncio.get_running_loop()
        batcher = _batchers.get(loop)
        if batcher is None:
            batcher = _batchers[loop] = MoveBatcher()
        return batcher.apply_move(slot_id, seat_id, channel, q, r)
    return run_in_db(services.apply_move, slot_id, seat_id, channel, q, r)
