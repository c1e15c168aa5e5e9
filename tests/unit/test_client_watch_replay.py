"""``hexgame watch`` and ``hexgame replay`` against scripted servers and files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from clients import cli, replay_view
from clients.errors import EXIT_REFUSED
from clients.replay import ReplayLog
from clients.watch import Spectator, WatchOptions, render, terminal_printer
from games import records, rules
from tests.support.fake_arena import FakeArena

DATA = Path(__file__).resolve().parent.parent / "data"
RED, BLUE = rules.RED, rules.BLUE


def empty_snapshot(slot_id: int, **fields) -> dict:
    snap = {"slot_id": slot_id, "state": "full", "board_size": 5, "series_length": 1, "player_count": 2,
            "connected_player_count": 2, "players": [-1, 1], "player_models": {"-1": "redbot", "1": "bluebot"},
            "player_usernames": {"-1": "ann"}, "connected_players": [-1, 1], "disconnected_players": [],
            "current_turn": -1, "winner": None, "move_count": 1,
            "board": [[-1, 0, 0, 0, 0]] + [[0] * 5 for _ in range(4)], "wins_required": 1,
            "current_game_number": 1, "player_1_wins": 0, "player_2_wins": 0, "series_winner": None}
    snap.update(fields)
    return snap


class WatchedSlot(FakeArena):
    """A spectator stream: snapshot after red's a1, then blue and red moves and the end of the series."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def script(self, ws) -> None:
        self.paths.append(ws.request.path)
        self.send(ws, "watching", slot_id=3, spectators=1, series_id=9, game_id=17, last_move=[0, 0],
                  slot=empty_snapshot(3, current_turn=1))
        self.send(ws, "move", player=BLUE, q=2, r=2, next_turn=RED)
        self.send(ws, "move", player=RED, q=1, r=0, next_turn=BLUE)
        self.send(ws, "game_over", winner=RED, reason="resignation")
        self.send(ws, "series_update", player_1_wins=1, player_2_wins=0, current_game_number=1, wins_required=1,
                  series_length=1)
        self.send(ws, "series_over", winner=RED, player_1_wins=1, player_2_wins=0, wins_required=1,
                  series_length=1)
        ws.recv()  # hold the socket open until the client leaves


class RefusingArena(FakeArena):
    def script(self, ws) -> None:
        self.send(ws, "error", message="Slot does not exist")
        ws.close(1008)


def test_watch_draws_every_position_in_order() -> None:
    out = io.StringIO()
    with WatchedSlot() as arena:
        code = cli_main_with_output(["watch", "--slot-id", "3", "--server", arena.url, "--until-over"], out)
    assert code == 0
    assert arena.paths == ["/ws/watch?slot_id=3"]
    pictures = [p for p in out.getvalue().split("\n\n") if p.strip()]
    # watching, move, move, game_over, series_update, series_over
    assert len(pictures) == 6
    assert "redbot (ann)" in pictures[0] and "bluebot" in pictures[0] and "blue to move" in pictures[0]
    assert " 1 r · · · ·" in pictures[0]  # the snapshot's last move, lower-cased
    assert "  3 · · b · ·" in pictures[1]
    assert " 1 R r · · ·" in pictures[2] and "move 3" in pictures[2]
    assert "series over: red wins" in pictures[-1] and "score red 1 - 0 blue" in pictures[-1]


def cli_main_with_output(argv: list[str], out: io.StringIO) -> int:
    """Run ``hexgame watch`` with its terminal output captured (not a TTY: pictures appended)."""
    import clients.watch as watch

    original = watch.terminal_printer
    watch.terminal_printer = lambda stream=None, clear=None: original(out, clear=False)
    try:
        return cli.main(argv)
    finally:
        watch.terminal_printer = original


def test_watch_refusal_is_one_line_and_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    with RefusingArena() as arena:
        assert cli.main(["watch", "--slot-id", "99", "--server", arena.url]) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "Slot does not exist" in err and len(err.strip().splitlines()) == 1


def test_spectator_view_follows_the_stream() -> None:
    seen = []
    with WatchedSlot() as arena:
        spectator = Spectator(WatchOptions(arena.url, 3, until_over=True), lambda snap, msg: seen.append(msg.type))
        import asyncio

        assert asyncio.run(spectator.run()) == 0
    snap = spectator.snapshot()
    assert seen == ["watching", "move", "move", "game_over", "series_update", "series_over"]
    assert snap.at(0, 0) == RED and snap.at(2, 2) == BLUE and snap.at(1, 0) == RED
    assert snap.series_winner == RED and snap.player is None
    assert "series over" in render(snap)


def test_terminal_printer_clears_the_screen_on_a_tty() -> None:
    out = io.StringIO()
    printer = terminal_printer(out, clear=True)
    from clients.connection import Message
    from clients.game_state import GameView

    view = GameView()
    view.apply(Message("watching", {"slot_id": 1, "slot": empty_snapshot(1)}))
    printer(view.snapshot(), Message("watching", {}))
    assert out.getvalue().startswith("\x1b[H\x1b[2J")


def test_a_spectators_snapshot_sets_the_clock_and_a_paused_one_stops_it() -> None:
    from clients.connection import Message
    from clients.game_state import GameView

    view = GameView()
    clock = {"swap": True, "time_control": {"kind": "fischer", "base_ms": 60000, "increment_ms": 0}}
    view.apply(Message("watching", {"slot_id": 1, "slot": empty_snapshot(1), **clock,
                                    "remaining_ms": {"-1": 41000, "1": 60000}, "clock_running": RED}))
    snap = view.snapshot()
    assert snap.remaining_ms == {RED: 41000, BLUE: 60000} and snap.clock_running == RED
    assert snap.time_control == "60s + 0s" and snap.swap_rule
    # Blue left: the refreshed snapshot says the clock waits for them.
    away = empty_snapshot(1, connected_players=[-1], disconnected_players=[1], connected_player_count=1)
    view.apply(Message("watching", {"slot_id": 1, "slot": away, **clock,
                                    "remaining_ms": {"-1": 39500, "1": 60000}, "clock_running": None}))
    snap = view.snapshot()
    assert snap.remaining_ms == {RED: 39500, BLUE: 60000} and snap.clock_running is None and snap.paused


# -- replay ------------------------------------------------------------------------------------------


def test_replay_sgf_print_all_shows_every_position(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", str(DATA / "golden_red_wins.sgf"), "--print-all"]) == 0
    out = capsys.readouterr().out
    assert out.count("   a b c d e f g") == 14  # start + 13 moves
    assert "start position (0/13)" in out
    assert "move 13/13: red g4 (q=6, r=3)" in out
    assert out.rstrip().endswith("result: red wins (connected sides)")


def test_replay_steps_with_commands_from_stdin(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n\np\n10\nl\nf\nq\nn\n"))
    assert cli.main(["replay", str(DATA / "golden_red_wins.json")]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith(("start position", "move "))]
    assert shown == ["start position (0/13)", "move 1/13: red a4 (q=0, r=3)", "move 2/13: blue a1 (q=0, r=0)",
                     "move 1/13: red a4 (q=0, r=3)", "move 10/13: blue e1 (q=4, r=0)",
                     "move 13/13: red g4 (q=6, r=3)", "start position (0/13)"]  # q stops before the last n


def test_replay_of_a_client_log_rebuilds_the_games(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    log = ReplayLog(path)
    log.server_message({"type": "joined", "payload": {"slot_id": 1, "reconnect_token": "secret"}})
    log.server_message({"type": "game_start", "payload": {
        "slot_id": 1, "board_size": 7, "series_length": 3, "first_turn": BLUE, "current_game_number": 1,
        "player_models": {"-1": "me", "1": "them"}, "player_usernames": {"-1": "ann"}}})
    for player, q, r in ((BLUE, 3, 3), (RED, 0, 0), (BLUE, 4, 4)):
        log.server_message({"type": "move", "payload": {"player": player, "q": q, "r": r, "next_turn": -player}})
    log.server_message({"type": "game_over", "payload": {"winner": BLUE, "reason": "resignation"}})
    log.server_message({"type": "game_start", "payload": {
        "slot_id": 1, "board_size": 7, "series_length": 3, "first_turn": RED, "current_game_number": 2}})
    log.server_message({"type": "move", "payload": {"player": RED, "q": 1, "r": 1, "next_turn": BLUE}})
    log.close()
    games = replay_view.load_file(str(path))
    assert [g.game_number for g in games] == [1, 2]
    assert [(m.player, m.cell) for m in games[0].moves] == [(BLUE, "d4"), (RED, "a1"), (BLUE, "e5")]
    assert games[0].winner == BLUE and games[0].end_reason == "resignation"
    assert games[0].red == records.PlayerRecord("me", "ann") and games[1].red.model == "me"
    assert games[1].status == records.STATUS_RUNNING and len(games[1].moves) == 1
    out = io.StringIO()
    replay_view.run_terminal(games, stdin=io.StringIO("l\n]\nq\n"), stdout=out)
    text = out.getvalue()
    assert "result: blue wins (resignation)" in text and "game 2 (2/2 in this file)" in text


def test_replay_of_a_log_resumed_mid_game_keeps_the_snapshot_stones(tmp_path: Path) -> None:
    path = tmp_path / "resumed.jsonl"
    board = [[0] * 7 for _ in range(7)]
    board[0][0], board[3][3] = RED, BLUE
    path.write_text("\n".join(json.dumps(e) for e in [
        {"seq": 1, "event": "server_message", "message": {"type": "reconnected", "payload": {
            "slot_id": 2, "player": RED, "slot": {"slot_id": 2, "board": board, "current_game_number": 2}}}},
        {"seq": 2, "event": "server_message", "message": {"type": "move", "payload": {
            "player": RED, "q": 1, "r": 1, "next_turn": BLUE}}},
    ]) + "\n")
    [game] = replay_view.load_file(str(path))
    assert game.game_number == 2 and {(m.q, m.r) for m in game.moves} == {(0, 0), (3, 3), (1, 1)}


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ("", ".jsonl", "holds no game"),
    ("not json\n", ".jsonl", "cannot read"),
    ("(;GM[11]SZ[7];B[z9])", ".sgf", "cannot read"),
    ('{"board_size": 7, "moves": [{"player": 5}]}', ".json", "cannot read"),
])
def test_replay_of_a_broken_file_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                          suffix: str, message: str) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_text(content)
    assert cli.main(["replay", str(path), "--print-all"]) == 2
    assert message in capsys.readouterr().err


def test_replay_needs_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["replay"])
    with pytest.raises(SystemExit):
        cli.main(["replay", "x.jsonl", "--game", "3"])
    assert cli.main(["replay", "/nonexistent.jsonl"]) == 2


def test_replay_game_from_an_unreachable_server_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.live import free_port

    assert cli.main(["replay", "--game", "1", "--server", f"ws://127.0.0.1:{free_port()}", "--print-all"]) == 4
    assert "cannot reach" in capsys.readouterr().err


def test_http_base_turns_websocket_urls_into_http() -> None:
    assert replay_view.http_base("ws://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert replay_view.http_base("wss://hex.example.org") == "https://hex.example.org"
    assert replay_view.http_base("localhost:9000") == "http://localhost:9000"
