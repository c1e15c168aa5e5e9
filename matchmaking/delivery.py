"""Delivering an ``Outbox`` after its transaction committed."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from matchmaking.outbox import Outbox
from matchmaking.snapshots import list_slot_snapshots

SLOTS_FEED_GROUP = "slots.feed"
OVERVIEW_GROUP = "slots.overview"
# Live pages repaint at most a few times a second, so this process batches the
# ids of changed slots instead of one channel-layer broadcast per move.
ANNOUNCE_INTERVAL = 0.1

log = logging.getLogger(__name__)
_changed_slots: set[int] = set()
_announcer: asyncio.Task | None = None


async def deliver(outbox: Outbox, own_channel: str | None) -> list[tuple[list[dict], int | None]]:
    """Send every other connection its messages through the channel layer (one
    event per connection, so their order survives), notify the live feeds, and
    return what belongs to ``own_channel`` for the caller to send itself."""
    layer = get_channel_layer()
    own: list[tuple[list[dict], int | None]] = []
    for channel, messages, close_code, generation in outbox.channels():
        if channel == own_channel:
            own.append((messages, close_code))
            continue
        try:
            await layer.send(channel, {"type": "hex.deliver", "messages": messages, "close": close_code,
                                       "generation": generation})
        except Exception as exc:
            # The work is committed; only the wire failed (Redis restarting).
            # The caller still gets its own messages. The addressee's consumer
            # loses its layer too and closes with 1011, and its client resumes
            # from the database through /ws/reconnect.
            log.warning("channel layer send failed (%s: %s); the addressee resumes by reconnecting",
                        type(exc).__name__, exc)
    if outbox.membership_changed:
        try:
            snapshots = await database_sync_to_async(list_slot_snapshots)()
            await layer.group_send(SLOTS_FEED_GROUP, {"type": "slots.snapshot", "slots": snapshots})
        except Exception as exc:  # the next membership change brings the feed up to date
            log.warning("pushing the slot list failed (%s: %s)", type(exc).__name__, exc)
    if outbox.changed_slots:
        announce_changes(outbox.changed_slots)
    return own


def announce_changes(slot_ids: set[int]) -> None:
    """Tell the live pages (group ``slots.overview``) which slots changed,
    batched to one ``slots.changed`` event per ANNOUNCE_INTERVAL."""
    global _announcer
    loop = asyncio.get_running_loop()
    if _announcer is not None and _announcer.get_loop() is not loop:
        # A previous event loop (tests run one each) took its pending work along.
        _changed_slots.clear()
        _announcer = None
    _changed_slots.update(slot_ids)
    if _announcer is None or _announcer.done():
        _announcer = loop.create_task(_announce_soon())


async def _announce_soon() -> None:
    await asyncio.sleep(ANNOUNCE_INTERVAL)
    slot_ids = sorted(_changed_slots)
    _changed_slots.clear()
    try:
        await get_channel_layer().group_send(OVERVIEW_GROUP, {"type": "slots.changed", "slot_ids": slot_ids})
    except Exception:  # a lost repaint is harmless; the next change brings the page up to date
        log.exception("announcing changed slots failed")
