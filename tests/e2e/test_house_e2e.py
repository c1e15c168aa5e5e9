"""House bots against a real daphne server: ``hexgame house`` keeps a slot,
plays whoever comes, re-queues after the series, survives a server restart and
stops cleanly on SIGTERM; ``hexgame-server`` starts them from HEX_HOUSE_BOTS."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_clients_e2e import start_client
from tests.support.bots import Bot
from tests.support.live import ROOT, free_port, http_json

pytestmark = pytest.mark.e2e


def house_slots(server_url: str, username: str = "house") -> list[dict]:
    return [slot for slot in http_json(server_url + "/slots")
            if slot["state"] == "waiting" and slot["player_usernames"].get("-1") == username
            and slot["connected_players"] == [-1]]


def wait_for_house(server_url: str, count: int = 1, process: subprocess.Popen | None = None,
                   timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        slots = house_slots(server_url)
        if len(slots) >= count:
            return slots
        if process is not None and process.poll() is not None:
            pytest.fail(f"house exited early: {process.communicate()}")
        time.sleep(0.2)
    pytest.fail(f"{count} house bot(s) never waited in a slot; slots: {http_json(server_url + '/slots')}")


def play_against(server, board_size: int, series_length: int = 1, seed: int = 1) -> Bot:
    bot = Bot(server.ws_url, board_size=board_size, series_length=series_length, model_name="visitor", seed=seed)
    asyncio.run(asyncio.wait_for(bot.play(), timeout=120))
    return bot


def stop(process: subprocess.Popen) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"did not stop on SIGTERM:\n{out}\n{err}")
    return process.returncode, out, err


def test_house_keeps_a_slot_plays_requeues_and_survives_a_server_restart(live_server_factory, tmp_path: Path):
    env = {"HEX_HEARTBEAT_INTERVAL": "0.3", "HEX_SWEEP_INTERVAL": "0.2", "HEX_RECONNECT_TIMEOUT": "20"}
    server = live_server_factory(env=env)
    house = start_client(["house", "--model", "model_mcts", "--iterations", "200", "--seed", "1",
                          "--board-size", "7", "--board-size", "9", "--move-delay", "0",
                          "--server", server.ws_url], tmp_path)
    try:
        slots = wait_for_house(server.http_url, 2, house)
        assert sorted((s["board_size"], s["series_length"]) for s in slots) == [(7, 1), (9, 1)]
        assert all(s["player_models"] == {"-1": "model_mcts"} for s in slots)
        seven = next(s for s in slots if s["board_size"] == 7)

        # A visitor plays the waiting bot to the end; the bot keeps the slot and waits again.
        first = play_against(server, 7)
        assert first.slot_id == seven["slot_id"] and first.player == 1
        assert first.series_over is not None
        again = wait_for_house(server.http_url, 2, house)
        assert seven["slot_id"] in [s["slot_id"] for s in again]

        # The server dies and comes back on the same port and database: the bots resume their seats.
        server.kill()
        time.sleep(1)
        server.start()
        time.sleep(1)  # let the restarted server mark the dead process's seats disconnected first
        resumed = wait_for_house(server.http_url, 2, house)
        assert sorted(s["board_size"] for s in resumed) == [7, 9]

        second = play_against(server, 9, seed=2)
        assert second.series_over is not None and second.board_size == 9
        wait_for_house(server.http_url, 2, house)
    finally:
        code, out, err = stop(house)
    assert code == 0, err
    assert "house bots stopped" in out
    # After the restart the bots came back to their own seats through /ws/reconnect.
    assert "[model_mcts 7x7 best of 1] resumed slot" in out and "[model_mcts 9x9 best of 1] resumed slot" in out
    # Stopping closed the bots' connections: nobody is connected any more.
    deadline = time.monotonic() + 20
    while house_slots(server.http_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert house_slots(server.http_url) == []


def test_house_refuses_an_unknown_model_before_connecting(tmp_path: Path):
    house = start_client(["house", "--model", "no_such_model_here", "--board-size", "7",
                          "--server", "ws://127.0.0.1:9"], tmp_path)
    out, err = house.communicate(timeout=60)
    assert house.returncode == 6
    assert "no model named 'no_such_model_here'" in err


def test_hexgame_server_starts_the_house_bots_of_hex_house_bots_and_stops_them(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HEX_DATABASE_URL": f"sqlite:///{tmp_path / 'arena.sqlite3'}",
           "HEX_DATA_DIR": str(tmp_path), "HEX_HOUSE_BOTS": "model_mcts:7:1, model_first:11:3",
           "HEX_LOG_LEVEL": "WARNING"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    server = subprocess.Popen([sys.executable, "-m", "hexsite.cli", "--port", str(port), "--log-level", "warning"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        slots: list[dict] = []
        while time.monotonic() < deadline and len(slots) < 2:
            if server.poll() is not None:
                pytest.fail(f"hexgame-server exited: {server.communicate()}")
            try:
                slots = house_slots(url)
            except OSError:
                pass
            time.sleep(0.3)
        assert sorted((s["player_models"]["-1"], s["board_size"], s["series_length"]) for s in slots) == [
            ("model_first", 11, 3), ("model_mcts", 7, 1)]
        # The landing page and /play say which house bots are waiting.
        for page in ("/", "/play"):
            with urllib.request.urlopen(url + page, timeout=10) as response:
                html = response.read().decode()
            section = html[html.index('id="house-bots"'):]
            assert "model_mcts" in section and "7×7" in section and "best of 3" in section
    finally:
        code, out, err = stop(server)
    assert code == 0, err
    # The house process went with the server: no hexgame house is left running.
    assert subprocess.run(["pgrep", "-f", f"clients.cli house --server ws://127.0.0.1:{port}"],
                          capture_output=True).returncode == 1


@pytest.mark.parametrize(
    ("bots", "extra", "message"),
    [
        ("model_mcts:7:1,model_mcts:9:1", {"HEX_MAX_SLOTS": "2"}, "leave at least one free"),
        ("model_mcts:7:1,model_mcts:9:1", {"HEX_MAX_CONNECTIONS_PER_IP": "1"}, "HEX_MAX_CONNECTIONS_PER_IP is 1"),
        ("model_mcts:8:1", {}, "unsupported board size"),
        ("model_mcts", {}, "expected MODEL:BOARD_SIZE"),
    ],
)
def test_hexgame_server_refuses_house_bots_that_cannot_fit(tmp_path: Path, bots: str, extra: dict, message: str):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HEX_DATABASE_URL": f"sqlite:///{tmp_path / 'arena.sqlite3'}",
           "HEX_DATA_DIR": str(tmp_path), "HEX_HOUSE_BOTS": bots, **extra}
    result = subprocess.run([sys.executable, "-m", "hexsite.cli", "--port", str(free_port()), "--no-migrate"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr


def test_an_opponent_who_drops_keeps_their_seat_against_a_house_bot(live_server_factory, tmp_path: Path):
    """A person reloading /play must find their game again: the house bot waits out the
    reconnect window instead of taking its slot back the moment the opponent drops."""
    server = live_server_factory(env={"HEX_RECONNECT_TIMEOUT": "30"})
    house = start_client(["house", "--model", "model_first", "--board-size", "7", "--move-delay", "0",
                          "--server", server.ws_url], tmp_path)
    try:
        wait_for_house(server.http_url, 1, house)
        visitor = Bot(server.ws_url, board_size=7, model_name="visitor", seed=4, pause_at=(1, 4))

        async def drop_then_resume() -> None:
            playing = asyncio.create_task(visitor.play())
            await asyncio.wait_for(visitor.paused.wait(), timeout=60)
            playing.cancel()  # the visitor's connection goes away mid-game
            with contextlib.suppress(asyncio.CancelledError):
                await playing
            await asyncio.sleep(1.5)  # the house bot has heard of it by now
            await asyncio.wait_for(visitor.resume(), timeout=90)

        asyncio.run(drop_then_resume())
        assert visitor.series_over is not None
        assert [m["type"] for m in visitor.received].count("reconnected") == 1
        assert "opponent_left_slot" not in visitor.types()
        wait_for_house(server.http_url, 1, house)  # and then it waits for the next one
    finally:
        code, out, err = stop(house)
    assert code == 0, err
