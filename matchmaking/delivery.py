"""Delivering an ``Outbox`` after its transaction committed."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from matchmaking.outbox import Outbox
from matchmaking.snapshots import list_slot_snapshots

SLOTS_FEED_GROUP = "slots.feed"
OVERVIEW_GROUP = "slots.overview"


async def deliver(outbox: Outbox, own_channel: str | None) -> list[tuple[list[dict], int | None]]:
    """Send every other connection its messages through the channel layer (one
    event per connection, so their order survives), notify the live feeds, and
    return what belongs to ``own_channel`` for the caller to send itself."""
    layer = get_channel_layer()
    own: list[tuple[list[dict], int | None]] = []
    for channel, messages, close_code, generation in outbox.channels():
        if channel == own_channel:
            own.append((messages, close_code))
        else:
            await layer.send(channel, {"type": "hex.deliver", "messages": messages, "close": close_code,
                                       "generation": generation})
    if outbox.membership_changed:
        snapshots = await database_sync_to_async(list_slot_snapshots)()
        await layer.group_send(SLOTS_FEED_GROUP, {"type": "slots.snapshot", "slots": snapshots})
    if outbox.changed_slots:
        await layer.group_send(OVERVIEW_GROUP, {"type": "slots.changed", "slot_ids": sorted(outbox.changed_slots)})
    return own
