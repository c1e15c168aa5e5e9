"""Delivering an ``Outbox`` after its transaction committed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from matchmaking import group_commit, process_mail
from matchmaking import protocol as proto
from matchmaking.consumer_loop import post_local
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
# /ws/overview connections of this process (see ``overview_viewed``).
_overview_viewers = 0
_announcer: asyncio.Task | None = None
_feed_pusher: asyncio.Task | None = None
# With several processes, /ws/slots lists are pushed at most this often per process.
FEED_INTERVAL = 0.25


def watch_group(slot_id: int) -> str:
    """The channel-layer group of the spectators of slot ``slot_id``."""
    return WATCH_GROUP_PREFIX + str(slot_id)


async def deliver(outbox: Outbox) -> None:
    """Deliver what a service call decided, once its transaction committed.

    Each connection gets its messages as one event, so their order survives:
    a connection of this process has them queued on the spot
    (``post_local``), any other through the channel layer. Then the live
    feeds are told.

    Every connection must receive messages in commit order. The caller
    therefore calls this right after the service returned, with no await in
    between, and a move still waiting for its group commit
    (``Outbox.pending_commit``) has its messages queued by the commit itself,
    in the order the moves were written.

    Messages travel as the JSON text that goes on the wire, encoded once: a
    move broadcast is one message for both players, and text costs the
    in-memory layer's deep copy (or Redis' msgpack) next to nothing.
    """
    encoded: dict[int, str] = {}
    remote: list[tuple[str, dict[str, Any]]] = []
    if outbox.pending_commit is not None:
        batch = outbox.pending_commit
        batch.deliveries.append(lambda: remote.extend(_post_local(outbox, encoded)))
        await group_commit.committed(batch)
        if outbox.watch:
            await _tell_spectators(outbox, encoded)
    else:
        # Spectators first: their event is queued before any player can hear of
        # this commit and answer it, so a spectator sees commits in order even
        # when the two players sit on different processes.
        if outbox.watch:
            await _tell_spectators(outbox, encoded)
        remote = _post_local(outbox, encoded)
    if remote:
        sending = _post_remote(remote)
        if sending is not None:
            await sending
    if outbox.refresh_watchers:
        await _refresh_spectators(outbox)
    if outbox.membership_changed:
        if not single_process():
            push_slot_list_soon()
        elif _feed_subscribers > 0:
            await _push_slot_list()
    if outbox.changed_slots and _announces_changes():
        announce_changes(outbox.changed_slots)


def _announces_changes() -> bool:
    """Changed slots are announced to live pages: someone here views the
    overview, or a viewer may sit in another process."""
    return _overview_viewers > 0 or not single_process()


def deliver_at_commit(outbox: Outbox, failed: Callable[[BaseException], None]) -> bool:
    """Leave the whole delivery of a move awaiting its group commit to the
    commit itself, so that its caller need not wait: True if it could.

    Waiting for the commit cost every move a second pass of its connection's
    task up and down the whole handler stack. The commit can do it all when
    no spectator, membership change or live page needs telling: messages for
    connections elsewhere go through ``process_mail`` (a plain call) or, on
    any other channel layer, in order from a task of their own. If the
    commit fails, ``failed`` is called with the error instead and nothing is
    sent.
    """
    batch = outbox.pending_commit
    if (batch is None or outbox.watch or outbox.membership_changed
            or (outbox.changed_slots and _announces_changes())):
        return False

    def at_commit() -> None:
        remote = _post_local(outbox, {})
        sending = _post_remote(remote) if remote else None
        if sending is not None:
            asyncio.get_running_loop().create_task(sending)

    batch.deliveries.append(at_commit)
    batch.failures.append(failed)
    return True


def _post_remote(remote: list[tuple[str, dict[str, Any]]]) -> Coroutine[Any, Any, None] | None:
    """Hand the events for connections of other processes to ``process_mail``
    (a plain call); on any other channel layer, return the coroutine that
    sends them, in order."""
    layer = get_channel_layer()
    if process_mail.handles(layer):
        for channel, event in remote:
            process_mail.send(layer, channel, event)
        return None
    return _send_all_remote(remote)


async def _send_all_remote(remote: list[tuple[str, dict[str, Any]]]) -> None:
    for channel, event in remote:
        await _send_remote(channel, event)


async def _send_remote(channel: str, event: dict[str, Any]) -> None:
    """Send one event through a channel layer that ``process_mail`` does not carry."""
    await process_mail.send_twice(get_channel_layer(), channel, event)


def _post_local(outbox: Outbox, encoded: dict[int, str]) -> list[tuple[str, dict[str, Any]]]:
    """Queue the messages of this process's connections; return the others' events."""
    remote = []
    for channel, messages, close_code, generation in outbox.channels():
        texts = [_text(msg, encoded) for msg in messages]
        event = {"type": "hex.deliver", "texts": texts, "close": close_code, "generation": generation}
        if not post_local(channel, event):
            remote.append((channel, event))
    return remote


async def _tell_spectators(outbox: Outbox, encoded: dict[int, str]) -> None:
    """Send each watched slot's messages to its spectators, one event per slot.

    The services queue them only for slots that have spectators, so nothing
    here asks Redis whether a group is empty: that was a Redis command per
    game start, game end and seat change, about a tenth of a worker's time
    under a load heavy in matchmaking, and a round trip the players'
    messages waited for."""
    layer = get_channel_layer()
    try:
        for slot_id, messages in outbox.watch.items():
            texts = [_text(msg, encoded) for msg in messages]
            await layer.group_send(watch_group(slot_id), {
                "type": "hex.watch", "texts": texts, "version": list(outbox.watch_versions[slot_id])})
    except Exception as exc:  # spectators resume from a fresh snapshot when they reconnect
        log.warning("spectator delivery failed (%s: %s)", type(exc).__name__, exc)


async def _refresh_spectators(outbox: Outbox) -> None:
    """Seats came, went or reconnected: the slots' spectators re-read them."""
    layer = get_channel_layer()
    try:
        for slot_id in sorted(outbox.refresh_watchers):
            await layer.group_send(watch_group(slot_id), {"type": "watch.refresh"})
    except Exception as exc:  # spectators resume from a fresh snapshot when they reconnect
        log.warning("spectator delivery failed (%s: %s)", type(exc).__name__, exc)


async def _push_slot_list() -> None:
    try:
        layer = get_channel_layer()
        if await process_mail.group_is_empty(layer, SLOTS_FEED_GROUP):
            # Reading every slot was 7 % of a PostgreSQL worker's time under
            # load (bench/load.py), for a feed nobody followed.
            return
        snapshots = await run_in_db(list_slot_snapshots)
        await layer.group_send(SLOTS_FEED_GROUP, {"type": "slots.snapshot", "slots": snapshots})
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


def single_process() -> bool:
    """An in-memory channel layer cannot span processes, so no other process
    can be serving players: every seat of another process is an orphan."""
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def overview_viewed(change: int) -> None:
    """Count /ws/overview connections of this process (``+1`` on connect, ``-1`` on leave).

    With the in-memory layer nobody else can listen, so without a viewer here
    moves announce nothing (a few per cent of a move's time at saturation)."""
    global _overview_viewers
    _overview_viewers += change


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
    except Exception as exc:  # a lost repaint is harmless; the next change brings the page up to date
        # One line, as for the slot list: during a Redis outage this fails every time.
        log.warning("announcing changed slots failed (%s: %s)", type(exc).__name__, exc)
