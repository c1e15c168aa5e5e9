"""Opt-in competitive play over the WebSocket protocol: swap rule, clocks and
verified bot identities (matchmaking query parameters, the ``swap`` message,
``timeout`` endings), with time under the test's control."""

from __future__ import annotations

import pytest

from games import rules
from games.models import Game, Move, Series
from matchmaking import services
from matchmaking.delivery import deliver
from matchmaking.models import BotToken, Seat
from tests.integration.helpers import (
    BLUE,
    GAME_START_KEYS,
    RED,
    WS,
    both_get,
    creator,
    db,
    matchmake,
    pair,
    play,
    run,
    slot,
)
from tests.support.fake_clock import fake_clock  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_background_sweeps(settings):
    # Tests call the sweeper's service themselves, at the (fake) time they choose.
    settings.HEX_SWEEP_INTERVAL = 3600
    settings.HEX_MAX_MOVE_SECONDS = 0.0
    settings.HEX_CLOCK_PAUSE_ON_DISCONNECT = False


async def sweep_clocks() -> None:
    outbox = await db(services.expire_due_clocks)
    await deliver(outbox)


# -- swap ------------------------------------------------------------------------------------------------------


def test_swap_game_start_says_swap_and_the_swap_mirrors_the_first_stone():
    async def scenario():
        red, blue, start = await pair(7, red_extra={"swap": 1}, blue_extra={"swap": 1})
        assert set(start) == GAME_START_KEYS | {"swap"} and start["swap"] is True
        await play(red, blue, [(RED, 2, 0)])
        await blue.send("swap")
        swapped = await both_get([red, blue], "swap")
        assert swapped == {"player": BLUE, "q": 0, "r": 2, "from_q": 2, "from_r": 0, "next_turn": RED}
        snap = await slot(1)
        assert snap["board"][2][0] == BLUE and snap["board"][0][2] == 0
        assert snap["move_count"] == 2 and snap["current_turn"] == RED
        # Ids and colours did not change: red moves next, as red.
        await play(red, blue, [(RED, 3, 3), (BLUE, 4, 4)])
        moves = await db(lambda: list(Move.objects.order_by("number").values_list("kind", "player", "q", "r")))
        assert moves == [("place", RED, 2, 0), ("swap", BLUE, 0, 2), ("place", RED, 3, 3), ("place", BLUE, 4, 4)]
        board = rules.replay_moves(7, moves)
        assert board.rows() == snap["board"] or board.at(3, 3) == RED
        await red.close()
        await blue.close()

    run(scenario())


def test_swap_on_the_long_diagonal_is_stored_and_recoloured():
    async def scenario():
        red, blue, _ = await pair(7, red_extra={"swap": 1}, blue_extra={"swap": 1})
        await play(red, blue, [(RED, 3, 3)])
        await blue.send("swap")
        swapped = await both_get([red, blue], "swap")
        assert (swapped["q"], swapped["r"]) == (3, 3)
        assert (await slot(1))["board"][3][3] == BLUE
        await red.move(3, 3)
        await red.expect_rejected(rules.REASON_OCCUPIED)
        await red.close()
        await blue.close()

    run(scenario())


def test_the_first_stones_cell_can_be_played_again_after_a_swap():
    async def scenario():
        red, blue, _ = await pair(7, red_extra={"swap": 1}, blue_extra={"swap": 1})
        await play(red, blue, [(RED, 2, 0)])
        await blue.send("swap")
        await both_get([red, blue], "swap")
        # (2, 0) is empty again: both players may take it, once.
        await play(red, blue, [(RED, 2, 0), (BLUE, 5, 5)])
        await red.move(0, 2)
        await red.expect_rejected(rules.REASON_OCCUPIED)
        kinds = await db(lambda: list(Move.objects.order_by("number").values_list("kind", "q", "r")))
        assert kinds == [("place", 2, 0), ("swap", 0, 2), ("place", 2, 0), ("place", 5, 5)]
        await red.close()
        await blue.close()

    run(scenario())


def test_swap_is_refused_outside_its_one_moment():
    async def scenario():
        red, blue, _ = await pair(7, red_extra={"swap": 1}, blue_extra={"swap": 1})
        await red.send("swap")  # empty board: nothing to swap
        await red.expect_rejected(rules.REASON_SWAP_TOO_LATE)
        await blue.send("swap")
        await blue.expect_rejected(rules.REASON_NOT_YOUR_TURN)
        await play(red, blue, [(RED, 1, 1)])
        await red.send("swap")
        await red.expect_rejected(rules.REASON_NOT_YOUR_TURN)
        await blue.send("swap", unexpected="field", q=5)  # unknown fields are ignored
        await both_get([red, blue], "swap")
        await red.send("swap")  # no swapping back
        await red.expect_rejected(rules.REASON_SWAP_TOO_LATE)
        await play(red, blue, [(RED, 4, 4)])
        await blue.send("swap")
        await blue.expect_rejected(rules.REASON_SWAP_TOO_LATE)
        await red.silent()
        assert (await slot(1))["move_count"] == 3
        await red.close()
        await blue.close()

    run(scenario())


def test_swap_in_a_game_without_the_option_is_refused_and_changes_nothing():
    async def scenario():
        red, blue, start = await pair(7)
        assert set(start) == GAME_START_KEYS
        await play(red, blue, [(RED, 2, 0)])
        await blue.send("swap")
        await blue.expect_rejected(rules.REASON_SWAP_NOT_ALLOWED)
        await red.silent()
        snap = await slot(1)
        assert snap["board"][0][2] == RED and snap["move_count"] == 1 and snap["current_turn"] == BLUE
        await red.close()
        await blue.close()

    run(scenario())


def test_hostile_swap_messages():
    async def scenario():
        waiting = await creator(7, swap=1)
        await waiting.send("swap")
        await waiting.expect_rejected(rules.REASON_NOT_STARTED)
        await waiting.send_raw('{"type":"swap","payload":[1,2]}')
        await waiting.expect_error("Invalid payload")
        await waiting.send_raw('{"type":"swap","payload":null}')
        await waiting.expect_error("Invalid payload")
        await waiting.send_raw('{"type":"SWAP"}')
        await waiting.expect_error("Unknown message type")
        await waiting.alive()
        await waiting.close()

    run(scenario())


def test_options_pair_only_with_equal_options():
    async def scenario():
        plain = await creator(7)
        swapper = await creator(7, swap=1)
        clocked = await creator(7, time_per_move=30)
        fischer = await creator(7, time_base=60, time_increment=2)
        assert [w.joined["slot_id"] for w in (plain, swapper, clocked, fischer)] == [1, 2, 3, 4]
        other_fischer = await creator(7, time_base=60, time_increment=3)
        assert other_fischer.joined["slot_id"] == 5
        joiner = await matchmake(7, time_base=60, time_increment=2)
        assert joiner.joined["slot_id"] == 4
        plain_joiner = await matchmake(7, swap=0)
        assert plain_joiner.joined["slot_id"] == 1
        for ws in (plain, swapper, clocked, fischer, other_fischer, joiner, plain_joiner):
            await ws.close()

    run(scenario())


@pytest.mark.parametrize(("extra", "error"), [
    ({"swap": 2}, "Invalid swap value: use 0 or 1"),
    ({"swap": "yes"}, "Invalid swap value: use 0 or 1"),
    ({"time_per_move": 0}, "Invalid time_per_move: must be between 1 and 86400 seconds"),
    ({"time_per_move": "ten"}, "Invalid time_per_move: must be an integer"),
    ({"time_base": 10**9}, "Invalid time_base: must be between 1 and 86400 seconds"),
    ({"time_base": 60, "time_increment": -1}, "Invalid time_increment: must be between 0 and 3600 seconds"),
    ({"time_per_move": 5, "time_base": 60}, "Choose either time_per_move or time_base (with time_increment), "
                                            "not both"),
    ({"time_increment": 5}, "time_increment needs time_base"),
])
def test_bad_options_are_refused_with_a_clear_error(extra, error):
    async def scenario():
        from tests.integration.helpers import matchmake_path

        ws = await WS(matchmake_path(7, **extra)).connect()
        await ws.expect_refused(error, 1008)
        assert (await slot(1))["state"] == "empty"

    run(scenario())


def test_join_slot_needs_the_slots_options(fake_clock):  # noqa: F811
    async def scenario():
        red = await creator(7, swap=1, time_per_move=20)
        slot_id = red.joined["slot_id"]
        for query in ("", "&swap=1", "&time_per_move=20", "&swap=1&time_per_move=30"):
            plain = await WS(f"/ws/join-slot?slot_id={slot_id}{query}").connect()
            await plain.expect_refused("This slot plays with other options (swap, time control); join it with the "
                                       "same query parameters", 1008)
        other = await creator(7)
        swapper = await WS(f"/ws/join-slot?slot_id={other.joined['slot_id']}&swap=1").connect()
        await swapper.expect_refused("This slot plays with other options (swap, time control); join it with the "
                                     "same query parameters", 1008)
        await other.close()
        blue = await WS(f"/ws/join-slot?slot_id={slot_id}&swap=1&time_per_move=20").connect()
        await blue.expect("joined")
        start = await both_get([blue, red], "game_start")
        assert start["swap"] is True
        assert start["time_control"] == {"kind": "per_move", "per_move_ms": 20000}
        await red.close()
        await blue.close()

    run(scenario())


# -- clocks ------------------------------------------------------------------------------------------------------


def test_per_move_clock_times_and_sweeper_timeout(fake_clock):  # noqa: F811
    async def scenario():
        red, blue, start = await pair(7, red_extra={"time_per_move": 10}, blue_extra={"time_per_move": 10})
        assert set(start) == GAME_START_KEYS | {"time_control", "remaining_ms", "clock_running"}
        assert start["remaining_ms"] == {"-1": 10000, "1": 10000} and start["clock_running"] == RED
        fake_clock.advance(4)
        await red.move(0, 0)
        moved = await both_get([red, blue], "move")
        assert moved == {"player": RED, "q": 0, "r": 0, "next_turn": BLUE,
                         "remaining_ms": {"-1": 10000, "1": 10000}, "clock_running": BLUE}
        fake_clock.advance(9.9)
        await sweep_clocks()
        await blue.silent()
        fake_clock.advance(0.2)
        await sweep_clocks()
        assert await both_get([red, blue], "game_over") == {"winner": RED, "reason": "timeout"}
        await both_get([red, blue], "series_update")
        assert (await both_get([red, blue], "series_over"))["winner"] == RED
        game = await db(lambda: Game.objects.get())
        assert game.end_reason == "timeout" and game.winner == RED and game.turn_deadline is None
        await red.close()
        await blue.close()

    run(scenario())


def test_fischer_clock_counts_down_and_adds_the_increment(fake_clock):  # noqa: F811
    async def scenario():
        options = {"time_base": 60, "time_increment": 2}
        red, blue, start = await pair(7, series_length=3, red_extra=options, blue_extra=options)
        assert start["time_control"] == {"kind": "fischer", "base_ms": 60000, "increment_ms": 2000}
        fake_clock.advance(5)
        await red.move(0, 0)
        assert (await both_get([red, blue], "move"))["remaining_ms"] == {"-1": 57000, "1": 60000}
        fake_clock.advance(1.5)
        await blue.move(1, 1)
        assert (await both_get([red, blue], "move"))["remaining_ms"] == {"-1": 57000, "1": 60500}
        fake_clock.advance(57.001)
        # Found on access: the late move is refused, the game is lost on time.
        await red.move(2, 2)
        assert await both_get([red, blue], "game_over") == {"winner": BLUE, "reason": "timeout"}
        update = await both_get([red, blue], "series_update")
        assert update["player_2_wins"] == 1 and update["current_game_number"] == 2
        second = await both_get([red, blue], "game_start")
        assert second["remaining_ms"] == {"-1": 60000, "1": 60000}, "the budget is per game"
        await red.expect_rejected("Time limit exceeded")
        await red.close()
        await blue.close()

    run(scenario())


def test_clock_pauses_while_the_waiting_player_is_away_and_runs_for_an_absent_mover(settings,
                                                                                    fake_clock):  # noqa: F811
    settings.HEX_RECONNECT_TIMEOUT = 120.0

    async def scenario():
        options = {"time_base": 30}
        red, blue, _ = await pair(7, red_extra=options, blue_extra=options)
        token = blue.joined["reconnect_token"]
        fake_clock.advance(3)
        await blue.close()  # red is to move but may not while blue is away: red's clock stops
        paused = await red.expect("opponent_disconnected")
        assert paused["remaining_ms"] == {"-1": 27000, "1": 30000} and paused["clock_running"] is None
        fake_clock.advance(100)
        await sweep_clocks()
        back = await WS(f"/ws/reconnect?slot_id=1&token={token}").connect()
        resumed = await back.expect("reconnected")
        assert resumed["remaining_ms"] == {"-1": 27000, "1": 30000} and resumed["clock_running"] == RED
        assert resumed["time_control"] == {"kind": "fischer", "base_ms": 30000, "increment_ms": 0}
        running = await red.expect("opponent_reconnected")
        assert running["remaining_ms"] == {"-1": 27000, "1": 30000} and running["clock_running"] == RED
        await red.move(0, 0)
        await both_get([red, back], "move")
        red_token = red.joined["reconnect_token"]
        await back.close()
        await red.expect("opponent_disconnected")
        # Now red goes too, and blue (to move, absent) keeps losing time.
        await red.close()
        fake_clock.advance(30.5)
        await sweep_clocks()
        game = await db(lambda: Game.objects.get())
        assert game.end_reason == "timeout" and game.winner == RED
        again = await WS(f"/ws/reconnect?slot_id=1&token={red_token}").connect()
        resumed = await again.expect("reconnected")
        assert resumed["slot"]["series_winner"] == RED
        await again.close()

    run(scenario())


def test_operator_can_pause_clocks_of_absent_players(settings, fake_clock):  # noqa: F811
    settings.HEX_CLOCK_PAUSE_ON_DISCONNECT = True

    async def scenario():
        red, blue, _ = await pair(7, red_extra={"time_per_move": 5}, blue_extra={"time_per_move": 5})
        await red.move(0, 0)
        await both_get([red, blue], "move")
        await blue.close()
        await red.expect("opponent_disconnected")
        fake_clock.advance(60)
        await sweep_clocks()
        game = await db(lambda: Game.objects.get())
        assert game.winner is None and game.turn_deadline is None
        await red.close()

    run(scenario())


def test_server_wide_move_limit_ends_stalled_plain_games_without_clock_fields(settings, fake_clock):  # noqa: F811
    settings.HEX_MAX_MOVE_SECONDS = 5.0

    async def scenario():
        red, blue, start = await pair(7)
        assert set(start) == GAME_START_KEYS
        await red.move(0, 0)
        assert set(await both_get([red, blue], "move")) == {"player", "q", "r", "next_turn"}
        fake_clock.advance(5.5)
        await sweep_clocks()
        assert await both_get([red, blue], "game_over") == {"winner": RED, "reason": "timeout"}
        await red.close()
        await blue.close()

    run(scenario())


def test_plain_games_have_no_deadline_and_no_clock_fields(fake_clock):  # noqa: F811
    async def scenario():
        red, blue, _ = await pair(7)
        token = blue.joined["reconnect_token"]
        fake_clock.advance(10**6)
        await sweep_clocks()
        await blue.close()
        await red.expect("opponent_disconnected")
        back = await WS(f"/ws/reconnect?slot_id=1&token={token}").connect()
        resumed = await back.expect("reconnected")
        assert set(resumed) == {"slot_id", "player", "color", "board_size", "series_length", "protocol_version",
                                "slot"}
        game = await db(lambda: Game.objects.get())
        assert game.turn_deadline is None and game.clock_ms is None
        await red.close()
        await back.close()

    run(scenario())


# -- verified identities -------------------------------------------------------------------------------------------


def issue(username: str, model: str) -> str:
    return services.issue_bot_token(username, model)[1]


def test_verified_bots_play_a_rated_series_and_spoofers_are_refused():
    async def scenario():
        alice = await db(lambda: issue("alice", "hexnet"))
        bob = await db(lambda: issue("bob", "mcts"))
        spoof = await WS("/ws/matchmake?board_size=7&model_name=hexnet&username=alice").connect()
        await spoof.expect_refused(
            "This model_name and username belong to a verified bot; connect with its bot_token or choose another "
            "name", 1008)
        case_spoof = await WS("/ws/matchmake?board_size=7&model_name=HexNet&username=ALICE").connect()
        await case_spoof.expect_refused(
            "This model_name and username belong to a verified bot; connect with its bot_token or choose another "
            "name", 1008)
        red = await creator(7, bot_token=alice)  # labels come from the token
        blue = await matchmake(7, bot_token=bob, model_name="mcts", username="bob")
        start = await both_get([blue, red], "game_start")
        assert start["player_models"] == {"-1": "hexnet", "1": "mcts"}
        assert start["player_usernames"] == {"-1": "alice", "1": "bob"}
        assert set(start) == GAME_START_KEYS
        series = await db(lambda: Series.objects.get())
        assert series.rated and series.player_1_verified and series.player_2_verified
        used = await db(lambda: list(BotToken.objects.values_list("last_used_at", flat=True)))
        assert all(used)
        await red.close()
        await blue.close()

    run(scenario())


def test_wrong_mismatched_and_revoked_tokens_are_refused():
    async def scenario():
        token = await db(lambda: issue("carol", "zero"))
        bad = await WS("/ws/matchmake?board_size=7&bot_token=hexbot_nope").connect()
        await bad.expect_refused("Invalid bot token", 1008)
        other = await WS(f"/ws/matchmake?board_size=7&bot_token={token}&model_name=zero&username=dave").connect()
        await other.expect_refused("This bot token belongs to a different model_name/username", 1008)
        await db(lambda: BotToken.objects.update(revoked=True))
        revoked = await WS(f"/ws/matchmake?board_size=7&bot_token={token}").connect()
        await revoked.expect_refused("Bot token has been revoked", 1008)
        assert (await slot(1))["state"] == "empty"

    run(scenario())


def test_unverified_games_are_unrated_and_join_slot_takes_a_header_token():
    async def scenario():
        token = await db(lambda: issue("erin", "alpha"))
        red = await creator(7, model_name="random_client")
        blue = await WS(f"/ws/join-slot?slot_id={red.joined['slot_id']}",
                        headers=[(b"x-hex-bot-token", token.encode())]).connect()
        await blue.expect("joined")
        await both_get([blue, red], "game_start")
        seats = await db(lambda: dict(Seat.objects.values_list("player", "verified")))
        assert seats == {RED: False, BLUE: True}
        series = await db(lambda: Series.objects.get())
        assert not series.rated and series.player_2_verified and series.player_2_model == "alpha"
        await red.close()
        await blue.close()

    run(scenario())
