"""A winning move's board, handed from the plain-SQL path to the ORM path
that scores it (``move_store.won_board``), only for the very state it was
placed in."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from games import rules
from matchmaking import move_store
from matchmaking.move_store import MoveContext, Position


def _context(game_id: int, move_count: int) -> MoveContext:
    return MoveContext(slot_id=1, state="full", game_id=game_id, series_id=1, game_number=1, series_winner=None,
                       time_control="", current_turn=rules.RED, winner=None, move_count=move_count, seats={},
                       watched=False)


def _red_about_to_win() -> tuple[Position, int]:
    """Red holds (0..1, 0) on a 3x3 board; (2, 0) connects left to right."""
    position = Position.of(rules.Board(3))
    position.place(rules.RED, 0, 0)
    position.place(rules.BLUE, 0, 1)
    position.place(rules.RED, 1, 0)
    position.place(rules.BLUE, 1, 1)
    return position, 4


def _game(**changes) -> SimpleNamespace:
    return SimpleNamespace(**{"id": 7, "move_count": 4, "winner": None, "current_turn": rules.RED, **changes})


def test_the_winning_board_is_handed_over_once():
    position, count = _red_about_to_win()
    assert move_store.place(_context(7, count), position, rules.RED, 2, 0) == rules.RED
    board = move_store.won_board(_game(), rules.RED, 2, 0)
    assert board is position.board and board.winner == rules.RED
    assert move_store.won_board(_game(), rules.RED, 2, 0) is None  # taken


@pytest.mark.parametrize("game, move", [
    (_game(id=8), (rules.RED, 2, 0)),                       # another game
    (_game(move_count=5), (rules.RED, 2, 0)),               # a move came in between
    (_game(winner=rules.BLUE), (rules.RED, 2, 0)),          # ended meanwhile (a resignation)
    (_game(current_turn=rules.BLUE), (rules.RED, 2, 0)),    # not red's turn any more
    (_game(), (rules.RED, 2, 1)),                           # another cell
])
def test_no_board_for_any_other_state_or_move(game, move):
    position, count = _red_about_to_win()
    move_store.place(_context(7, count), position, rules.RED, 2, 0)
    assert move_store.won_board(game, *move) is None


def test_a_later_move_in_the_same_game_takes_the_board_back():
    position, count = _red_about_to_win()
    move_store.place(_context(7, count), position, rules.RED, 2, 0)
    move_store.place(_context(7, count), Position.of(rules.Board(3)), rules.RED, 1, 1)
    assert move_store.won_board(_game(), rules.RED, 2, 0) is None


def test_moves_of_other_games_placed_meanwhile_leave_the_board_for_its_game_end():
    """A batch places its moves on the event loop and a database thread
    scores its game ends afterwards, while later batches place theirs."""
    position, count = _red_about_to_win()
    move_store.place(_context(7, count), position, rules.RED, 2, 0)
    move_store.place(_context(9, 0), Position.of(rules.Board(3)), rules.RED, 1, 1)

    board = ThreadPoolExecutor(1).submit(move_store.won_board, _game(), rules.RED, 2, 0).result()

    assert board is position.board
