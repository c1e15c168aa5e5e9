"""Move numbers and SGF cell names on SVG boards (the replay page)."""

from __future__ import annotations

from hexsite.board_svg import BLUE, RED, board_svg


def test_move_numbers_sit_on_their_stones_and_mark_the_last() -> None:
    board = [[0] * 5 for _ in range(5)]
    board[0][1], board[2][3] = RED, BLUE
    svg = board_svg(5, board, last_move=(3, 2), move_numbers={(1, 0): 1, (3, 2): 2, (4, 4): 3})
    assert [(n.text, n.css_class) for n in svg.numbers] == [("1", "number-on-red"), ("2", "number-on-blue is-last")]
    cell = next(c for c in svg.cells if (c.q, c.r) == (3, 2))
    assert (svg.numbers[1].x, svg.numbers[1].y) == (cell.cx, cell.cy)
    assert board_svg(5, board).numbers == []


def test_cell_name_labels_follow_hexgui() -> None:
    svg = board_svg(3, labels=True, cell_names=True)
    assert [label.text for label in svg.labels] == ["a", "b", "c", "1", "2", "3"]
    assert [label.text for label in board_svg(2, labels=True).labels] == ["q0", "q1", "r0", "r1"]
