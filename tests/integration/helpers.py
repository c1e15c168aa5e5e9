"""Small async helpers for driving the ASGI application with Channels'
``WebsocketCommunicator`` (no network, no daphne).

Every test is a plain sync function that calls ``run(coro)``: pytest-asyncio
is not installed, and one fresh event loop per test matches the per-test reset
of ``matchmaking.runtime`` and of the in-memory channel layer (see conftest).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from typing import Any
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator, WebsocketCommunicator

from games import rules
from hexsite.asgi import application
from matchmaking import group_commit
from matchmaking.snapshots import list_slot_snapshots

RED, BLUE = rules.RED, rules.BLUE
TIMEOUT = 5.0

JOINED_KEYS = {"slot_id", "player", "color", "board_size", "series_length", "reconnect_token", "protocol_version"}
GAME_START_KEYS = {"slot_id", "board_size", "series_length", "players", "first_turn", "current_game_number",
                   "player_1_wins", "player_2_wins", "wins_required", "player_models", "player_usernames"}
SNAPSHOT_KEYS = {"slot_id", "state", "board_size", "series_length", "player_count", "connected_player_count",
                 "players", "player_models", "player_usernames", "connected_players", "disconnected_players",
                 "current_turn", "winner", "move_count", "board", "wins_required", "current_game_number",
                 "player_1_wins", "player_2_wins", "series_winner"}


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run one test's coroutine in its own loop, with an overall guard."""

    async def guarded() -> Any:
        return await asyncio.wait_for(coro, timeout=60)

    return asyncio.run(guarded())


class ServerClosedError(AssertionError):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"connection closed by the server with code {code}")
        self.code = code


class WS:
    """One WebSocket client of the application."""

    def __init__(self, path: str, ip: str = "127.0.0.1", headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.path = path
        self.comm = WebsocketCommunicator(application, path, headers=headers)
        self.comm.scope["client"] = (ip, 50000)
        self.close_code: int | None = None
        self.joined: dict[str, Any] | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def connect(self) -> WS:
        accepted, _ = await self.comm.connect(timeout=TIMEOUT)
        assert accepted, f"handshake refused for {self.path}"
        return self

    async def close(self, code: int = 1000) -> None:
        """The client goes away (as daphne reports a closed socket)."""
        if self.comm._future is None:
            return
        await self.comm.send_input({"type": "websocket.disconnect", "code": code})
        try:
            await self.comm.wait(TIMEOUT)
        except Exception:  # noqa: BLE001 - already finished or cancelled
            pass

    # -- receiving ------------------------------------------------------------------------------------
    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        out = await self.comm.receive_output(timeout)
        if out["type"] == "websocket.close":
            self.close_code = out.get("code", 1000)
            raise ServerClosedError(self.close_code)
        assert out["type"] == "websocket.send", out
        assert "text" in out and out.get("bytes") is None, f"expected a text frame: {out}"
        msg = json.loads(out["text"])
        return msg

    async def recv_raw(self, timeout: float = TIMEOUT) -> str:
        out = await self.comm.receive_output(timeout)
        assert out["type"] == "websocket.send", out
        return out["text"]

    async def expect(self, type_: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        msg = await self.recv(timeout)
        assert msg["type"] == type_, f"expected {type_}, got {msg}"
        assert isinstance(msg["payload"], dict)
        return msg["payload"]

    async def expect_error(self, text: str) -> None:
        assert await self.expect("error") == {"message": text}

    async def expect_rejected(self, reason: str) -> None:
        assert await self.expect("move_rejected") == {"reason": reason}

    async def expect_close(self, timeout: float = TIMEOUT) -> int:
        out = await self.comm.receive_output(timeout)
        assert out["type"] == "websocket.close", f"expected a close, got {out}"
        self.close_code = out.get("code", 1000)
        return self.close_code

    async def expect_refused(self, text: str, code: int) -> None:
        """``error(text)`` then a close with ``code``."""
        await self.expect_error(text)
        assert await self.expect_close() == code

    async def silent(self, timeout: float = 0.15) -> None:
        assert await self.comm.receive_nothing(timeout), "unexpected message"

    async def alive(self) -> None:
        """The connection still answers."""
        await self.send("ping")
        assert await self.expect("pong") == {}

    # -- sending ---------------------------------------------------------------------------------------
    async def send(self, type_: str, **payload: Any) -> None:
        await self.comm.send_json_to({"type": type_, "payload": payload})

    async def send_raw(self, text: str) -> None:
        await self.comm.send_input({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self.comm.send_input({"type": "websocket.receive", "bytes": data})

    async def move(self, q: Any, r: Any) -> None:
        await self.send("move", q=q, r=r)


def matchmake_path(board_size: int = 7, series_length: int | None = None, **extra: Any) -> str:
    params: dict[str, Any] = {"board_size": board_size}
    if series_length is not None:
        params["series_length"] = series_length
    params.update({k: v for k, v in extra.items() if v is not None})
    return "/ws/matchmake?" + urlencode(params)


async def matchmake(board_size: int = 7, series_length: int | None = None, ip: str = "127.0.0.1",
                    headers: list[tuple[bytes, bytes]] | None = None, **extra: Any) -> WS:
    """Connect to /ws/matchmake and read ``joined``."""
    ws = await WS(matchmake_path(board_size, series_length, **extra), ip=ip, headers=headers).connect()
    ws.joined = await ws.expect("joined")
    return ws


async def creator(board_size: int = 7, series_length: int | None = None, **extra: Any) -> WS:
    """A matchmake connection that opened a new slot (joined + waiting)."""
    ws = await matchmake(board_size, series_length, **extra)
    assert ws.joined["player"] == RED
    assert await ws.expect("waiting_for_opponent") == {"slot_id": ws.joined["slot_id"], "board_size": board_size}
    return ws


async def pair(board_size: int = 7, series_length: int | None = None, red_extra: dict | None = None,
               blue_extra: dict | None = None) -> tuple[WS, WS, dict[str, Any]]:
    """Red creates a slot, blue joins it; both have read ``game_start``."""
    red = await creator(board_size, series_length, **(red_extra or {}))
    blue = await matchmake(board_size, series_length, **(blue_extra or {}))
    assert blue.joined["player"] == BLUE and blue.joined["slot_id"] == red.joined["slot_id"]
    start_blue = await blue.expect("game_start")
    start_red = await red.expect("game_start")
    assert start_red == start_blue
    return red, blue, start_red


async def both_get(players: list[WS], type_: str) -> dict[str, Any]:
    payloads = [await p.expect(type_) for p in players]
    assert all(p == payloads[0] for p in payloads), payloads
    return payloads[0]


async def play(red: WS, blue: WS, moves: list[tuple[int, int, int]]) -> None:
    """Play ``(player, q, r)`` moves; each must be broadcast to both."""
    for i, (player, q, r) in enumerate(moves):
        ws = red if player == RED else blue
        await ws.move(q, r)
        got = await both_get([red, blue], "move")
        assert got["player"] == player and got["q"] == q and got["r"] == r, got
        if i + 1 < len(moves):
            assert got["next_turn"] == -player


def winning_moves(board_size: int, first_turn: int, winner: int, offset: int = 0) -> list[tuple[int, int, int]]:
    """Alternating moves from ``first_turn`` in which ``winner`` connects its
    sides with a straight line (red along row ``offset``, blue down column
    ``offset``) while the loser fills a line that connects nothing."""
    n = board_size
    loser = -winner
    if winner == RED:
        win_cells = [(q, offset) for q in range(n)]
        lose_cells = [(q, n - 1 - offset) for q in range(n)]
    else:
        win_cells = [(offset, r) for r in range(n)]
        lose_cells = [(n - 1 - offset, r) for r in range(n)]
    moves: list[tuple[int, int, int]] = []
    turn = first_turn
    wi = li = 0
    while wi < n:
        if turn == winner:
            moves.append((winner, *win_cells[wi]))
            wi += 1
        else:
            moves.append((loser, *lose_cells[li]))
            li += 1
        turn = -turn
    return moves


async def win_game(red: WS, blue: WS, board_size: int, first_turn: int, winner: int) -> dict[str, Any]:
    """Play a whole game that ``winner`` wins; check the end-of-game order and
    return the ``series_update`` payload (next ``game_start``/``series_over``
    is left for the caller to read)."""
    moves = winning_moves(board_size, first_turn, winner)
    await play(red, blue, moves[:-1])
    player, q, r = moves[-1]
    await (red if player == RED else blue).move(q, r)
    last = await both_get([red, blue], "move")
    assert last == {"player": winner, "q": q, "r": r, "next_turn": None}
    assert await both_get([red, blue], "game_over") == {"winner": winner, "reason": "connected_sides"}
    return await both_get([red, blue], "series_update")


async def http_get(path: str) -> tuple[int, bytes]:
    comm = HttpCommunicator(application, "GET", path, headers=[(b"host", b"testserver")])
    response = await comm.get_response(timeout=TIMEOUT)
    return response["status"], response["body"]


async def slots() -> list[dict[str, Any]]:
    """The public slot list as /slots serves it."""
    status, body = await http_get("/slots")
    assert status == 200
    return json.loads(body)


async def slot(slot_id: int) -> dict[str, Any]:
    return next(s for s in await slots() if s["slot_id"] == slot_id)


snapshots_now = database_sync_to_async(list_slot_snapshots)


async def red_resumes_and_plays_on(red: WS, blue: WS) -> None:
    """Red, cut off, comes back through /ws/reconnect; both are told and a
    move of red's reaches blue. Closes both connections."""
    back = WS(f"/ws/reconnect?slot_id={red.joined['slot_id']}&token={red.joined['reconnect_token']}")
    await back.connect()
    assert (await back.expect("reconnected"))["player"] == RED
    assert await blue.expect("opponent_reconnected") == {"player": RED}
    await back.move(3, 3)
    assert (await blue.expect("move"))["player"] == RED
    for ws in (back, blue):
        await ws.close()


def db(fn: Any) -> Any:
    """Run ORM code from async test code."""
    return database_sync_to_async(fn)()


def batch_statements(monkeypatch: Any, prefix: str) -> Iterator[list[str]]:
    """For a fixture: every statement starting with ``prefix`` run on the
    batches' connection from the first batch on (Django's own included)."""
    seen: list[str] = []
    traced: list[Any] = []
    init = group_commit.Batch.__init__

    def tracing_init(self: group_commit.Batch, raw: Any, loop: asyncio.AbstractEventLoop) -> None:
        init(self, raw, loop)
        if raw not in traced:
            raw.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith(prefix) else None)
            traced.append(raw)

    monkeypatch.setattr(group_commit.Batch, "__init__", tracing_init)
    yield seen
    for raw in traced:
        raw.set_trace_callback(None)
