"""The WebSocket protocol end to end through the ASGI application
(Channels consumers + services + ORM), with ``WebsocketCommunicator``."""

from __future__ import annotations

import asyncio
import json

import pytest

from games import rules
from games.models import Game, Move, Series
from matchmaking import services
from matchmaking.delivery import deliver
from matchmaking.models import Seat, Slot
from tests.integration.helpers import (
    BLUE,
    GAME_START_KEYS,
    JOINED_KEYS,
    RED,
    SNAPSHOT_KEYS,
    WS,
    both_get,
    creator,
    db,
    http_get,
    matchmake,
    pair,
    play,
    run,
    slot,
    slots,
    win_game,
    winning_moves,
)

pytestmark = pytest.mark.django_db(transaction=True)


# -- seating -------------------------------------------------------------------------------------------------


def test_creator_gets_joined_then_waiting_for_opponent():
    async def scenario():
        red = await WS("/ws/matchmake?board_size=9&series_length=3&model_name=dqn&username=ann").connect()
        joined = await red.expect("joined")
        assert set(joined) == JOINED_KEYS
        assert joined["slot_id"] == 1 and joined["player"] == RED and joined["color"] == "red"
        assert joined["board_size"] == 9 and joined["series_length"] == 3 and joined["protocol_version"] == 1
        token = joined["reconnect_token"]
        assert isinstance(token, str) and len(token) >= 43
        assert await red.expect("waiting_for_opponent") == {"slot_id": 1, "board_size": 9}
        await red.silent()
        snap = await slot(1)
        assert snap["state"] == "waiting" and snap["players"] == [RED] and snap["board"] is None
        assert snap["current_turn"] is None and snap["current_game_number"] == 1 and snap["wins_required"] == 2
        assert snap["player_models"] == {"-1": "dqn"} and snap["player_usernames"] == {"-1": "ann"}
        await red.close()

    run(scenario())


def test_joiner_gets_joined_then_game_start_and_creator_gets_game_start():
    async def scenario():
        red = await creator(7, model_name="dqn", username="ann")
        blue = await WS("/ws/matchmake?board_size=7&model_name=alphazero").connect()
        joined = await blue.expect("joined")
        assert set(joined) == JOINED_KEYS
        assert joined["player"] == BLUE and joined["color"] == "blue" and joined["slot_id"] == red.joined["slot_id"]
        assert joined["reconnect_token"] != red.joined["reconnect_token"]
        start = await blue.expect("game_start")
        assert set(start) == GAME_START_KEYS
        assert start == {
            "slot_id": 1, "board_size": 7, "series_length": 1, "players": [-1, 1], "first_turn": -1,
            "current_game_number": 1, "player_1_wins": 0, "player_2_wins": 0, "wins_required": 1,
            "player_models": {"-1": "dqn", "1": "alphazero"}, "player_usernames": {"-1": "ann"},
        }
        assert await red.expect("game_start") == start
        await red.silent()
        await blue.silent()
        snap = await slot(1)
        assert snap["state"] == "full" and snap["current_turn"] == RED and snap["move_count"] == 0
        assert snap["board"] == [[0] * 7 for _ in range(7)]
        await red.close()
        await blue.close()

    run(scenario())


def test_move_is_broadcast_to_both_and_persisted():
    async def scenario():
        red, blue, _ = await pair(7)
        await red.move(3, 2)
        assert await red.expect("move") == {"player": RED, "q": 3, "r": 2, "next_turn": BLUE}
        assert await blue.expect("move") == {"player": RED, "q": 3, "r": 2, "next_turn": BLUE}
        await blue.move(0, 6)
        await both_get([red, blue], "move")
        snap = await slot(1)
        assert snap["board"][2][3] == RED and snap["board"][6][0] == BLUE  # board[r][q]
        assert snap["move_count"] == 2 and snap["current_turn"] == RED
        moves = await db(lambda: list(Move.objects.values_list("number", "player", "q", "r")))
        assert moves == [(1, RED, 3, 2), (2, BLUE, 0, 6)]
        await red.close()
        await blue.close()

    run(scenario())


def test_move_rejections_in_reference_order():
    async def scenario():
        red = await creator(7)
        await red.move(0, 0)
        await red.expect_rejected("Game has not started")
        # Type check comes first, even before the game exists.
        await red.move("0", 0)
        await red.expect_rejected("Move coordinates must be integers")

        blue = await matchmake(7)
        await blue.expect("game_start")
        await red.expect("game_start")
        # Not your turn is checked before bounds and occupancy.
        await blue.move(99, 99)
        await blue.expect_rejected("Not your turn")
        await red.silent()  # rejections go to the sender only
        await red.move(7, 0)
        await red.expect_rejected("Move outside board")
        await red.move(-1, 3)
        await red.expect_rejected("Move outside board")
        await red.move(0, 0)
        await both_get([red, blue], "move")
        await blue.move(0, 0)
        await blue.expect_rejected("Cell already occupied")
        for bad in ({"q": 1.5, "r": 0}, {"q": None, "r": 0}, {"q": [1], "r": 2}, {"r": 1}, {}):
            await blue.send("move", **bad)
            await blue.expect_rejected("Move coordinates must be integers")
        await red.silent()
        # A non-object payload is a protocol error, not a rejection.
        await blue.send_raw('{"type":"move","payload":[1,2]}')
        await blue.expect_error("Invalid payload")

        snap = await slot(1)
        assert snap["move_count"] == 1 and snap["current_turn"] == BLUE

        # Paused: the opponent is away.
        await red.close()
        assert (await blue.expect("opponent_disconnected"))["reason"] == "waiting_for_reconnect"
        await blue.move(1, 1)
        await blue.expect_rejected("Game paused for reconnect")
        await blue.close()

    run(scenario())


def test_boolean_coordinates_count_as_integers():
    """The reference accepts true/false as 1/0 (isinstance(x, int)) and echoes
    them as sent; the board and the stored move hold integers."""
    async def scenario():
        red, blue, _ = await pair(7)
        await red.move(True, False)
        got = await both_get([red, blue], "move")
        assert got["q"] is True and got["r"] is False and got["player"] == RED
        stored = await db(lambda: list(Move.objects.values_list("q", "r")))
        assert stored == [(1, 0)]
        snap = await slot(1)
        assert snap["board"][0][1] == RED
        await blue.move(True, False)
        await blue.expect_rejected("Cell already occupied")
        await red.close()
        await blue.close()

    run(scenario())


def test_game_already_finished_after_series_over():
    async def scenario():
        red, blue, start = await pair(7)
        update = await win_game(red, blue, 7, start["first_turn"], RED)
        assert update == {"player_1_wins": 1, "player_2_wins": 0, "current_game_number": 1, "wins_required": 1,
                          "series_length": 1}
        await both_get([red, blue], "series_over")
        await red.move(5, 5)
        await red.expect_rejected("Game already finished")
        await blue.move(5, 5)
        await blue.expect_rejected("Game already finished")
        await red.close()
        await blue.close()

    run(scenario())


# -- complete games and series ------------------------------------------------------------------------------


def test_complete_best_of_one_won_by_connected_sides():
    async def scenario():
        red, blue, start = await pair(7)
        update = await win_game(red, blue, 7, start["first_turn"], BLUE)
        assert update == {"player_1_wins": 0, "player_2_wins": 1, "current_game_number": 1, "wins_required": 1,
                          "series_length": 1}
        over = await both_get([red, blue], "series_over")
        assert over == {"winner": BLUE, "player_1_wins": 0, "player_2_wins": 1, "wins_required": 1,
                        "series_length": 1}
        await red.silent()
        await blue.silent()
        snap = await slot(1)
        assert snap["state"] == "full" and snap["series_winner"] == BLUE and snap["winner"] == BLUE
        assert snap["current_turn"] == BLUE  # as the reference: the winner made the last move

        series = await db(lambda: Series.objects.get())
        assert series.status == Series.Status.COMPLETED and series.winner == BLUE
        assert series.final_board == snap["board"]
        assert "reconnect_token" not in json.dumps(series.final_snapshot)
        await red.close()
        await blue.close()

    run(scenario())


def test_best_of_three_alternates_first_turn_and_counts_games():
    async def scenario():
        red, blue, start = await pair(9, 3)
        assert start["first_turn"] == RED and start["wins_required"] == 2 and start["current_game_number"] == 1

        update = await win_game(red, blue, 9, RED, RED)
        assert update == {"player_1_wins": 1, "player_2_wins": 0, "current_game_number": 2, "wins_required": 2,
                          "series_length": 3}
        start2 = await both_get([red, blue], "game_start")
        assert start2["first_turn"] == BLUE and start2["current_game_number"] == 2
        assert (start2["player_1_wins"], start2["player_2_wins"]) == (1, 0)
        snap = await slot(1)
        assert snap["move_count"] == 0 and snap["board"] == [[0] * 9 for _ in range(9)]
        assert snap["current_turn"] == BLUE

        # Red may not open game 2.
        await red.move(4, 4)
        await red.expect_rejected("Not your turn")
        update = await win_game(red, blue, 9, BLUE, BLUE)
        assert update["current_game_number"] == 3 and (update["player_1_wins"], update["player_2_wins"]) == (1, 1)
        start3 = await both_get([red, blue], "game_start")
        assert start3["first_turn"] == RED and start3["current_game_number"] == 3

        update = await win_game(red, blue, 9, RED, RED)
        # After the deciding game the number is the last game played.
        assert update == {"player_1_wins": 2, "player_2_wins": 1, "current_game_number": 3, "wins_required": 2,
                          "series_length": 3}
        assert await both_get([red, blue], "series_over") == {
            "winner": RED, "player_1_wins": 2, "player_2_wins": 1, "wins_required": 2, "series_length": 3}
        games = await db(lambda: list(Game.objects.values_list("number", "first_turn", "winner", "end_reason")))
        assert games == [(1, RED, RED, "connected_sides"), (2, BLUE, BLUE, "connected_sides"),
                         (3, RED, RED, "connected_sides")]
        await red.close()
        await blue.close()

    run(scenario())


def test_first_player_blue_flips_the_alternation_and_is_ignored_for_the_joiner():
    async def scenario():
        red, blue, start = await pair(7, 3, red_extra={"first_player": 1}, blue_extra={"first_player": -1})
        assert start["first_turn"] == BLUE
        await red.move(0, 0)
        await red.expect_rejected("Not your turn")
        update = await win_game(red, blue, 7, BLUE, BLUE)
        assert update["current_game_number"] == 2
        start2 = await both_get([red, blue], "game_start")
        assert start2["first_turn"] == RED
        update = await win_game(red, blue, 7, RED, BLUE)
        assert (update["player_1_wins"], update["player_2_wins"], update["current_game_number"]) == (0, 2, 2)
        assert (await both_get([red, blue], "series_over"))["winner"] == BLUE
        await red.close()
        await blue.close()

    run(scenario())


# -- resign (deliberate difference: it ends the game, counts, and keeps both connected) ---------------------


def test_resign_counts_as_a_lost_game_and_the_series_goes_on():
    async def scenario():
        red, blue, _ = await pair(7, 3, red_extra={"model_name": "quitter"}, blue_extra={"model_name": "stayer"})
        await red.move(3, 3)
        await both_get([red, blue], "move")
        await red.send("resign")
        assert await both_get([red, blue], "game_over") == {"winner": BLUE, "reason": "resignation"}
        assert await both_get([red, blue], "series_update") == {
            "player_1_wins": 0, "player_2_wins": 1, "current_game_number": 2, "wins_required": 2,
            "series_length": 3}
        start2 = await both_get([red, blue], "game_start")
        assert start2["current_game_number"] == 2 and start2["first_turn"] == BLUE
        # Both stay connected and the next game is playable.
        await red.alive()
        await blue.alive()
        await blue.move(1, 1)
        await both_get([red, blue], "move")
        # Blue resigns game 2 in the middle of it.
        await blue.send("resign")
        assert await both_get([red, blue], "game_over") == {"winner": RED, "reason": "resignation"}
        assert (await both_get([red, blue], "series_update"))["current_game_number"] == 3
        assert (await both_get([red, blue], "game_start"))["first_turn"] == RED
        # Red resigns the decider: the series ends like any other.
        await red.send("resign")
        await both_get([red, blue], "game_over")
        assert await both_get([red, blue], "series_update") == {
            "player_1_wins": 1, "player_2_wins": 2, "current_game_number": 3, "wins_required": 2,
            "series_length": 3}
        assert await both_get([red, blue], "series_over") == {
            "winner": BLUE, "player_1_wins": 1, "player_2_wins": 2, "wins_required": 2, "series_length": 3}
        await red.alive()
        await blue.alive()
        # Resigning a finished series changes nothing.
        await red.send("resign")
        await red.expect_error("Game already finished")
        await blue.silent()
        await red.close()
        await blue.close()

    run(scenario())
    _status, body = run(http_get("/api/statistics"))
    stats = json.loads(body)
    assert stats["totals"]["matches"] == 1 and stats["totals"]["games"] == 3
    match = stats["recent_matches"][0]
    assert match["winner"] == BLUE and (match["player_1_wins"], match["player_2_wins"]) == (1, 2)
    assert {(row["model_name"], row["wins"]) for row in stats["leaderboard"]} == {("stayer", 1), ("quitter", 0)}


def test_resign_while_waiting_changes_nothing():
    async def scenario():
        red = await creator(7)
        await red.send("resign")
        await red.expect_error("Game has not started")
        await red.alive()
        assert (await slot(1))["state"] == "waiting"
        blue = await matchmake(7)
        await blue.expect("game_start")
        await red.expect("game_start")
        await red.close()
        await blue.close()

    run(scenario())


# -- chat, ping, hello ---------------------------------------------------------------------------------------


def test_chat_goes_to_the_opponent_only_sanitised():
    async def scenario():
        red, blue, _ = await pair(7)
        await red.send("chat", message="  good\x00 luck\x1b  ")
        assert await blue.expect("chat") == {"player": RED, "message": "  good luck  "}
        await red.silent()  # no echo
        await blue.send("chat", message="y" * 900)
        assert await red.expect("chat") == {"player": BLUE, "message": "y" * 500}
        for bad in (42, None, ["hi"], {"text": "hi"}):
            await red.send("chat", message=bad)
        await blue.silent()
        # Without a message the reference forwards an empty line.
        await red.send("chat")
        assert await blue.expect("chat") == {"player": RED, "message": ""}
        await blue.silent()
        await red.silent()
        await red.close()
        await blue.close()

    run(scenario())


def test_chat_without_opponent_is_dropped():
    async def scenario():
        red = await creator(7)
        await red.send("chat", message="anyone?")
        await red.silent()
        await red.alive()
        await red.close()

    run(scenario())


def test_ping_pong_and_hello():
    async def scenario():
        red = await creator(7)
        await red.send("ping")
        assert await red.recv() == {"type": "pong", "payload": {}}
        await red.send_raw('{"type":"hello"}')
        assert await red.recv() == {"type": "hello", "payload": {"protocol_version": 1}}
        await red.send("hello", protocol_version=1, client="x")
        assert await red.expect("hello") == {"protocol_version": 1}
        await red.close()

    run(scenario())


# -- matchmaking ---------------------------------------------------------------------------------------------


def test_matchmaking_pairs_only_equal_board_size_and_series_length():
    async def scenario():
        a = await creator(7, 1)
        b = await creator(9, 1)
        c = await creator(7, 3)
        assert [w.joined["slot_id"] for w in (a, b, c)] == [1, 2, 3]
        d = await matchmake(9)  # series_length defaults to 1
        assert d.joined["slot_id"] == 2 and d.joined["player"] == BLUE
        assert (await d.expect("game_start"))["board_size"] == 9
        await b.expect("game_start")
        e = await matchmake(7, 3)
        assert e.joined["slot_id"] == 3 and (await e.expect("game_start"))["series_length"] == 3
        f = await matchmake(7, 1)
        assert f.joined["slot_id"] == 1
        g = await matchmake(7, 1)
        assert g.joined["slot_id"] == 4 and g.joined["player"] == RED
        assert (await a.expect("game_start"))["board_size"] == 7
        assert (await c.expect("game_start"))["series_length"] == 3
        for w in (a, b, c):
            await w.silent()  # one game_start each, from their own opponent
        for w in (a, b, c, d, e, f, g):
            await w.close()

    run(scenario())


def test_matchmaking_skips_a_waiting_slot_whose_owner_left():
    async def scenario():
        a = await creator(7)
        await a.close()
        b = await creator(7)
        assert b.joined["slot_id"] == 2
        snap = await slot(1)
        assert snap["state"] == "waiting" and snap["disconnected_players"] == [RED]
        await b.close()

    run(scenario())


def test_no_available_slot_closes_normally(settings):
    settings.HEX_MAX_SLOTS = 2

    async def scenario():
        a, b, _ = await pair(7)
        c = await creator(9)
        d = await WS("/ws/matchmake?board_size=11").connect()
        await d.expect_refused("No available slot", 1000)
        assert [s["state"] for s in await slots()] == ["full", "waiting"]
        # A connection that fits the waiting slot still gets it.
        e = await matchmake(9)
        assert e.joined["slot_id"] == 2
        for w in (a, b, c, e):
            await w.close()

    run(scenario())


def test_per_ip_cap(settings):
    settings.HEX_MAX_CONNECTIONS_PER_IP = 2

    async def scenario():
        a = await matchmake(7, ip="10.1.1.1")
        b = await matchmake(9, ip="10.1.1.1")
        c = await WS("/ws/matchmake?board_size=11", ip="10.1.1.1").connect()
        await c.expect_refused("Too many connections from your IP", 1008)
        # Another address is not affected.
        d = await matchmake(11, ip="10.2.2.2")
        # join-slot connections do not count toward the cap.
        e = await WS(f"/ws/join-slot?slot_id={d.joined['slot_id']}", ip="10.1.1.1").connect()
        assert (await e.expect("joined"))["player"] == BLUE
        # A closed matchmake socket frees its place.
        await a.close()
        f = await matchmake(13, ip="10.1.1.1")
        assert f.joined["board_size"] == 13
        seat_ips = await db(lambda: sorted(Seat.objects.values_list("client_ip", flat=True)))
        assert seat_ips == ["10.1.1.1"] * 4 + ["10.2.2.2"]
        for w in (b, d, e, f):
            await w.close()

    run(scenario())


def _xff(value: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", value.encode())]


def test_forwarded_for_is_ignored_from_untrusted_peers(settings):
    settings.HEX_MAX_CONNECTIONS_PER_IP = 1

    async def scenario():
        a = await matchmake(7, ip="203.0.113.5", headers=_xff("198.51.100.1"))
        b = WS("/ws/matchmake?board_size=9", ip="203.0.113.5", headers=_xff("198.51.100.2"))
        await b.connect()
        await b.expect_refused("Too many connections from your IP", 1008)
        assert await db(lambda: list(Seat.objects.values_list("client_ip", flat=True))) == ["203.0.113.5"]
        await a.close()

    run(scenario())


def test_forwarded_for_is_trusted_from_listed_proxies(settings):
    settings.HEX_MAX_CONNECTIONS_PER_IP = 1
    settings.HEX_TRUSTED_PROXIES = ["10.0.0.0/8"]

    async def scenario():
        a = await matchmake(7, ip="10.0.0.2", headers=_xff("198.51.100.1"))
        b = await matchmake(9, ip="10.0.0.2", headers=_xff("198.51.100.2"))
        # A client cannot dodge the cap by prepending its own entries.
        c = WS("/ws/matchmake?board_size=11", ip="10.0.0.2", headers=_xff("1.2.3.4, 198.51.100.1"))
        await c.connect()
        await c.expect_refused("Too many connections from your IP", 1008)
        # A chain of trusted proxies is walked to the nearest untrusted hop.
        d = await matchmake(13, ip="10.0.0.2", headers=_xff("198.51.100.3, 10.9.9.9"))
        ips = await db(lambda: sorted(Seat.objects.values_list("client_ip", flat=True)))
        assert ips == ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        for w in (a, b, d):
            await w.close()

    run(scenario())


# -- join-slot -----------------------------------------------------------------------------------------------


def test_join_slot_inherits_board_size_and_series_length():
    async def scenario():
        await creator(7)
        red = await creator(11, 5, first_player=1, model_name="host")
        blue = await WS(f"/ws/join-slot?slot_id={red.joined['slot_id']}&model_name=guest&username=bob").connect()
        joined = await blue.expect("joined")
        assert joined["slot_id"] == 2 and joined["player"] == BLUE
        assert joined["board_size"] == 11 and joined["series_length"] == 5
        start = await blue.expect("game_start")
        assert start["board_size"] == 11 and start["series_length"] == 5 and start["wins_required"] == 3
        assert start["first_turn"] == BLUE
        assert start["player_models"] == {"-1": "host", "1": "guest"} and start["player_usernames"] == {"1": "bob"}
        assert await red.expect("game_start") == start
        await blue.move(10, 10)
        await both_get([red, blue], "move")
        await red.close()
        await blue.close()

    run(scenario())


def test_join_slot_errors():
    async def scenario():
        red, blue, _ = await pair(7)        # slot 1 full
        waiting = await creator(9)          # slot 2 waiting
        gone = await creator(9, 3)          # slot 3 waiting, owner will leave
        await gone.close()

        async def refused(query: str, text: str) -> None:
            ws = await WS("/ws/join-slot?" + query).connect()
            await ws.expect_refused(text, 1008)

        await refused("slot_id=99", "Slot does not exist")
        await refused("slot_id=0", "Slot does not exist")
        await refused("slot_id=1", "Slot is not waiting for an opponent")
        await refused("slot_id=4", "Slot is not waiting for an opponent")  # empty
        await refused("slot_id=3", "Slot owner is disconnected")
        await refused("", "Missing required parameter: slot_id")
        await refused("slot_id=two", "Invalid slot_id: must be an integer")
        # Nothing changed.
        states = [(s["state"], s["player_count"]) for s in await slots()]
        assert states[:4] == [("full", 2), ("waiting", 1), ("waiting", 1), ("empty", 0)]
        for w in (red, blue, waiting):
            await w.close()

    run(scenario())


# -- reconnect -----------------------------------------------------------------------------------------------


def test_reconnect_restores_the_seat_with_a_snapshot():
    async def scenario():
        red, blue, _ = await pair(7)
        await red.move(2, 3)
        await both_get([red, blue], "move")
        token = blue.joined["reconnect_token"]
        await blue.close()
        gone = await red.expect("opponent_disconnected")
        assert gone == {"message": "Your opponent disconnected", "reason": "waiting_for_reconnect",
                        "reconnect_timeout_seconds": 30}
        snap = await slot(1)
        assert snap["connected_players"] == [RED] and snap["disconnected_players"] == [BLUE]

        back = await WS(f"/ws/reconnect?slot_id=1&token={token}").connect()
        raw = await back.recv_raw()
        assert token not in raw
        msg = json.loads(raw)
        assert msg["type"] == "reconnected"
        payload = msg["payload"]
        assert set(payload) == {"slot_id", "player", "color", "board_size", "series_length", "protocol_version",
                                "slot"}
        assert payload["player"] == BLUE and payload["color"] == "blue" and payload["slot_id"] == 1
        assert set(payload["slot"]) == SNAPSHOT_KEYS
        assert payload["slot"]["board"][3][2] == RED and payload["slot"]["current_turn"] == BLUE
        assert payload["slot"]["connected_players"] == [RED, BLUE]
        assert await red.expect("opponent_reconnected") == {"player": BLUE}
        await back.silent()  # opponent present: no waiting_for_opponent, no game_start
        # The game goes on where it was.
        await back.move(4, 4)
        got = await both_get([red, back], "move")
        assert got == {"player": BLUE, "q": 4, "r": 4, "next_turn": RED}
        await red.close()
        await back.close()

    run(scenario())


def test_reconnect_refusals():
    async def scenario():
        red = await creator(7)
        token = red.joined["reconnect_token"]

        async def refused(query: str, text: str) -> None:
            ws = await WS("/ws/reconnect?" + query).connect()
            await ws.expect_refused(text, 1008)

        await refused("slot_id=1&token=" + "x" * 43, "Invalid reconnect token")
        await refused(f"slot_id=2&token={token}", "Slot is not available for reconnect")
        await refused(f"slot_id=99&token={token}", "Slot is not available for reconnect")
        await refused(f"token={token}", "Missing required parameter: slot_id")
        await refused("slot_id=1", "Missing required parameter: token")
        await refused(f"slot_id=x&token={token}", "Invalid slot_id: must be an integer")
        await red.alive()
        await red.close()

    run(scenario())


def test_waiting_creator_can_reconnect():
    async def scenario():
        red = await creator(9)
        await red.close()
        back = await WS(f"/ws/reconnect?slot_id=1&token={red.joined['reconnect_token']}").connect()
        payload = await back.expect("reconnected")
        assert payload["player"] == RED and payload["slot"]["state"] == "waiting"
        assert await back.expect("waiting_for_opponent") == {"slot_id": 1, "board_size": 9}
        # The slot is matchable again.
        blue = await matchmake(9)
        assert blue.joined["slot_id"] == 1
        await blue.expect("game_start")
        await back.expect("game_start")
        await back.close()
        await blue.close()

    run(scenario())


def test_reconnect_while_opponent_is_away_says_waiting_for_opponent():
    async def scenario():
        red, blue, _ = await pair(7)
        await red.close()
        await blue.expect("opponent_disconnected")
        await blue.close()
        back = await WS(f"/ws/reconnect?slot_id=1&token={red.joined['reconnect_token']}").connect()
        await back.expect("reconnected")
        await back.expect("waiting_for_opponent")
        await back.move(0, 0)
        await back.expect_rejected("Game paused for reconnect")
        blue2 = await WS(f"/ws/reconnect?slot_id=1&token={blue.joined['reconnect_token']}").connect()
        await blue2.expect("reconnected")
        assert await back.expect("opponent_reconnected") == {"player": BLUE}
        await back.move(0, 0)
        await both_get([back, blue2], "move")
        await back.close()
        await blue2.close()

    run(scenario())


def test_a_seat_can_be_resumed_many_times():
    """Deliberate difference: the reference rotates the token silently, so a
    second reconnect fails there; here the seat's token keeps working."""
    async def scenario():
        red, blue, _ = await pair(7)
        token = red.joined["reconnect_token"]
        current = red
        deadlines = []
        for i in range(3):
            await current.close()
            await blue.expect("opponent_disconnected")
            # Each disconnect opens a window of its own.
            deadlines.append(await db(lambda: Seat.objects.get(player=RED).reconnect_deadline))
            assert deadlines == sorted(set(deadlines))
            current = await WS(f"/ws/reconnect?slot_id=1&token={token}").connect()
            assert (await current.expect("reconnected"))["slot"]["move_count"] == 2 * i
            await blue.expect("opponent_reconnected")
            await current.move(i, 0)
            await both_get([current, blue], "move")
            await blue.move(i, 6)
            await both_get([current, blue], "move")
        await current.close()
        await blue.close()

    run(scenario())


def test_reconnect_while_still_connected_closes_the_old_socket_1001():
    async def scenario():
        red, blue, _ = await pair(7)
        new = await WS(f"/ws/reconnect?slot_id=1&token={red.joined['reconnect_token']}").connect()
        assert (await new.expect("reconnected"))["player"] == RED
        assert await red.expect_close() == 1001
        assert await blue.expect("opponent_reconnected") == {"player": RED}
        # The old socket going away afterwards does not pause the game.
        await red.close()
        await blue.silent()
        await new.move(3, 3)
        await both_get([new, blue], "move")
        snap = await slot(1)
        assert snap["connected_players"] == [RED, BLUE]
        await new.close()
        await blue.close()

    run(scenario())


def test_restart_releases_the_dead_process_seats_for_reconnect(monkeypatch):
    """A crash leaves seats marked connected; the next process start marks the
    seats of processes that are gone as disconnected, and both players resume
    with their tokens with every accepted move intact."""
    from channels.layers import channel_layers

    from matchmaking import runtime

    async def first_life():
        red, blue, _ = await pair(7, 3)
        await play(red, blue, [(RED, 0, 0), (BLUE, 6, 6), (RED, 1, 0)])
        # No close: asyncio.run cancels the consumers, as a kill -9 would.
        return red.joined["reconnect_token"], blue.joined["reconnect_token"]

    red_token, blue_token = run(first_life())
    assert Seat.objects.filter(connected=True).count() == 2

    runtime.reset_for_tests()
    channel_layers.backends.clear()
    monkeypatch.setattr(runtime, "PROCESS_ID", "a-new-process")

    async def second_life():
        snap = await slot(1)
        assert snap["disconnected_players"] == [RED, BLUE] and snap["move_count"] == 3
        red = await WS(f"/ws/reconnect?slot_id=1&token={red_token}").connect()
        assert (await red.expect("reconnected"))["slot"]["board"][0][1] == RED
        await red.expect("waiting_for_opponent")
        blue = await WS(f"/ws/reconnect?slot_id=1&token={blue_token}").connect()
        assert (await blue.expect("reconnected"))["slot"]["current_turn"] == BLUE
        await red.expect("opponent_reconnected")
        await play(red, blue, [(BLUE, 5, 5), (RED, 2, 0)])
        assert (await slot(1))["move_count"] == 5
        await red.close()
        await blue.close()

    run(second_life())
    assert list(Move.objects.values_list("q", "r")) == [(0, 0), (6, 6), (1, 0), (5, 5), (2, 0)]


# -- expiry --------------------------------------------------------------------------------------------------


def test_expiry_by_the_sweeper_resets_the_slot_and_closes_the_remaining_player(settings):
    settings.HEX_RECONNECT_TIMEOUT = 0.3
    settings.HEX_SWEEP_INTERVAL = 0.05

    async def scenario():
        red, blue, _ = await pair(7)
        await red.move(1, 1)
        await both_get([red, blue], "move")
        await red.close()
        gone = await blue.expect("opponent_disconnected")
        assert gone["reason"] == "waiting_for_reconnect" and gone["reconnect_timeout_seconds"] == 0.3
        timeout = await blue.expect("opponent_disconnected", timeout=10)
        assert timeout == {"message": "Your opponent disconnected", "reason": "reconnect_timeout",
                           "reconnect_timeout_seconds": 0.3}
        assert await blue.expect_close() == 1000
        await blue.close()
        snap = await slot(1)
        assert snap["state"] == "empty" and snap["players"] == [] and snap["board"] is None
        for token in (red.joined["reconnect_token"], blue.joined["reconnect_token"]):
            ws = await WS(f"/ws/reconnect?slot_id=1&token={token}").connect()
            await ws.expect_refused("Slot is not available for reconnect", 1008)
        assert await db(lambda: Seat.objects.count()) == 0
        series = await db(lambda: Series.objects.get())
        assert series.status == Series.Status.ABANDONED
        # The slot is free for new players.
        fresh = await creator(9)
        assert fresh.joined["slot_id"] == 1
        await fresh.close()

    run(scenario())


def test_expiry_is_enforced_from_the_database(settings):
    """No timer of the process that saw the disconnect is needed: any caller of
    expire_due_seats (the sweeper of any process) resets the slot."""
    settings.HEX_RECONNECT_TIMEOUT = 1.0
    settings.HEX_SWEEP_INTERVAL = 3600  # the in-process sweeper stays out of it

    async def scenario():
        red, blue, _ = await pair(7)
        await blue.close()
        await red.expect("opponent_disconnected")
        nothing = await db(services.expire_due_seats)
        assert nothing.messages == {}
        assert (await slot(1))["state"] == "full"
        await asyncio.sleep(1.2)
        outbox = await db(services.expire_due_seats)
        await deliver(outbox)
        assert (await red.expect("opponent_disconnected"))["reason"] == "reconnect_timeout"
        assert await red.expect_close() == 1000
        await red.close()
        assert (await slot(1))["state"] == "empty"

    run(scenario())


def test_expired_seat_is_released_when_matchmaking_looks(settings):
    settings.HEX_MAX_SLOTS = 1
    settings.HEX_RECONNECT_TIMEOUT = 1.0
    settings.HEX_SWEEP_INTERVAL = 3600

    async def scenario():
        red = await creator(7)
        await red.close()
        blocked = await WS("/ws/matchmake?board_size=9").connect()
        await blocked.expect_refused("No available slot", 1000)
        await asyncio.sleep(1.2)
        fresh = await creator(9)
        assert fresh.joined["slot_id"] == 1
        await fresh.close()

    run(scenario())


def test_a_refused_reconnect_still_expires_the_slot_it_looked_at(settings):
    """Expiry found on access commits even though the caller is refused: the
    remaining player hears of it at once, not a sweep later."""
    settings.HEX_RECONNECT_TIMEOUT = 0.5
    settings.HEX_SWEEP_INTERVAL = 3600

    async def scenario():
        red, blue, _ = await pair(7)
        await blue.close()
        await red.expect("opponent_disconnected")
        await asyncio.sleep(0.7)
        stranger = await WS("/ws/reconnect?slot_id=1&token=not-a-token").connect()
        await stranger.expect_refused("Slot is not available for reconnect", 1008)
        assert (await red.expect("opponent_disconnected"))["reason"] == "reconnect_timeout"
        assert await red.expect_close() == 1000
        await red.close()
        assert (await slot(1))["state"] == "empty"

    run(scenario())


# -- keep_slot -----------------------------------------------------------------------------------------------


def test_keep_slot_after_series_over():
    async def scenario():
        red, blue, start = await pair(7, 1, red_extra={"model_name": "r"}, blue_extra={"model_name": "b"})
        await win_game(red, blue, 7, start["first_turn"], RED)
        await both_get([red, blue], "series_over")
        # Blue keeps the slot: it becomes red of a fresh series.
        await blue.send("keep_slot")
        kept = await blue.expect("slot_kept")
        assert set(kept) == JOINED_KEYS
        assert kept["player"] == RED and kept["color"] == "red" and kept["slot_id"] == 1
        assert kept["board_size"] == 7 and kept["series_length"] == 1
        assert kept["reconnect_token"] != blue.joined["reconnect_token"]
        assert await blue.expect("waiting_for_opponent") == {"slot_id": 1, "board_size": 7}
        assert await red.expect("opponent_left_slot") == {"message": "Your opponent kept the slot for another match"}
        assert await red.expect_close() == 1000
        await red.close()
        snap = await slot(1)
        assert snap["state"] == "waiting" and snap["players"] == [RED] and snap["player_models"] == {"-1": "b"}
        assert snap["player_1_wins"] == 0 and snap["series_winner"] is None

        # Old tokens are dead, the new one works.
        for token in (red.joined["reconnect_token"], blue.joined["reconnect_token"]):
            ws = await WS(f"/ws/reconnect?slot_id=1&token={token}").connect()
            await ws.expect_refused("Invalid reconnect token", 1008)

        newcomer = await matchmake(7)
        assert newcomer.joined["slot_id"] == 1 and newcomer.joined["player"] == BLUE
        start = await newcomer.expect("game_start")
        assert start["first_turn"] == RED and start["current_game_number"] == 1
        assert await blue.expect("game_start") == start
        await blue.move(0, 0)  # the keeper plays red now
        await both_get([blue, newcomer], "move")
        await blue.close()
        await newcomer.expect("opponent_disconnected")
        back = await WS(f"/ws/reconnect?slot_id=1&token={kept['reconnect_token']}").connect()
        assert (await back.expect("reconnected"))["player"] == RED
        await back.close()
        await newcomer.close()
        series = await db(lambda: list(Series.objects.order_by("id").values_list("status", flat=True)))
        assert series == ["completed", "active"]

    run(scenario())


def test_keep_slot_after_opponent_disconnected_mid_series():
    async def scenario():
        red, blue, _ = await pair(7, 3)
        await red.move(0, 0)
        await both_get([red, blue], "move")
        await red.close()
        await blue.expect("opponent_disconnected")
        await blue.send("keep_slot")
        kept = await blue.expect("slot_kept")
        assert kept["player"] == RED and kept["series_length"] == 3
        await blue.expect("waiting_for_opponent")
        ws = await WS(f"/ws/reconnect?slot_id=1&token={red.joined['reconnect_token']}").connect()
        await ws.expect_refused("Invalid reconnect token", 1008)
        statuses = await db(lambda: list(Series.objects.values_list("status", flat=True)))
        assert statuses == ["abandoned"]
        await blue.close()

    run(scenario())


def test_keep_slot_refusals():
    async def scenario():
        red = await creator(7)
        await red.send("keep_slot")
        await red.expect_error("Slot is not in a finished match")
        blue = await matchmake(7)
        await blue.expect("game_start")
        await red.expect("game_start")
        await red.send("keep_slot")
        await red.expect_error("Series is not over and opponent is still connected")
        await blue.silent()
        await red.alive()
        snap = await slot(1)
        assert snap["state"] == "full" and snap["connected_players"] == [RED, BLUE]
        await red.close()
        await blue.close()

    run(scenario())


# -- leaving a finished series -------------------------------------------------------------------------------


def test_finished_series_slot_is_freed_once_both_left():
    """Deliberate difference: no reconnect window for a finished series."""
    async def scenario():
        red, blue, start = await pair(7)
        await win_game(red, blue, 7, start["first_turn"], RED)
        await both_get([red, blue], "series_over")
        await red.close()
        gone = await blue.expect("opponent_disconnected")
        assert gone["reason"] == "waiting_for_reconnect"
        assert (await slot(1))["state"] == "full"
        await blue.close()
        snap = await slot(1)
        assert snap["state"] == "empty" and snap["player_count"] == 0
        fresh = await creator(7)
        assert fresh.joined["slot_id"] == 1
        await fresh.close()

    run(scenario())


def test_finished_series_with_one_player_left_is_released_after_the_window(settings):
    """As the reference: a player who stays after the series, alone, does not
    hold the slot forever; when the departed seat's window passes the slot is
    reset and the remaining player told and closed."""
    settings.HEX_RECONNECT_TIMEOUT = 0.3
    settings.HEX_SWEEP_INTERVAL = 0.05

    async def scenario():
        red, blue, start = await pair(7)
        await win_game(red, blue, 7, start["first_turn"], BLUE)
        await both_get([red, blue], "series_over")
        await red.close()
        assert (await blue.expect("opponent_disconnected"))["reason"] == "waiting_for_reconnect"
        timeout = await blue.expect("opponent_disconnected", timeout=10)
        assert timeout["reason"] == "reconnect_timeout"
        assert await blue.expect_close() == 1000
        await blue.close()
        assert (await slot(1))["state"] == "empty"
        # The completed series stays completed (and counted).
        series = await db(lambda: Series.objects.get())
        assert series.status == Series.Status.COMPLETED

    run(scenario())


def test_finished_series_remaining_player_can_keep_the_slot_within_the_window(settings):
    settings.HEX_RECONNECT_TIMEOUT = 5.0
    settings.HEX_SWEEP_INTERVAL = 0.05

    async def scenario():
        red, blue, start = await pair(7)
        await win_game(red, blue, 7, start["first_turn"], RED)
        await both_get([red, blue], "series_over")
        await red.close()
        await blue.expect("opponent_disconnected")
        await blue.send("keep_slot")
        await blue.expect("slot_kept")
        await blue.expect("waiting_for_opponent")
        # The departed seat is gone with its window: nothing can expire later.
        seats = await db(lambda: list(Seat.objects.values_list("connected", "reconnect_deadline")))
        assert seats == [(True, None)]
        snap = await slot(1)
        assert snap["state"] == "waiting" and snap["connected_players"] == [RED]
        await blue.close()

    run(scenario())


# -- /ws/slots -----------------------------------------------------------------------------------------------


def test_slots_feed_sends_bare_arrays_on_connect_and_membership_change(settings):
    settings.HEX_MAX_SLOTS = 3

    async def scenario():
        feed = await WS("/ws/slots").connect()

        async def array() -> list:
            data = json.loads(await feed.recv_raw())
            assert isinstance(data, list) and len(data) == 3
            for snap in data:
                assert set(snap) == SNAPSHOT_KEYS
            return data

        first = await array()
        assert [s["state"] for s in first] == ["empty", "empty", "empty"]
        red = await creator(7)
        assert [s["state"] for s in await array()] == ["waiting", "empty", "empty"]
        blue = await matchmake(7)
        await blue.expect("game_start")
        await red.expect("game_start")
        assert (await array())[0]["state"] == "full"
        # Moves are not membership changes.
        await red.move(0, 0)
        await both_get([red, blue], "move")
        await feed.silent(0.3)
        await blue.close()
        assert (await array())[0]["disconnected_players"] == [BLUE]
        back = await WS(f"/ws/reconnect?slot_id=1&token={blue.joined['reconnect_token']}").connect()
        await back.expect("reconnected")
        snap = (await array())[0]
        assert snap["connected_players"] == [RED, BLUE] and snap["move_count"] == 1
        raw_tokens = (red.joined["reconnect_token"], blue.joined["reconnect_token"])
        # Input on the feed is ignored.
        await feed.send("ping")
        await feed.silent()
        await red.close()
        text = await feed.recv_raw()
        assert not any(token in text for token in raw_tokens)
        await back.close()
        await feed.close()

    run(scenario())


# -- bad query strings (deliberate difference: error + 1008, not a bare refusal) -----------------------------


@pytest.mark.parametrize("query,text", [
    ("", "Missing required parameter: board_size"),
    ("board_size=", "Invalid board_size: must be an integer"),
    ("board_size=seven", "Invalid board_size: must be an integer"),
    ("board_size=7.5", "Invalid board_size: must be an integer"),
    ("board_size=7&series_length=", "Invalid series_length: must be an integer"),
    ("board_size=7&series_length=x", "Invalid series_length: must be an integer"),
    ("board_size=7&first_player=red", "Invalid first_player: must be an integer"),
    ("board_size=8", "Unsupported board size"),
    ("board_size=7&series_length=2", "Unsupported series length"),
    ("board_size=7&series_length=17", "Unsupported series length"),
    ("board_size=7&first_player=0", "Invalid first_player value"),
])
def test_matchmake_parameter_errors(query, text):
    async def scenario():
        ws = await WS("/ws/matchmake?" + query).connect()
        await ws.expect_refused(text, 1008)
        assert all(s["state"] == "empty" for s in await slots())

    run(scenario())


# -- HTTP ----------------------------------------------------------------------------------------------------


def test_slots_and_statistics_http_shapes_never_carry_tokens():
    async def scenario():
        red, blue, start = await pair(7, 1, red_extra={"model_name": "m1", "username": "u1"},
                                      blue_extra={"model_name": "m2"})
        waiting = await creator(9)
        await win_game(red, blue, 7, start["first_turn"], BLUE)
        await both_get([red, blue], "series_over")
        tokens = [w.joined["reconnect_token"] for w in (red, blue, waiting)]

        status, body = await http_get("/slots")
        assert status == 200
        text = body.decode()
        assert not any(token in text for token in tokens)
        data = json.loads(text)
        assert isinstance(data, list) and len(data) == 6
        assert [s["slot_id"] for s in data] == [1, 2, 3, 4, 5, 6]
        for snap in data:
            assert set(snap) == SNAPSHOT_KEYS
        full, wait, empty = data[0], data[1], data[2]
        assert full["state"] == "full" and full["series_winner"] == BLUE and full["player_2_wins"] == 1
        assert full["player_models"] == {"-1": "m1", "1": "m2"} and full["player_usernames"] == {"-1": "u1"}
        assert wait["state"] == "waiting" and wait["board"] is None
        assert empty == {
            "slot_id": 3, "state": "empty", "board_size": None, "series_length": None, "player_count": 0,
            "connected_player_count": 0, "players": [], "player_models": {}, "player_usernames": {},
            "connected_players": [], "disconnected_players": [], "current_turn": None, "winner": None,
            "move_count": 0, "board": None, "wins_required": None, "current_game_number": None,
            "player_1_wins": 0, "player_2_wins": 0, "series_winner": None,
        }

        status, body = await http_get("/api/statistics")
        assert status == 200
        text = body.decode()
        assert not any(token in text for token in tokens)
        stats = json.loads(text)
        # The reference's keys, plus the additive ratings extension.
        assert set(stats) == {"persistence_enabled", "totals", "leaderboard", "board_sizes", "series_lengths",
                              "recent_matches", "ratings"}
        assert stats["persistence_enabled"] is True
        assert stats["totals"] == {"matches": 1, "games": 1, "models": 2, "model_entries": 2}
        assert stats["board_sizes"] == {"7": 1} and stats["series_lengths"] == {"1": 1}
        assert stats["leaderboard"][0] == {"model_name": "m2", "username": None, "matches": 1, "wins": 1,
                                           "losses": 0, "games_won": 1, "games_lost": 0, "win_rate": 1.0}
        assert stats["leaderboard"][1]["model_name"] == "m1" and stats["leaderboard"][1]["username"] == "u1"
        match = stats["recent_matches"][0]
        assert set(match) == {"id", "slot_id", "board_size", "series_length", "games_played", "winner",
                              "player_1_model", "player_2_model", "player_1_username", "player_2_username",
                              "player_1_wins", "player_2_wins", "completed_at"}
        assert match["winner"] == BLUE and match["games_played"] == 1 and match["player_2_username"] is None
        for w in (red, blue, waiting):
            await w.close()

    run(scenario())


def test_tokens_are_stored_hashed():
    async def scenario():
        red, blue, _ = await pair(7)
        seats = await db(lambda: {s.player: s.token_hash for s in Seat.objects.all()})
        for ws in (red, blue):
            token = ws.joined["reconnect_token"]
            stored = seats[ws.joined["player"]]
            assert stored != token and token not in stored
            assert stored == services.hash_token(token)
        await red.close()
        await blue.close()

    run(scenario())


# -- concurrency ---------------------------------------------------------------------------------------------


def test_simultaneous_matchmaking_never_double_seats(settings):
    settings.HEX_MAX_SLOTS = 6

    async def scenario():
        clients = [WS("/ws/matchmake?board_size=7", ip=f"10.0.{i}.1") for i in range(20)]
        await asyncio.gather(*(c.connect() for c in clients))
        firsts = await asyncio.gather(*(c.recv() for c in clients))
        seated = [(c, m["payload"]) for c, m in zip(clients, firsts, strict=True) if m["type"] == "joined"]
        refused = [c for c, m in zip(clients, firsts, strict=True) if m["type"] == "error"]
        assert len(seated) == 12 and len(refused) == 8
        for c in refused:
            assert c.close_code is None
            assert await c.expect_close() == 1000
        per_slot: dict[int, list[int]] = {}
        for _c, joined in seated:
            per_slot.setdefault(joined["slot_id"], []).append(joined["player"])
        assert sorted(per_slot) == [1, 2, 3, 4, 5, 6]
        assert all(sorted(players) == [RED, BLUE] for players in per_slot.values())
        rows = await db(lambda: list(Seat.objects.values_list("slot_id", "player")))
        assert sorted(rows) == sorted((s, p) for s, ps in per_slot.items() for p in ps)
        assert await db(lambda: Slot.objects.filter(state="full").count()) == 6
        assert await db(lambda: Series.objects.count()) == 6
        for c, _joined in seated:
            assert (await c.recv())["type"] in ("waiting_for_opponent", "game_start")
        for c in clients:
            await c.close()

    run(scenario())


def test_winning_moves_helper_is_sound():
    """The test's own game script really ends with the winner's connection."""
    for size in (7, 9, 11, 13, 19):
        for first in (RED, BLUE):
            for winner in (RED, BLUE):
                moves = winning_moves(size, first, winner)
                board = rules.Board(size)
                results = [board.place(p, q, r) for p, q, r in moves]
                assert results[-1] == winner and all(x is None for x in results[:-1])
                assert [p for p, _q, _r in moves] == [first if i % 2 == 0 else -first for i in range(len(moves))]


def test_full_game_on_every_official_size_persists_every_move():
    async def scenario():
        for size in (7, 9, 11, 13, 19):
            red, blue, start = await pair(size)
            await win_game(red, blue, size, start["first_turn"], RED if size % 4 == 3 else BLUE)
            await both_get([red, blue], "series_over")
            await red.close()
            await blue.close()
        counts = await db(lambda: list(Game.objects.order_by("id").values_list("move_count", flat=True)))
        stored = await db(lambda: [Move.objects.filter(game_id=g).count()
                                   for g in Game.objects.order_by("id").values_list("id", flat=True)])
        assert counts == stored and len(counts) == 5 and all(c > 0 for c in counts)

    run(scenario())


def test_a_notice_about_the_previous_series_never_reaches_a_seat_that_kept_the_slot():
    """The opponent's disconnect commits just before keep_slot, but its notice
    travels through the channel layer and arrives after slot_kept: the keeper
    must not hear 'opponent_disconnected' about a series it already left (a
    reference --keep-slot client would answer with a second keep_slot and quit)."""
    async def scenario():
        red, blue, start = await pair(7, 1)
        await win_game(red, blue, 7, start["first_turn"], RED)
        await both_get([red, blue], "series_over")
        red_seat = await db(lambda: Seat.objects.get(player=RED))
        in_flight = await db(lambda: services.disconnect_seat(1, red_seat.id, red_seat.channel_name))
        assert [m["type"] for batch in in_flight.messages.values() for m in batch] == ["opponent_disconnected"]

        await blue.send("keep_slot")
        await blue.expect("slot_kept")
        await blue.expect("waiting_for_opponent")
        await deliver(in_flight)
        await blue.silent()

        newcomer = await matchmake(7)
        assert (await blue.expect("game_start"))["current_game_number"] == 1
        await newcomer.close()
        assert (await blue.expect("opponent_disconnected"))["reason"] == "waiting_for_reconnect"
        await blue.close()
        await red.close()

    run(scenario())
