"""HTP coordinate and colour translation of ``hexgame engine``."""

from __future__ import annotations

import pytest

from clients.htp import ColourNames, cell_name, parse_cell
from games import rules


def test_a1_is_the_top_left_cell_letters_are_columns_numbers_are_rows() -> None:
    assert cell_name(0, 0) == "a1"
    assert cell_name(2, 3) == "c4"  # q = 2 (third column), r = 3 (fourth row)
    assert cell_name(18, 18) == "s19"
    assert parse_cell("c4", 7) == (2, 3)
    assert parse_cell(" K11 ", 11) == (10, 10)


@pytest.mark.parametrize("size", rules.BOARD_SIZES)
def test_every_cell_round_trips(size: int) -> None:
    for r in range(size):
        for q in range(size):
            assert parse_cell(cell_name(q, r), size) == (q, r)


@pytest.mark.parametrize("text", ["", "a", "1a", "h1", "a8", "a0", "zz", "resign", "a-1", "pass"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cell(text, 7)


def test_black_is_blue_by_default_and_can_be_red() -> None:
    default = ColourNames()
    assert default.word(rules.BLUE) == "black" and default.word(rules.RED) == "white"
    assert default.player("b") == default.player("BLACK") == rules.BLUE
    assert default.player("w") == rules.RED
    swapped = ColourNames("red")
    assert swapped.word(rules.RED) == "black" and swapped.player("white") == rules.BLUE
    with pytest.raises(ValueError):
        ColourNames("green")


@pytest.mark.parametrize(("command_line", "reason"), [("", "--cmd is empty"), ("mohex 'unclosed", "cannot read --cmd")])
def test_unusable_engine_command_lines_are_engine_errors(command_line: str, reason: str) -> None:
    from clients.htp import EngineError, HtpEngine

    with pytest.raises(EngineError, match=reason) as caught:
        HtpEngine(command_line)
    assert caught.value.exit_code == 8


def test_the_bridge_tells_the_engine_the_position_and_translates_its_answer(tmp_path) -> None:
    """EngineDecider against the test engine as a real subprocess: a mid-game position in, a legal move out."""
    import asyncio
    import shlex
    import sys
    from pathlib import Path

    from clients.connection import Message
    from clients.game_state import GameView
    from clients.htp import EngineDecider, HtpEngine

    engine_py = Path(__file__).resolve().parents[1] / "support" / "htp_engine.py"
    log = tmp_path / "engine.log"
    view = GameView(7)
    view.apply(Message("joined", {"slot_id": 1, "player": rules.BLUE, "board_size": 7, "series_length": 1}))
    view.apply(Message("game_start", {"board_size": 7, "first_turn": rules.RED, "current_game_number": 1}))
    view.apply(Message("move", {"player": rules.RED, "q": 0, "r": 0, "next_turn": rules.BLUE}))  # a1, white

    async def scenario() -> tuple[tuple[int, int], str | None]:
        decider = EngineDecider(HtpEngine(shlex.join([sys.executable, str(engine_py), "--log", str(log)])),
                                ColourNames())
        name = await decider.start()
        try:
            return await decider.decide(view), name
        finally:
            await decider.engine.close()

    move, name = asyncio.run(scenario())
    assert name == "tiny-htp"
    assert move == (1, 0)  # the engine's first empty cell is b1 = q 1, r 0
    assert log.read_text().splitlines() == ["name", "boardsize 7", "clear_board", "play white a1", "genmove black",
                                            "quit"]


def test_an_abandoned_genmove_never_answers_the_next_command(tmp_path) -> None:
    import asyncio
    import contextlib
    import shlex
    import sys
    from pathlib import Path

    from clients.htp import HtpEngine

    engine_py = Path(__file__).resolve().parents[1] / "support" / "htp_engine.py"

    async def scenario() -> str:
        engine = HtpEngine(shlex.join([sys.executable, str(engine_py), "--slow", "0.5"]))
        await engine.start()
        try:
            await engine.command("boardsize 7")
            thinking = asyncio.ensure_future(engine.command("genmove black"))
            await asyncio.sleep(0.1)
            thinking.cancel()  # the position went stale while the engine thought
            with contextlib.suppress(asyncio.CancelledError):
                await thinking
            return await engine.command("name")
        finally:
            await engine.close()

    assert asyncio.run(scenario()) == "tiny-htp"
