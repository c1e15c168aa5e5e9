"""Hostile and malformed input: every case gets the protocol's error (or a
clean close where the reference closes), the game state does not change, the
connection keeps working and the slot is never wedged."""

from __future__ import annotations

import asyncio
import json

import pytest

from games.models import Move
from matchmaking.models import Seat
from tests.integration.helpers import BLUE, RED, WS, both_get, creator, db, matchmake, pair, run, slot, slots

pytestmark = pytest.mark.django_db(transaction=True)


async def started_game() -> tuple[WS, WS, dict]:
    """A game with one red stone on the board, blue to move."""
    red, blue, _ = await pair(7)
    await red.move(3, 3)
    await both_get([red, blue], "move")
    return red, blue, await slot(1)


async def game_goes_on(red: WS, blue: WS, before: dict) -> None:
    """Nothing changed since ``before`` and the game still plays normally."""
    assert await slot(1) == before
    await red.alive()
    await blue.alive()
    await blue.move(0, 0)
    assert await both_get([red, blue], "move") == {"player": BLUE, "q": 0, "r": 0, "next_turn": RED}
    await red.move(1, 1)
    await both_get([red, blue], "move")
    after = await slot(1)
    assert after["move_count"] == before["move_count"] + 2


HOSTILE_FRAMES = [
    ("x" * 5000, "Message too large"),
    ('{"type":"chat","payload":{"message":"' + "a" * 5000 + '"}}', "Message too large"),
    ("", "Invalid JSON message"),
    ("{not json", "Invalid JSON message"),
    ("\x00\x01\x02", "Invalid JSON message"),
    ('{"type":"move","payload":{"q":1,"r":1}', "Invalid JSON message"),
    ("[]", "Invalid JSON message"),
    ('"move"', "Invalid JSON message"),
    ("42", "Invalid JSON message"),
    ("null", "Invalid JSON message"),
    ("[" * 2000 + "]" * 2000, "Invalid JSON message"),
    ('{"type":"move","payload":' + "{\"a\":" * 600 + "1" + "}" * 600 + "}", "Invalid JSON message"),
    ("{}", "Missing message type"),
    ('{"type":7}', "Missing message type"),
    ('{"type":null,"payload":{}}', "Missing message type"),
    ('{"type":"teleport"}', "Unknown message type"),
    ('{"type":"__init__"}', "Unknown message type"),
    ('{"type":"move","payload":"q=1&r=1"}', "Invalid payload"),
    ('{"type":"move","payload":[0,0]}', "Invalid payload"),
    ('{"type":"chat","payload":5}', "Invalid payload"),
    ('{"type":"keep_slot","payload":true}', "Invalid payload"),
    ('{"type":"resign","payload":"now"}', "Invalid payload"),
    ('{"type":"resign","payload":null}', "Invalid payload"),
]


@pytest.mark.parametrize("frame,error", HOSTILE_FRAMES, ids=range(len(HOSTILE_FRAMES)))
def test_malformed_frame_gets_an_error_and_changes_nothing(frame, error):
    async def scenario():
        red, blue, before = await started_game()
        await blue.send_raw(frame)
        await blue.expect_error(error)
        await red.silent()
        await game_goes_on(red, blue, before)
        await red.close()
        await blue.close()

    run(scenario())


@pytest.mark.parametrize("payload", [
    {"q": "0", "r": "0"}, {"q": 0.0, "r": 0}, {"q": None, "r": None}, {"q": {"$gt": 0}, "r": 0},
    {"q": [0], "r": [0]}, {"q": 0}, {"r": 0}, {"x": 0, "y": 0},
])
def test_wrong_move_payload_types_are_rejected_as_malformed(payload):
    async def scenario():
        red, blue, before = await started_game()
        await blue.send("move", **payload)
        await blue.expect_rejected("Move coordinates must be integers")
        await red.silent()
        await game_goes_on(red, blue, before)
        await red.close()
        await blue.close()

    run(scenario())


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "1e2"])
def test_non_finite_or_float_coordinates_are_malformed(literal):
    async def scenario():
        red, blue, before = await started_game()
        await blue.send_raw('{"type":"move","payload":{"q":' + literal + ',"r":0}}')
        await blue.expect_rejected("Move coordinates must be integers")
        await game_goes_on(red, blue, before)
        await red.close()
        await blue.close()

    run(scenario())


def test_huge_integer_coordinates_are_outside_the_board():
    async def scenario():
        red, blue, before = await started_game()
        await blue.move(10**30, -(10**30))
        await blue.expect_rejected("Move outside board")
        await game_goes_on(red, blue, before)
        await red.close()
        await blue.close()

    run(scenario())


def test_binary_frames_get_an_error_and_never_wedge_the_slot():
    """Deliberate difference: the reference drops the socket without cleanup."""
    async def scenario():
        red, blue, before = await started_game()
        for data in (b"\x00", b'{"type":"move","payload":{"q":0,"r":0}}', b"\xff" * 10000):
            await blue.send_bytes(data)
            await blue.expect_error("Binary frames are not supported; send JSON text frames")
        await red.silent()
        await game_goes_on(red, blue, before)
        await red.close()
        await blue.close()

    run(scenario())


def test_binary_frame_while_waiting_keeps_the_slot_joinable():
    async def scenario():
        red = await creator(7)
        await red.send_bytes(b"\x01\x02")
        await red.expect_error("Binary frames are not supported; send JSON text frames")
        blue = await matchmake(7)
        assert blue.joined["slot_id"] == 1
        await blue.expect("game_start")
        await red.expect("game_start")
        await red.move(0, 0)
        await both_get([red, blue], "move")
        await red.close()
        await blue.close()

    run(scenario())


def test_chat_with_hostile_content_is_sanitised_or_dropped():
    async def scenario():
        red, blue, before = await started_game()
        await blue.send_raw('{"type":"chat","payload":{"message":"\\ud800\\u0000\\u202e<b>hi</b>\\u0007"}}')
        assert await red.expect("chat") == {"player": BLUE, "message": "<b>hi</b>"}
        await blue.send("chat", message="\x00\x01\x02")  # nothing printable left: forwarded empty, as the reference
        assert await red.expect("chat") == {"player": BLUE, "message": ""}
        await blue.send("chat", message={"nested": ["x"]})
        await red.silent()
        await game_goes_on(red, blue, before)
        await red.close()
        await blue.close()

    run(scenario())


def test_flood_is_rate_limited_and_the_server_keeps_serving(settings):
    settings.HEX_RATE_LIMIT_BURST = 5
    settings.HEX_RATE_LIMIT_PER_SECOND = 1.0

    async def scenario():
        red, blue, before = await started_game()
        # Blue floods with pings and moves onto red's stone, as fast as it can.
        for i in range(40):
            if i % 2:
                await blue.send("ping")
            else:
                await blue.move(3, 3)
        seen: list[dict] = []
        while not await blue.comm.receive_nothing(0.3):
            seen.append(await blue.recv())
        limited = [m for m in seen if m == {"type": "error", "payload": {"message": "Too many messages; slow down"}}]
        answered = [m for m in seen if m["type"] in ("pong", "move_rejected")]
        assert limited, seen
        assert len(answered) < 20  # most of the flood was dropped, unanswered
        # The flood changed nothing: blue was never allowed to move.
        assert await slot(1) == before
        assert await db(lambda: Move.objects.count()) == 1
        # Red, on its own budget, is served normally meanwhile.
        await red.alive()
        await red.send("chat", message="calm down")
        # Blue recovers once its budget refills (1 message a second here).
        # (A dropped message gets no answer, and the notice is sent at most
        # once a second, so poll without expecting a reply to every ping.)
        got = None
        for _ in range(30):
            await blue.send("ping")
            while got is None and not await blue.comm.receive_nothing(0.25):
                msg = await blue.recv()
                if msg["type"] == "pong":
                    got = msg
            if got is not None:
                break
        assert got == {"type": "pong", "payload": {}}
        # ... and its next message in its budget is a normal, accepted move.
        await asyncio.sleep(1.1)
        await blue.move(0, 0)
        assert await both_get([red, blue], "move") == {"player": BLUE, "q": 0, "r": 0, "next_turn": RED}
        await red.move(1, 1)
        await both_get([red, blue], "move")
        await red.close()
        await blue.close()

    run(scenario())


def test_flood_of_illegal_moves_changes_nothing():
    async def scenario():
        red, blue, before = await started_game()
        for i in range(60):
            await red.move(i % 7, i % 5)  # red is not to move
        reasons = [(await red.expect("move_rejected"))["reason"] for _ in range(60)]
        assert set(reasons) == {"Not your turn"}
        await blue.silent()
        await game_goes_on(red, blue, before)
        await red.close()
        await blue.close()

    run(scenario())


# -- bad query strings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path,error", [
    ("/ws/matchmake?board_size=7&model_name=" + "x" * 5000, "Query string too long"),
    ("/ws/matchmake?" + "&".join(f"p{i}=1" for i in range(64)) + "&board_size=7", "Too many query parameters"),
    ("/ws/matchmake?board_size=" + "9" * 4000, "Unsupported board size"),
    ("/ws/matchmake?board_size=%00", "Invalid board_size: must be an integer"),
    ("/ws/matchmake?board_size=7;series_length=3", "Invalid board_size: must be an integer"),
    ("/ws/matchmake?board_size=-7", "Unsupported board size"),
    ("/ws/join-slot?slot_id=99999999999999999999999", "Slot does not exist"),
    ("/ws/join-slot?slot_id=-1", "Slot does not exist"),
    ("/ws/join-slot?slot_id=1e3", "Invalid slot_id: must be an integer"),
    ("/ws/reconnect?slot_id=99999999999999999999999&token=abc", "Slot is not available for reconnect"),
    ("/ws/reconnect?slot_id=1&token=" + "%ff" * 300, "Invalid reconnect token"),
    ("/ws/reconnect?slot_id=1&token=%00", "Invalid reconnect token"),
])
def test_bad_query_strings_get_an_error_and_close_1008(path, error):
    async def scenario():
        red = await creator(7)
        ws = await WS(path).connect()
        await ws.expect_refused(error, 1008)
        # The existing player is untouched and the pool unchanged.
        await red.alive()
        states = [s["state"] for s in await slots()]
        assert states == ["waiting"] + ["empty"] * 5
        assert await db(lambda: Seat.objects.count()) == 1
        await red.close()

    run(scenario())


def test_messages_from_a_refused_connection_do_nothing():
    async def scenario():
        red = await creator(7)
        ws = await WS("/ws/join-slot?slot_id=1&model_name=x").connect()
        assert (await ws.expect("joined"))["player"] == BLUE
        await ws.expect("game_start")
        await red.expect("game_start")
        intruder = await WS("/ws/join-slot?slot_id=1").connect()
        await intruder.expect_refused("Slot is not waiting for an opponent", 1008)
        snap = await slot(1)
        assert snap["players"] == [RED, BLUE] and snap["player_models"] == {"1": "x"}
        await red.close()
        await ws.close()

    run(scenario())


def test_foreign_browser_origin_is_refused_but_bots_without_origin_are_not():
    """A page on another site cannot drive a visitor's browser into our sockets."""
    async def scenario():
        evil = WS("/ws/matchmake?board_size=7", headers=[(b"origin", b"http://evil.example")])
        accepted, _code = await evil.comm.connect(timeout=5)
        assert accepted is False
        assert all(s["state"] == "empty" for s in await slots())
        local = WS("/ws/matchmake?board_size=7", headers=[(b"origin", b"http://localhost:8000")])
        await local.connect()
        assert (await local.expect("joined"))["slot_id"] == 1
        bot = await matchmake(7)  # no Origin header at all
        assert bot.joined["slot_id"] == 1
        await local.close()
        await bot.close()

    run(scenario())


def test_stale_socket_cannot_act_for_a_resumed_seat():
    """After a reconnect took the seat over, frames that still reach the old
    consumer must not move for the player."""
    async def scenario():
        red, blue, _ = await pair(7)
        new = await WS(f"/ws/reconnect?slot_id=1&token={red.joined['reconnect_token']}").connect()
        await new.expect("reconnected")
        assert await red.expect_close() == 1001
        await blue.expect("opponent_reconnected")
        await red.move(0, 0)
        await red.send("resign")
        await red.send("keep_slot")
        await new.silent()
        await blue.silent()
        snap = await slot(1)
        assert snap["move_count"] == 0 and snap["player_2_wins"] == 0 and snap["state"] == "full"
        await new.move(0, 0)
        await both_get([new, blue], "move")
        await red.close()
        await new.close()
        await blue.close()

    run(scenario())


def test_http_endpoints_reject_nonsense_without_leaking():
    async def scenario():
        from tests.integration.helpers import http_get

        red, blue, _ = await pair(7)
        status, body = await http_get("/api/statistics?board_size=8")
        assert status == 400 and "board_size" in json.loads(body)["detail"]
        status, body = await http_get("/api/statistics?board_size=abc")
        assert status == 400
        status, body = await http_get("/slots?token=" + red.joined["reconnect_token"])
        assert status == 200
        assert red.joined["reconnect_token"] not in body.decode()
        await red.close()
        await blue.close()

    run(scenario())


def test_a_flood_that_never_stops_is_closed_and_the_game_survives(settings):
    """Dropping a flooded message still costs reading it: a connection that
    keeps sending after ten bursts' worth of refusals is told and closed
    (1008), its seat waits for a reconnect like any disconnect, and its
    opponent is served throughout."""
    settings.HEX_RATE_LIMIT_BURST = 3
    settings.HEX_RATE_LIMIT_PER_SECOND = 0.5

    async def scenario():
        red, blue, before = await started_game()
        for _ in range(3 + 10 * 3):
            await blue.send("ping")
        closed = None
        seen = []
        while closed is None:
            event = await blue.comm.receive_output(5)
            if event["type"] == "websocket.close":
                closed = event["code"]
            else:
                seen.append(json.loads(event["text"]))
        assert closed == 1008
        assert seen[-1] == {"type": "error", "payload": {"message": "Too many messages; slow down"}}
        await blue.close(1008)  # the socket ends, as the server asked
        assert await db(lambda: Move.objects.count()) == 1
        assert (await red.expect("opponent_disconnected"))["reason"] == "waiting_for_reconnect"
        await red.alive()

    run(scenario())
