"""``hexgame engine`` drives a real HTP engine subprocess against a real daphne server.

The engine is tests/support/htp_engine.py, spoken to over pipes; the opponent
is the scripted test Bot. The engine's command log is compared with the moves
the arena announced, so the coordinate and colour translation is checked in
both directions.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clients.htp import EXIT_ENGINE
from tests.e2e.test_clients_e2e import finish, start_client
from tests.support.bots import Bot
from tests.support.live import ROOT, http_json

pytestmark = pytest.mark.e2e

ENGINE = ROOT / "tests" / "support" / "htp_engine.py"
LETTERS = "abcdefghijklmnopqrs"


def engine_cmd(*extra: str) -> str:
    return shlex.join([sys.executable, str(ENGINE), *extra])


def start_engine_client(server, tmp_path: Path, cmd: str, *extra: str, series_length: int = 1) -> subprocess.Popen:
    return start_client(["engine", "--cmd", cmd, "--server", server.ws_url, "--board-size", "7",
                         "--series-length", str(series_length), "--move-delay", "0", "--username", "engine-e2e",
                         "--replay-log", "off", *extra], tmp_path)


def wait_for_waiting_slot(server, process: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [slot for slot in http_json(server.http_url + "/slots") if slot["state"] == "waiting"]
        if waiting:
            return waiting[0]
        if process.poll() is not None:
            pytest.fail(f"engine client exited early: {process.communicate()}")
        time.sleep(0.1)
    pytest.fail("the engine client never took a slot")


def bot_joins(server, series_length: int = 1) -> Bot:
    bot = Bot(server.ws_url, board_size=7, series_length=series_length, model_name="opponent", seed=5)
    asyncio.run(asyncio.wait_for(bot.play(), timeout=120))
    return bot


def test_engine_plays_a_series_and_is_told_every_move_in_htp_coordinates(daphne_server, tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    process = start_engine_client(daphne_server, tmp_path, engine_cmd("--log", str(log)), series_length=3)
    slot = wait_for_waiting_slot(daphne_server, process)
    # The label is the engine's own answer to `name`.
    assert slot["player_models"] == {"-1": "tiny-htp"}
    bot = bot_joins(daphne_server, series_length=3)
    code, out, err = finish(process)
    assert code == 0, err
    assert bot.series_over is not None and "series over" in out
    engine_player = -bot.player
    colour = {1: "black", -1: "white"}  # default: black is blue (connects top and bottom)

    commands = log.read_text().splitlines()
    assert commands[0] == "name" and "boardsize 7" in commands and commands[-1] == "quit"
    # Split the log into games at clear_board and pair it with the arena's moves of each game.
    games: list[list[str]] = []
    for command in commands:
        if command == "clear_board":
            games.append([])
        elif games and command.startswith(("play ", "genmove ")):
            games[-1].append(command)
    arena_games = sorted({game for game, *_ in bot.accepted_moves})
    assert len(games) == len(arena_games) >= 2
    for number, told in zip(arena_games, games, strict=True):
        moves = [(player, q, r) for game, player, q, r in bot.accepted_moves if game == number]
        expected = []
        for index, (player, q, r) in enumerate(moves):
            if player == engine_player:
                expected.append(f"genmove {colour[player]}")
            elif index < len(moves) - 1:  # the winning move of the opponent is never needed
                expected.append(f"play {colour[player]} {LETTERS[q]}{r + 1}")
        assert told[:len(expected)] == expected
        # The engine answered genmove with the first empty cell in reading order: the arena saw exactly that.
        board: set[tuple[int, int]] = set()
        for player, q, r in moves:
            if player == engine_player:
                first_empty = next((fq, fr) for fr in range(7) for fq in range(7) if (fq, fr) not in board)
                assert (q, r) == first_empty
            board.add((q, r))


@pytest.mark.parametrize(
    ("misbehaviour", "message"),
    [
        ("occupied", "engine played an illegal move: a1 (q=0, r=0) is already occupied"),
        ("garbage", "engine played an illegal move: 'genmove white' answered 'zz'"),
        ("refuse", "engine error: 'genmove white' was answered '? not today'"),
        ("crash", "engine crashed (exit code 3)"),
    ],
)
def test_engine_failures_end_the_client_with_exit_code_8_and_a_clear_reason(
    daphne_server, tmp_path: Path, misbehaviour: str, message: str
) -> None:
    process = start_engine_client(daphne_server, tmp_path, engine_cmd("--misbehave", misbehaviour))
    wait_for_waiting_slot(daphne_server, process)
    bot = Bot(daphne_server.ws_url, board_size=7, model_name="opponent", seed=5)

    async def bot_until_engine_exits() -> None:
        task = asyncio.create_task(bot.play())
        while process.poll() is None:
            await asyncio.sleep(0.1)
        task.cancel()

    asyncio.run(asyncio.wait_for(bot_until_engine_exits(), timeout=120))
    code, out, err = finish(process)
    assert code == EXIT_ENGINE == 8
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    if misbehaviour == "crash":
        assert "tiny-htp engine ready" in lines[0]  # the engine's stderr tail is part of the reason


def test_engine_that_resigns_loses_the_game_through_the_protocol(daphne_server, tmp_path: Path) -> None:
    process = start_engine_client(daphne_server, tmp_path, engine_cmd("--misbehave", "resign"))
    wait_for_waiting_slot(daphne_server, process)
    bot = bot_joins(daphne_server)
    code, out, err = finish(process)
    assert code == 0, err
    assert bot.series_over["winner"] == bot.player
    assert {"type": "game_over", "payload": {"winner": bot.player, "reason": "resignation"}} in bot.received


def test_an_engine_that_cannot_start_is_an_engine_error(tmp_path: Path) -> None:
    process = start_client(["engine", "--cmd", "/nonexistent/engine --flag", "--server", "ws://127.0.0.1:9"],
                           tmp_path)
    code, out, err = finish(process)
    assert code == 8
    assert "cannot start '/nonexistent/engine'" in err
