"""A protocol fuzzer: hypothesis stateful testing drives two live WebSocket
players on a real daphne (SQLite, in-memory layer) with random mixes of
legal moves, illegal moves, malformed JSON, wrong types, unknown types and
fields, binary frames, oversized strings, chat, resignations and
reconnects. After every step:

* the server answers /health and both connections are still open;
* every move the server accepted is stored exactly once, and both players
  saw exactly the stored moves, in the same order;
* the stored history replays cleanly with ``games.rules``: no cell holds two
  stones, turns alternate from each game's first turn, winners are the
  boards' winners, and the series score adds up to the games' winners;
* the score both players last heard is the stored score.

Bounded for CI (a fixed, derandomized run of a few hundred steps); set
HEX_FUZZ_EXAMPLES (and optionally HEX_FUZZ_STEPS) for a longer random run,
plus HEX_FUZZ_DERANDOMIZE=1 to make that longer run repeatable.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.request
from collections import Counter
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from websockets.sync.client import ClientConnection, connect

from games import rules
from matchmaking.protocol import ProtocolError, parse_client_message
from tests.support.arena_db import check_history
from tests.support.live import LiveServer

pytestmark = pytest.mark.e2e

BOARD_SIZE = 7
MAX_MESSAGE_CHARS = 4096  # HEX_MAX_MESSAGE_CHARS of the server under test
SERIES_LENGTH = 3
LONG_RUN = "HEX_FUZZ_EXAMPLES" in os.environ and not os.environ.get("HEX_FUZZ_DERANDOMIZE")
EXAMPLES = int(os.environ.get("HEX_FUZZ_EXAMPLES", "10"))
STEPS = int(os.environ.get("HEX_FUZZ_STEPS", "30"))
SERVER_TYPES = {
    "joined", "waiting_for_opponent", "game_start", "move", "move_rejected", "game_over", "series_update",
    "series_over", "reconnected", "opponent_disconnected", "opponent_reconnected", "chat", "pong", "hello",
    "error", "slot_kept", "opponent_left_slot",
}
_example_numbers = count(1)

# -- what a hostile client sends ---------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
coordinates = st.one_of(
    st.integers(-2, BOARD_SIZE + 1), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.text(max_size=5), st.lists(st.integers(0, 6), max_size=2), st.just("3"),
)
client_types = st.sampled_from(["hello", "move", "chat", "resign", "ping", "keep_slot"])
hostile_frames = st.one_of(
    st.text(max_size=60),  # mostly not JSON at all
    st.sampled_from(["", "{", "[]", "null", "42", '"move"', "{}", '{"type":7}', '{"type":"teleport"}',
                     '{"type":"move","payload":"q=1"}', '{"type":"move","payload":null}', "[" * 500 + "]" * 500,
                     '{"type":"move","payload":{"q":1,"r":1}', "\x00\x01\x02"]),
    st.builds(lambda t, p: json.dumps({"type": t, "payload": p}), st.text(max_size=12) | client_types, json_values),
    st.builds(lambda t, p, extra: json.dumps({"type": t, "payload": p, **extra}), client_types,
              st.dictionaries(st.text(max_size=8), json_values, max_size=3),
              st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("type", "payload")), json_values,
                              max_size=2)),
    st.integers(4097, 200_000).map(lambda n: json.dumps({"type": "chat", "payload": {"message": "x" * n}})),
)


def _is_ping(frame: str) -> bool:
    """Whether the server will answer this frame with a pong."""
    try:
        kind, _ = parse_client_message(frame, MAX_MESSAGE_CHARS)
    except ProtocolError:
        return False
    return kind == "ping"


class Player:
    """One live connection and everything it heard."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ws: ClientConnection | None = None
        self.received: list[dict[str, Any]] = []
        self.moves: list[tuple[int, int, int, int]] = []  # (game, player, q, r) from `move` broadcasts
        self.player: int | None = None
        self.slot_id: int | None = None
        self.token: str | None = None
        self.game_number = 0
        self.board: rules.Board | None = None
        self.turn: int | None = None
        self.score: tuple[int, int] = (0, 0)
        self.series_over = False
        self.anomalies: list[str] = []
        self.pongs_due = 0

    def open(self, url: str) -> None:
        self.ws = connect(url, max_size=None, open_timeout=10, close_timeout=2).__enter__()

    def send(self, frame: str | bytes) -> None:
        if isinstance(frame, str) and _is_ping(frame):
            self.pongs_due += 1
        self.ws.send(frame)

    def read_until(self, kind: str) -> dict[str, Any]:
        while True:
            msg = json.loads(self.ws.recv(timeout=15))
            self.received.append(msg)
            self._track(msg)
            if msg["type"] == kind:
                return msg

    def barrier(self) -> None:
        """Everything the server had queued for us before now has arrived:
        a connection answers its messages in order, so the pong of a ping
        sent last comes last (fuzzed frames may be pings too: count them)."""
        self.send(json.dumps({"type": "ping"}))
        while self.pongs_due:
            self.read_until("pong")
            self.pongs_due -= 1

    def _track(self, msg: dict[str, Any]) -> None:
        kind, payload = msg.get("type"), msg.get("payload")
        if kind not in SERVER_TYPES or not isinstance(payload, dict):
            self.anomalies.append(f"unexpected message {msg!r}")
            return
        if kind == "joined":
            self.player, self.slot_id, self.token = payload["player"], payload["slot_id"], payload["reconnect_token"]
        elif kind == "game_start":
            self.game_number = payload["current_game_number"]
            self.board = rules.Board(payload["board_size"])
            self.turn = payload["first_turn"]
        elif kind == "reconnected":
            slot = payload["slot"]
            self.game_number = slot["current_game_number"]
            self.board = rules.Board.from_rows(slot["board"])
            self.turn = slot["current_turn"]
        elif kind == "move":
            q, r = int(payload["q"]), int(payload["r"])
            if payload["player"] != self.turn:
                self.anomalies.append(f"{payload['player']} moved on {self.turn}'s turn")
            try:
                self.board.place(payload["player"], q, r)
            except ValueError as exc:
                self.anomalies.append(f"broadcast move on a bad cell ({q}, {r}): {exc}")
            self.moves.append((self.game_number, payload["player"], q, r))
            self.turn = payload["next_turn"] if payload["next_turn"] is not None else self.turn
        elif kind == "series_update":
            self.score = (payload["player_1_wins"], payload["player_2_wins"])
        elif kind == "series_over":
            self.score = (payload["player_1_wins"], payload["player_2_wins"])
            self.series_over = True
        elif kind == "error" and not isinstance(payload.get("message"), str):
            self.anomalies.append(f"error without a message: {msg!r}")


class ArenaFuzzer(RuleBasedStateMachine):
    server: LiveServer  # set by the test
    # What the whole run exercised, so a fuzzer that stopped reaching the
    # game (say, seating broke) fails instead of passing vacuously.
    totals: Counter = Counter()

    @initialize()
    def seat_two_players(self) -> None:
        number = next(_example_numbers)
        self.red, self.blue = Player(f"fuzz{number}_red"), Player(f"fuzz{number}_blue")
        for who in (self.red, self.blue):
            query = urlencode({"board_size": BOARD_SIZE, "series_length": SERIES_LENGTH, "model_name": who.name})
            who.open(f"{self.server.ws_url}/ws/matchmake?{query}")
            who.read_until("joined")
        self.red.read_until("game_start")
        self.blue.read_until("game_start")
        assert (self.red.player, self.blue.player) == (rules.RED, rules.BLUE)

    def players(self) -> tuple[Player, Player]:
        return self.red, self.blue

    def after(self, actor: Player) -> None:
        """Wait until the actor's message and whatever it caused reached both."""
        actor.barrier()
        (self.blue if actor is self.red else self.red).barrier()

    # -- rules -----------------------------------------------------------------------------------

    @precondition(lambda self: not self.red.series_over)
    @rule(data=st.data())
    def legal_move(self, data: st.DataObject) -> None:
        mover = self.red if self.red.turn == rules.RED else self.blue
        cells = sorted(self.red.board.empty_cells())
        q, r = data.draw(st.sampled_from(cells))
        before = len(self.red.moves)
        mover.send(json.dumps({"type": "move", "payload": {"q": q, "r": r}}))
        self.after(mover)
        assert len(self.red.moves) == before + 1, f"a legal move was not accepted: {mover.received[-3:]}"

    @rule(red_moves=st.booleans(), q=coordinates, r=coordinates)
    def any_move(self, red_moves: bool, q: Any, r: Any) -> None:
        mover = self.red if red_moves else self.blue
        mover.send(json.dumps({"type": "move", "payload": {"q": q, "r": r}}))
        self.after(mover)

    @rule(red_sends=st.booleans(), frame=hostile_frames)
    def hostile_text(self, red_sends: bool, frame: str) -> None:
        sender = self.red if red_sends else self.blue
        if '"keep_slot"' in frame and self.red.series_over:
            frame = "{"  # keep_slot after the series dissolves the pair; its own tests cover that
        sender.send(frame)
        self.after(sender)

    @rule(red_sends=st.booleans(), frame=st.binary(max_size=300))
    def binary_frame(self, red_sends: bool, frame: bytes) -> None:
        sender = self.red if red_sends else self.blue
        start = len(sender.received)
        sender.send(frame)
        self.after(sender)
        assert sender.received[start:][-2:] == [
            {"type": "error", "payload": {"message": "Binary frames are not supported; send JSON text frames"}},
            {"type": "pong", "payload": {}},
        ], sender.received[-6:]

    @rule(red_sends=st.booleans(), text=st.text(max_size=600))
    def chat(self, red_sends: bool, text: str) -> None:
        sender = self.red if red_sends else self.blue
        sender.send(json.dumps({"type": "chat", "payload": {"message": text}}))
        self.after(sender)

    @rule(red_resigns=st.booleans())
    def resign(self, red_resigns: bool) -> None:
        resigner = self.red if red_resigns else self.blue
        resigner.send(json.dumps({"type": "resign"}))
        self.after(resigner)

    @rule(red_leaves=st.booleans())
    def reconnect(self, red_leaves: bool) -> None:
        """Drop the connection and resume the seat with the token."""
        who = self.red if red_leaves else self.blue
        who.ws.close()
        who.pongs_due = 0
        who.open(f"{self.server.ws_url}/ws/reconnect?{urlencode({'slot_id': who.slot_id, 'token': who.token})}")
        who.read_until("reconnected")
        self.after(who)

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def server_alive_and_history_consistent(self) -> None:
        with urllib.request.urlopen(f"{self.server.http_url}/health", timeout=10) as response:
            assert response.status == 200
        for who in self.players():
            assert who.anomalies == []
            assert who.ws.close_code is None, f"{who.name}'s connection closed: {who.received[-3:]}"
        with sqlite3.connect(self.server.workdir / "arena.sqlite3") as db:
            stored = db.execute(
                "SELECT g.number, m.player, m.q, m.r FROM games_move m JOIN games_game g ON g.id = m.game_id "
                "JOIN games_series s ON s.id = g.series_id WHERE s.player_1_model = ? ORDER BY g.number, m.number",
                (self.red.name,),
            ).fetchall()
            score = db.execute("SELECT player_1_wins, player_2_wins FROM games_series WHERE player_1_model = ?",
                               (self.red.name,)).fetchone()
            assert check_history(db) == []
        assert self.red.moves == stored
        assert self.blue.moves == stored
        assert self.red.score == self.blue.score == tuple(score)

    def teardown(self) -> None:
        self.totals["examples"] += 1
        self.totals["moves"] += len(self.red.moves)
        self.totals["games_finished"] += sum(self.red.score)
        self.totals["reconnects"] += sum(m["type"] == "reconnected" for m in self.red.received + self.blue.received)
        self.totals["errors"] += sum(m["type"] == "error" for m in self.red.received + self.blue.received)
        self.totals["rejections"] += sum(m["type"] == "move_rejected" for m in self.red.received + self.blue.received)
        # Resign the series out so the slot is freed when both leave.
        for _ in range(SERIES_LENGTH):
            if self.red.series_over:
                break
            self.red.send(json.dumps({"type": "resign"}))
            self.after(self.red)
        for who in self.players():
            if who.ws is not None:
                who.ws.close()


def test_protocol_fuzzer_keeps_every_invariant(live_server_factory, tmp_path: Path) -> None:
    ArenaFuzzer.server = live_server_factory(env={
        "HEX_MAX_CONNECTIONS_PER_IP": "0",
        "HEX_MAX_SLOTS": "20",
        # The flood tests cover the rate limit; here every frame must be answered.
        "HEX_RATE_LIMIT_PER_SECOND": "100000",
        "HEX_RATE_LIMIT_BURST": "100000",
    })
    run_state_machine_as_test(ArenaFuzzer, settings=settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        derandomize=not LONG_RUN,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        # A live server is external state: report the first failing run as
        # it happened rather than shrink against a server that moved on.
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
    ))
    totals = ArenaFuzzer.totals
    print(f"fuzzer totals: {dict(totals)}")
    assert totals["examples"] >= EXAMPLES
    assert min(totals["moves"], totals["games_finished"], totals["reconnects"], totals["errors"],
               totals["rejections"]) > 0
