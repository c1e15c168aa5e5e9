"""The swap rule in its swap-pieces form: (q, r) becomes the swapper's stone at (r, q)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games import rules
from games.rules import BLUE, EMPTY, RED, Board


def one_stone(size: int, player: int, q: int, r: int) -> Board:
    board = Board(size)
    board.place(player, q, r)
    return board


def test_swap_replaces_the_first_stone_by_the_swappers_stone_mirrored():
    board = one_stone(7, RED, 2, 0)  # q=2, r=0: near blue's top edge
    swapped, removed, new = rules.swap_pieces(board, BLUE)
    assert removed == (2, 0)
    assert new == (0, 2)
    assert swapped.at(0, 2) == BLUE  # board[r=2][q=0]
    assert swapped.cells[2][0] == BLUE
    assert swapped.at(2, 0) == EMPTY
    assert swapped.stone_count == 1
    assert board.at(2, 0) == RED, "the original board is left untouched"


def test_swap_by_red_after_a_blue_opening():
    swapped, removed, new = rules.swap_pieces(one_stone(9, BLUE, 5, 1), RED)
    assert (removed, new) == ((5, 1), (1, 5))
    assert swapped.rows()[5][1] == RED
    assert swapped.stone_count == 1


def test_swap_on_the_long_diagonal_keeps_the_cell_and_changes_the_colour():
    swapped, removed, new = rules.swap_pieces(one_stone(11, RED, 5, 5), BLUE)
    assert removed == new == (5, 5)
    assert swapped.at(5, 5) == BLUE


def test_check_swap_legal_only_as_reply_to_the_opponents_single_stone():
    board = one_stone(7, RED, 3, 1)
    assert rules.check_swap(board, BLUE, BLUE, swap_allowed=True) is None
    assert rules.check_swap(board, BLUE, BLUE, swap_allowed=False) == rules.REASON_SWAP_NOT_ALLOWED
    assert rules.check_swap(board, RED, BLUE, swap_allowed=True) == rules.REASON_NOT_YOUR_TURN
    assert rules.check_swap(Board(7), RED, RED, swap_allowed=True) == rules.REASON_SWAP_TOO_LATE
    board.place(BLUE, 0, 0)
    board.place(RED, 1, 1)
    assert rules.check_swap(board, BLUE, BLUE, swap_allowed=True) == rules.REASON_SWAP_TOO_LATE
    # After a swap the board holds the swapper's own stone: no swapping back.
    swapped, _, _ = rules.swap_pieces(one_stone(7, RED, 3, 1), BLUE)
    assert rules.check_swap(swapped, RED, RED, swap_allowed=True, moves_played=2) == rules.REASON_SWAP_TOO_LATE
    assert rules.check_swap(swapped, BLUE, BLUE, swap_allowed=True, moves_played=2) == rules.REASON_SWAP_TOO_LATE


def test_check_swap_after_the_game_ended():
    board = one_stone(1, RED, 0, 0)  # a 1x1 board is won by its only stone
    assert rules.check_swap(board, BLUE, None, swap_allowed=True) == rules.REASON_FINISHED


def test_swap_pieces_refuses_an_illegal_swap():
    with pytest.raises(ValueError):
        rules.swap_pieces(Board(7), BLUE)
    with pytest.raises(ValueError):
        rules.swap_pieces(one_stone(7, RED, 1, 2), RED)


def test_legal_actions_gain_the_swap_option_only_when_allowed():
    board = one_stone(7, RED, 3, 1)
    plain = rules.legal_actions(board)
    assert rules.SWAP_ACTION not in plain
    with_swap = rules.legal_actions_with_swap(board, BLUE, BLUE, swap_allowed=True)
    assert with_swap[:-1] == plain and with_swap[-1] == rules.SWAP_ACTION
    assert rules.legal_actions_with_swap(board, BLUE, BLUE, swap_allowed=False) == plain
    assert rules.legal_actions_with_swap(Board(7), RED, RED, swap_allowed=True) == rules.legal_actions(Board(7))
    # The swap option is never a cell, so it cannot collide with a real move.
    size = board.size
    assert not (0 <= rules.SWAP_ACTION[0] < size and 0 <= rules.SWAP_ACTION[1] < size)


def test_replay_moves_with_a_swap_and_a_win():
    moves = [("place", RED, 2, 0), ("swap", BLUE, 0, 2)]
    # Blue (top-bottom) then fills column q=0 around its swapped stone.
    for r in (0, 1, 3, 4, 5, 6):
        moves.append(("place", RED, 6, r))
        moves.append(("place", BLUE, 0, r))
    board = rules.replay_moves(7, moves)
    assert board.winner == BLUE
    with pytest.raises(ValueError):
        rules.replay_moves(7, [("place", RED, 2, 0), ("swap", BLUE, 2, 0)])


@settings(max_examples=60, deadline=None)
@given(size=st.sampled_from([1, 2, 3, 5, 7]), data=st.data())
def test_mirroring_with_colours_exchanged_exchanges_the_winner(size, data):
    """Why swap-pieces mirrors: transposing the board maps red's left-right goal
    onto blue's top-bottom goal (and the neighbour offsets onto themselves), so
    the swapped stone is exactly as strong for the swapper as the original."""
    cells = data.draw(st.lists(st.lists(st.sampled_from([RED, BLUE]), min_size=size, max_size=size),
                               min_size=size, max_size=size))
    board = Board.from_rows(cells)
    mirrored = Board.from_rows([[-cells[q][r] for q in range(size)] for r in range(size)])
    assert board.winner is not None
    assert mirrored.winner == -board.winner
