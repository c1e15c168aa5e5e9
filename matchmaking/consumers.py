"""Thin WebSocket edges: parse input, call a service, send what it returns.

A consumer holds only the connection's identity (slot, seat, player); all
game state lives in the database, so any server process can serve any seat.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from matchmaking import protocol as proto
from matchmaking import runtime, services
from matchmaking.delivery import SLOTS_FEED_GROUP, deliver
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


class SeatConsumer(AsyncWebsocketConsumer):
    """Common receive loop of the three game endpoints."""

    identity: Identity | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' receive loop, ending cleanly when the server side fails.

        When the channel layer goes away (Redis restarted) the loop raises
        and messages addressed to this connection may be lost, so it can no
        longer be trusted to be current. Instead of leaving daphne to log a
        traceback and leave the seat marked connected to a dead consumer (a
        slot nobody could expire), the seat is released like any disconnect
        and the client gets ``error`` + close 1011: it resumes through
        /ws/reconnect and receives a snapshot from the database.
        """
        self.accepted = False
        try:
            await super().__call__(scope, receive, send)
        except Exception as exc:
            if not self.accepted:
                raise  # still in the handshake: daphne refuses it with HTTP 500
            log.warning("connection ended by a server fault (%s: %s); closing with 1011", type(exc).__name__, exc)
            await self._release_after_fault()
            try:
                await self.send_message(proto.error(proto.ERR_SERVER_BUSY))
                await self.close(code=1011)
            except Exception:  # the socket is already gone
                pass

    async def _release_after_fault(self) -> None:
        try:
            await self.disconnect(1011)
        except Exception as exc:  # the database is down too: the seat waits for its owner's reconnect
            log.warning("releasing the seat after a fault failed (%s: %s)", type(exc).__name__, exc)

    async def connect(self) -> None:
        self.identity = None
        self.bucket = TokenBucket(settings.HEX_RATE_LIMIT_PER_SECOND, settings.HEX_RATE_LIMIT_BURST)
        self.last_limit_notice = 0.0
        await runtime.ensure_started()
        await self.accept()
        self.accepted = True
        try:
            query = proto.Query.parse(self.scope.get("query_string", b""))
            outbox = await self.take_seat(query)
        except proto.ProtocolError as exc:
            await self.refuse(exc.message, proto.CLOSE_POLICY)
            return
        except services.ServiceError as exc:
            if exc.outbox is not None:
                await self.deliver(exc.outbox)
            await self.refuse(exc.message, exc.close_code or proto.CLOSE_POLICY)
            return
        except Exception:
            log.exception("seating failed")
            await self.refuse(proto.ERR_SERVER_BUSY, 1011)
            return
        self.identity = outbox.identity
        await self.deliver(outbox)

    async def take_seat(self, query: proto.Query) -> Outbox:  # pragma: no cover - abstract
        raise NotImplementedError

    async def refuse(self, text: str, code: int) -> None:
        await self.send_message(proto.error(text))
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.identity is None:
            return
        identity, self.identity = self.identity, None
        outbox = await database_sync_to_async(services.disconnect_seat)(
            identity.slot_id, identity.seat_id, self.channel_name
        )
        await deliver(outbox, own_channel=None)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.bucket.take():
            now = time.monotonic()
            if now - self.last_limit_notice >= 1.0:
                self.last_limit_notice = now
                await self.send_message(proto.error(proto.ERR_RATE_LIMITED))
            return
        if text_data is None:
            await self.send_message(proto.error(proto.ERR_BINARY))
            return
        try:
            type_, payload = proto.parse_client_message(text_data, settings.HEX_MAX_MESSAGE_CHARS)
        except proto.ProtocolError as exc:
            await self.send_message(proto.error(exc.message))
            return
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
        call = database_sync_to_async
        if type_ == "move":
            q, r = proto.parse_move(payload)
            outbox = await call(services.apply_move)(identity.slot_id, identity.seat_id, self.channel_name, q, r)
        elif type_ == "resign":
            outbox = await call(services.resign)(identity.slot_id, identity.seat_id, self.channel_name)
        elif type_ == "chat":
            outbox = await call(services.chat)(identity.slot_id, identity.seat_id, self.channel_name,
                                               payload.get("message", ""))
        else:  # keep_slot
            outbox = await call(services.keep_slot)(identity.slot_id, identity.seat_id, self.channel_name)
        if outbox.identity is not None:
            self.identity = outbox.identity
        await self.deliver(outbox)

    async def deliver(self, outbox: Outbox) -> None:
        for messages, close_code in await deliver(outbox, own_channel=self.channel_name):
            await self.send_batch(messages, close_code)

    async def hex_deliver(self, event: dict[str, Any]) -> None:
        """Messages another connection's service call addressed to us.

        Dropped when written for an earlier generation of our seat: after a
        keep_slot, a notice about the old series may still be in flight.
        """
        generation = event.get("generation")
        if generation is not None and self.identity is not None and generation != self.identity.generation:
            return
        await self.send_batch(event["messages"], event.get("close"))

    async def send_batch(self, messages: list[dict[str, Any]], close_code: int | None) -> None:
        for msg in messages:
            await self.send_message(msg)
        if close_code is not None:
            # Our seat is gone or taken over; nothing to release on disconnect.
            self.identity = None
            await self.close(code=close_code)

    async def send_message(self, msg: dict[str, Any]) -> None:
        await self.send(text_data=proto.encode(msg))


class MatchmakeConsumer(SeatConsumer):
    """/ws/matchmake?board_size=&series_length=&model_name=&username=&first_player="""

    async def take_seat(self, query: proto.Query) -> Outbox:
        request = proto.parse_matchmake(query)
        return await database_sync_to_async(services.matchmake)(
            request, client_ip(self.scope), self.channel_name, runtime.PROCESS_ID
        )


class JoinSlotConsumer(SeatConsumer):
    """/ws/join-slot?slot_id=&model_name=&username="""

    async def take_seat(self, query: proto.Query) -> Outbox:
        slot_id = query.int("slot_id")
        return await database_sync_to_async(services.join_slot)(
            slot_id, query.label("model_name"), query.label("username"), client_ip(self.scope), self.channel_name,
            runtime.PROCESS_ID,
        )


class ReconnectConsumer(SeatConsumer):
    """/ws/reconnect?slot_id=&token="""

    async def take_seat(self, query: proto.Query) -> Outbox:
        slot_id = query.int("slot_id")
        token = query.str("token")
        return await database_sync_to_async(services.reconnect_seat)(
            slot_id, token, self.channel_name, runtime.PROCESS_ID
        )


class SlotsFeedConsumer(AsyncWebsocketConsumer):
    """/ws/slots: the slot list on connect and after every membership change,
    as bare JSON arrays like the reference. Input is ignored."""

    async def connect(self) -> None:
        await runtime.ensure_started()
        await self.channel_layer.group_add(SLOTS_FEED_GROUP, self.channel_name)
        await self.accept()
        snapshots = await database_sync_to_async(list_slot_snapshots)()
        await self.send(text_data=proto.encode(snapshots))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(SLOTS_FEED_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return

    async def slots_snapshot(self, event: dict[str, Any]) -> None:
        await self.send(text_data=proto.encode(event["slots"]))
