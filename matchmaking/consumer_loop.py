"""The receive loop of the arena's consumers, and same-process delivery.

Channels' ``AsyncConsumer.__call__`` waits on the client and on the channel
layer with ``asyncio.wait``, starting a fresh task for every message, and
before every handler closes stale database connections with a trip to its
ORM thread. Every message between two players also went through the channel
layer, which deep-copies it, even when both sit in this process. Profiles at
saturation (docs/benchmarks.md) put that machinery at about a third
of the server's time per move.

``LeanConsumerMixin`` keeps the consumer API (handlers named after message
types, ``send``, ``accept``, ``close``, groups) and Channels' guarantee that a
consumer's handlers never run one inside another, with long-lived tasks
instead of one per message:

- the connection's own task reads the client and runs the handlers;
- events from the channel layer (other processes, group broadcasts) run
  their handlers one at a time with the client's (an ``asyncio.Lock``, the
  consumer's "turn"). With channels-redis one task per process receives
  them all (``matchmaking.process_mail``) and ``route`` hands each to its
  connection; with any other layer each connection has a reader task;
- everything the connection sends goes, in order, through its ``Outgoing``
  queue: written at once when nothing is pending, else by a writer task.

Another connection of this process delivers with ``post_local``: a plain
function call that queues the texts at once. Delivery code calls it right
when a transaction commits, so every client receives messages in commit
order (see ``matchmaking.delivery``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from matchmaking import process_mail

log = logging.getLogger(__name__)

# Open connections of this process, by channel name.
_local: dict[str, LeanConsumerMixin] = {}
# How long a finished connection may take to write what it still has queued.
DRAIN_SECONDS = 5.0


def route(channel: str, message: dict[str, Any]) -> None:
    """Hand a channel-layer message to the connection ``channel`` of this
    process (``process_mail``'s receiver); dropped if it is gone."""
    consumer = _local.get(channel)
    if consumer is not None:
        consumer.layer_event(message)


def layer_failed(exc: Exception) -> None:
    """The channel layer failed under this process's receiver: every
    connection may have lost messages, so each is ended as a server fault."""
    loop = asyncio.get_running_loop()
    for consumer in list(_local.values()):
        if not consumer.layer_faulted:
            consumer.layer_faulted = True
            loop.create_task(consumer._fault(exc))


def post_local(channel: str, event: dict[str, Any]) -> bool:
    """Deliver ``event`` (a ``hex.deliver`` event) to the connection ``channel``
    now if it lives in this process; False if it does not (send it through
    the channel layer)."""
    consumer = _local.get(channel)
    if consumer is None:
        return False
    consumer.accept_event(event)
    return True


class Outgoing:
    """What one connection still has to write to its client, in order.

    Queuing never waits, so a client that stops reading cannot stall the
    player who just moved. The queue is bounded (``HEX_CHANNEL_CAPACITY``, like
    a channel of the layer): past that, the backlog is dropped and the
    consumer is told at once (``on_overflow``, in a task of its own, since the
    writer itself is stuck on that client) to end the connection; its client
    resumes through /ws/reconnect from the database instead of from a broken
    stream.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.overflowed = False
        self.closed = False  # a close is queued: nothing more goes out
        self.finishing = False
        self._messages: deque[dict[str, Any]] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._send: Callable[[dict[str, Any]], Any] | None = None
        self._in_flight: asyncio.Task[None] | None = None  # a write begun by ``put`` that had to wait
        self._on_overflow: Callable[[], Awaitable[None]] | None = None
        self._overflow_task: asyncio.Task[None] | None = None

    def put(self, message: dict[str, Any]) -> None:
        if self.closed or self.overflowed:
            return
        if (self._wakeup is not None and not self._messages
                and (self._in_flight is None or self._in_flight.done())):
            # Nothing is being written: write now, without waking the writer.
            self.closed = message["type"] == "websocket.close"
            self._write_now(message)
            if self.closed:
                self._wake()  # the writer's work is done
            return
        if len(self._messages) >= self.capacity:
            self.overflowed = True
            self._messages.clear()
            if self._on_overflow is not None:
                self._overflow_task = asyncio.get_running_loop().create_task(self._overflowed(self._on_overflow))
        else:
            self._messages.append(message)
            self.closed = message["type"] == "websocket.close"
        self._wake()

    def _write_now(self, message: dict[str, Any]) -> None:
        """Run the server's ``send`` in the caller until it would wait.

        It almost never does (only while the client's socket buffer is full),
        so most messages are written with no task switch at all. If it does,
        a task finishes that one send, and the writer waits for it before
        anything else goes out.
        """
        assert self._send is not None
        send = self._send(message)
        try:
            waiting_on = send.send(None)
        except StopIteration:
            return
        except Exception as exc:
            self._lost(exc)
            return
        self._in_flight = asyncio.get_running_loop().create_task(self._finish_send(send, waiting_on))

    async def _finish_send(self, send: Any, waiting_on: Any) -> None:
        try:
            while True:
                if isinstance(waiting_on, asyncio.Future):
                    # The send yielded it as a task step would see it: flagged as
                    # already being awaited. Waiting on it here needs the flag clear.
                    waiting_on._asyncio_future_blocking = False
                    try:
                        await waiting_on
                    except Exception:  # noqa: BLE001 - the send itself sees it when resumed
                        pass
                else:
                    await asyncio.sleep(0)
                waiting_on = send.send(None)
        except StopIteration:
            return
        except asyncio.CancelledError:
            send.close()
            raise
        except Exception as exc:
            self._lost(exc)

    async def _overflowed(self, on_overflow: Callable[[], Awaitable[None]]) -> None:
        self.overflowed = False  # what ends the connection must be queued
        await on_overflow()

    def _lost(self, exc: Exception) -> None:
        log.debug("writing to a closed connection failed (%s)", exc)
        self._drop()

    def _drop(self) -> None:
        """Write nothing more: the connection is gone."""
        self.closed = True
        self._messages.clear()

    def release(self) -> None:
        """The connection has ended: drop what would be written, and the
        references to the server's ``send`` and the consumer's overflow handler."""
        self._drop()
        self._send = self._on_overflow = None

    def finish(self) -> None:
        """Let the writer stop once everything queued is written."""
        self.finishing = True
        self._wake()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def write(self, send: Callable[[dict[str, Any]], Awaitable[None]],
                    on_overflow: Callable[[], Awaitable[None]]) -> None:
        """The writer: send queued messages until a close or ``finish``."""
        self._send = send
        self._on_overflow = on_overflow
        while True:
            while not self._messages:
                if self.finishing or self.closed:  # closed with nothing queued: ``put`` wrote the close
                    await self._settle()
                    return
                self._wakeup = asyncio.get_running_loop().create_future()
                try:
                    await self._wakeup
                finally:
                    self._wakeup = None
            await self._settle()
            if not self._messages:
                continue
            message = self._messages.popleft()
            try:
                await send(message)
            except Exception as exc:  # the client is gone: nothing more can reach it
                self._lost(exc)
                return
            if message["type"] == "websocket.close":
                return

    async def _settle(self) -> None:
        """Wait for a write ``put`` began, so messages never overtake it."""
        if self._in_flight is not None:
            await asyncio.gather(self._in_flight, return_exceptions=True)
            self._in_flight = None


async def _gone(message: dict[str, Any]) -> None:
    """``send`` of a consumer whose connection has ended: nothing reaches anyone."""


class LeanConsumerMixin:
    """For ``AsyncWebsocketConsumer`` subclasses: the loop described above.

    ``server_fault`` is called (in the consumer's turn) when the connection
    can no longer be kept current: the channel layer failed under it, or its
    client fell ``HEX_CHANNEL_CAPACITY`` messages behind. By default the
    client gets close 1011 and can reconnect.
    """

    channel_layer_alias: str
    channel_name: str
    groups: list[str]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        self.handshake_done = False  # an accept (or refusal) has been queued
        self.outgoing = Outgoing(settings.HEX_CHANNEL_CAPACITY)
        self.base_send = self._queue_message
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self._turn = asyncio.Lock()
        self._receive = receive
        self._read_ahead: deque[dict[str, Any]] = deque()  # see ``until_gone``
        self.layer_faulted = False
        self._layer_backlog: deque[dict[str, Any]] = deque()
        self._backlog_drainer: asyncio.Task[None] | None = None
        _local[self.channel_name] = self
        loop = asyncio.get_running_loop()
        writer = loop.create_task(self.outgoing.write(send, self._overflowed))
        layer_reader = None
        if process_mail.handles(self.channel_layer):
            process_mail.ensure_receiving(self.channel_layer, route, layer_failed)
        else:
            layer_reader = loop.create_task(self._read_layer())
        try:
            while True:
                message = self._read_ahead.popleft() if self._read_ahead else await receive()
                await self._handle(message)
        except StopConsumer:
            pass
        except Exception as exc:
            if not self.handshake_done:
                raise  # still in the handshake: the server refuses it with HTTP 500
            log.warning("connection ended by a server fault (%s: %s); closing with 1011", type(exc).__name__, exc)
            await self._fault(exc)
        finally:
            _local.pop(self.channel_name, None)
            readers = [task for task in (layer_reader, self._backlog_drainer) if task is not None]
            for task in readers:
                task.cancel()
            self.outgoing.finish()
            try:
                await asyncio.wait_for(writer, DRAIN_SECONDS)
            except Exception:  # noqa: BLE001 - a client that does not read (TimeoutError), or gone
                writer.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            self._forget_server()

    def _forget_server(self) -> None:
        """Drop the references that tie this consumer into cycles with itself
        and the server's protocol objects, so it is freed the moment its
        connection's task ends instead of waiting for the cyclic garbage
        collector, whose collections of a few thousand closed connections
        stalled the loop for 15-50 ms (``bench/load.py``, 200 games)."""
        self.base_send = _gone
        self._receive = None
        self.outgoing.release()

    async def until_gone(self) -> None:
        """Return once the client has closed the connection; never, if it sends
        a message first (it is still there).

        For a handler that waits long inside the loop's turn, which therefore
        reads nothing meanwhile (a held matchmaker): this reads one message
        ahead of the loop, which handles it next. Cancelling it loses nothing.
        """
        if not self._read_ahead:
            self._read_ahead.append(await self._receive())
        if self._read_ahead[0]["type"] != "websocket.disconnect":
            await asyncio.Event().wait()

    async def _queue_message(self, message: dict[str, Any]) -> None:
        # ``send``, ``accept`` and ``close`` of the consumer end here.
        if message["type"] in ("websocket.accept", "websocket.close"):
            self.handshake_done = True
        self.outgoing.put(message)

    def queue_text(self, text: str) -> None:
        self.outgoing.put({"type": "websocket.send", "text": text})

    def accept_event(self, event: dict[str, Any]) -> None:
        """Queue a ``hex.deliver`` event's texts, then its close if it has one."""
        for text in event["texts"]:
            self.queue_text(text)
        if event.get("close") is not None:
            self.outgoing.put({"type": "websocket.close", "code": event["close"]})

    def layer_event(self, message: dict[str, Any]) -> None:
        """A channel-layer message from ``route``. Deliveries are queued at once,
        like a same-process ``post_local``; any other message waits for the
        consumer's turn, and so does everything after it, to keep the order."""
        if message.get("type") == "hex.deliver" and not self._layer_backlog:
            self.accept_event(message)
            return
        self._layer_backlog.append(message)
        if self._backlog_drainer is None or self._backlog_drainer.done():
            self._backlog_drainer = asyncio.get_running_loop().create_task(self._drain_backlog())

    async def _drain_backlog(self) -> None:
        try:
            while self._layer_backlog:
                await self._handle(self._layer_backlog[0])
                self._layer_backlog.popleft()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("connection ended by a server fault (%s: %s); closing with 1011", type(exc).__name__, exc)
            self._layer_backlog.clear()
            await self._fault(exc)

    async def hex_deliver(self, event: dict[str, Any]) -> None:
        """The same event from another process, through the channel layer."""
        self.accept_event(event)

    async def _handle(self, message: dict[str, Any]) -> None:
        turn = self._turn
        await turn.acquire()  # not ``async with``: one coroutine fewer per message
        try:
            await self.dispatch(message)
        finally:
            turn.release()

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Unlike Channels, no stale-connection check per message: database
        # work goes through ``run_in_db``, which does its own.
        if message["type"] == "websocket.receive":
            # Every client message: what ``websocket_receive`` does, without
            # looking the handler up by name.
            text = message.get("text")
            if text is not None:
                await self.receive(text_data=text)  # type: ignore[attr-defined]
            else:
                await self.receive(bytes_data=message.get("bytes"))  # type: ignore[attr-defined]
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _read_layer(self) -> None:
        try:
            while True:
                message = await self.channel_layer.receive(self.channel_name)
                await self._handle(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("connection ended by a server fault (%s: %s); closing with 1011", type(exc).__name__, exc)
            await self._fault(exc)

    async def _overflowed(self) -> None:
        log.warning("a client fell %d messages behind; closing it with 1011 (it resumes by reconnecting)",
                    self.outgoing.capacity)
        await self._fault(None)

    async def _fault(self, exc: Exception | None) -> None:
        async with self._turn:
            try:
                await self.server_fault(exc)
            except Exception:
                log.exception("ending a connection after a fault failed")

    async def server_fault(self, exc: Exception | None) -> None:
        """The connection can no longer be kept current: close it with 1011."""
        await self.close(code=1011)  # type: ignore[attr-defined]

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' version also closes stale database connections on its ORM
        # thread: not needed here (see ``dispatch``).
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.disconnect(message["code"])  # type: ignore[attr-defined]
        raise StopConsumer()
