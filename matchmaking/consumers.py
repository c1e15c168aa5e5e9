"""Thin WebSocket edges: parse input, call a service, send what it returns.

A consumer holds only the connection's identity (slot, seat, player); all
game state lives in the database, so any server process can serve any seat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from matchmaking import local_pairing, move_batches, runtime, services, spectators
from matchmaking import protocol as proto
from matchmaking.consumer_loop import LeanConsumerMixin
from matchmaking.db_calls import run_in_db
from matchmaking.delivery import (
    SLOTS_FEED_GROUP,
    deliver,
    deliver_at_commit,
    feed_subscribed,
    watch_group,
)
from matchmaking.group_commit import CommitFailedError
from matchmaking.hot_settings import hot
from matchmaking.outbox import Identity, Outbox
from matchmaking.snapshots import list_slot_snapshots

log = logging.getLogger(__name__)


def client_ip(scope: dict[str, Any]) -> str | None:
    """The client's address: the peer, or — only when the peer is a proxy the
    operator trusts (HEX_TRUSTED_PROXIES) — the nearest untrusted address in
    X-Forwarded-For."""
    client = scope.get("client")
    peer = client[0] if client else None
    if peer is None or not _is_trusted_proxy(peer):
        return peer
    forwarded = ""
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded = value.decode("latin1")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted_proxy(hop):
            return hop if _is_ip(hop) else peer
    return hops[0] if hops and _is_ip(hops[0]) else peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in settings.HEX_TRUSTED_PROXIES:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class TokenBucket:
    """Allows ``rate`` messages a second with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class FloodGuard:
    """A connection's message budget: ``HEX_RATE_LIMIT_PER_SECOND`` with bursts
    up to ``HEX_RATE_LIMIT_BURST``.

    A refused message is dropped, with at most one rate-limit ``error`` a
    second. A connection that goes on sending (``FLOOD_CLOSE_FACTOR`` bursts
    refused in a row) is closed with 1008: every frame is read into memory
    before it can be dropped, so an endless flood would otherwise grow the
    server's receive backlog without bound.
    """

    FLOOD_CLOSE_FACTOR = 10

    def __init__(self) -> None:
        self.bucket = TokenBucket(settings.HEX_RATE_LIMIT_PER_SECOND, settings.HEX_RATE_LIMIT_BURST)
        self.close_after = self.FLOOD_CLOSE_FACTOR * max(1, settings.HEX_RATE_LIMIT_BURST)
        self.refused_in_a_row = 0
        self.last_notice = 0.0

    def verdict(self) -> tuple[bool, bool, bool]:
        """``(admit, tell, close)`` for the next message."""
        if self.bucket.take():
            self.refused_in_a_row = 0
            return True, False, False
        self.refused_in_a_row += 1
        if self.refused_in_a_row >= self.close_after:
            return False, True, True
        now = time.monotonic()
        tell = now - self.last_notice >= 1.0
        if tell:
            self.last_notice = now
        return False, tell, False


class GuardedReceiveMixin:
    """Reading client messages: the flood limit (``FloodGuard``), binary frames and parsing."""

    flood_guard: FloodGuard

    async def refuse_flood(self, tell: bool, close: bool) -> None:
        """Drop a message over the budget: tell the client, or close it."""
        if tell:
            await self.send(text_data=proto.encode(proto.error(proto.ERR_RATE_LIMITED)))  # type: ignore[attr-defined]
        if close:
            await self.close(code=proto.CLOSE_POLICY)  # type: ignore[attr-defined]

    async def read_message(self, text_data: str | None) -> tuple[str, dict[str, Any]] | None:
        """The client message as ``(type, payload)``, or None once the client has
        been answered: flooding, a binary frame, or a message that does not parse."""
        admit, tell, close = self.flood_guard.verdict()
        if not admit:
            await self.refuse_flood(tell, close)
            return None
        if text_data is None:
            await self.send(text_data=proto.encode(proto.error(proto.ERR_BINARY)))  # type: ignore[attr-defined]
            return None
        try:
            return proto.parse_client_message(text_data, hot("HEX_MAX_MESSAGE_CHARS"))
        except proto.ProtocolError as exc:
            await self.send(text_data=proto.encode(proto.error(exc.message)))  # type: ignore[attr-defined]
            return None


async def leave(service: Callable[..., Outbox], *args: Any) -> None:
    """Record that a connection closed (``service(*args)``) and tell whom it
    concerns; if the database cannot be reached, the sweeper records it once
    the database is back."""
    try:
        outbox = await run_in_db(service, *args)
        # In a group commit, nothing is delivered before the commit, and a
        # failed commit lost the leave: it is recorded later like the others.
        await deliver(outbox)
    except (DatabaseError, CommitFailedError):
        log.warning("database unavailable: %s%r recorded when it returns", service.__name__, args)
        runtime.record_leave_later(service, *args)


class SeatConsumer(GuardedReceiveMixin, LeanConsumerMixin, AsyncWebsocketConsumer):
    """Common receive loop of the three game endpoints."""

    identity: Identity | None = None
    # The group commit of this connection's last move (``Batch.committed``)
    # when that commit delivers it (``deliver_at_commit``): what the
    # connection answers next waits for it, so no reply overtakes the move's
    # broadcast.
    uncommitted: asyncio.Future[BaseException | None] | None = None

    async def server_fault(self, exc: Exception | None) -> None:
        """When the channel layer goes away (Redis restarted), messages addressed
        to this connection may be lost, and a client that stopped reading has
        lost its backlog: either way the connection is no longer current. The
        seat is released like any disconnect and the client gets ``error`` +
        close 1011: it resumes through /ws/reconnect with a snapshot from the
        database."""
        try:
            await self.disconnect(1011)
        except Exception as exc:  # the database is down too: the seat waits for its owner's reconnect
            log.warning("releasing the seat after a fault failed (%s: %s)", type(exc).__name__, exc)
        try:
            await self.send_message(proto.error(proto.ERR_SERVER_BUSY))
            await self.close(code=1011)
        except Exception:  # the socket is already gone
            pass

    async def connect(self) -> None:
        self.identity = None
        self.flood_guard = FloodGuard()
        await runtime.ensure_started()
        await self.accept()
        try:
            query = proto.Query.parse(self.scope.get("query_string", b""))
            outbox = await self.take_seat(query)
        except proto.ProtocolError as exc:
            await self.refuse(exc.message, proto.CLOSE_POLICY)
            return
        except services.ServiceError as exc:
            if exc.outbox is not None:
                await deliver(exc.outbox)
            await self.refuse(exc.message, exc.close_code or proto.CLOSE_POLICY)
            return
        except local_pairing.ClientGoneError:  # closed while held back: the loop reads its disconnect next
            return
        except Exception:
            log.exception("seating failed")
            await self.refuse(proto.ERR_SERVER_BUSY, 1011)
            return
        self.identity = outbox.identity
        try:
            await deliver(outbox)
        except CommitFailedError:  # the seat was lost with its group commit (the commit logged why)
            self.identity = None
            await self.refuse(proto.ERR_SERVER_BUSY, 1011)

    async def take_seat(self, query: proto.Query) -> Outbox:  # pragma: no cover - abstract
        raise NotImplementedError

    async def refuse(self, text: str, code: int) -> None:
        await self.send_message(proto.error(text))
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.identity is None:
            return
        identity, self.identity = self.identity, None
        await leave(services.disconnect_seat, identity.slot_id, identity.seat_id, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.uncommitted is not None:
            committed, self.uncommitted = self.uncommitted, None
            await committed  # a failure is the move's to report (``move_not_committed``)
        message = await self.read_message(text_data)
        if message is None:
            return
        type_, payload = message
        try:
            await self.dispatch_message(type_, payload)
        except services.ServiceError as exc:
            await self.send_message(proto.error(exc.message))
        except Exception:
            log.exception("handling %s failed", type_)
            await self.send_message(proto.error(proto.ERR_SERVER_BUSY))

    async def dispatch_message(self, type_: str, payload: dict[str, Any]) -> None:
        if type_ == "ping":
            await self.send_message(proto.pong())
            return
        if type_ == "hello":
            await self.send_message(proto.hello())
            return
        identity = self.identity
        if identity is None:
            return
        if type_ == "move":
            q, r = proto.parse_move(payload)
            outbox = await move_batches.apply_move(identity.slot_id, identity.seat_id, self.channel_name, q, r)
            if deliver_at_commit(outbox, self.move_not_committed):
                self.uncommitted = outbox.pending_commit.committed  # type: ignore[union-attr]
                return
        elif type_ == "resign":
            outbox = await run_in_db(services.resign, identity.slot_id, identity.seat_id, self.channel_name)
        elif type_ == "swap":
            outbox = await run_in_db(services.apply_swap, identity.slot_id, identity.seat_id, self.channel_name)
        elif type_ == "chat":
            outbox = await run_in_db(services.chat, identity.slot_id, identity.seat_id, self.channel_name,
                                     payload.get("message", ""))
        else:  # keep_slot
            outbox = await run_in_db(services.keep_slot, identity.slot_id, identity.seat_id, self.channel_name)
        if outbox.identity is not None:
            self.identity = outbox.identity
        await deliver(outbox)

    def move_not_committed(self, exc: BaseException) -> None:
        """The group commit of our move failed (the commit logged why): the
        move is lost, and its player told so, as for any failed call."""
        self.queue_text(proto.encode(proto.error(proto.ERR_SERVER_BUSY)))

    def accept_event(self, event: dict[str, Any]) -> None:
        """Messages a service call addressed to us, queued as it commits.

        Dropped when written for an earlier generation of our seat: after a
        keep_slot, a notice about the old series may still be in flight.
        """
        generation = event.get("generation")
        if generation is not None and self.identity is not None and generation != self.identity.generation:
            return
        if event.get("close") is not None:
            # Our seat is gone or taken over; nothing to release on disconnect.
            self.identity = None
        super().accept_event(event)

    async def send_message(self, msg: dict[str, Any]) -> None:
        await self.send(text_data=proto.encode(msg))


def bot_token(scope: dict[str, Any], query: proto.Query) -> str | None:
    """The opt-in bot token: the ``bot_token`` query parameter (what clients of
    the reference can add most easily) or an ``X-Hex-Bot-Token`` header."""
    token = proto.bot_token(query)
    if token is None:
        for name, value in scope.get("headers", []):
            if name == b"x-hex-bot-token" and value:
                token = value.decode("latin1")
    return token


class MatchmakeConsumer(SeatConsumer):
    """/ws/matchmake?board_size=&series_length=&model_name=&username=&first_player=
    (extensions: &swap=1, &time_per_move= or &time_base=&time_increment=, &bot_token=)"""

    async def take_seat(self, query: proto.Query) -> Outbox:
        request = proto.parse_matchmake(query)
        token = bot_token(self.scope, query)
        if token != request.bot_token:
            request = dataclasses.replace(request, bot_token=token)
        return await local_pairing.matchmake(request, client_ip(self.scope), self.channel_name, self.until_gone)


class JoinSlotConsumer(SeatConsumer):
    """/ws/join-slot?slot_id=&model_name=&username= (extensions: &bot_token=, and the
    slot's own &swap= / &time_per_move= / &time_base=&time_increment=)"""

    async def take_seat(self, query: proto.Query) -> Outbox:
        slot_id = query.int("slot_id")
        options = proto.parse_options(query)
        return await run_in_db(
            services.join_slot, slot_id, query.label("model_name"), query.label("username"), client_ip(self.scope),
            self.channel_name, runtime.PROCESS_ID, bot_token(self.scope, query), options,
        )


class ReconnectConsumer(SeatConsumer):
    """/ws/reconnect?slot_id=&token="""

    async def take_seat(self, query: proto.Query) -> Outbox:
        slot_id = query.int("slot_id")
        token = query.str("token")
        return await run_in_db(
            services.reconnect_seat, slot_id, token, self.channel_name, runtime.PROCESS_ID
        )


class SlotsFeedConsumer(LeanConsumerMixin, AsyncWebsocketConsumer):
    """/ws/slots: the slot list on connect and after every membership change,
    as bare JSON arrays like the reference. Input is ignored."""

    async def connect(self) -> None:
        await runtime.ensure_started()
        await self.channel_layer.group_add(SLOTS_FEED_GROUP, self.channel_name)
        feed_subscribed(+1)
        self.counted = True
        await self.accept()
        snapshots = await run_in_db(list_slot_snapshots)
        await self.send(text_data=proto.encode(snapshots))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(SLOTS_FEED_GROUP, self.channel_name)
        if getattr(self, "counted", False):
            self.counted = False
            feed_subscribed(-1)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return

    async def slots_snapshot(self, event: dict[str, Any]) -> None:
        await self.send(text_data=proto.encode(event["slots"]))


class WatchConsumer(GuardedReceiveMixin, LeanConsumerMixin, AsyncWebsocketConsumer):
    """/ws/watch?slot_id=N: a read-only spectator of one slot (extension).

    Sends ``watching`` (the slot's public snapshot, never a token) on connect
    and whenever seats change, then every move, game and series message of
    the slot in commit order. Anything but ``ping`` is answered with an
    ``error``; bad parameters get an ``error`` and close 1008 like the game
    endpoints.
    """

    slot_id: int | None = None

    async def connect(self) -> None:
        self.slot_id = None
        self.version: tuple[int, ...] = ()
        self.flood_guard = FloodGuard()
        await runtime.ensure_started()
        await self.accept()
        try:
            slot_id = proto.Query.parse(self.scope.get("query_string", b"")).int("slot_id")
        except proto.ProtocolError as exc:
            await self.refuse(exc.message)
            return
        if not spectators.slot_exists(slot_id):
            await self.refuse(proto.ERR_SLOT_MISSING)
            return
        # Join the group before reading the snapshot: events committed in
        # between queue up behind it and are dropped by version if it has them.
        await self.channel_layer.group_add(watch_group(slot_id), self.channel_name)
        self.slot_id = slot_id
        outbox = await run_in_db(spectators.add_watcher, slot_id, self.channel_name, runtime.PROCESS_ID)
        await self.send_state()
        await deliver(outbox)

    async def refuse(self, text: str) -> None:
        await self.send_message(proto.error(text))
        await self.close(code=proto.CLOSE_POLICY)

    async def send_state(self) -> None:
        payload, version = await run_in_db(spectators.watch_state, self.slot_id)
        if version < self.version:
            return  # older than what this spectator has already seen
        self.version = version
        await self.send_message(proto.message("watching", **payload))

    async def disconnect(self, code: int) -> None:
        if self.slot_id is None:
            return
        slot_id, self.slot_id = self.slot_id, None
        await self.channel_layer.group_discard(watch_group(slot_id), self.channel_name)
        await leave(spectators.remove_watcher, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message = await self.read_message(text_data)
        if message is None:
            return
        if message[0] == "ping":
            await self.send_message(proto.pong())
        else:
            await self.send_message(proto.error(proto.ERR_WATCH_READ_ONLY))

    async def hex_watch(self, event: dict[str, Any]) -> None:
        """One commit's messages for this slot's spectators."""
        version = tuple(event["version"])
        if self.slot_id is None or version <= self.version:
            return
        self.version = version
        for text in event["texts"]:
            await self.send(text_data=text)

    async def watch_refresh(self, event: dict[str, Any]) -> None:
        if self.slot_id is not None:
            await self.send_state()

    async def send_message(self, msg: dict[str, Any]) -> None:
        await self.send(text_data=proto.encode(msg))
