"""The bundled clients in opted-in games: the swap option in ``action_set``,
``swap`` messages, clock fields, the new options and the GUI's swap key."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import asyncio  # noqa: E402
import json  # noqa: E402
import queue  # noqa: E402
import time  # noqa: E402

import pygame  # noqa: E402
import pytest  # noqa: E402

from clients import cli, gui  # noqa: E402
from clients.connection import Message, SeatRequest  # noqa: E402
from clients.errors import ProtocolViolationError  # noqa: E402
from clients.game_state import GameView  # noqa: E402
from clients.model_loader import load_model, validate_move  # noqa: E402
from clients.replay import ReplayLog  # noqa: E402
from clients.runner import ModelDecider, RandomDecider  # noqa: E402
from clients.session import Options, Session  # noqa: E402
from games import rules  # noqa: E402
from tests.support.fake_arena import FakeArena  # noqa: E402

RED, BLUE = rules.RED, rules.BLUE


def view_as(player: int, swap: bool, **start_extra) -> GameView:
    view = GameView(7)
    view.apply(Message("joined", {"slot_id": 1, "player": player, "board_size": 7, "series_length": 1}))
    payload = {"slot_id": 1, "board_size": 7, "series_length": 1, "players": [-1, 1], "first_turn": RED,
               "current_game_number": 1, "player_1_wins": 0, "player_2_wins": 0, "wins_required": 1}
    if swap:
        payload["swap"] = True
    payload.update(start_extra)
    view.apply(Message("game_start", payload))
    return view


def test_action_set_gains_the_swap_option_only_in_swap_games_and_only_when_legal():
    plain = view_as(BLUE, swap=False)
    swapping = view_as(BLUE, swap=True)
    for view in (plain, swapping):
        view.apply(Message("move", {"player": RED, "q": 2, "r": 0, "next_turn": BLUE}))
    assert rules.SWAP_ACTION not in plain.action_set()
    assert swapping.action_set()[-1] == rules.SWAP_ACTION
    assert swapping.action_set()[:-1] == plain.action_set()
    assert swapping.snapshot().can_swap and not plain.snapshot().can_swap
    red_view = view_as(RED, swap=True)
    red_view.apply(Message("move", {"player": RED, "q": 2, "r": 0, "next_turn": BLUE}))
    assert not red_view.snapshot().can_swap


def test_swap_message_mirrors_the_stone_and_gives_the_turn_back():
    view = view_as(RED, swap=True)
    view.apply(Message("move", {"player": RED, "q": 2, "r": 0, "next_turn": BLUE}))
    view.apply(Message("swap", {"player": BLUE, "q": 0, "r": 2, "from_q": 2, "from_r": 0, "next_turn": RED}))
    assert view.board.at(0, 2) == BLUE and view.board.at(2, 0) == rules.EMPTY
    assert view.move_count == 2 and view.current_turn == RED and view.my_turn
    assert view.last_move == (0, 2)
    assert rules.SWAP_ACTION not in view.action_set()


@pytest.mark.parametrize("payload", [
    {"player": BLUE, "q": 2, "r": 0, "next_turn": RED},  # not mirrored
    {"player": RED, "q": 0, "r": 2, "next_turn": BLUE},  # red swapping its own stone
    {"player": "blue", "q": 0, "r": 2},
])
def test_a_swap_the_rules_do_not_allow_is_a_protocol_violation(payload):
    view = view_as(RED, swap=True)
    view.apply(Message("move", {"player": RED, "q": 2, "r": 0, "next_turn": BLUE}))
    with pytest.raises(ProtocolViolationError):
        view.apply(Message("swap", payload))


def test_clock_fields_are_read_and_absent_ones_change_nothing():
    view = view_as(RED, swap=False, time_control={"kind": "fischer", "base_ms": 60000, "increment_ms": 2000},
                   remaining_ms={"-1": 60000, "1": 60000}, clock_running=RED)
    assert view.remaining_ms == {RED: 60000, BLUE: 60000} and view.clock_running == RED
    assert view.time_control == "60s + 2s"
    view.apply(Message("move", {"player": RED, "q": 0, "r": 0, "next_turn": BLUE,
                                "remaining_ms": {"-1": 57000, "1": 60000, "junk": 1}, "clock_running": BLUE}))
    assert view.remaining_ms == {RED: 57000, BLUE: 60000} and view.clock_running == BLUE
    view.apply(Message("move", {"player": BLUE, "q": 1, "r": 1, "next_turn": RED}))
    assert view.remaining_ms == {RED: 57000, BLUE: 60000}
    text = "\n".join(line for line, _ in gui.panel_lines(view.snapshot(), "human"))
    assert "clock: red 0:57  blue 1:00*" in text


def test_clock_stops_while_the_opponent_is_away_and_runs_again_when_they_return():
    view = view_as(RED, swap=False, time_control={"kind": "fischer", "base_ms": 60000, "increment_ms": 0},
                   remaining_ms={"-1": 60000, "1": 60000}, clock_running=RED)
    view.apply(Message("opponent_disconnected", {"message": "Your opponent disconnected",
                                                 "reason": "waiting_for_reconnect", "reconnect_timeout_seconds": 30,
                                                 "remaining_ms": {"-1": 58000, "1": 60000}, "clock_running": None}))
    assert view.remaining_ms == {RED: 58000, BLUE: 60000} and view.clock_running is None
    view.apply(Message("opponent_reconnected", {"player": BLUE, "remaining_ms": {"-1": 58000, "1": 60000},
                                                "clock_running": RED}))
    assert view.clock_running == RED


def test_models_and_the_random_client_can_choose_the_swap():
    view = view_as(BLUE, swap=True)
    view.apply(Message("move", {"player": RED, "q": 2, "r": 0, "next_turn": BLUE}))
    actions = view.action_set()
    assert validate_move(rules.SWAP_ACTION, actions, 7) == rules.SWAP_ACTION
    # model_first plays min(action_set): the swap, which sorts first.
    decider = ModelDecider(load_model("model_first"), ReplayLog(None))
    assert asyncio.run(decider.decide(view)) == rules.SWAP_ACTION
    picks = {asyncio.run(RandomDecider(seed).decide(view)) for seed in range(200)}
    assert rules.SWAP_ACTION in picks and len(picks) > 10
    plain = view_as(BLUE, swap=False)
    plain.apply(Message("move", {"player": RED, "q": 2, "r": 0, "next_turn": BLUE}))
    assert asyncio.run(decider.decide(plain)) == (0, 0)


def test_seat_requests_send_extensions_only_when_asked():
    plain = SeatRequest(board_size=9, model_name="m", username="u")
    assert plain.path_and_params() == ("/ws/matchmake", {"board_size": 9, "series_length": 1, "model_name": "m",
                                                         "username": "u", "first_player": None, "swap": None,
                                                         "time_per_move": None, "time_base": None,
                                                         "time_increment": None, "bot_token": None})
    from clients.connection import endpoint_url

    assert endpoint_url("ws://h", *plain.path_and_params()) == "ws://h/ws/matchmake?board_size=9&series_length=1" \
                                                              "&model_name=m&username=u"
    opted = SeatRequest(board_size=9, swap=True, time_base=300, time_increment=5, bot_token="hexbot_x")
    url = endpoint_url("ws://h", *opted.path_and_params())
    assert url.endswith("series_length=1&swap=1&time_base=300&time_increment=5&bot_token=hexbot_x")
    joining = SeatRequest(slot_id=4, swap=True, time_per_move=10)
    assert endpoint_url("ws://h", *joining.path_and_params()) == "ws://h/ws/join-slot?slot_id=4&swap=1&time_per_move=10"
    assert endpoint_url("ws://h", *SeatRequest(slot_id=4).path_and_params()) == "ws://h/ws/join-slot?slot_id=4"


def test_cli_options_and_bot_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("HEX_BOT_TOKEN", "hexbot_env")
    args = cli.build_parser().parse_args(["play", "--swap", "--time-per-move", "30"])
    options = cli.options_from(args)
    assert options.swap and options.time_per_move == 30 and options.bot_token == "hexbot_env"
    # The server fills in the token's username: no OS user name is sent.
    assert options.username is None
    request = options.seat_request()
    assert request.bot_token == "hexbot_env" and request.model_name == "model_random"
    monkeypatch.delenv("HEX_BOT_TOKEN")
    plain = cli.options_from(cli.build_parser().parse_args(["random"]))
    assert plain.bot_token is None and plain.model_name == "random_client" and not plain.swap
    with pytest.raises(SystemExit):
        cli.main(["random", "--time-per-move", "5", "--time-base", "60"])
    with pytest.raises(SystemExit):
        cli.main(["random", "--time-increment", "5"])


class SwapServer(FakeArena):
    """Seats the client as blue in a swap game; red opens at (q=2, r=0)."""

    def __init__(self) -> None:
        self.frames: queue.Queue[dict] = queue.Queue()
        super().__init__()

    def script(self, ws) -> None:
        self.send(ws, "joined", slot_id=1, player=1, color="blue", board_size=7, series_length=1,
                  reconnect_token="t" * 43, protocol_version=1)
        self.send(ws, "game_start", slot_id=1, board_size=7, series_length=1, players=[-1, 1], first_turn=-1,
                  current_game_number=1, player_1_wins=0, player_2_wins=0, wins_required=1, swap=True)
        self.send(ws, "move", player=-1, q=2, r=0, next_turn=1)
        for text in ws:
            self.frames.put(json.loads(text))


def test_gui_s_key_swaps_on_our_turn_in_a_swap_game():
    with SwapServer() as server:
        session = Session(Options(command="gui", server=server.url, model_name="human", board_size=7, move_delay=0,
                                  replay_log="off"), say=lambda text: None)
        app = gui.GuiApp(session, match_delay=0)
        network = gui.NetworkThread(session)
        network.start()
        try:
            deadline = time.monotonic() + 15
            while not session.snapshot().can_swap:
                assert time.monotonic() < deadline
                app.step()
                time.sleep(0.01)
            text = "\n".join(line for line, _ in gui.panel_lines(session.snapshot(), "human"))
            assert "press S to swap" in text
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_s, mod=0, unicode="s", scancode=22))
            app.step()
            frame = server.frames.get(timeout=15)
        finally:
            network.stop()
    assert frame == {"type": "swap", "payload": {}}
