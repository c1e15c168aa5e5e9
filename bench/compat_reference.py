"""Differential protocol check: run the same scripted WebSocket/HTTP scenarios
against two Hex arena servers and print every difference.

Meant for comparing our server with the reference arena (PyPI
``hexgame-server==0.4.3``), whose WebSocket protocol we must match byte for
byte. Every received frame is compared as raw text (key order and JSON spacing
count), together with close codes, handshake refusals and the HTTP ``/health``,
``/slots`` and ``/api/statistics`` documents (raw, masked and as a shape of
keys and value types).

Usage (both servers started with the same ``HEX_RECONNECT_TIMEOUT``, fresh
databases, the default 6 slots, nothing else connected)::

    # reference, in a scratch venv (never one of our dependencies)
    HEX_RECONNECT_TIMEOUT=3 HEX_DATABASE_URL=sqlite:////tmp/ref.sqlite3 \\
        /tmp/refvenv/bin/hexgame-server --host 127.0.0.1 --port 8801
    # ours
    HEX_RECONNECT_TIMEOUT=3 HEX_DATABASE_URL=sqlite:////tmp/ours.sqlite3 \\
        .venv/bin/python -m daphne -b 127.0.0.1 -p 8802 hexsite.asgi:application

    .venv/bin/python bench/compat_reference.py --a ws://127.0.0.1:8801 --b ws://127.0.0.1:8802 \\
        --reconnect-timeout 3

Options: ``--only NAME[,NAME]`` runs some scenarios, ``--list`` lists them,
``--show`` prints the full transcripts, ``--quiet-period`` tunes how long a
step waits for silence before the next action. The exit status is 1 when any
scenario differs.

Masked before comparing: reconnect tokens, statistics ids and timestamps. Frames
are compared per client connection (cross-connection interleaving is not
deterministic). Scenarios that may wedge a reference slot (binary frames,
deeply nested JSON) run last. Before each scenario the driver waits until every
slot of each server is empty again, so slot ids line up; the per-IP cap of the
reference (6 open matchmake sockets) is respected by every scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

TOKEN_RE = re.compile(r'"reconnect_token":"[^"]*"')
QUERY_TOKEN_RE = re.compile(r"([?&])token=[A-Za-z0-9_-]{20,}")
ID_RE = re.compile(r'"id":\d+')
TIME_RE = re.compile(r'"completed_at":"[^"]*"')
SECURITY_HEADERS = (
    "content-type",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "cross-origin-embedder-policy",
)

RED, BLUE = -1, 1


def mask(text: str) -> str:
    text = TOKEN_RE.sub('"reconnect_token":"<token>"', text)
    text = QUERY_TOKEN_RE.sub(r"\1token=<token>", text)
    text = ID_RE.sub('"id":<id>', text)
    return TIME_RE.sub('"completed_at":"<time>"', text)


def shape(value: Any) -> Any:
    """Keys and value types of a JSON document (list elements merged)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            item_shape = shape(item)
            if item_shape not in shapes:
                shapes.append(item_shape)
        return shapes
    if value is None:
        return "null"
    return type(value).__name__


class Transcript:
    """Per-stream lines (one stream per client connection, plus ``http``)."""

    def __init__(self) -> None:
        self.streams: dict[str, list[str]] = {}

    def add(self, stream: str, line: str) -> None:
        self.streams.setdefault(stream, []).append(line)

    def collapsed(self, stream: str) -> list[str]:
        """Runs of identical lines folded to ``line  [xN]``."""
        out: list[str] = []
        lines = self.streams.get(stream, [])
        i = 0
        while i < len(lines):
            j = i
            while j < len(lines) and lines[j] == lines[i]:
                j += 1
            out.append(lines[i] if j - i == 1 else f"{lines[i]}  [x{j - i}]")
            i = j
        return out


class Client:
    """One WebSocket connection whose frames are recorded as they arrive."""

    def __init__(self, ctx: Ctx, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.ws: ClientConnection | None = None
        self.frames: list[Any] = []
        self.closing = False
        self.done = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    def log(self, line: str) -> None:
        self.ctx.transcript.add(self.name, line)

    async def open(self, path: str, params: dict[str, Any] | str | None) -> Client:
        query = params if isinstance(params, str) else urlencode(params or {})
        url = f"{self.ctx.ws_base}{path}" + (f"?{query}" if query else "")
        self.log(f"connect {path}?{mask(query)}")
        try:
            self.ws = await connect(
                url, compression=None, proxy=None, open_timeout=10, ping_interval=None, max_size=None
            )
        except InvalidStatus as exc:
            self.log(f"handshake rejected: HTTP {exc.response.status_code}")
            self.done.set()
            return self
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                self.ctx.last_activity = time.monotonic()
                if self.ctx.tearing_down:
                    continue
                if isinstance(raw, bytes):
                    self.log(f"< binary {raw!r}")
                    continue
                self.log(f"< {mask(raw)}")
                try:
                    self.frames.append(json.loads(raw))
                except ValueError:
                    self.frames.append(None)
        except ConnectionClosed:
            pass
        finally:
            self.ctx.last_activity = time.monotonic()
            if self.ctx.tearing_down:
                pass
            elif self.closing:
                self.log("closed by client")
            else:
                rcvd = self.ws.protocol.close_rcvd
                if rcvd is None:
                    self.log(f"dropped by server without close frame (code {self.ws.close_code})")
                else:
                    self.log(f"closed by server: code={rcvd.code} reason={rcvd.reason!r}")
            self.done.set()

    async def send(self, obj: Any) -> None:
        await self.send_raw(obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":")))

    async def send_raw(self, text: str) -> None:
        shown = text if len(text) <= 200 else f"{text[:60]}...({len(text)} chars)"
        self.log(f"> {shown}")
        if self.ws is None or self.done.is_set():
            self.log("  (not sent: connection is closed)")
            return
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            self.log("  (send failed: connection closed)")

    async def send_bytes(self, data: bytes) -> None:
        self.log(f"> binary {data!r}")
        if self.ws is None or self.done.is_set():
            return
        try:
            await self.ws.send(data)
        except ConnectionClosed:
            self.log("  (send failed: connection closed)")

    async def close(self) -> None:
        if self.ws is None or self.done.is_set():
            return
        self.closing = True
        await self.ws.close()
        await self.wait_closed()

    async def wait_closed(self, timeout: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except TimeoutError:
            self.log(f"still open after {timeout}s")

    def last(self, type_: str) -> dict[str, Any] | None:
        for frame in reversed(self.frames):
            if isinstance(frame, dict) and frame.get("type") == type_:
                return frame
        return None

    def payload(self, type_: str) -> dict[str, Any]:
        frame = self.last(type_)
        return frame.get("payload", {}) if frame else {}

    @property
    def token(self) -> str:
        for frame in reversed(self.frames):
            if isinstance(frame, dict) and frame.get("type") in ("joined", "slot_kept"):
                return str(frame["payload"]["reconnect_token"])
        return "no-token-received"

    @property
    def slot_id(self) -> int:
        for frame in reversed(self.frames):
            if isinstance(frame, dict) and frame.get("type") in ("joined", "slot_kept", "reconnected"):
                return int(frame["payload"]["slot_id"])
        return 0


@dataclass
class Ctx:
    """One server under test during one scenario."""

    ws_base: str
    http_base: str
    quiet: float
    reconnect_timeout: float
    transcript: Transcript = field(default_factory=Transcript)
    clients: list[Client] = field(default_factory=list)
    last_activity: float = 0.0
    tearing_down: bool = False

    async def open(self, name: str, path: str, params: dict[str, Any] | str | None = None) -> Client:
        client = Client(self, name)
        self.clients.append(client)
        await client.open(path, params)
        await self.settle()
        return client

    async def matchmake(self, name: str, **params: Any) -> Client:
        return await self.open(name, "/ws/matchmake", params)

    async def settle(self, max_wait: float = 8.0) -> None:
        """Wait until no frame arrived on any connection for ``quiet`` seconds."""
        start = time.monotonic()
        self.last_activity = max(self.last_activity, start)
        while time.monotonic() - start < max_wait:
            idle = time.monotonic() - self.last_activity
            if idle >= self.quiet:
                return
            await asyncio.sleep(self.quiet - idle + 0.005)

    async def http(self, path: str, *, raw: bool = True, values: bool = True) -> Any:
        """GET ``path`` and record status, headers, the masked body and its shape."""

        def fetch() -> tuple[int, dict[str, str], str]:
            try:
                with urllib.request.urlopen(f"{self.http_base}{path}", timeout=10) as resp:
                    return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode()

        status, headers, body = await asyncio.to_thread(fetch)
        stream = "http"
        self.transcript.add(stream, f"GET {path} -> {status}")
        for name in SECURITY_HEADERS:
            self.transcript.add(stream, f"  header {name}: {headers.get(name)}")
        try:
            doc = json.loads(body)
        except ValueError:
            self.transcript.add(stream, f"  body (not JSON): {body[:200]!r}")
            return None
        self.transcript.add(stream, f"  shape: {json.dumps(shape(doc), separators=(',', ':'))}")
        compact = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        self.transcript.add(stream, f"  body is compact UTF-8 JSON: {body == compact}")
        if raw and isinstance(doc, list):
            for item in doc:
                self.transcript.add(stream, f"  [] {mask(json.dumps(item, separators=(',', ':'), ensure_ascii=False))}")
        elif raw:
            self.transcript.add(stream, f"  raw: {mask(body)}")
        elif values:
            self.transcript.add(stream, f"  values: {mask(json.dumps(doc, separators=(',', ':')))}")
        return doc

    async def slots(self, label: str) -> None:
        self.transcript.add("http", f"-- /slots {label}")
        await self.http("/slots")

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until every slot is empty (the reference holds seats for the
        reconnect window)."""
        deadline = time.monotonic() + timeout

        def fetch() -> Any:
            with urllib.request.urlopen(f"{self.http_base}/slots", timeout=10) as resp:
                return json.loads(resp.read().decode())

        while time.monotonic() < deadline:
            try:
                slots = await asyncio.to_thread(fetch)
            except (OSError, ValueError):
                slots = None
            if slots is not None and all(s.get("state") == "empty" for s in slots):
                return True
            await asyncio.sleep(0.25)
        return False

    async def close_all(self) -> None:
        """Close what is left open; nothing after this point is recorded."""
        self.tearing_down = True
        for client in self.clients:
            await client.close()
        self.clients.clear()


# -- game helpers ------------------------------------------------------------------------


def game_moves(size: int, winner: int, first: int) -> list[tuple[int, int, int]]:
    """A deterministic game: the winner fills a straight connecting line, the
    loser a parallel line that connects nothing. Returns (player, q, r)."""
    if winner == RED:  # red row r=0 (left-right); blue fills row r=3
        win_line = [(q, 0) for q in range(size)]
        lose_line = [(q, 3) for q in range(size)]
    else:  # blue column q=0 (top-bottom); red fills column q=3
        win_line = [(0, r) for r in range(size)]
        lose_line = [(3, r) for r in range(size)]
    loser = -winner
    moves: list[tuple[int, int, int]] = []
    turn = first
    wi = li = 0
    while wi < size:
        if turn == winner:
            moves.append((winner, *win_line[wi]))
            wi += 1
        else:
            moves.append((loser, *lose_line[li]))
            li += 1
        turn = -turn
    return moves


async def play_game(ctx: Ctx, seats: dict[int, Client], size: int, winner: int, first: int) -> None:
    for player, q, r in game_moves(size, winner, first):
        await seats[player].send({"type": "move", "payload": {"q": q, "r": r}})
        await ctx.settle()


async def pair(ctx: Ctx, size: int = 7, series: int = 1, **extra: Any) -> tuple[Client, Client]:
    red = await ctx.matchmake("red", board_size=size, series_length=series, **extra)
    blue = await ctx.matchmake("blue", board_size=size, series_length=series)
    return red, blue


# -- scenarios ---------------------------------------------------------------------------


async def sc_http_idle(ctx: Ctx) -> None:
    await ctx.http("/health")
    await ctx.http("/slots")
    await ctx.http("/api/statistics")


async def sc_matchmake_pair(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=7, series_length=1, model_name="alpha", username="alice")
    await ctx.slots("after creator")
    await ctx.matchmake("blue", board_size=7, series_length=1, model_name="beta", username="bob")
    await ctx.slots("after joiner")
    await red.send({"type": "move", "payload": {"q": 3, "r": 3}})
    await ctx.settle()
    await ctx.slots("after one move")


async def sc_matchmake_unlabelled(ctx: Ctx) -> None:
    await ctx.matchmake("red", board_size=7)
    await ctx.matchmake("blue", board_size=7, model_name="only-model")
    await ctx.slots("labels partly absent")


async def sc_matchmake_labels(ctx: Ctx) -> None:
    await ctx.matchmake("red", board_size=7, model_name="  m\x01od\u200bel\t ", username="u" * 79 + " tail")
    await ctx.matchmake("blue", board_size=7, model_name="x" * 100, username="\x00\x01 ")
    await ctx.slots("sanitised labels")


async def sc_matchmake_separation(ctx: Ctx) -> None:
    await ctx.matchmake("a_7x1", board_size=7, series_length=1)
    await ctx.matchmake("b_9x1", board_size=9, series_length=1)
    await ctx.matchmake("c_7x3", board_size=7, series_length=3)
    await ctx.matchmake("d_9x1", board_size=9, series_length=1)
    await ctx.matchmake("e_7x3", board_size=7, series_length=3)
    await ctx.slots("two pairs and one waiting")


async def sc_matchmake_first_player(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=7, series_length=3, first_player=1)
    blue = await ctx.matchmake("blue", board_size=7, series_length=3, first_player=-1)
    await play_game(ctx, {RED: red, BLUE: blue}, 7, BLUE, BLUE)
    await play_game(ctx, {RED: red, BLUE: blue}, 7, BLUE, RED)
    await ctx.slots("first_player=1 series over")


async def sc_game_bo1(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 1)
    await play_game(ctx, {RED: red, BLUE: blue}, 7, RED, RED)
    await ctx.slots("bo1 over")
    await red.send({"type": "move", "payload": {"q": 6, "r": 6}})
    await blue.send({"type": "move", "payload": {"q": 6, "r": 6}})
    await ctx.settle()
    await ctx.http("/api/statistics")


async def sc_game_bo3(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 3)
    seats = {RED: red, BLUE: blue}
    await play_game(ctx, seats, 7, RED, RED)
    await ctx.slots("bo3 after game 1")
    await play_game(ctx, seats, 7, BLUE, BLUE)
    await play_game(ctx, seats, 7, RED, RED)
    await ctx.slots("bo3 over")
    await ctx.http("/api/statistics")


async def sc_game_bo5_sweep_9(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 9, 5, model_name="m1", username="u1")
    seats = {RED: red, BLUE: blue}
    await play_game(ctx, seats, 9, BLUE, RED)
    await play_game(ctx, seats, 9, BLUE, BLUE)
    await play_game(ctx, seats, 9, BLUE, RED)
    await ctx.http("/api/statistics")


async def sc_move_rejected(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=7)
    await red.send({"type": "move", "payload": {"q": 0, "r": 0}})
    await red.send({"type": "move", "payload": {"q": "0", "r": 0}})
    await ctx.settle()
    blue = await ctx.matchmake("blue", board_size=7)
    cases: list[tuple[Client, Any]] = [
        (blue, {"q": 0, "r": 0}),
        (blue, {"q": 99, "r": 99}),
        (red, {"q": 7, "r": 0}),
        (red, {"q": -1, "r": 0}),
        (red, {"q": 0, "r": 100000000000000000000}),
        (red, {"q": "1", "r": 0}),
        (red, {"q": 1.0, "r": 0}),
        (red, {"q": 1}),
        (red, {"q": None, "r": 0}),
        (red, {}),
        (red, {"q": 1, "r": 1, "player": 1}),
        (blue, {"q": 1, "r": 1}),
        (red, {"q": 2, "r": 2}),
        (blue, {"q": True, "r": False}),
        (red, {"q": 1, "r": 0}),
        (blue, {"q": [1], "r": 0}),
    ]
    for client, payload in cases:
        await client.send({"type": "move", "payload": payload})
        await ctx.settle()
    await red.send('{"type":"move","payload":[1,2]}')
    await red.send('{"type":"move","payload":"x"}')
    await red.send('{"type":"move"}')
    await ctx.settle()
    await ctx.slots("after rejections")
    await red.close()
    await ctx.settle()
    await blue.send({"type": "move", "payload": {"q": 5, "r": 5}})
    await blue.send({"type": "move", "payload": {"q": "x", "r": 5}})
    await ctx.settle()
    await ctx.slots("paused")


async def sc_invalid_params(ctx: Ctx) -> None:
    cases = [
        {"board_size": 8},
        {"board_size": 0},
        {"board_size": -7},
        {"board_size": 21},
        {"board_size": 7, "series_length": 2},
        {"board_size": 7, "series_length": 0},
        {"board_size": 7, "series_length": 17},
        {"board_size": 7, "series_length": -1},
        {"board_size": 7, "first_player": 0},
        {"board_size": 7, "first_player": 2},
        {"board_size": 8, "series_length": 2, "first_player": 0},
        {"board_size": 7, "series_length": 2, "first_player": 0},
    ]
    for i, params in enumerate(cases):
        client = await ctx.matchmake(f"case{i}", **params)
        await client.wait_closed()


async def sc_missing_params(ctx: Ctx) -> None:
    cases: list[tuple[str, str]] = [
        ("/ws/matchmake", ""),
        ("/ws/matchmake", "series_length=1"),
        ("/ws/matchmake", "board_size=abc"),
        ("/ws/matchmake", "board_size=7.5"),
        ("/ws/matchmake", "board_size=7&series_length=abc"),
        ("/ws/matchmake", "board_size=7&first_player=abc"),
        ("/ws/join-slot", ""),
        ("/ws/join-slot", "slot_id=abc"),
        ("/ws/reconnect", ""),
        ("/ws/reconnect", "slot_id=1"),
        ("/ws/reconnect", "token=abc"),
        ("/ws/reconnect", "slot_id=abc&token=abc"),
    ]
    for i, (path, query) in enumerate(cases):
        client = await ctx.open(f"case{i}", path, query)
        await client.wait_closed()


async def sc_param_edge_cases(ctx: Ctx) -> None:
    """Spellings an int parser may or may not accept (accepted sockets are
    closed right away; their waiting slots are held for the window)."""
    cases = [
        "board_size=7.0",
        "board_size=%2B7",
        "board_size=07",
        "board_size=%207%20",
        "board_size=7_0",
        "board_size=7&board_size=9",
        "board_size=7&series_length=",
        "board_size=7&first_player=",
        "board_size=",
        "board_size=9&series_length=1&series_length=3",
    ]
    for i, query in enumerate(cases):
        client = await ctx.open(f"case{i}", "/ws/matchmake", query)
        if client.last("error"):
            await client.wait_closed()
        await client.close()
    await ctx.slots("after edge cases")


async def sc_message_errors(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=7)
    pad = '{"type":"ping","payload":{"x":"%s"}}'
    base = len(pad % "")
    frames = [
        pad % ("a" * (4096 - base)),
        pad % ("a" * (4097 - base)),
        "x" * 5000,
        "{",
        "",
        "   ",
        "[]",
        "1",
        '"str"',
        "null",
        "true",
        '{"payload":{}}',
        '{"type":1}',
        '{"type":null}',
        '{"type":"foo"}',
        '{"type":"foo","payload":1}',
        '{"type":"PING"}',
        '{"type":"ping","payload":[]}',
        '{"type":"ping","payload":1}',
        '{"type":"ping","payload":null}',
        '{"type":"ping"}',
        '{"type":"ping","payload":{},"extra":1}',
        '{"type":"ping","type":"hello"}',
        '{"type":"hello","payload":{"protocol_version":1,"client_name":"hex-client"}}',
        '{"type":"hello","payload":{"protocol_version":99}}',
        '{"type":"hello"}',
        '{"type":"ping","payload":{"a":NaN}}',
        '{"type":"ping","payload":{}}\n',
        '{"type":"\\u0070ing"}',
        '\ufeff{"type":"ping"}',
    ]
    for frame in frames:
        await red.send_raw(frame)
        await ctx.settle()


async def sc_chat(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=7)
    await red.send({"type": "chat", "payload": {"message": "anyone?"}})
    await ctx.settle()
    blue = await ctx.matchmake("blue", board_size=7)
    messages: list[Any] = [
        {"message": "Good luck!"},
        {"message": "  spaced  "},
        {"message": "a\x00b\u200bc\nd\te\x7ff"},
        {"message": 'héllo 👋 "quoted" \\ back'},
        {"message": "z" * 600},
        {"message": " " * 3 + "y" * 498 + "  end"},
        {"message": ""},
        {"message": "\x01\x02"},
        {"message": 5},
        {"message": None},
        {"message": ["x"]},
        {},
        {"message": "hi", "player": 1},
    ]
    for payload in messages:
        await red.send({"type": "chat", "payload": payload})
        await ctx.settle()
    await blue.send({"type": "chat", "payload": {"message": "back to you"}})
    await ctx.settle()
    await blue.send('{"type":"chat"}')
    await ctx.settle()


async def sc_join_slot(ctx: Ctx) -> None:
    creator = await ctx.matchmake("creator", board_size=9, series_length=3, first_player=1, model_name="c")
    slot = creator.slot_id
    await ctx.open("joiner", "/ws/join-slot", {"slot_id": slot, "model_name": "j", "username": "ju"})
    await ctx.slots("joined by slot id")
    for i, query in enumerate(
        [f"slot_id={slot}", "slot_id=99", "slot_id=0", "slot_id=-1", "slot_id=6", f"slot_id={slot}&board_size=7"]
    ):
        client = await ctx.open(f"err{i}", "/ws/join-slot", query)
        await client.wait_closed()
    owner = await ctx.matchmake("owner2", board_size=11)
    slot2 = owner.slot_id
    await owner.close()
    await ctx.settle()
    client = await ctx.open("err_owner_gone", "/ws/join-slot", {"slot_id": slot2})
    await client.wait_closed()
    await ctx.slots("owner gone")


async def sc_join_slot_then_matchmake(ctx: Ctx) -> None:
    creator = await ctx.matchmake("creator", board_size=13, series_length=1)
    await ctx.open("joiner", "/ws/join-slot", {"slot_id": creator.slot_id})
    await ctx.matchmake("third", board_size=13, series_length=1)
    await ctx.slots("third waits in a new slot")


async def sc_reconnect(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 3)
    red_token, slot = red.token, red.slot_id
    for name, params in [
        ("bad_token", {"slot_id": slot, "token": "nope"}),
        ("bad_slot", {"slot_id": 99, "token": red_token}),
        ("empty_slot", {"slot_id": 6, "token": red_token}),
    ]:
        bad = await ctx.open(name, "/ws/reconnect", params)
        await bad.wait_closed()
    await red.send({"type": "move", "payload": {"q": 0, "r": 0}})
    await ctx.settle()
    await red.close()
    await ctx.settle()
    await blue.send({"type": "move", "payload": {"q": 1, "r": 1}})
    await ctx.settle()
    await ctx.slots("red disconnected")
    red2 = await ctx.open("red2", "/ws/reconnect", {"slot_id": slot, "token": red_token})
    await ctx.slots("red reconnected")
    await blue.send({"type": "move", "payload": {"q": 1, "r": 1}})
    await ctx.settle()
    await red2.send({"type": "move", "payload": {"q": 1, "r": 0}})
    await ctx.settle()
    # Take over a seat whose socket is still open.
    blue2 = await ctx.open("blue2", "/ws/reconnect", {"slot_id": slot, "token": blue.token})
    await blue.wait_closed()
    await blue2.send({"type": "move", "payload": {"q": 2, "r": 2}})
    await ctx.settle()
    # A second resume of the same seat with the token from `joined`.
    await red2.close()
    await ctx.settle()
    await ctx.open("red3", "/ws/reconnect", {"slot_id": slot, "token": red_token})
    await ctx.settle()


async def sc_reconnect_waiting_creator(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=7, series_length=5)
    token, slot = red.token, red.slot_id
    await red.close()
    await ctx.settle()
    await ctx.slots("creator gone")
    other = await ctx.matchmake("other", board_size=7, series_length=5)
    await other.close()
    await ctx.settle()
    red2 = await ctx.open("red2", "/ws/reconnect", {"slot_id": slot, "token": token})
    await ctx.slots("creator back")
    await ctx.open("blue", "/ws/join-slot", {"slot_id": slot})
    await red2.send({"type": "move", "payload": {"q": 0, "r": 0}})
    await ctx.settle()


async def sc_reconnect_timeout(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 1)
    token, slot = blue.token, blue.slot_id
    await blue.close()
    await ctx.settle()
    await asyncio.sleep(ctx.reconnect_timeout + 2.5)
    await red.wait_closed()
    await ctx.slots("after timeout")
    late = await ctx.open("blue_late", "/ws/reconnect", {"slot_id": slot, "token": token})
    await late.wait_closed()


async def sc_series_over_then_leave(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 1)
    await play_game(ctx, {RED: red, BLUE: blue}, 7, BLUE, RED)
    await blue.close()
    await ctx.settle()
    await ctx.slots("series over, blue left")
    await red.send({"type": "move", "payload": {"q": 5, "r": 5}})
    await ctx.settle()
    await ctx.matchmake("newcomer", board_size=7, series_length=1)
    await ctx.slots("newcomer")


async def sc_keep_slot(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 1, model_name="keeper")
    await blue.send({"type": "keep_slot"})
    await ctx.settle()
    await play_game(ctx, {RED: red, BLUE: blue}, 7, BLUE, RED)
    await blue.send({"type": "keep_slot", "payload": {}})
    await ctx.settle()
    await red.wait_closed()
    await ctx.slots("blue kept the slot")
    await blue.send({"type": "keep_slot"})
    await ctx.settle()
    newcomer = await ctx.matchmake("newcomer", board_size=7, series_length=1, model_name="n")
    await ctx.slots("new match in kept slot")
    await play_game(ctx, {RED: blue, BLUE: newcomer}, 7, RED, RED)
    await newcomer.send({"type": "keep_slot"})
    await ctx.settle()
    await blue.wait_closed()


async def sc_keep_slot_after_disconnect(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 3)
    await red.send({"type": "move", "payload": {"q": 0, "r": 0}})
    await ctx.settle()
    await blue.close()
    await ctx.settle()
    await red.send({"type": "keep_slot"})
    await ctx.settle()
    await ctx.slots("red kept after blue left")
    blue_token = blue.token
    late = await ctx.open("blue_late", "/ws/reconnect", {"slot_id": red.slot_id, "token": blue_token})
    await late.wait_closed()


async def sc_resign(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 3)
    await red.send({"type": "move", "payload": {"q": 0, "r": 0}})
    await ctx.settle()
    await blue.send({"type": "resign"})
    await ctx.settle()
    await ctx.slots("after resign")
    await red.send({"type": "move", "payload": {"q": 1, "r": 1}})
    await blue.send({"type": "move", "payload": {"q": 1, "r": 1}})
    await ctx.settle()


async def sc_resign_ends_series(ctx: Ctx) -> None:
    red, blue = await pair(ctx, 7, 1, model_name="quitter")
    await red.send({"type": "resign"})
    await ctx.settle()
    await blue.send({"type": "resign"})
    await ctx.settle()
    await ctx.http("/api/statistics", raw=False)


async def sc_resign_waiting(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=7)
    await red.send({"type": "resign", "payload": {}})
    await ctx.settle()
    await ctx.slots("after lone resign")


async def sc_ws_slots_feed(ctx: Ctx) -> None:
    await ctx.open("feed", "/ws/slots")
    red = await ctx.matchmake("red", board_size=7, model_name="r")
    blue = await ctx.matchmake("blue", board_size=7, username="b")
    await red.send({"type": "move", "payload": {"q": 0, "r": 0}})
    await red.send({"type": "chat", "payload": {"message": "x"}})
    await ctx.settle()
    token = blue.token
    await blue.close()
    await ctx.settle()
    blue2 = await ctx.open("blue2", "/ws/reconnect", {"slot_id": blue.slot_id, "token": token})
    await play_game(ctx, {RED: red, BLUE: blue2}, 7, BLUE, BLUE)
    await red.send({"type": "keep_slot"})
    await ctx.settle()
    await red.close()
    await ctx.settle()


async def sc_ip_cap(ctx: Ctx) -> None:
    combos = [(7, 1), (7, 3), (9, 1), (9, 3), (11, 1), (11, 3)]
    for i, (size, series) in enumerate(combos):
        await ctx.matchmake(f"m{i}", board_size=size, series_length=series)
    extra = await ctx.matchmake("seventh", board_size=13)
    await extra.wait_closed()
    joiner = await ctx.open("join_not_capped", "/ws/join-slot", {"slot_id": 1})
    await ctx.settle()
    await joiner.close()
    await ctx.slots("six waiting")


async def sc_no_available_slot(ctx: Ctx) -> None:
    for i, size in enumerate([7, 9, 11]):
        creator = await ctx.matchmake(f"c{i}", board_size=size, series_length=1)
        await ctx.open(f"j{i}", "/ws/join-slot", {"slot_id": creator.slot_id})
    # Waiting slots whose owner left are held (and skipped) for the window.
    for i, size in enumerate([13, 13, 13]):
        gone = await ctx.matchmake(f"gone{i}", board_size=size, series_length=1)
        await gone.close()
    late = await ctx.matchmake("late", board_size=13, series_length=1)
    await late.wait_closed()
    await ctx.slots("pool full")


async def sc_flood(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=7)
    assert red.ws is not None
    red.log("> 300 x ping, back to back")
    for _ in range(300):
        await red.ws.send('{"type":"ping","payload":{}}')
    await ctx.settle()


async def sc_stats_final(ctx: Ctx) -> None:
    await ctx.http("/api/statistics", raw=False)
    await ctx.http("/slots")


async def sc_nested_json(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=19, series_length=15)
    await red.send_raw("[" * 1500 + "]" * 1500)
    await ctx.settle()
    await red.send({"type": "ping"})
    await ctx.settle()
    await red.wait_closed(1.0)


async def sc_binary_frame(ctx: Ctx) -> None:
    red = await ctx.matchmake("red", board_size=19, series_length=13)
    await red.send_bytes(b'{"type":"ping","payload":{}}')
    await ctx.settle()
    await red.send({"type": "ping"})
    await ctx.settle()
    await red.wait_closed(1.0)
    await ctx.slots("after binary frame")


Scenario = Callable[[Ctx], Awaitable[None]]

# (name, function, wedging): wedging scenarios may leave a reference slot
# unusable and run last. The reference keeps a ghost "connected" owner in a
# slot after a binary frame, deeply nested JSON, or the disconnect of a client
# that used keep_slot (its disconnect handler still holds the pre-keep seat).
SCENARIOS: list[tuple[str, Scenario, bool]] = [
    ("http_idle", sc_http_idle, False),
    ("matchmake_pair", sc_matchmake_pair, False),
    ("matchmake_unlabelled", sc_matchmake_unlabelled, False),
    ("matchmake_labels", sc_matchmake_labels, False),
    ("matchmake_separation", sc_matchmake_separation, False),
    ("matchmake_first_player", sc_matchmake_first_player, False),
    ("game_bo1", sc_game_bo1, False),
    ("game_bo3", sc_game_bo3, False),
    ("game_bo5_sweep_9", sc_game_bo5_sweep_9, False),
    ("move_rejected", sc_move_rejected, False),
    ("invalid_params", sc_invalid_params, False),
    ("missing_params", sc_missing_params, False),
    ("param_edge_cases", sc_param_edge_cases, False),
    ("message_errors", sc_message_errors, False),
    ("chat", sc_chat, False),
    ("join_slot", sc_join_slot, False),
    ("join_slot_then_matchmake", sc_join_slot_then_matchmake, False),
    ("reconnect", sc_reconnect, False),
    ("reconnect_waiting_creator", sc_reconnect_waiting_creator, False),
    ("reconnect_timeout", sc_reconnect_timeout, False),
    ("series_over_then_leave", sc_series_over_then_leave, False),
    ("resign", sc_resign, False),
    ("resign_ends_series", sc_resign_ends_series, False),
    ("resign_waiting", sc_resign_waiting, False),
    ("ws_slots_feed", sc_ws_slots_feed, False),
    ("ip_cap", sc_ip_cap, False),
    ("no_available_slot", sc_no_available_slot, False),
    ("flood", sc_flood, False),
    ("stats_final", sc_stats_final, False),
    ("keep_slot", sc_keep_slot, True),
    ("keep_slot_after_disconnect", sc_keep_slot_after_disconnect, True),
    ("nested_json", sc_nested_json, True),
    ("binary_frame", sc_binary_frame, True),
]


# -- running and diffing ---------------------------------------------------------------------


def http_base(ws_base: str) -> str:
    return re.sub(r"^ws", "http", ws_base.rstrip("/"))


async def run_one(ws_base: str, scenario: Scenario, args: argparse.Namespace) -> tuple[Transcript, bool]:
    ctx = Ctx(ws_base.rstrip("/"), http_base(ws_base), args.quiet_period, args.reconnect_timeout)
    idle = await ctx.wait_idle(args.idle_timeout)
    try:
        await asyncio.wait_for(scenario(ctx), args.scenario_timeout)
    except TimeoutError:
        ctx.transcript.add("driver", f"scenario timed out after {args.scenario_timeout}s")
    except Exception as exc:  # report, keep going with the next scenario
        ctx.transcript.add("driver", f"scenario raised {type(exc).__name__}: {exc}")
    finally:
        await ctx.close_all()
    return ctx.transcript, idle


async def restart(command: str, base: str) -> None:
    """Run an operator-given restart command and wait for /health."""
    proc = await asyncio.create_subprocess_shell(command)
    await proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            await asyncio.to_thread(urllib.request.urlopen, f"{base}/health", None, 2)
            return
        except OSError:
            await asyncio.sleep(0.25)
    print(f"warning: {base} not healthy 30s after restart", file=sys.stderr)


def diff_transcripts(name: str, a: Transcript, b: Transcript, label_a: str, label_b: str) -> list[str]:
    out: list[str] = []
    streams = list(dict.fromkeys([*a.streams, *b.streams]))
    for stream in streams:
        la, lb = a.collapsed(stream), b.collapsed(stream)
        if la == lb:
            continue
        out.append(f"--- [{name}] stream '{stream}'")
        out.extend(difflib.unified_diff(la, lb, fromfile=f"A {label_a}", tofile=f"B {label_b}", lineterm="", n=2))
    return out


def show(name: str, label: str, transcript: Transcript) -> None:
    print(f"=== [{name}] {label}")
    for stream in transcript.streams:
        print(f"  -- {stream}")
        for line in transcript.collapsed(stream):
            print(f"     {line}")


async def main_async(args: argparse.Namespace) -> int:
    selected = [s for s in SCENARIOS if not args.only or s[0] in args.only.split(",")]
    if not args.include_wedging:
        selected = [s for s in selected if not s[2]] + [s for s in selected if s[2]]
    differing: list[str] = []
    for name, scenario, wedging in selected:
        if wedging:
            for command, base in ((args.restart_a, args.a), (args.restart_b, args.b)):
                if command:
                    await restart(command, http_base(base))
        started = time.monotonic()
        (ta, idle_a), (tb, idle_b) = await asyncio.gather(
            run_one(args.a, scenario, args), run_one(args.b, scenario, args)
        )
        notes = []
        if not idle_a:
            notes.append("A was not idle at start")
        if not idle_b:
            notes.append("B was not idle at start")
        lines = diff_transcripts(name, ta, tb, args.a, args.b)
        status = "DIFFERS" if lines else "same"
        extra = f" ({'; '.join(notes)})" if notes else ""
        print(f"## {name}: {status} [{time.monotonic() - started:.1f}s]{extra}", flush=True)
        if args.show:
            show(name, f"A {args.a}", ta)
            show(name, f"B {args.b}", tb)
        if lines:
            differing.append(name)
            print("\n".join(lines), flush=True)
    print(f"\n{len(selected) - len(differing)}/{len(selected)} scenarios identical")
    if differing:
        print("differing: " + ", ".join(differing))
    return 1 if differing else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--a", default="ws://127.0.0.1:8801", help="first server (the reference)")
    parser.add_argument("--b", default="ws://127.0.0.1:8802", help="second server (ours)")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    parser.add_argument("--show", action="store_true", help="print full transcripts, not only diffs")
    parser.add_argument(
        "--quiet-period", type=float, default=0.25, help="seconds without frames that end a step (default 0.25)"
    )
    parser.add_argument(
        "--reconnect-timeout", type=float, default=3.0, help="HEX_RECONNECT_TIMEOUT both servers run with (default 3)"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=40.0,
        help="max seconds to wait for all slots to be empty before a scenario",
    )
    parser.add_argument("--scenario-timeout", type=float, default=120.0)
    parser.add_argument(
        "--restart-a", default="", help="shell command restarting server A, run before each wedging scenario"
    )
    parser.add_argument(
        "--restart-b", default="", help="shell command restarting server B, run before each wedging scenario"
    )
    parser.add_argument(
        "--include-wedging", action="store_true", help="run wedging scenarios in list order instead of last"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for name, _scenario, wedging in SCENARIOS:
            print(f"{name}{'  (may wedge a reference slot; runs last)' if wedging else ''}")
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
