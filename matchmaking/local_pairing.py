"""Pairing matchmakers on the worker they connected to.

With several workers behind one port, each connection lands on whichever
worker accepts it, and about one game in five had its players on two
processes (sampled at two workers under load). Every move of such a game
crosses Redis to reach the opponent: measured with two single-worker servers
on one core, 30-40 µs more CPU per move than games whose players share a
process, and the opponent saw the move after 69 ms (p50) instead of 36
(docs/benchmarks.md, fourteenth and fifteenth sessions).

So, while another worker is alive (``runtime.other_workers_alive``), a
matchmaker first looks for a waiting opponent on its own process. When the
only one waits elsewhere and has waited less than
``HEX_MATCHMAKING_LOCAL_WAIT`` seconds, the newcomer is held back here,
unseated, for the rest of that time, if newcomers arrive here often enough
for a partner to be likely by then. If another newcomer with the same
options arrives here meanwhile, the two play each other on this process: one
transaction seats the first in a new slot and the second beside it.
Otherwise the held one pairs with the remote waiter when the time is up. The
client only sees its ``joined`` come that much later; the remote waiter
waits at most that long for the opponent it would have had; and on one
worker nothing is ever held. A held newcomer whose client closes the
connection is forgotten at once (``ClientGoneError``): nobody is paired with it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from django.conf import settings

from matchmaking import protocol as proto
from matchmaking import runtime, services
from matchmaking.db_calls import run_in_db
from matchmaking.delivery import deliver
from matchmaking.outbox import Outbox


@dataclass(eq=False)
class _Held:
    """A newcomer held back here, and what becomes of it: the partner that
    ends the hold seats both (``services.matchmake_pair``), delivers this
    one's messages first, and hands over its seat."""

    newcomer: services.Newcomer
    partner_came: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False  # its client closed the connection during the hold
    seated: asyncio.Future[Outbox] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


# Newcomers held back on this process, by their options, first come first.
_held: dict[tuple[object, ...], list[_Held]] = {}
# When the newcomers of the last second arrived here (monotonic clock).
_arrivals: deque[float] = deque()


class ClientGoneError(Exception):
    """The client of a held newcomer closed its connection: it was not seated."""


def _options(request: proto.MatchRequest) -> tuple[object, ...]:
    """What two requests must share to pair (``row_sql.waiting_slot``'s options)."""
    return request.board_size, request.series_length, request.swap, request.time_control


async def matchmake(request: proto.MatchRequest, client_ip: str | None, channel: str,
                    until_gone: Callable[[], Awaitable[None]] | None = None) -> Outbox:
    """``services.matchmake`` for a /ws/matchmake connection of this process.

    ``until_gone`` returns when the client has closed its connection; during
    a hold, that ends the hold with ``ClientGoneError``, nothing seated."""
    hold = settings.HEX_MATCHMAKING_LOCAL_WAIT
    if not hold or not runtime.other_workers_alive():
        return await run_in_db(services.matchmake, request, client_ip, channel, runtime.PROCESS_ID)
    if not _partner_likely(hold):
        hold = 0.0  # a waiter here is still preferred
    key, newcomer = _options(request), (request, client_ip, channel)
    # A newcomer held here already: the two play each other, without a
    # search of this one's own first (a round trip or more on a busy worker).
    joined = await _join_held(key, newcomer)
    if joined is not None:
        return joined
    here_first = services.Pairing.HERE_FIRST
    outbox = await run_in_db(services.matchmake, request, client_ip, channel, runtime.PROCESS_ID, here_first, hold)
    if outbox.held_for is None:  # seated (never held when hold is 0)
        return outbox
    await deliver(outbox)  # what the search's chores decided (expired seats)
    joined = await _join_held(key, newcomer)  # one may have come while we searched
    if joined is not None:
        return joined
    held = _Held(newcomer)
    _held.setdefault(key, []).append(held)
    try:
        await _hold(held, outbox.held_for, until_gone)
    finally:
        _forget(key, held)
    if held.partner_came.is_set():  # a partner took it, even if its client has just gone
        return await held.seated
    if held.gone:
        raise ClientGoneError
    return await run_in_db(services.matchmake, request, client_ip, channel, runtime.PROCESS_ID, here_first)


async def _hold(held: _Held, seconds: float, until_gone: Callable[[], Awaitable[None]] | None) -> None:
    """Wait until a partner comes for ``held``, its client goes, or ``seconds`` pass."""
    loop = asyncio.get_running_loop()
    partner = loop.create_task(held.partner_came.wait())
    gone = loop.create_task(until_gone()) if until_gone is not None else None
    waits = [task for task in (partner, gone) if task is not None]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        # Before any other await: from now on no partner takes it (``_take_held``).
        held.gone = gone is not None and gone.done() and not gone.cancelled() and gone.exception() is None
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def _join_held(key: tuple[object, ...], newcomer: services.Newcomer) -> Outbox | None:
    """Seat ``newcomer`` with the newcomer held longest here with the same
    options; its outbox, or None when nobody is held or the two could not be
    seated together."""
    partner = _take_held(key)
    if partner is None:
        return None
    partner.partner_came.set()
    try:
        seated, joined = await run_in_db(services.matchmake_pair, partner.newcomer, newcomer, runtime.PROCESS_ID)
        # The partner's joined and waiting_for_opponent go out before the
        # game_start that the newcomer's outbox holds for both.
        await deliver(seated)
    except services.ServiceError as exc:  # the partner's own refusal (no free slot): the newcomer goes on alone
        partner.seated.set_exception(exc)
        return None
    except BaseException:
        partner.seated.set_exception(services.ServiceError(proto.ERR_SERVER_BUSY, 1011))
        raise
    partner.seated.set_result(Outbox(identity=seated.identity))
    return joined


def _partner_likely(hold: float) -> bool:
    """Newcomers arrive here often enough that one is likely within ``hold``
    seconds: at least one per ``hold`` over the last second, this one included.
    Otherwise a hold would only delay the newcomer (at 4 games, matchmaking
    p50 69 ms against 17) with nobody to pair it with."""
    now = time.monotonic()
    _arrivals.append(now)
    while _arrivals[0] < now - 1.0:
        _arrivals.popleft()
    return len(_arrivals) * hold >= 1.0


def _take_held(key: tuple[object, ...]) -> _Held | None:
    """The newcomer held longest with these options, no longer held."""
    waiting = _held.get(key)
    while waiting:
        held = waiting.pop(0)
        if not waiting:
            del _held[key]
        if not held.gone:
            return held
    return None


def _forget(key: tuple[object, ...], held: _Held) -> None:
    waiting = _held.get(key)
    if waiting and held in waiting:
        waiting.remove(held)
        if not waiting:
            del _held[key]


def held_count() -> int:
    """Newcomers held back on this process now."""
    return sum(len(waiting) for waiting in _held.values())
