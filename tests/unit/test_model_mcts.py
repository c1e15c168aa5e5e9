"""The bundled MCTS model: legal moves only, immediate wins and blocks, reproducible with a seed."""

from __future__ import annotations

import random

import pytest

from clients.model_loader import load_model, wants_player
from clients.models import model_mcts
from games import rules


def board_from(size: int, stones: list[tuple[int, int, int]]) -> list[list[int]]:
    """Rows board[r][q] from (player, q, r) stones."""
    return rules.Board.from_moves(size, stones).rows()


def legal(board: list[list[int]]) -> list[tuple[int, int]]:
    return [(r, q) for r, row in enumerate(board) for q, cell in enumerate(row) if cell == 0]


@pytest.mark.parametrize("size", [7, 11])
def test_a_whole_game_against_random_uses_only_legal_moves(size: int) -> None:
    board = rules.Board(size)
    rng = random.Random(3)
    turn = rules.RED
    while board.winner is None:
        actions = rules.legal_actions(board)
        if turn == rules.RED:
            row, col = model_mcts.choose(board.rows(), turn, random.Random(len(actions)), 60, None)
        else:
            row, col = rng.choice(actions)
        assert (row, col) in actions
        board.place(turn, col, row)
        turn = -turn


def test_plays_the_winning_cell_when_one_move_wins() -> None:
    # Red (left-right) has q = 0..5 on row 3 of a 7x7 board except q = 4; blue is scattered elsewhere.
    red = [(rules.RED, q, 3) for q in (0, 1, 2, 3, 5, 6)]
    blue = [(rules.BLUE, q, 0) for q in range(6)]
    board = board_from(7, red + blue)
    for seed in range(5):
        model_mcts.configure(iterations=50, seed=seed)
        assert model_mcts.agent(board, legal(board), player=rules.RED) == (3, 4)


def test_blocks_the_only_cell_where_the_opponent_would_win() -> None:
    # Blue (top-bottom) has every cell of column q = 2 but r = 5; red to move must take (q=2, r=5).
    blue = [(rules.BLUE, 2, r) for r in (0, 1, 2, 3, 4, 6)]
    red = [(rules.RED, q, r) for q, r in ((0, 0), (6, 1), (0, 2), (6, 3), (0, 4), (6, 6))]
    board = board_from(7, blue + red)
    for seed in range(5):
        model_mcts.configure(iterations=50, seed=seed)
        assert model_mcts.agent(board, legal(board), player=rules.RED) == (5, 2)


def test_a_win_comes_before_a_block() -> None:
    # Both sides are one move from winning; the side to move wins instead of blocking.
    red = [(rules.RED, q, 3) for q in (0, 1, 2, 3, 4, 5)]
    blue = [(rules.BLUE, 6, r) for r in (0, 1, 2, 4, 5, 6)]
    board = board_from(7, red + blue)
    model_mcts.configure(iterations=50, seed=1)
    assert model_mcts.agent(board, legal(board), player=rules.BLUE) == (3, 6)
    assert model_mcts.agent(board, legal(board), player=rules.RED) == (3, 6)


def test_same_seed_and_iteration_budget_give_the_same_moves() -> None:
    board = board_from(11, [(rules.RED, 5, 5), (rules.BLUE, 4, 6)])
    runs = []
    for _ in range(2):
        model_mcts.configure(iterations=300, seed=42)
        runs.append([model_mcts.agent(board, legal(board), player=rules.RED) for _ in range(3)])
    assert runs[0] == runs[1]


def test_the_player_is_inferred_from_stone_counts_when_not_given() -> None:
    red_stone = board_from(7, [(rules.RED, 3, 3)])
    assert model_mcts.infer_player([c for row in red_stone for c in row]) == rules.BLUE
    # Blue to move can still win in one without being told its colour.
    blue = [(rules.BLUE, 2, r) for r in (0, 1, 2, 3, 4, 6)]
    red = [(rules.RED, q, r) for q, r in ((0, 0), (6, 1), (0, 2), (6, 3), (0, 4), (6, 6), (5, 5))]
    board = board_from(7, blue + red)
    model_mcts.configure(iterations=20, seed=0)
    assert model_mcts.agent(board, legal(board)) == (5, 2)


def test_loader_configures_the_model_and_it_declares_the_player_keyword() -> None:
    agent = load_model("model_mcts", {"iterations": 7, "think_time": None, "seed": 9})
    assert model_mcts._settings.iterations == 7 and model_mcts._settings.seed == 9
    assert wants_player(agent)
    assert not wants_player(load_model("model_random"))


def test_bad_budgets_are_refused() -> None:
    with pytest.raises(ValueError):
        model_mcts.configure(iterations=0)
    with pytest.raises(ValueError):
        model_mcts.configure(think_time=-1)


def test_full_board_winner_reads_top_to_bottom_for_blue() -> None:
    size = 3
    neighbours = model_mcts.neighbour_table(size)
    blue_column = [rules.RED, rules.BLUE, rules.RED] * 3
    assert model_mcts.full_board_winner(blue_column, size, neighbours) == rules.BLUE
    red_row = [rules.BLUE] * 3 + [rules.RED] * 3 + [rules.BLUE, rules.RED, rules.RED]
    assert model_mcts.full_board_winner(red_row, size, neighbours) == rules.RED
