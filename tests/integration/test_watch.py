"""/ws/watch: read-only spectators of a slot, through Channels' communicators."""

from __future__ import annotations

import json

import pytest

from games.models import Game, Move
from matchmaking import protocol as proto
from matchmaking import runtime
from matchmaking.models import Watcher
from matchmaking.selectors import overview_slots
from matchmaking.spectators import forget_dead_watchers
from tests.integration.helpers import (
    BLUE,
    RED,
    SNAPSHOT_KEYS,
    WS,
    both_get,
    creator,
    db,
    matchmake,
    pair,
    play,
    run,
    win_game,
    winning_moves,
)
from tests.support.fake_clock import fake_clock  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


async def watcher(slot_id: int = 1) -> tuple[WS, dict]:
    ws = await WS(f"/ws/watch?slot_id={slot_id}").connect()
    return ws, await ws.expect("watching")


def test_watching_an_empty_slot_then_a_whole_series():
    async def scenario():
        spectator, first = await watcher(1)
        assert first["slot"]["state"] == "empty" and first["slot"]["board"] is None
        assert set(first["slot"]) == SNAPSHOT_KEYS
        assert first["spectators"] == 1 and first["game_id"] is None
        red = await creator(7, 3)
        # Seats changing: spectators get a fresh snapshot.
        waiting = await spectator.expect("watching")
        assert waiting["slot"]["state"] == "waiting"
        blue = await matchmake(7, 3)
        await both_get([red, blue], "game_start")
        seen = [await spectator.recv(), await spectator.recv()]
        assert {m["type"] for m in seen} == {"game_start", "watching"}
        start = next(m for m in seen if m["type"] == "game_start")["payload"]
        assert start["current_game_number"] == 1
        update = await win_game(red, blue, 7, start["first_turn"], RED)
        moves = winning_moves(7, start["first_turn"], RED)
        for player, q, r in moves:
            msg = await spectator.expect("move")
            assert (msg["player"], msg["q"], msg["r"]) == (player, q, r)
        assert await spectator.expect("game_over") == {"winner": RED, "reason": "connected_sides"}
        assert await spectator.expect("series_update") == update
        await both_get([red, blue], "game_start")
        assert (await spectator.expect("game_start"))["current_game_number"] == 2
        await spectator.silent()
        text = json.dumps(seen)
        assert "token" not in text
        for ws in (red, blue, spectator):
            await ws.close()

    run(scenario())


def test_snapshot_of_a_running_game_then_only_new_moves():
    async def scenario():
        red, blue, start = await pair(7, 1)
        first = start["first_turn"]
        await play(red, blue, [(first, 0, 0), (-first, 1, 1)])
        spectator, state = await watcher(red.joined["slot_id"])
        assert state["slot"]["move_count"] == 2 and state["last_move"] == [1, 1]
        assert state["slot"]["board"][0][0] == first and state["slot"]["board"][1][1] == -first
        game = await db(lambda: Game.objects.get(pk=state["game_id"]))
        assert game.move_count == 2 and state["series_id"] == game.series_id
        assert "reconnect_token" not in json.dumps(state)
        await play(red, blue, [(first, 2, 2)])
        assert await spectator.expect("move") == {"player": first, "q": 2, "r": 2, "next_turn": -first}
        # Resignation reaches spectators too.
        await (red if first == RED else blue).send("resign")
        assert (await spectator.expect("game_over"))["reason"] == "resignation"
        await spectator.expect("series_update")
        assert (await spectator.expect("series_over"))["winner"] == -first
        for ws in (red, blue, spectator):
            await ws.close()

    run(scenario())


def test_events_already_in_the_snapshot_are_not_repeated():
    """A commit whose event reaches the spectator after its snapshot was read
    (the race of connecting mid-game) is dropped by version."""
    async def scenario():
        red, blue, start = await pair(7, 1)
        first = start["first_turn"]
        await play(red, blue, [(first, 0, 0)])
        spectator, state = await watcher(red.joined["slot_id"])
        # Replay the layer event of move 1 as if it had been late.
        await spectator.comm.send_input({
            "type": "hex.watch", "version": [state["series_id"], 1, 1, 0],
            "texts": [proto.encode(proto.move(first, 0, 0, -first))]})
        await spectator.silent()
        await play(red, blue, [(-first, 3, 3)])
        assert (await spectator.expect("move"))["q"] == 3
        for ws in (red, blue, spectator):
            await ws.close()

    run(scenario())


@pytest.mark.parametrize(("query", "error"), [
    ("", "Missing required parameter: slot_id"),
    ("?slot_id=", "Invalid slot_id: must be an integer"),
    ("?slot_id=abc", "Invalid slot_id: must be an integer"),
    ("?slot_id=0", proto.ERR_SLOT_MISSING),
    ("?slot_id=7", proto.ERR_SLOT_MISSING),
    ("?slot_id=-1", proto.ERR_SLOT_MISSING),
    ("?slot_id=99999999999999999999", proto.ERR_SLOT_MISSING),
])
def test_bad_slot_id_is_refused_clearly(query, error):
    async def scenario():
        ws = await WS(f"/ws/watch{query}").connect()
        await ws.expect_refused(error, proto.CLOSE_POLICY)
        assert await db(lambda: Watcher.objects.count()) == 0

    run(scenario())


def test_spectators_are_read_only():
    async def scenario():
        red, blue, start = await pair(7, 1)
        spectator, _ = await watcher(red.joined["slot_id"])
        first = start["first_turn"]
        for type_, payload in (("move", {"q": 0, "r": 0}), ("resign", {}), ("chat", {"message": "hi"}),
                               ("keep_slot", {}), ("hello", {})):
            await spectator.send(type_, **payload)
            await spectator.expect_error(proto.ERR_WATCH_READ_ONLY)
        await spectator.send_raw("not json")
        await spectator.expect_error(proto.ERR_INVALID_JSON)
        await spectator.send_raw('{"type": "teleport"}')
        await spectator.expect_error(proto.ERR_UNKNOWN_TYPE)
        await spectator.send_raw("[" * 10000)
        await spectator.expect_error(proto.ERR_TOO_LARGE)
        await spectator.send_raw(json.dumps({"type": "ping", "payload": [1]}))
        await spectator.expect_error(proto.ERR_INVALID_PAYLOAD)
        await spectator.send_bytes(b"\x00\x01")
        await spectator.expect_error(proto.ERR_BINARY)
        await spectator.alive()
        # Nothing the spectator sent changed the game.
        assert await db(lambda: Move.objects.count()) == 0
        await red.silent()
        await blue.silent()
        await play(red, blue, [(first, 4, 4)])
        assert (await spectator.expect("move"))["q"] == 4
        for ws in (red, blue, spectator):
            await ws.close()

    run(scenario())


def test_spectator_flood_is_rate_limited(settings):
    settings.HEX_RATE_LIMIT_PER_SECOND = 1
    settings.HEX_RATE_LIMIT_BURST = 3

    async def scenario():
        spectator, _ = await watcher(2)
        for _ in range(3):
            await spectator.send("ping")
            await spectator.expect("pong")
        await spectator.send("ping")
        await spectator.expect_error(proto.ERR_RATE_LIMITED)
        await spectator.close()

    run(scenario())


def test_spectator_counts_are_shared_and_cleaned_up():
    async def scenario():
        one, _ = await watcher(3)
        two, state = await watcher(3)
        assert state["spectators"] == 2
        counts = await db(lambda: {s["slot_id"]: s["spectators"] for s in overview_slots()})
        assert counts[3] == 2 and counts[1] == 0
        await one.close()
        assert await db(lambda: Watcher.objects.filter(slot_id=3).count()) == 1
        # A spectator held by a process that stopped beating is forgotten.
        await db(lambda: Watcher.objects.create(slot_id=3, channel_name="gone!x", process_id="dead-process"))
        outbox = await db(lambda: forget_dead_watchers({runtime.PROCESS_ID}))
        assert outbox.changed_slots == {3}
        remaining = await db(lambda: list(Watcher.objects.values_list("channel_name", flat=True)))
        assert len(remaining) == 1 and remaining != ["gone!x"]
        await two.close()
        assert await db(lambda: Watcher.objects.count()) == 0

    run(scenario())


def test_overview_page_shows_spectators(client):
    async def scenario():
        spectator, _ = await watcher(4)
        html = (await db(lambda: client.get("/overview").content.decode()))
        await spectator.close()
        return html

    html = run(scenario())
    assert '<span class="watching" data-field="spectators">1 watching</span>' in html
    assert html.count("0 watching") == 5


def test_players_never_see_the_spectator_extension():
    """A player's stream is the reference's: no ``watching`` message."""
    async def scenario():
        red = await creator(7, 1)
        spectator, _ = await watcher(red.joined["slot_id"])
        blue = await matchmake(7, 1)
        start = await both_get([red, blue], "game_start")
        await play(red, blue, [(start["first_turn"], 0, 0)])
        await red.silent()
        await blue.silent()
        for ws in (red, blue, spectator):
            await ws.close()

    run(scenario())


def test_a_spectator_sees_the_clock_and_its_pause_while_a_player_is_away(settings, fake_clock):  # noqa: F811
    settings.HEX_RECONNECT_TIMEOUT = 120.0

    async def scenario():
        options = {"time_base": 30, "swap": 1}
        red, blue, _ = await pair(7, red_extra=options, blue_extra=options)
        fake_clock.advance(3)
        spectator, state = await watcher(red.joined["slot_id"])
        assert state["time_control"] == {"kind": "fischer", "base_ms": 30000, "increment_ms": 0}
        assert state["swap"] is True
        assert state["remaining_ms"] == {"-1": 27000, "1": 30000} and state["clock_running"] == RED
        await blue.close()  # red is to move but may not while blue is away: red's clock stops
        await red.expect("opponent_disconnected")
        paused = await spectator.expect("watching")
        assert paused["slot"]["disconnected_players"] == [BLUE]
        assert paused["remaining_ms"] == {"-1": 27000, "1": 30000} and paused["clock_running"] is None
        for ws in (red, spectator):
            await ws.close()

    run(scenario())


def test_a_spectator_of_a_game_without_clock_or_options_gets_the_plain_snapshot():
    async def scenario():
        red, blue, _ = await pair(7, 1)
        spectator, state = await watcher(red.joined["slot_id"])
        assert set(state) == {"slot_id", "spectators", "series_id", "game_id", "last_move", "slot"}
        for ws in (red, blue, spectator):
            await ws.close()

    run(scenario())
