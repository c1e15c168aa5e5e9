"""Pairing matchmakers on the worker they connected to.

With several workers behind one port, each connection lands on whichever
worker accepts it, so half the games had their players on two processes.
Every move of such a game crosses Redis to reach the opponent: measured with
two single-worker servers on one core, 30-40 µs more CPU per move than games
whose players share a process, and the opponent saw the move after 69 ms
(p50) instead of 36 (docs/benchmarks.md, fourteenth session).

So, while another worker is alive (``runtime.other_workers_alive``), a
matchmaker first looks for a waiting opponent on its own process. When the
only one waits elsewhere and has waited less than
``HEX_MATCHMAKING_LOCAL_WAIT`` seconds, the newcomer is held back here,
unseated, for the rest of that time. If another newcomer with the same
options arrives here meanwhile, the two play each other on this process (the
first one opens a slot, the second joins it); otherwise the held one pairs
with the remote waiter when the time is up. The client only sees its
``joined`` come that much later; the remote waiter waits at most that long
for the opponent it would have had; and on one worker nothing is ever held.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from django.conf import settings

from matchmaking import protocol as proto
from matchmaking import runtime, services
from matchmaking.db_calls import run_in_db
from matchmaking.delivery import deliver
from matchmaking.outbox import Outbox


@dataclass(eq=False)
class _Held:
    """A newcomer held back here: woken when a partner comes, it opens a slot
    on this process (it came first, so it owns the slot, as the first of two
    newcomers always does), and says when it has."""

    partner_came: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)


# Newcomers held back on this process, by their options, first come first.
_held: dict[tuple[object, ...], list[_Held]] = {}


def _options(request: proto.MatchRequest) -> tuple[object, ...]:
    """What two requests must share to pair (``row_sql.waiting_slot``'s options)."""
    return request.board_size, request.series_length, request.swap, request.time_control


async def matchmake(request: proto.MatchRequest, client_ip: str | None, channel: str) -> Outbox:
    """``services.matchmake`` for a /ws/matchmake connection of this process."""
    hold = settings.HEX_MATCHMAKING_LOCAL_WAIT
    if not hold or not runtime.other_workers_alive():
        return await run_in_db(services.matchmake, request, client_ip, channel, runtime.PROCESS_ID)
    here_first = services.Pairing.HERE_FIRST
    outbox = await run_in_db(services.matchmake, request, client_ip, channel, runtime.PROCESS_ID, here_first, hold)
    if outbox.held_for is None:
        return outbox
    await deliver(outbox)  # what the search's chores decided (expired seats)
    key = _options(request)
    partner = _take_held(key)
    if partner is not None:
        partner.partner_came.set()
        await partner.opened.wait()
        return await run_in_db(services.matchmake, request, client_ip, channel, runtime.PROCESS_ID, here_first)
    held = _Held()
    _held.setdefault(key, []).append(held)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(held.partner_came.wait(), outbox.held_for)
        _forget(key, held)
        pairing = services.Pairing.HERE_ONLY if held.partner_came.is_set() else here_first
        return await run_in_db(services.matchmake, request, client_ip, channel, runtime.PROCESS_ID, pairing)
    finally:
        _forget(key, held)
        held.opened.set()


def _take_held(key: tuple[object, ...]) -> _Held | None:
    """The newcomer held longest with these options, no longer held."""
    waiting = _held.get(key)
    if not waiting:
        return None
    held = waiting.pop(0)
    if not waiting:
        del _held[key]
    return held


def _forget(key: tuple[object, ...], held: _Held) -> None:
    waiting = _held.get(key)
    if waiting and held in waiting:
        waiting.remove(held)
        if not waiting:
            del _held[key]


def held_count() -> int:
    """Newcomers held back on this process now."""
    return sum(len(waiting) for waiting in _held.values())
