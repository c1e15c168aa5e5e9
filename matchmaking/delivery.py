"""Delivering an ``Outbox`` after its transaction committed."""

from __future__ import annotations

import asyncio
import logging

from channels.layers import get_channel_layer

from matchmaking import protocol as proto
from matchmaking.db_calls import run_in_db
from matchmaking.outbox import Outbox
from matchmaking.snapshots import list_slot_snapshots

SLOTS_FEED_GROUP = "slots.feed"
OVERVIEW_GROUP = "slots.overview"
WATCH_GROUP_PREFIX = "watch."
# Live pages repaint at most a few times a second, so this process batches the
# ids of changed slots instead of one channel-layer broadcast per move.
ANNOUNCE_INTERVAL = 0.1

log = logging.getLogger(__name__)
_changed_slots: set[int] = set()
# /ws/slots connections of this process. With the in-memory layer nobody else
# can listen, so the slot list is not even read when this is zero.
_feed_subscribers = 0
# Spectators (/ws/watch) of this process by slot id; with the in-memory layer
# a slot nobody here watches needs no spectator event at all.
_local_watchers: dict[int, int] = {}
_announcer: asyncio.Task | None = None
_feed_pusher: asyncio.Task | None = None
# With several processes, /ws/slots lists are pushed at most this often per process.
FEED_INTERVAL = 0.25


async def deliver(outbox: Outbox, own_channel: str | None) -> list[tuple[list[str], int | None]]:
    """Send every other connection its messages through the channel layer (one
    event per connection, so their order survives), notify the live feeds, and
    return what belongs to ``own_channel`` for the caller to send itself.

    Messages travel as the JSON text that goes on the wire, encoded once: a
    move broadcast is one message for both players, and text costs the
    in-memory layer's deep copy (or Redis' msgpack) next to nothing.
    """
    layer = get_channel_layer()
    own: list[tuple[list[str], int | None]] = []
    encoded: dict[int, str] = {}
    try:
        # Spectators first: their event is queued before any player can hear of
        # this commit and answer it, so a spectator sees commits in order even
        # when the two players sit on different processes.
        everyone_local = _single_process()
        for slot_id, messages in outbox.watch.items():
            if everyone_local and not _local_watchers.get(slot_id):
                continue
            texts = [_text(msg, encoded) for msg in messages]
            await layer.group_send(WATCH_GROUP_PREFIX + str(slot_id), {
                "type": "hex.watch", "texts": texts, "version": list(outbox.watch_versions[slot_id])})
        if outbox.membership_changed:
            # Seats came, went or reconnected: spectators re-read the slot.
            for slot_id in sorted(outbox.changed_slots):
                if everyone_local and not _local_watchers.get(slot_id):
                    continue
                await layer.group_send(WATCH_GROUP_PREFIX + str(slot_id), {"type": "watch.refresh"})
    except Exception as exc:  # spectators resume from a fresh snapshot when they reconnect
        log.warning("spectator delivery failed (%s: %s)", type(exc).__name__, exc)
    for channel, messages, close_code, generation in outbox.channels():
        texts = [_text(msg, encoded) for msg in messages]
        if channel == own_channel:
            own.append((texts, close_code))
            continue
        try:
            await layer.send(channel, {"type": "hex.deliver", "texts": texts, "close": close_code,
                                       "generation": generation})
        except Exception as exc:
            # The work is committed; only the wire failed (Redis restarting).
            # The caller still gets its own messages. The addressee's consumer
            # loses its layer too and closes with 1011, and its client resumes
            # from the database through /ws/reconnect.
            log.warning("channel layer send failed (%s: %s); the addressee resumes by reconnecting",
                        type(exc).__name__, exc)
    if outbox.membership_changed:
        if not _single_process():
            push_slot_list_soon()
        elif _feed_subscribers > 0:
            await _push_slot_list()
    if outbox.changed_slots:
        announce_changes(outbox.changed_slots)
    return own


async def _push_slot_list() -> None:
    try:
        snapshots = await run_in_db(list_slot_snapshots)
        await get_channel_layer().group_send(SLOTS_FEED_GROUP, {"type": "slots.snapshot", "slots": snapshots})
    except Exception as exc:  # the next membership change brings the feed up to date
        log.warning("pushing the slot list failed (%s: %s)", type(exc).__name__, exc)


def push_slot_list_soon() -> None:
    """With several processes (nobody knows who listens to /ws/slots): at most
    one slot list per FEED_INTERVAL from this process, however many seats
    change. Reading every slot per join made that read 85 % of a PostgreSQL
    worker's time under load; a feed client still gets the current list
    within FEED_INTERVAL of any change."""
    global _feed_pusher
    loop = asyncio.get_running_loop()
    if _feed_pusher is None or _feed_pusher.done() or _feed_pusher.get_loop() is not loop:
        _feed_pusher = loop.create_task(_push_slot_list_after(FEED_INTERVAL))


async def _push_slot_list_after(delay: float) -> None:
    await asyncio.sleep(delay)
    await _push_slot_list()


def _text(msg: dict, encoded: dict[int, str]) -> str:
    # The same dict addressed to both players is encoded once (keyed by identity:
    # every message lives until this delivery ends).
    text = encoded.get(id(msg))
    if text is None:
        text = encoded[id(msg)] = proto.encode(msg)
    return text


def _single_process() -> bool:
    from matchmaking import runtime  # runtime imports this module

    return runtime.single_process()


def watcher_count(slot_id: int, change: int) -> None:
    """Count /ws/watch connections of this process per slot (``+1`` / ``-1``)."""
    count = _local_watchers.get(slot_id, 0) + change
    if count > 0:
        _local_watchers[slot_id] = count
    else:
        _local_watchers.pop(slot_id, None)


def feed_subscribed(change: int) -> None:
    """Count /ws/slots connections of this process (``+1`` on connect, ``-1`` on leave)."""
    global _feed_subscribers
    _feed_subscribers += change


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
