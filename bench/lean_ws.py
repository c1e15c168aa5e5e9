"""A minimal WebSocket client (RFC 6455) for the load generator's players.

``bench/load.py`` plays hundreds of clients from one process, pinned to one
core that the server's PostgreSQL also uses (it is not pinned). Per message,
the ``websockets`` library's client cost the generator about as much as
everything else it does (py-spy at 200 games / 50 ms: 38 % of its core, a
quarter of it in the library's send and receive paths), CPU taken from
PostgreSQL and so from the server under test. This client does only what
the players need: the opening handshake (checked), text frames both ways,
client frames masked with a random key, fragmented messages, answers to
pings, and the closing handshake. Everything else in the protocol is refused
with ``ProtocolError``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections import deque
from urllib.parse import urlparse

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _BINARY, _CLOSE, _PING, _PONG, _CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
_MAX_HEADER = 16384


class ProtocolError(Exception):
    """The server broke the handshake or the framing, or refused the connection."""


class ConnectionClosedError(Exception):
    """The connection is closed (``code`` from the server's close frame, or 1006)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"closed with code {code}")
        self.code = code


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the repeated 4-byte ``key`` (as one big integer: no per-byte loop)."""
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(len(payload), "little")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked frame, as a client must send it."""
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + key + mask(payload, key)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.messages: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.fragments: list[bytes] = []
        self.closed_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.handshake.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEADER:
                    self._fail(ProtocolError("handshake response too long"))
                return
            self.handshake.set_result(bytes(self.buffer[:end]))
            del self.buffer[: end + 4]
        try:
            self._parse_frames()
        except ProtocolError as exc:
            self._fail(exc)

    def _parse_frames(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            if second & 0x80:
                raise ProtocolError("the server masked a frame")
            length, offset = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                (length,), offset = struct.unpack_from("!H", buffer, 2), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                (length,), offset = struct.unpack_from("!Q", buffer, 2), 10
            if len(buffer) < offset + length:
                return
            payload = bytes(buffer[offset: offset + length])
            del buffer[: offset + length]
            self._frame(first & 0x80, first & 0x0F, payload)

    def _frame(self, final: int, opcode: int, payload: bytes) -> None:
        if opcode in (_TEXT, _CONTINUATION):
            if opcode == _TEXT and self.fragments:
                raise ProtocolError("a new message inside a fragmented one")
            if opcode == _CONTINUATION and not self.fragments:
                raise ProtocolError("a continuation frame with nothing to continue")
            self.fragments.append(payload)
            if final:
                data, self.fragments = b"".join(self.fragments), []
                self.messages.append(data.decode())
                self._wake()
        elif opcode == _PING:
            self.transport.write(client_frame(_PONG, payload))
        elif opcode == _PONG:
            pass
        elif opcode == _CLOSE:
            code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005
            if self.closed_code is None:
                self.transport.write(client_frame(_CLOSE, payload[:2]))
            self.closed_code = code
            self.transport.close()
            self._wake()
        else:
            raise ProtocolError(f"unexpected opcode {opcode}")

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(exc)
        self.closed_code = self.closed_code or 1006
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionClosedError(1006))
        if self.closed_code is None:
            self.closed_code = 1006
        self._wake()


class LeanWebSocket:
    """One client connection; ``recv`` gives text messages in order."""

    def __init__(self, protocol: _Protocol) -> None:
        self._protocol = protocol

    async def recv(self) -> str:
        protocol = self._protocol
        while not protocol.messages:
            if protocol.closed_code is not None:
                raise ConnectionClosedError(protocol.closed_code)
            protocol.waiter = asyncio.get_running_loop().create_future()
            await protocol.waiter
        return protocol.messages.popleft()

    async def send(self, text: str) -> None:
        if self._protocol.closed_code is not None:
            raise ConnectionClosedError(self._protocol.closed_code)
        self._protocol.transport.write(client_frame(_TEXT, text.encode()))

    async def close(self, code: int = 1000) -> None:
        protocol = self._protocol
        if protocol.closed_code is None:
            protocol.closed_code = code
            protocol.transport.write(client_frame(_CLOSE, struct.pack("!H", code)))
            protocol.transport.close()

    async def __aenter__(self) -> LeanWebSocket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def connect(url: str, timeout: float = 30.0) -> LeanWebSocket:
    """Open a ``ws://`` connection and complete the opening handshake."""
    parts = urlparse(url)
    if parts.scheme != "ws":
        raise ValueError("only ws:// URLs")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16))
    loop = asyncio.get_running_loop()
    transport, protocol = await asyncio.wait_for(loop.create_connection(_Protocol, host, port), timeout)
    transport.write(
        b"GET " + target.encode() + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode()
        + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    try:
        head = await asyncio.wait_for(protocol.handshake, timeout)
    except BaseException:
        transport.abort()
        raise
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    expected = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
    if status.split(" ")[1:2] != ["101"] or headers.get("sec-websocket-accept") != expected:
        transport.abort()
        raise ProtocolError(f"handshake refused: {status}")
    return LeanWebSocket(protocol)
