"""The pure Hex rules: placement, win detection, legality and series arithmetic."""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games import rules
from games.rules import BLUE, EMPTY, RED, Board

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_SIZES = (7, 9, 11, 13, 19)
PLAYERS_LIST = [RED, BLUE]


# -- an independent oracle ------------------------------------------------------------------------


def connects(cells: list[list[int]], player: int) -> bool:
    """Breadth-first search over ``cells[r][q]``: does ``player`` join its two
    edges (red: q=0 to q=n-1, blue: r=0 to r=n-1)? Written from the protocol's
    neighbour list, independently of the union-find in ``games.rules``."""
    n = len(cells)
    offsets = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)]
    if player == RED:
        start = [(0, r) for r in range(n) if cells[r][0] == RED]
    else:
        start = [(q, 0) for q in range(n) if cells[0][q] == BLUE]
    seen = set(start)
    queue = deque(start)
    while queue:
        q, r = queue.popleft()
        if (player == RED and q == n - 1) or (player == BLUE and r == n - 1):
            return True
        for dq, dr in offsets:
            nq, nr = q + dq, r + dr
            if 0 <= nq < n and 0 <= nr < n and (nq, nr) not in seen and cells[nr][nq] == player:
                seen.add((nq, nr))
                queue.append((nq, nr))
    return False


def play(size: int, stones: list[tuple[int, int, int]]) -> Board:
    return Board.from_moves(size, stones)


# -- placement and bounds -------------------------------------------------------------------------


def test_new_board_is_empty_square_of_requested_size():
    board = Board(9)
    assert board.size == 9
    assert board.rows() == [[EMPTY] * 9 for _ in range(9)]
    assert board.winner is None
    assert board.stone_count == 0
    assert len(list(board.empty_cells())) == 81


def test_board_size_must_be_positive():
    with pytest.raises(ValueError):
        Board(0)


def test_place_writes_board_r_q():
    board = Board(7)
    board.place(RED, 2, 5)  # q=2, r=5
    assert board.rows()[5][2] == RED
    assert board.at(2, 5) == RED
    assert board.rows()[2][5] == EMPTY
    assert board.stone_count == 1
    assert (2, 5) not in set(board.empty_cells())


def test_rows_is_a_copy():
    board = Board(7)
    rows = board.rows()
    rows[0][0] = BLUE
    assert board.at(0, 0) == EMPTY


@pytest.mark.parametrize("q,r", [(-1, 0), (0, -1), (7, 0), (0, 7), (7, 7), (100, 3)])
def test_place_outside_board_is_refused(q, r):
    board = Board(7)
    with pytest.raises(ValueError, match=rules.REASON_OFF_BOARD):
        board.place(RED, q, r)
    assert board.stone_count == 0


def test_place_on_occupied_cell_is_refused_and_keeps_first_stone():
    board = Board(7)
    board.place(RED, 3, 3)
    with pytest.raises(ValueError, match=rules.REASON_OCCUPIED):
        board.place(BLUE, 3, 3)
    assert board.at(3, 3) == RED


def test_unknown_player_is_refused():
    with pytest.raises(ValueError):
        Board(7).place(0, 1, 1)


def test_in_bounds_and_neighbours():
    board = Board(7)
    assert board.in_bounds(0, 0) and board.in_bounds(6, 6)
    assert not board.in_bounds(7, 0) and not board.in_bounds(-1, 3)
    assert set(board.neighbours(3, 3)) == {(4, 3), (2, 3), (3, 4), (3, 2), (4, 2), (2, 4)}
    # A corner keeps only the neighbours on the board.
    assert set(board.neighbours(0, 0)) == {(1, 0), (0, 1)}
    assert set(board.neighbours(6, 0)) == {(5, 0), (6, 1), (5, 1)}


def test_from_rows_round_trips_and_rejects_ragged_rows():
    rows = [[0, RED, 0], [BLUE, 0, 0], [0, 0, RED]]
    assert Board.from_rows(rows).rows() == rows
    with pytest.raises(ValueError):
        Board.from_rows([[0, 0, 0], [0, 0], [0, 0, 0]])


# -- win detection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_red_straight_line_left_to_right_wins_only_on_last_stone(size):
    board = Board(size)
    row = size // 2
    for q in range(size - 1):
        assert board.place(RED, q, row) is None
    assert board.place(RED, size - 1, row) == RED
    assert board.winner == RED


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_blue_straight_line_top_to_bottom_wins_only_on_last_stone(size):
    board = Board(size)
    col = size // 2
    for r in range(size - 1):
        assert board.place(BLUE, col, r) is None
    assert board.place(BLUE, col, size - 1) == BLUE
    assert board.winner == BLUE


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_red_column_and_blue_row_do_not_win(size):
    """Each colour's line along the *other* colour's direction connects nothing."""
    board = Board(size)
    for r in range(size):
        board.place(RED, 0, r)  # a full red column on the left edge
    for q in range(1, size):
        board.place(BLUE, q, 0)  # blue along the top edge
    assert board.winner is None


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_red_zigzag_path_wins(size):
    """Red steps right, then up-right via the (+1,-1) neighbour, alternately."""
    board = Board(size)
    q, r = 0, size - 1
    path = [(q, r)]
    while q < size - 1:
        q += 1
        path.append((q, r))
        if q < size - 1 and r > 0:
            q, r = q + 1, r - 1
            path.append((q, r))
    for i, (pq, pr) in enumerate(path):
        result = board.place(RED, pq, pr)
        assert result == (RED if i == len(path) - 1 else None)


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_blue_zigzag_path_wins(size):
    """Blue goes down, then down-left via the (-1,+1) neighbour, alternately."""
    board = Board(size)
    q, r = size - 1, 0
    path = [(q, r)]
    while r < size - 1:
        r += 1
        path.append((q, r))
        if r < size - 1 and q > 0:
            q, r = q - 1, r + 1
            path.append((q, r))
    for i, (pq, pr) in enumerate(path):
        result = board.place(BLUE, pq, pr)
        assert result == (BLUE if i == len(path) - 1 else None)


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_blue_diagonal_along_plus1_minus1_connects(size):
    """A blue chain from the top-right corner to the bottom-left corner using only
    the (-1,+1) step: every stone touches the next, so it connects."""
    board = Board(size)
    for i in range(size):
        board.place(BLUE, size - 1 - i, i)
    assert board.winner == BLUE


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_blue_diagonal_along_plus1_plus1_does_not_connect(size):
    """(+1,+1) is not a neighbour: the main diagonal is a string of isolated stones."""
    board = Board(size)
    for i in range(size):
        board.place(BLUE, i, i)
    assert board.winner is None
    assert not connects(board.rows(), BLUE)
    # Nor does it connect for red, which also touches both its sides.
    board2 = Board(size)
    for i in range(size):
        board2.place(RED, i, i)
    assert board2.winner is None


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_red_chain_with_one_gap_does_not_win_until_filled(size):
    board = Board(size)
    row = 1
    gap = size // 2
    for q in range(size):
        if q != gap:
            board.place(RED, q, row)
    assert board.winner is None
    # Blue takes the gap: still nobody wins, red is cut for good on this row.
    board.place(BLUE, gap, row)
    assert board.winner is None
    # Red goes around the blue stone through row 2: (gap-1,2) touches (gap-1,1)
    # via (0,+1); (gap,2)... (gap,2) touches (gap+1,1) via (+1,-1).
    board.place(RED, gap - 1, row + 1)
    assert board.winner is None
    assert board.place(RED, gap, row + 1) == RED


@pytest.mark.parametrize("size", OFFICIAL_SIZES)
def test_red_touching_both_sides_in_two_pieces_does_not_win(size):
    """Two red chains, one from each side, that never touch."""
    board = Board(size)
    for q in range(size // 2):
        board.place(RED, q, 0)
    for q in range(size // 2 + 1, size):
        board.place(RED, q, size - 1)
    assert board.winner is None
    assert not connects(board.rows(), RED)


def test_red_chain_ending_one_column_short_does_not_win():
    board = Board(11)
    for q in range(10):
        board.place(RED, q, 4)
    assert board.winner is None
    assert board.place(RED, 10, 3) == RED  # (10,3) touches (9,4) via (+1,-1)


def test_red_connection_across_non_neighbour_diagonal_fails():
    """(9,4) and (10,5) differ by (+1,+1): not adjacent, so no red win."""
    board = Board(11)
    for q in range(10):
        board.place(RED, q, 4)
    assert board.place(RED, 10, 5) is None


def test_winner_is_the_first_to_connect_and_stays():
    board = Board(7)
    for r in range(7):
        board.place(BLUE, 0, r)
    assert board.winner == BLUE
    board.place(RED, 3, 3)
    assert board.winner == BLUE


def test_size_one_board_first_stone_wins():
    assert Board(1).place(RED, 0, 0) == RED
    assert Board(1).place(BLUE, 0, 0) == BLUE


def test_from_rows_and_from_moves_find_the_winner():
    rows = [
        [0, 0, BLUE],
        [RED, RED, BLUE],
        [0, BLUE, 0],
    ]
    # Blue (2,0)-(2,1)-(1,2): (2,1)->(1,2) is the (-1,+1) step.
    assert Board.from_rows(rows).winner == BLUE
    assert play(3, [(BLUE, 2, 0), (RED, 0, 1), (BLUE, 2, 1), (RED, 1, 1), (BLUE, 1, 2)]).winner == BLUE


# -- check_move ---------------------------------------------------------------------------------------


def test_check_move_accepts_a_legal_move():
    assert rules.check_move(Board(7), RED, RED, 3, 3) is None


@pytest.mark.parametrize("q,r", [("1", 2), (1, "2"), (None, 1), (1.0, 2), ([1], 2), ({}, 0), (1, None)])
def test_check_move_malformed_coordinates(q, r):
    assert rules.check_move(Board(7), RED, RED, q, r) == rules.REASON_MALFORMED


def test_check_move_accepts_booleans_as_integers_like_the_reference():
    assert rules.check_move(Board(7), RED, RED, True, False) is None


def test_check_move_reason_order():
    board = Board(7)
    board.place(RED, 0, 0)
    # Malformed beats everything else.
    assert rules.check_move(board, BLUE, RED, "x", 0) == rules.REASON_MALFORMED
    # Not your turn is checked before bounds and occupancy.
    assert rules.check_move(board, BLUE, RED, 99, 99) == rules.REASON_NOT_YOUR_TURN
    assert rules.check_move(board, BLUE, RED, 0, 0) == rules.REASON_NOT_YOUR_TURN
    # Bounds before occupancy.
    assert rules.check_move(board, BLUE, BLUE, -1, 0) == rules.REASON_OFF_BOARD
    assert rules.check_move(board, BLUE, BLUE, 7, 0) == rules.REASON_OFF_BOARD
    assert rules.check_move(board, BLUE, BLUE, 0, 0) == rules.REASON_OCCUPIED
    assert rules.check_move(board, BLUE, BLUE, 1, 0) is None


def test_check_move_after_the_game_is_won():
    board = Board(7)
    for q in range(7):
        board.place(RED, q, 0)
    assert rules.check_move(board, BLUE, BLUE, 3, 3) == rules.REASON_FINISHED
    assert rules.check_move(Board(7), RED, None, 3, 3) == rules.REASON_FINISHED


def test_reason_strings_are_the_references():
    assert rules.REASON_NOT_STARTED == "Game has not started"
    assert rules.REASON_PAUSED == "Game paused for reconnect"
    assert rules.REASON_FINISHED == "Game already finished"
    assert rules.REASON_NOT_YOUR_TURN == "Not your turn"
    assert rules.REASON_OFF_BOARD == "Move outside board"
    assert rules.REASON_OCCUPIED == "Cell already occupied"
    assert rules.REASON_MALFORMED == "Move coordinates must be integers"


# -- series arithmetic ----------------------------------------------------------------------------------


@pytest.mark.parametrize("length,needed", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4), (8, 5), (9, 5),
                                           (10, 6), (11, 6), (12, 7), (13, 7), (14, 8), (15, 8)])
def test_wins_required(length, needed):
    assert rules.wins_required(length) == needed


def test_first_turn_alternates_by_game_number():
    assert [rules.first_turn(g) for g in range(1, 7)] == [RED, BLUE, RED, BLUE, RED, BLUE]
    assert [rules.first_turn(g, RED) for g in range(1, 5)] == [RED, BLUE, RED, BLUE]
    assert [rules.first_turn(g, BLUE) for g in range(1, 7)] == [BLUE, RED, BLUE, RED, BLUE, RED]


@pytest.mark.parametrize("length", rules.SERIES_LENGTHS)
def test_series_winner(length):
    need = rules.wins_required(length)
    assert rules.series_winner(0, 0, length) is None
    assert rules.series_winner(need - 1, need - 1, length) is None
    assert rules.series_winner(need, need - 1, length) == RED
    assert rules.series_winner(need - 1, need, length) == BLUE
    assert rules.series_winner(need, 0, length) == RED
    assert rules.series_winner(0, need, length) == BLUE


def test_valid_sizes_and_lengths():
    assert [s for s in range(0, 30) if rules.is_valid_board_size(s)] == [7, 9, 11, 13, 19]
    assert [n for n in range(0, 20) if rules.is_valid_series_length(n)] == [1, 3, 5, 7, 9, 11, 13, 15]


def test_opponent_and_colours():
    assert rules.opponent(RED) == BLUE and rules.opponent(BLUE) == RED
    assert rules.color_of(RED) == "red" and rules.color_of(BLUE) == "blue"


def test_legal_actions_are_row_col_of_empty_cells():
    board = Board(3)
    board.place(RED, 2, 0)  # q=2, r=0 -> (row 0, col 2)
    board.place(BLUE, 0, 1)  # q=0, r=1 -> (row 1, col 0)
    actions = rules.legal_actions(board)
    assert (0, 2) not in actions and (1, 0) not in actions
    assert len(actions) == 7
    assert set(actions) == {(r, q) for r in range(3) for q in range(3)} - {(0, 2), (1, 0)}
    for row, col in actions:
        assert board.rows()[row][col] == EMPTY


# -- property: the winner is declared exactly when a connecting path exists --------------------------


@st.composite
def games(draw):
    size = draw(st.one_of(st.integers(min_value=1, max_value=11), st.sampled_from(OFFICIAL_SIZES)))
    cells = [(q, r) for q in range(size) for r in range(size)]
    order = draw(st.permutations(cells))
    count = draw(st.integers(min_value=0, max_value=len(cells)))
    colours = draw(st.lists(st.sampled_from(PLAYERS_LIST), min_size=count, max_size=count))
    return size, [(colours[i], *order[i]) for i in range(count)]



@settings(max_examples=300, deadline=None)
@given(games())
def test_winner_matches_independent_path_search(game):
    """After every placement (colours in any order, not just alternating):
    ``Board.winner`` is the colour that first completed a path, and stays it.

    Exactness: on a Hex board a red left-right chain and a blue top-bottom chain
    cannot coexist (the Hex theorem), so the oracle never sees both, and "first
    to connect" is simply "the colour the search finds, from its first success".
    """
    size, stones = game
    board = Board(size)
    expected = None
    for player, q, r in stones:
        result = board.place(player, q, r)
        cells = board.rows()
        red, blue = connects(cells, RED), connects(cells, BLUE)
        assert not (red and blue)
        if expected is None and (red or blue):
            expected = RED if red else BLUE
        assert result == expected
        assert board.winner == expected
    # Rebuilding from the final position finds the same winner.
    assert Board.from_rows(board.rows()).winner == expected


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=11), st.data())
def test_filled_board_has_exactly_one_winner(size, data):
    """A full board always has exactly one connecting colour."""
    colours = data.draw(st.lists(st.sampled_from(PLAYERS_LIST), min_size=size * size, max_size=size * size))
    rows = [colours[r * size:(r + 1) * size] for r in range(size)]
    red, blue = connects(rows, RED), connects(rows, BLUE)
    assert red != blue
    assert Board.from_rows(rows).winner == (RED if red else BLUE)


# -- purity -------------------------------------------------------------------------------------------------


def test_rules_module_imports_no_django():
    code = "import games.rules, sys; bad = [m for m in sys.modules if m.startswith('django')]; assert not bad, bad"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
