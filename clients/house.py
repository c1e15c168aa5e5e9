"""``hexgame house``: keep one bot waiting for each board size and series length.

Every seat is a normal client session (the same protocol, model and runner as
``hexgame play``) with two differences: after a series it keeps its slot
(``keep_slot``) and waits for the next opponent, and when its opponent drops
it does *not* take the slot back at once, so the person who dropped (say, by
reloading ``/play``) finds their game again within the reconnect window.

Whenever a session ends anyway (the server restarted for longer than the
reconnect window, refused us, had no free slot, the opponent never came back)
the seat starts over with exponential backoff: 1 s doubling to
``--max-backoff``. SIGINT and SIGTERM close every connection and exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from clients.errors import EXIT_OK, ClientError, ModelError
from clients.session import Options, Session

HOUSE_USERNAME = "house"
# A session that lasted this long was healthy: the next failure starts the backoff over.
HEALTHY_SECONDS = 30.0


@dataclass(frozen=True)
class HouseSeat:
    model: str
    board_size: int
    series_length: int

    @property
    def label(self) -> str:
        return f"{self.model} {self.board_size}x{self.board_size} best of {self.series_length}"


def parse_bot(text: str) -> HouseSeat:
    """``MODEL:SIZE[:SERIES]`` (as in ``HEX_HOUSE_BOTS``) → a seat; ``ValueError`` when malformed."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise ValueError(f"{text!r}: expected MODEL:BOARD_SIZE[:SERIES_LENGTH], e.g. model_mcts:11:3")
    try:
        size = int(parts[1])
        series = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        raise ValueError(f"{text!r}: board size and series length must be integers") from None
    return HouseSeat(parts[0], size, series)


def seats_from(model: str, board_sizes: list[int], series_lengths: list[int], bots: list[str]) -> list[HouseSeat]:
    """Every size × series length for ``model``, plus the explicit ``MODEL:SIZE:SERIES`` bots, without repeats."""
    seats = [HouseSeat(model, size, length) for size in board_sizes for length in series_lengths]
    seats += [parse_bot(bot) for bot in bots]
    unique: list[HouseSeat] = []
    for seat in seats:
        if seat not in unique:
            unique.append(seat)
    return unique


class House:
    """Runs one session loop per seat until ``stop()``."""

    def __init__(self, seats: list[HouseSeat], template: Options, *, max_backoff: float = 30.0,
                 say: Callable[[str], None] | None = None) -> None:
        self.seats = seats
        self.template = template
        self.max_backoff = max_backoff
        self.say = say or (lambda text: print(text, flush=True))
        self.stopping = asyncio.Event()
        self.sessions_started: dict[HouseSeat, int] = {seat: 0 for seat in seats}

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> int:
        tasks = [asyncio.ensure_future(self._keep(seat)) for seat in self.seats]
        stopper = asyncio.ensure_future(self.stopping.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # a model error: every seat would fail the same way
            return EXIT_OK
        finally:
            for task in [*tasks, stopper]:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _keep(self, seat: HouseSeat) -> None:
        def say(text: str) -> None:
            self.say(f"[{seat.label}] {text}")

        options = replace(self.template, command="house", model_name=seat.model, board_size=seat.board_size,
                          series_length=seat.series_length, keep_slot=True, keep_on_disconnect=False,
                          slot_id=None, reconnect_token=None)
        backoff = 1.0
        while not self.stopping.is_set():
            session = Session(options, say=say)  # a model that cannot load raises here: fatal
            self.sessions_started[seat] += 1
            started = time.monotonic()
            try:
                await session.run()
                say("session ended; queueing again")
            except ModelError:
                raise
            except ClientError as exc:
                say(f"{exc}; queueing again")
            finally:
                session.close()
            if time.monotonic() - started > HEALTHY_SECONDS:
                backoff = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), backoff)
            backoff = min(backoff * 2, self.max_backoff)


def run_house(seats: list[HouseSeat], template: Options, *, max_backoff: float = 30.0) -> int:
    """Run until SIGINT/SIGTERM (exit 0) or a model error (exit 6)."""

    async def main() -> int:
        house = House(seats, template, max_backoff=max_backoff)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, house.stop)
        for seat in seats:
            house.say(f"house bot {seat.label} on {template.server}")
        code = await house.run()
        house.say("house bots stopped")
        return code

    return asyncio.run(main())
