"""Model loading (bundled first, then a module from the working directory) and
validation of what a model returns, including that a bad move is never sent."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import uuid
from pathlib import Path

import pytest

from clients.errors import ModelError
from clients.model_loader import ModelMoveError, load_model, validate_move
from clients.session import Options, Session
from games import rules
from tests.support.fake_arena import FakeArena


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_module(directory: Path, source: str) -> str:
    """A uniquely named module in ``directory`` (sys.modules caches by name)."""
    name = f"user_model_{uuid.uuid4().hex[:10]}"
    (directory / f"{name}.py").write_text(source)
    return name


EMPTY_7 = [[0] * 7 for _ in range(7)]


# -- loading ---------------------------------------------------------------------------------


def test_bundled_model_first_plays_the_first_legal_cell() -> None:
    agent = load_model("model_first")
    assert agent(EMPTY_7, [(3, 4), (0, 5), (0, 2), (6, 0)]) == (0, 2)


def test_bundled_model_random_plays_a_legal_cell_reproducibly_with_a_seed() -> None:
    agent = load_model("model_random")
    actions = [(r, q) for r in range(7) for q in range(7)]
    random.seed(42)
    first = [agent(EMPTY_7, actions) for _ in range(5)]
    random.seed(42)
    second = [agent(EMPTY_7, actions) for _ in range(5)]
    assert first == second
    assert all(move in actions for move in first)


def test_plain_module_in_the_working_directory_is_loaded(workdir: Path) -> None:
    name = write_module(workdir, "def agent(board, action_set):\n    return max(action_set)\n")
    agent = load_model(name)
    assert agent(EMPTY_7, [(0, 0), (5, 1), (2, 2)]) == (5, 1)
    assert str(workdir) not in sys.path  # the loader does not leave the cwd on sys.path


def test_bundled_model_wins_over_a_same_named_module_in_the_working_directory(workdir: Path) -> None:
    (workdir / "model_first.py").write_text("def agent(board, action_set):\n    return (9, 9)\n")
    agent = load_model("model_first")
    assert agent(EMPTY_7, [(1, 1), (0, 3)]) == (0, 3)


def test_unknown_model_is_a_clear_error(workdir: Path) -> None:
    with pytest.raises(ModelError, match=r"no model named 'no_such_model_xyz'"):
        load_model("no_such_model_xyz")


def test_module_without_agent_is_a_clear_error(workdir: Path) -> None:
    name = write_module(workdir, "def play(board):\n    return (0, 0)\n")
    with pytest.raises(ModelError, match=r"has no agent\(board, action_set\)"):
        load_model(name)


def test_model_whose_import_fails_reports_the_cause(workdir: Path) -> None:
    name = write_module(workdir, "import torch_not_installed_here\n\ndef agent(b, a):\n    return a[0]\n")
    with pytest.raises(ModelError, match=r"failed to import.*torch_not_installed_here"):
        load_model(name)
    broken = write_module(workdir, "raise RuntimeError('weights missing')\n")
    with pytest.raises(ModelError, match=r"failed to import.*weights missing"):
        load_model(broken)


def test_invalid_model_name_is_refused() -> None:
    with pytest.raises(ModelError, match="invalid model name"):
        load_model("../evil")


# -- validation ------------------------------------------------------------------------------


def board_with(occupied: dict[tuple[int, int], int], size: int = 7) -> rules.Board:
    """``occupied`` maps (row, col) to a player."""
    board = rules.Board(size)
    for (row, col), player in occupied.items():
        board.place(player, col, row)
    return board


def test_valid_pairs_are_returned_as_plain_int_tuples() -> None:
    actions = rules.legal_actions(board_with({}))
    assert validate_move((2, 5), actions, 7) == (2, 5)
    assert validate_move([2, 5], actions, 7) == (2, 5)
    assert type(validate_move([2, 5], actions, 7)) is tuple


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (5, r"agent returned 5 \(int\); expected a \(row, col\) pair"),
        (None, r"agent returned None"),
        ("a1", r"agent returned 'a1'"),
        ((1, 2, 3), r"with 3 values"),
        ((1.0, 2), r"row is not an integer"),
        ((1, "2"), r"col is not an integer"),
        ((True, 0), r"row is a boolean"),
        ((0, 7), r"outside the 7x7 board"),
        ((-1, 3), r"outside the 7x7 board"),
        ((3, 3), r"\(row=3, col=3\) is occupied"),
        ((2, 5), r"\(q, r\) order"),
    ],
)
def test_bad_moves_are_model_move_errors(returned: object, expected: str) -> None:
    # (row 3, col 3) and (row 2, col 5) are taken; (row 5, col 2) is free, so
    # returning (2, 5) for it is the classic (q, r) mix-up.
    actions = rules.legal_actions(board_with({(3, 3): rules.RED, (2, 5): rules.BLUE}))
    with pytest.raises(ModelMoveError, match=expected) as info:
        validate_move(returned, actions, 7)
    assert str(info.value).startswith("model move error:")


# -- a bad move never reaches the server -----------------------------------------------------


class RecordingServer(FakeArena):
    """A fake arena that seats the client as red, starts a 7x7 game with red to
    move, and records every frame the client sends until it disconnects."""

    def __init__(self) -> None:
        self.frames: list[dict] = []
        super().__init__()

    def script(self, ws) -> None:
        self.send(ws, "joined", slot_id=1, player=-1, color="red", board_size=7, series_length=1,
                  reconnect_token="t" * 43, protocol_version=1)
        self.send(ws, "game_start", slot_id=1, board_size=7, series_length=1, players=[-1, 1], first_turn=-1,
                  current_game_number=1, player_1_wins=0, player_2_wins=0, wins_required=1)
        for text in ws:
            self.frames.append(json.loads(text))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def agent(board, action_set):\n    return 17\n", "expected a (row, col) pair"),
        ("def agent(board, action_set):\n    return (0, 9)\n", "outside the 7x7 board"),
        ("def agent(board, action_set):\n    return (0.0, 1.0)\n", "not an integer"),
        ("def agent(board, action_set):\n    raise ValueError('no idea')\n", "agent raised ValueError: no idea"),
    ],
)
def test_bad_model_stops_the_client_before_any_move_is_sent(workdir: Path, source: str, expected: str) -> None:
    name = write_module(workdir, source)
    with RecordingServer() as server:
        session = Session(Options(command="play", server=f"ws://127.0.0.1:{server.port}", model_name=name,
                                  move_delay=0, replay_log="off"), say=lambda text: None)
        with pytest.raises(ModelError) as info:
            asyncio.run(asyncio.wait_for(session.run(), 20))
        session.close()
    assert expected in str(info.value)
    assert [frame for frame in server.frames if frame.get("type") == "move"] == []


def test_good_model_does_send_its_move_as_q_r(workdir: Path) -> None:
    # The counterpart of the test above: the same fake server does receive a
    # move from a sound model, converted from (row, col) to {q, r}.
    name = write_module(workdir, "def agent(board, action_set):\n    return (2, 5)\n")
    with RecordingServer() as server:
        session = Session(Options(command="play", server=f"ws://127.0.0.1:{server.port}", model_name=name,
                                  move_delay=0, replay_log="off"), say=lambda text: None)

        async def until_sent() -> None:
            task = asyncio.ensure_future(session.run())
            while not server.frames and not task.done():
                await asyncio.sleep(0.01)
            task.cancel()

        asyncio.run(asyncio.wait_for(until_sent(), 20))
        session.close()
    assert server.frames[0] == {"type": "move", "payload": {"q": 5, "r": 2}}


def test_human_model_is_refused_outside_the_gui() -> None:
    with pytest.raises(ModelError, match="needs a window"):
        Session(Options(command="play", server="ws://127.0.0.1:1", model_name="human", replay_log="off"))


def test_unknown_model_fails_before_any_replay_file_is_made(workdir: Path) -> None:
    with pytest.raises(ModelError, match="no model named"):
        Session(Options(command="play", server="ws://127.0.0.1:1", model_name="missing_model_q", replay_log="auto"))
    assert list(workdir.iterdir()) == []
