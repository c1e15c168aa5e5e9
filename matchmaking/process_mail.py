"""Messages between server processes through channels-redis, batched.

channels-redis moves one message per Redis round trip on each side: a send
runs a Lua script, and a process takes in one message per four sequential
Redis commands (``receive_single`` keeps a backup copy until the message is
handled), while each of its connections waits in a ``receive()`` of its own
with two tasks. Under load every command waits a whole pass of a busy event
loop, so a worker took in only about 15 messages a second: with two workers,
the games whose players sat on different workers all but stopped
(``bench/load.py --workers 2``: about 80 cross-process moves a second in
all, matchmaking p99 2-7 s).

So with channels-redis each process

- receives everything addressed to it with one task, which takes all the
  messages waiting for the process in one ``ZPOPMIN`` (``_take_waiting``)
  and hands each to its connection (``route``);
- sends to another process through one queue per destination: while a send
  is in flight, the events that follow collect and then travel as one
  ``hex.batch`` message, written in one Redis round trip (``_post``) where
  channels-redis' ``send`` takes four.

Events for one connection keep their order: one queue and one sender per
destination, one receiver per process. A batch Redis cannot take is tried
again for a while (``SEND_RETRY_SECONDS``); batches are numbered per
destination, so a copy (a send tried again after Redis stored the first
but its reply was lost) is dropped on arrival. Group sends (spectators, live pages)
still go through channels-redis and arrive through the same receiver. Any
other layer (the in-memory one) is used as Channels intends.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from channels.exceptions import ChannelFull
from django.conf import settings

log = logging.getLogger(__name__)

BATCH = "hex.batch"
# How long the receiver waits before trying Redis again after a failure.
RETRY_SECONDS = 0.5
# How long a batch for another process is tried again while Redis cannot
# take it: longer than the addressee's own receiver takes to notice a Redis
# gone silent (its blocking read, at most half the network timeout, then the
# socket timeout itself), after which that receiver ends the connections it
# serves and they resume with a snapshot. A shorter outage must not lose a
# batch: a connection that came back during it may never hear of a fault, and
# would wait forever for the move or reconnection its opponent's worker could
# not send. 30 s with the default timeout of 10 s.
SEND_RETRY_SECONDS = 3 * settings.HEX_REDIS_NETWORK_TIMEOUT

# This process as a sender, the number of its last batch to each destination,
# and the numbers of the batches routed here lately from each (sender,
# destination): a batch whose send is tried again after its reply was lost
# arrives twice.
_SENDER = uuid.uuid4().hex
_numbers: dict[str, int] = {}
_routed: dict[tuple[str, str], _RecentNumbers] = {}
ROUTED_SENDERS_KEPT = 1000

_receivers: dict[int, asyncio.Task[None]] = {}  # by id() of the layer
_queues: dict[str, deque[tuple[str, dict[str, Any]]]] = {}  # by destination process prefix
_senders: dict[str, asyncio.Task[None]] = {}


def handles(layer: Any) -> bool:
    """True for channels-redis' list-based layer, whose messages this module carries."""
    from channels_redis.core import RedisChannelLayer

    return isinstance(layer, RedisChannelLayer)


def ensure_receiving(layer: Any, route: Callable[[str, dict[str, Any]], None],
                     failed: Callable[[Exception], None]) -> None:
    """Start this process's receiver for ``layer`` unless it runs already.

    ``route(channel, message)`` gets every message for a connection of this
    process; ``failed(exc)`` is called when Redis fails under the receiver
    (its connections may have lost messages), which then tries again."""
    task = _receivers.get(id(layer))
    loop = asyncio.get_running_loop()
    if task is None or task.done() or task.get_loop() is not loop:
        _receivers[id(layer)] = loop.create_task(_receive(layer, route, failed))


async def _receive(layer: Any, route: Callable[[str, dict[str, Any]], None],
                   failed: Callable[[Exception], None]) -> None:
    own = layer.non_local_name(await layer.new_channel())  # "specific.<this process>!"
    while True:
        try:
            messages = await _take_waiting(layer, own)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("receiving from the channel layer failed (%s: %s)", type(exc).__name__, exc)
            failed(exc)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        for message in messages:
            try:
                _route_message(message, route)
            except Exception:  # one bad message must not stop this process hearing the others
                log.exception("routing a channel-layer message failed")


# Messages taken from Redis per round trip, at most.
TAKE = 256


async def _take_waiting(layer: Any, own: str) -> list[dict[str, Any]]:
    """Every message waiting for this process, waiting for one if there is none.

    channels-redis' ``receive_single`` takes one message per four sequential
    Redis commands (it keeps a backup copy until the message is handled, for
    receivers that may be cancelled midway). Under load each command waits a
    whole pass of a busy event loop, so a process took in about 15 messages a
    second and games split across two processes all but stopped. Here one
    ``ZPOPMIN`` takes everything waiting (``BZPOPMIN`` waits when nothing
    is). No backup is kept: the only receiver is this process, and if it
    dies its connections die with it.
    """
    key = layer.prefix + own
    connection = layer.connection(layer.consistent_hash(own))
    members = [member for member, _ in await connection.zpopmin(key, TAKE)]
    if not members:
        popped = await connection.bzpopmin(key, timeout=layer.brpop_timeout)
        if popped is None:
            return []
        members = [popped[1]]
    messages = []
    for member in members:
        try:
            messages.append(layer.deserialize(member))
        except Exception:  # not ours, or damaged: skipped, the others still count
            log.exception("a channel-layer message could not be decoded")
    return messages


def _route_message(message: dict[str, Any], route: Callable[[str, dict[str, Any]], None]) -> None:
    channel = message.pop("__asgi_channel__", None)
    if message.get("type") == BATCH:
        if _routed_before(message, channel):
            return
        for to, event in message["events"]:
            route(to, event)
    elif channel is not None:  # a group send may address several of our connections at once
        for to in channel if isinstance(channel, list) else [channel]:
            route(to, message)


class _RecentNumbers:
    """The last ``size`` numbers seen. A set of them, not the highest: two
    batches whose Redis scores (the senders' wall clock) came out of order
    are both new, not one a copy."""

    def __init__(self, size: int = 256) -> None:
        self.order: deque[int] = deque()
        self.numbers: set[int] = set()
        self.size = size

    def add(self, number: int) -> bool:
        """Remember ``number``; False if it was already remembered."""
        if number in self.numbers:
            return False
        self.order.append(number)
        self.numbers.add(number)
        if len(self.order) > self.size:
            self.numbers.discard(self.order.popleft())
        return True


def _routed_before(batch: dict[str, Any], channel: str | None) -> bool:
    """True for a batch already routed here: a second copy, from a send tried again."""
    sender, number = batch.get("sender"), batch.get("number")
    if sender is None or number is None:
        return False
    key = (sender, str(channel))
    recent = _routed.get(key)
    if recent is None:
        recent = _routed[key] = _RecentNumbers()
        if len(_routed) > ROUTED_SENDERS_KEPT:  # senders long gone (restarted processes)
            del _routed[next(iter(_routed))]
    if recent.add(number):
        return False
    log.warning("a batch from another process arrived twice; the second copy was dropped")
    return True


def send(layer: Any, channel: str, event: dict[str, Any]) -> None:
    """Queue ``event`` for the connection ``channel`` of another process."""
    destination = layer.non_local_name(channel)
    queue = _queues.setdefault(destination, deque())
    queue.append((channel, event))
    sender = _senders.get(destination)
    loop = asyncio.get_running_loop()
    if sender is None or sender.done() or sender.get_loop() is not loop:
        _senders[destination] = loop.create_task(_send_queued(layer, destination, queue))


async def _send_queued(layer: Any, destination: str, queue: deque[tuple[str, dict[str, Any]]]) -> None:
    while queue:
        events = list(queue)
        queue.clear()
        number = _numbers[destination] = _numbers.get(destination, 0) + 1
        batch = {"type": BATCH, "events": events, "sender": _SENDER, "number": number}
        # The events queued meanwhile wait behind it, in order.
        await send_retrying(layer, destination + "batch", batch, SEND_RETRY_SECONDS)


async def send_twice(layer: Any, channel: str, message: dict[str, Any]) -> None:
    """Send through the channel layer, trying a second time once, at once.

    The work is committed; only the wire can fail. Right after a Redis
    restart the first send may pick a pooled connection the old server
    closed, which fails before Redis sees the command; the pool replaces it,
    so a second try goes through. Without it the addressee, whose own layer
    connection was fine, never heard of the move and the game stalled.
    """
    await send_retrying(layer, channel, message, 0.0)


async def send_retrying(layer: Any, channel: str, message: dict[str, Any], seconds: float) -> bool:
    """Send through the channel layer; if that fails, try again at once,
    then with growing pauses until ``seconds`` have passed. True once sent."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + seconds
    pause, attempt = 0.0, 1
    while True:
        try:
            await (_post(layer, channel, message) if handles(layer) else layer.send(channel, message))
        except Exception as exc:
            if attempt >= 2 and loop.time() + pause > give_up_at:
                log.warning("channel layer send failed (%s: %s); the addressee resumes by reconnecting",
                            type(exc).__name__, exc)
                return False
            if attempt == 2:
                log.warning("channel layer send failed (%s: %s); trying again for up to %.0f s",
                            type(exc).__name__, exc, seconds)
        else:
            if attempt > 2:
                log.warning("channel layer send went through at attempt %d", attempt)
            return True
        await asyncio.sleep(pause)
        pause, attempt = min(max(2 * pause, 0.05), 1.0), attempt + 1


# What channels-redis' ``send`` does in four sequential commands: drop
# expired messages, refuse a full channel, add the message, renew the
# expiry. Under load each command waited a pass of a busy event loop
# (py-spy, two workers at 200 games / 50 ms: sending was 7 % of a worker).
_SEND_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
if redis.call('ZCOUNT', KEYS[1], '-inf', '+inf') >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
_send_scripts: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # by Redis client


async def _post(layer: Any, channel: str, message: dict[str, Any]) -> None:
    """``layer.send(channel, message)`` for a process-specific ``channel``, in
    one round trip: the same key, score, encoding and capacity check, so
    channels-redis receives it as its own."""
    connection = layer.connection(layer.consistent_hash(channel))
    script = _send_scripts.get(connection)
    if script is None:
        # EVALSHA, loading the script again if Redis lost it (a restart).
        script = _send_scripts[connection] = connection.register_script(_SEND_SCRIPT)
    now = time.time()
    expiry = int(layer.expiry)
    encoded = layer.serialize({**message, "__asgi_channel__": channel})
    key = layer.prefix + layer.non_local_name(channel)
    if not await script(keys=[key], args=[int(now) - expiry, layer.get_capacity(channel), now, encoded, expiry]):
        raise ChannelFull()


async def group_is_empty(layer: Any, group: str) -> bool:
    """True when no connection of any process belongs to ``group`` (on
    channels-redis; any other layer: False, the group_send finds out).

    One Redis command, read the way ``group_send`` reads the group: members
    older than ``group_expiry`` do not count."""
    if not handles(layer):
        return False
    connection = layer.connection(layer.consistent_hash(group))
    live = await connection.zcount(layer._group_key(group), int(time.time()) - layer.group_expiry, "+inf")
    return live == 0
