"""Competitive play end to end: two bundled ``hexgame`` clients with verified
bot tokens play a best-of-three series with the swap rule and a clock on a
real daphne server; the series is rated and shown on the pages."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from clients.replay import read_replay
from tests.e2e.test_clients_e2e import finish, start_client
from tests.support.live import ROOT, http_json

pytestmark = pytest.mark.e2e


def issue_token(server, username: str, model: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", "issue_bot_token", username, model], cwd=ROOT,
                          env=server.env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def wait_for_waiting_slot(server, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [s for s in http_json(f"{server.http_url}/slots") if s["state"] == "waiting"]
        if waiting:
            return waiting[0]
        time.sleep(0.05)
    pytest.fail("the first client never took a slot")


def server_messages(records: list[dict], type_: str) -> list[dict]:
    return [r["message"]["payload"] for r in records
            if r["event"] == "server_message" and r["message"]["type"] == type_]


def test_verified_clients_play_a_rated_swap_series_with_a_clock(daphne_server, tmp_path: Path) -> None:
    red_token = issue_token(daphne_server, "e2e-red", "random_client")
    blue_token = issue_token(daphne_server, "e2e-blue", "model_first")
    common = ["--server", daphne_server.ws_url, "--board-size", "7", "--series-length", "3", "--move-delay", "0",
              "--swap", "--time-base", "120", "--time-increment", "1", "--replay-log", "auto"]
    # The random client creates the slot (red); model_first joins as blue, so it
    # answers red's first stone of game 1 and, as min(action_set), swaps.
    randomer = start_client(["random", "--seed", "5", *common], tmp_path, {"HEX_BOT_TOKEN": red_token})
    wait_for_waiting_slot(daphne_server)
    model = start_client(["play", "--model-name", "model_first", "--bot-token", blue_token, *common], tmp_path)
    random_code, random_out, random_err = finish(randomer)
    model_code, model_out, model_err = finish(model)
    assert (random_code, model_code) == (0, 0), (random_out, random_err, model_out, model_err)
    assert random_out.splitlines()[-1] == model_out.splitlines()[-1]
    assert "swapped" in model_out

    logs = list((tmp_path / "replays").glob("*model_first*.jsonl"))
    assert len(logs) == 1
    records = read_replay(logs[0])
    # Bot tokens are secrets: in no replay log, no output, no server log.
    for token in (red_token, blue_token):
        assert not any(token in path.read_text() for path in (tmp_path / "replays").iterdir())
        assert token not in random_out + model_out + daphne_server.log()
    starts = server_messages(records, "game_start")
    assert starts and all(s["swap"] is True for s in starts)
    assert all(s["time_control"] == {"kind": "fischer", "base_ms": 120000, "increment_ms": 1000} for s in starts)
    assert all(s["remaining_ms"] == {"-1": 120000, "1": 120000} for s in starts)
    assert starts[0]["player_models"] == {"-1": "random_client", "1": "model_first"}
    assert starts[0]["player_usernames"] == {"-1": "e2e-red", "1": "e2e-blue"}
    swaps = server_messages(records, "swap")
    assert swaps[0] == {"player": 1, "q": swaps[0]["from_r"], "r": swaps[0]["from_q"],
                        "from_q": swaps[0]["from_q"], "from_r": swaps[0]["from_r"], "next_turn": -1,
                        "remaining_ms": swaps[0]["remaining_ms"], "clock_running": -1}
    moves = server_messages(records, "move")
    assert all(set(m["remaining_ms"]) == {"-1", "1"} for m in moves)
    # Fischer: nobody spends two minutes on a 7x7 game at full speed, and the increment shows.
    assert max(max(m["remaining_ms"].values()) for m in moves) > 120000

    games = len(starts)
    ratings = http_json(f"{daphne_server.http_url}/api/statistics")["ratings"]
    assert sorted((r["model_name"], r["username"], r["games"]) for r in ratings) == [
        ("model_first", "e2e-blue", games), ("random_client", "e2e-red", games)]
    sized = http_json(f"{daphne_server.http_url}/api/statistics?board_size=7")["ratings"]
    assert [r["rating"] for r in sized] == [r["rating"] for r in ratings]
    with urllib.request.urlopen(f"{daphne_server.http_url}/statistics", timeout=10) as response:
        page = response.read().decode()
    assert page.count('class="rating-chart"') == 2 and "✓ verified" in page


def test_a_stalled_bot_loses_on_time(live_server_factory, tmp_path: Path) -> None:
    """A client slower than the per-move limit loses every game with reason
    timeout; the sweeper ends them although nobody sends anything."""
    server = live_server_factory(env={"HEX_SWEEP_INTERVAL": "0.2"})
    common = ["--server", server.ws_url, "--board-size", "7", "--series-length", "3", "--time-per-move", "1",
              "--replay-log", "auto"]
    quick = start_client(["play", "--model-name", "model_first", "--username", "quick", "--move-delay", "0",
                          *common], tmp_path)
    wait_for_waiting_slot(server)
    slow = start_client(["random", "--seed", "1", "--move-delay", "3", *common], tmp_path)
    quick_code, quick_out, quick_err = finish(quick)
    slow_code, slow_out, slow_err = finish(slow)
    assert (quick_code, slow_code) == (0, 0), (quick_err, slow_err)
    records = read_replay(next((tmp_path / "replays").glob("*model_first*.jsonl")))
    overs = server_messages(records, "game_over")
    assert overs == [{"winner": -1, "reason": "timeout"}] * 2
    assert server_messages(records, "series_over")[0]["winner"] == -1
