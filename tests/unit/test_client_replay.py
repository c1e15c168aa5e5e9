"""The JSONL replay log: where it goes, what a played game leaves in it, and
that the reconnect token never lands in it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from clients.replay import ReplayLog, read_replay
from clients.session import Options, Session
from tests.support.fake_arena import FakeArena

TOKEN = "secret-token-" + "x" * 30


def test_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    log = ReplayLog.open("off", "model_first")
    log.session_start("play", "model_first", "ws://x", {})
    log.close()
    assert not log.enabled
    assert list(tmp_path.iterdir()) == []


def test_auto_writes_under_replays_named_after_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    log = ReplayLog.open("auto", "my model/v2")
    log.session_start("play", "my model/v2", "ws://x", {})
    log.close()
    files = list((tmp_path / "replays").iterdir())
    assert len(files) == 1
    assert files[0].suffix == ".jsonl"
    assert "my_model_v2" in files[0].name
    assert read_replay(files[0])[0]["event"] == "session_start"


def test_explicit_path_records_are_numbered_timestamped_and_redacted(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "run.jsonl"
    log = ReplayLog.open(str(path), "m")
    log.server_message({"type": "joined", "payload": {"slot_id": 2, "reconnect_token": TOKEN}})
    log.move_rejected("Not your turn", {"q": 1, "r": 2})
    log.close()
    text = path.read_text()
    assert TOKEN not in text
    records = read_replay(path)
    assert [r["seq"] for r in records] == [1, 2]
    assert all(r["time"].endswith("+00:00") for r in records)
    assert records[0]["message"]["payload"] == {"slot_id": 2, "reconnect_token": "<redacted>"}
    assert records[1] == {**records[1], "event": "move_rejected", "reason": "Not your turn", "sent": {"q": 1, "r": 2}}


class ScriptedGame(FakeArena):
    """A fake arena for one best-of-1 game on 7x7: the client is red and moves
    first; its first move is rejected once ("Not your turn"), then every red
    move is accepted and blue answers on the bottom row. Red (model_first
    plays row 0 left to right) connects its sides with its 7th stone."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        super().__init__()

    def script(self, ws) -> None:
        self.send(ws, "joined", slot_id=4, player=-1, color="red", board_size=7, series_length=1,
                  reconnect_token=TOKEN, protocol_version=1)
        self.send(ws, "waiting_for_opponent", slot_id=4, board_size=7)
        self.send(ws, "game_start", slot_id=4, board_size=7, series_length=1, players=[-1, 1], first_turn=-1,
                  current_game_number=1, player_1_wins=0, player_2_wins=0, wins_required=1,
                  player_models={"-1": "model_first", "1": "fake"}, player_usernames={})
        rejected = False
        red_moves = 0
        for text in ws:
            frame = json.loads(text)
            self.received.append(frame)
            if frame["type"] != "move":
                continue
            if not rejected:
                rejected = True
                self.send(ws, "move_rejected", reason="Not your turn")
                continue
            q, r = frame["payload"]["q"], frame["payload"]["r"]
            red_moves += 1
            if red_moves == 7:
                self.send(ws, "move", player=-1, q=q, r=r, next_turn=None)
                self.send(ws, "game_over", winner=-1, reason="connected_sides")
                self.send(ws, "series_update", player_1_wins=1, player_2_wins=0, current_game_number=1,
                          wins_required=1, series_length=1)
                self.send(ws, "series_over", winner=-1, player_1_wins=1, player_2_wins=0, wins_required=1,
                          series_length=1)
                continue
            self.send(ws, "move", player=-1, q=q, r=r, next_turn=1)
            self.send(ws, "move", player=1, q=red_moves - 1, r=6, next_turn=-1)



@pytest.fixture
def played_game(tmp_path: Path) -> tuple[int, list[dict], ScriptedGame]:
    path = tmp_path / "game.jsonl"
    with ScriptedGame() as server:
        session = Session(Options(command="play", server=f"ws://127.0.0.1:{server.port}", model_name="model_first",
                                  move_delay=0, replay_log=str(path)), say=lambda text: None)
        try:
            code = asyncio.run(asyncio.wait_for(session.run(), 30))
        finally:
            session.close()
    assert TOKEN not in path.read_text()
    return code, read_replay(path), server


def test_played_game_is_logged_from_start_to_terminal(played_game) -> None:
    code, records, _ = played_game
    assert code == 0
    events = [r["event"] for r in records]
    assert events[0] == "session_start"
    assert records[0]["client"] == "play" and records[0]["model"] == "model_first"
    assert events[-1] == "terminal"
    assert records[-1]["outcome"] == "series_over"
    assert records[-1]["exit_code"] == 0
    assert (records[-1]["winner"], records[-1]["player_1_wins"], records[-1]["player_2_wins"]) == (-1, 1, 0)
    received_types = [r["message"]["type"] for r in records if r["event"] == "server_message"]
    assert received_types[:3] == ["joined", "waiting_for_opponent", "game_start"]
    assert received_types[-3:] == ["game_over", "series_update", "series_over"]


def test_decisions_carry_the_board_before_and_the_choice(played_game) -> None:
    _, records, _ = played_game
    decisions = [r for r in records if r["event"] == "decision"]
    # Seven accepted red moves plus the one decided again after the rejection.
    assert len(decisions) == 8
    first = decisions[0]
    assert first["board_before"] == [[0] * 7 for _ in range(7)]
    assert first["choice"] == [0, 0] and first["sent"] == {"q": 0, "r": 0}
    assert first["legal_count"] == 49
    last = decisions[-1]
    assert last["choice"] == [0, 6] and last["sent"] == {"q": 6, "r": 0}
    # Before red's last stone: six red stones on row 0, six blue ones on row 6.
    assert last["board_before"][0] == [-1] * 6 + [0]
    assert last["board_before"][6] == [1] * 6 + [0]
    assert last["legal_count"] == 49 - 12


def test_rejection_applied_moves_and_snapshots_are_logged(played_game) -> None:
    _, records, server = played_game
    rejected = [r for r in records if r["event"] == "move_rejected"]
    assert rejected == [{**rejected[0], "reason": "Not your turn", "sent": {"q": 0, "r": 0}}]
    applied = [(r["player"], r["q"], r["r"]) for r in records if r["event"] == "move_applied"]
    assert applied[:3] == [(-1, 0, 0), (1, 0, 6), (-1, 1, 0)]
    assert applied[-1] == (-1, 6, 0)
    assert len(applied) == 13
    snapshots = [r for r in records if r["event"] == "board_snapshot"]
    assert len(snapshots) == 7
    assert all(s["phase"] == "after_own_move" for s in snapshots)
    assert snapshots[-1]["board"][0] == [-1] * 7
    # What the server received matches: the rejected move was sent again.
    assert [f["payload"] for f in server.received if f["type"] == "move"][:2] == [{"q": 0, "r": 0}] * 2
