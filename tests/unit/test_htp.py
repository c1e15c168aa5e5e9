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
