"""The stored board text a move patches in place is always the board's JSON."""

from __future__ import annotations

import json
import random

import pytest

from games import rules
from matchmaking.move_store import Position


@pytest.mark.parametrize("size", [1, 2, 7, 11, 19])
def test_patched_text_is_the_boards_json_after_every_move(size):
    rng = random.Random(size)
    position = Position.of(rules.Board(size))
    player = rules.RED
    cells = [(q, r) for q in range(size) for r in range(size)]
    rng.shuffle(cells)
    for q, r in cells:
        position.place(player, q, r)
        assert json.loads(position.text) == position.board.cells
        player = rules.opponent(player)


def test_text_of_a_board_rebuilt_from_rows_matches_it():
    board = rules.Board.from_rows([[0, 1, -1], [1, 0, 0], [-1, -1, 1]])
    assert json.loads(Position.of(board).text) == board.cells
