"""Strength of the bundled ``model_mcts``: games played in-process, no server.

    python bench/mcts_strength.py                       # the default table (a few minutes)
    python bench/mcts_strength.py --games 40 --sizes 7  # fewer games, one board size

Each match plays ``--games`` games on each board size; colours alternate
every game and so does the opening player, so neither side profits from
always opening. The referee is ``games.rules.Board`` (the server's own
rules). MCTS budgets are iterations per move, so every figure is
reproducible with the same ``--seed``. Prints wins, games and the win rate
with a 95% Wilson interval for the first-named player of each match.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clients.models import model_mcts  # noqa: E402
from games import rules  # noqa: E402

# A player: (board rows board[r][q], legal (row, col) moves, own player id, rng) -> (row, col).
Player = Callable[[list[list[int]], list[tuple[int, int]], int, random.Random], tuple[int, int]]


def random_player(board, actions, player, rng):
    return rng.choice(actions)


def first_player(board, actions, player, rng):
    return min(actions)


def mcts_player(iterations: int) -> Player:
    def play(board, actions, player, rng):
        return model_mcts.choose(board, player, rng, iterations, None)

    return play


def play_game(size: int, red: Player, blue: Player, first: int, rng: random.Random) -> int:
    board = rules.Board(size)
    turn = first
    players = {rules.RED: red, rules.BLUE: blue}
    while board.winner is None:
        actions = rules.legal_actions(board)
        row, col = players[turn](board.rows(), actions, turn, rng)
        if (row, col) not in actions:
            raise RuntimeError(f"illegal move {(row, col)} by {rules.color_of(turn)}")
        board.place(turn, col, row)
        turn = -turn
    return board.winner


def wilson(wins: int, games: int, z: float = 1.96) -> tuple[float, float]:
    if games == 0:
        return 0.0, 0.0
    p = wins / games
    centre = p + z * z / (2 * games)
    spread = z * math.sqrt(p * (1 - p) / games + z * z / (4 * games * games))
    denominator = 1 + z * z / games
    return (centre - spread) / denominator, (centre + spread) / denominator


def match(size: int, a: Player, b: Player, games: int, seed: int) -> tuple[int, float]:
    """Games won by ``a`` out of ``games``, and the seconds it took."""
    rng = random.Random(seed)
    wins = 0
    started = time.perf_counter()
    for g in range(games):
        a_is_red = g % 2 == 0
        first = rules.RED if (g // 2) % 2 == 0 else rules.BLUE
        red, blue = (a, b) if a_is_red else (b, a)
        winner = play_game(size, red, blue, first, rng)
        if (winner == rules.RED) == a_is_red:
            wins += 1
    return wins, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=100, help="games per match (default 100)")
    parser.add_argument("--self-games", type=int, default=40, help="games per MCTS-vs-MCTS match (default 40)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[7, 11], help="board sizes (default 7 11)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 500, 2000],
                        help="MCTS iterations per move to compare (default 100 500 2000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    print(f"model_mcts strength (seed {args.seed}); colours and opening player alternate every game")
    print(f"{'board':>5}  {'player A':<16} {'player B':<16} {'A wins':>7} {'games':>5} {'A win rate':>10}  "
          f"{'95% interval':<15} {'s/game':>6}")
    for size in args.sizes:
        rows: list[tuple[str, Player, str, Player, int]] = []
        for budget in args.budgets:
            rows.append((f"mcts {budget}", mcts_player(budget), "model_random", random_player, args.games))
            rows.append((f"mcts {budget}", mcts_player(budget), "model_first", first_player, args.games))
        for weak, strong in zip(args.budgets, args.budgets[1:], strict=False):
            rows.append((f"mcts {strong}", mcts_player(strong), f"mcts {weak}", mcts_player(weak), args.self_games))
        for name_a, a, name_b, b, games in rows:
            wins, seconds = match(size, a, b, games, args.seed)
            low, high = wilson(wins, games)
            print(f"{size:>2}x{size:<2}  {name_a:<16} {name_b:<16} {wins:>7} {games:>5} {wins / games:>10.1%}  "
                  f"{low:>5.1%}-{high:<8.1%} {seconds / games:>6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
