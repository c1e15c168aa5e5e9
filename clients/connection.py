"""A small client library for the arena's WebSocket protocol.

``ArenaClient`` opens a seat (matchmake, join a slot, or resume with a
token), yields the server's messages as ``Message`` values and sends moves.
When the connection drops without a clean close it resumes the seat through
``/ws/reconnect`` with exponential backoff for as long as the reconnect
window lasts; the caller then receives the server's ``reconnected`` message
(with the slot snapshot) as the next message and carries on from there.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from clients.errors import ProtocolViolationError, ServerRefusedError, ServerUnreachableError

DEFAULT_SERVER = "ws://127.0.0.1:8000"
SERVER_ENV_VAR = "HEX_SERVER_URL"
DEFAULT_RECONNECT_WINDOW = 30.0

# A clean close (1000) or a policy close (1008) is the server's decision, so
# resuming would only be refused; anything else (1006 with no close frame,
# 1001 going away, 1011 server error) may be a network or server hiccup.
FINAL_CLOSE_CODES = frozenset({1000, 1008})


@dataclass(frozen=True)
class Message:
    """One server message: ``{"type": ..., "payload": {...}}``."""

    type: str
    payload: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.payload.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "payload": self.payload}


def parse_message(text: str | bytes) -> Message:
    """Decode a server frame; unknown fields are kept, a non-object is a violation."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolViolationError(f"server sent a frame that is not JSON: {str(text)[:80]!r}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolViolationError(f"server sent a message without a type: {str(text)[:80]!r}")
    payload = data.get("payload")
    return Message(data["type"], payload if isinstance(payload, dict) else {})


def normalise_server(server: str) -> str:
    """``ws://host:port`` without a trailing slash; http(s) is taken to mean ws(s)."""
    server = server.strip()
    if "://" not in server:
        server = "ws://" + server
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ServerUnreachableError(f"invalid server URL {server!r}: use ws://host:port or wss://host")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def endpoint_url(server: str, path: str, params: dict[str, Any]) -> str:
    """The URL of an arena endpoint; ``None`` and empty parameters are left out."""
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{normalise_server(server)}{path}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class SeatRequest:
    """How to take a seat: matchmake (default), join ``slot_id``, or resume with ``token``."""

    board_size: int = 11
    series_length: int = 1
    model_name: str | None = None
    username: str | None = None
    slot_id: int | None = None
    token: str | None = None
    first_player: int | None = None
    # Opt-in extensions of this arena; unset ones are not sent, so a plain
    # request is exactly the reference's.
    swap: bool = False
    time_per_move: int | None = None
    time_base: int | None = None
    time_increment: int | None = None
    bot_token: str | None = None

    def path_and_params(self) -> tuple[str, dict[str, Any]]:
        if self.token is not None:
            return "/ws/reconnect", {"slot_id": self.slot_id, "token": self.token}
        if self.slot_id is not None:
            return "/ws/join-slot", {"slot_id": self.slot_id, "model_name": self.model_name,
                                     "username": self.username, "swap": 1 if self.swap else None,
                                     "time_per_move": self.time_per_move, "time_base": self.time_base,
                                     "time_increment": self.time_increment, "bot_token": self.bot_token}
        return "/ws/matchmake", {"board_size": self.board_size, "series_length": self.series_length,
                                 "model_name": self.model_name, "username": self.username,
                                 "first_player": self.first_player, "swap": 1 if self.swap else None,
                                 "time_per_move": self.time_per_move, "time_base": self.time_base,
                                 "time_increment": self.time_increment, "bot_token": self.bot_token}


class ConnectionEndedError(Exception):
    """The server closed the connection on purpose; there is no seat to resume."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"connection closed by the server (code {code}{', ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


def describe_connect_error(url: str, exc: BaseException) -> str:
    """A one-line reason a connection attempt failed, without the query (it may hold a token)."""
    where = url.split("?", 1)[0]
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        hint = " (missing/invalid parameters or a refused origin)" if status == 403 else ""
        return f"server at {where} refused the WebSocket handshake: HTTP {status}{hint}"
    if isinstance(exc, InvalidURI):
        return f"invalid server URL {where}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"cannot reach server at {where}: timed out"
    if isinstance(exc, OSError):
        return f"cannot reach server at {where}: {exc.strerror or exc}"
    return f"cannot reach server at {where}: {exc}"


EventHook = Callable[[str, dict[str, Any]], None]


class ArenaClient:
    """One player's seat in the arena, surviving dropped connections.

    ``on_event(name, details)`` is told about connection events
    (``reconnecting``, ``reconnected``) for logs and displays.
    """

    def __init__(self, server: str, *, reconnect_window: float = DEFAULT_RECONNECT_WINDOW,
                 open_timeout: float = 10.0, initial_backoff: float = 0.25, max_backoff: float = 4.0,
                 on_event: EventHook | None = None) -> None:
        self.server = normalise_server(server)
        self.reconnect_window = reconnect_window
        self.open_timeout = open_timeout
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.on_event = on_event or (lambda name, details: None)
        self.slot_id: int | None = None
        self.player: int | None = None
        self.token: str | None = None
        self.resumable = True
        self.reconnects = 0
        self._ws: ClientConnection | None = None
        self._pending: deque[Message] = deque()
        self._closing = False

    # -- opening -------------------------------------------------------------------------

    async def open(self, request: SeatRequest) -> None:
        """Connect to the endpoint the request names; the first messages come from ``receive``."""
        if request.token is not None:
            self.slot_id, self.token = request.slot_id, request.token
        path, params = request.path_and_params()
        self._ws = await self._connect(endpoint_url(self.server, path, params))

    async def _connect(self, url: str) -> ClientConnection:
        try:
            # Message size: a 19×19 slot snapshot is a few kB; leave the library default.
            return await connect(url, open_timeout=self.open_timeout, ping_interval=20, ping_timeout=20)
        except InvalidStatus as exc:
            # An HTTP answer is a decision of the server (bad parameters, a refused host or origin).
            raise ServerRefusedError(describe_connect_error(url, exc)) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise ServerUnreachableError(describe_connect_error(url, exc)) from exc

    # -- receiving -----------------------------------------------------------------------

    async def receive(self) -> Message:
        """The next server message; resumes the seat transparently after a drop.

        Raises ``ConnectionEndedError`` when the server closed on purpose and
        ``ServerUnreachableError`` when a dropped seat could not be resumed.
        """
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._ws is None:
                raise ConnectionEndedError(None, "not connected")
            try:
                text = await self._ws.recv()
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                reason = exc.rcvd.reason if exc.rcvd is not None else ""
                if self._closing or code in FINAL_CLOSE_CODES or not self._can_resume():
                    raise ConnectionEndedError(code, reason) from None
                await self._resume(code)
                continue
            message = parse_message(text)
            self._remember_seat(message)
            return message

    def _can_resume(self) -> bool:
        return self.resumable and self.slot_id is not None and self.token is not None

    def _remember_seat(self, message: Message) -> None:
        if message.type in ("joined", "slot_kept", "reconnected"):
            self.slot_id = message.get("slot_id", self.slot_id)
            self.player = message.get("player", self.player)
            # The reference rotates the token on reconnect without sending it;
            # a server that does send one is believed.
            token = message.get("reconnect_token")
            if isinstance(token, str) and token:
                self.token = token

    async def _resume(self, close_code: int | None) -> None:
        assert self.slot_id is not None and self.token is not None
        url = endpoint_url(self.server, "/ws/reconnect", {"slot_id": self.slot_id, "token": self.token})
        deadline = time.monotonic() + self.reconnect_window
        delay = self.initial_backoff
        attempt = 0
        last_error = "connection lost"
        while True:
            attempt += 1
            self.on_event("reconnecting", {"attempt": attempt, "close_code": close_code, "slot_id": self.slot_id})
            ws: ClientConnection | None = None
            try:
                ws = await connect(url, open_timeout=min(self.open_timeout, max(1.0, deadline - time.monotonic())),
                                   ping_interval=20, ping_timeout=20)
                first = parse_message(await ws.recv())
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                if ws is not None:
                    await ws.close()
                last_error = describe_connect_error(url, exc) if not isinstance(exc, ConnectionClosed) else (
                    "connection closed during reconnect")
            else:
                if first.type == "error":
                    await ws.close()
                    raise ServerRefusedError(f"could not resume seat in slot {self.slot_id}: {first.get('message')}")
                self._ws = ws
                self.reconnects += 1
                self._remember_seat(first)
                self._pending.append(first)
                self.on_event("reconnected", {"attempt": attempt, "slot_id": self.slot_id})
                return
            if time.monotonic() + delay > deadline:
                raise ServerUnreachableError(f"lost the connection and could not resume within "
                                        f"{self.reconnect_window:g}s: {last_error}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    # -- sending -------------------------------------------------------------------------

    async def send(self, type_: str, payload: dict[str, Any] | None = None) -> bool:
        """Send one message; ``False`` when the connection is down (``receive`` will resume it)."""
        if self._ws is None:
            return False
        try:
            await self._ws.send(json.dumps({"type": type_, "payload": payload or {}}))
        except ConnectionClosed:
            return False
        return True

    async def send_move(self, q: int, r: int) -> bool:
        return await self.send("move", {"q": q, "r": r})

    async def send_swap(self) -> bool:
        """The swap-pieces answer to the first stone (swap games only)."""
        return await self.send("swap")

    async def keep_slot(self) -> bool:
        return await self.send("keep_slot")

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
