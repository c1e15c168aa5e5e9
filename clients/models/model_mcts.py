"""Monte Carlo tree search (UCT) for Hex, bundled with the clients.

Each iteration walks the tree by UCB1, adds one node, then plays the rest of
the game out at random and backs the result up. Hex has no draws and a full
board always has exactly one winner, so a playout is simply "fill every empty
cell alternately at random, then run one flood fill for blue from top to
bottom": no win check per move. Before searching, the agent plays an
immediate win if it has one and, if the opponent threatens one, searches only
among the cells that stop it (found with one union-find pass over each side's
groups, the same idea as ``games.rules.Board``).

Budget: ``iterations`` per move (default 2000) and/or ``think_time`` seconds;
the search stops at whichever comes first. With an iteration budget and a
seed the choice is fully reproducible; a time budget is not (how many
iterations fit in a second depends on the machine and its load).

Options reach the module through ``configure()``, which ``hexgame`` calls
with ``--iterations``, ``--think-time`` and ``--seed``. The agent takes the
optional ``player`` keyword, so it knows its colour even on an empty board in
an even game (where blue opens and the stone counts cannot tell).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RED = -1
BLUE = 1
NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1))

DEFAULT_ITERATIONS = 2000
EXPLORATION = 0.7  # UCB1 constant; Hex playouts are noisy, a lower value exploits more


@dataclass
class Settings:
    iterations: int | None = DEFAULT_ITERATIONS
    think_time: float | None = None
    seed: int | None = None


_settings = Settings()
_rng = random.Random()


def configure(iterations: int | None = None, think_time: float | None = None, seed: int | None = None,
              **_ignored: object) -> None:
    """Set the per-move budget and the seed (called by ``hexgame`` before play).

    With neither budget given, ``DEFAULT_ITERATIONS`` applies; with only a time
    budget, the search runs until the time is up.
    """
    global _settings
    if iterations is not None and iterations < 1:
        raise ValueError("iterations must be at least 1")
    if think_time is not None and think_time <= 0:
        raise ValueError("think_time must be positive")
    if iterations is None and think_time is None:
        iterations = DEFAULT_ITERATIONS
    _settings = Settings(iterations=iterations, think_time=think_time, seed=seed)
    _rng.seed(seed)


_NEIGHBOUR_CACHE: dict[int, list[tuple[int, ...]]] = {}


def neighbour_table(size: int) -> list[tuple[int, ...]]:
    """For each cell index ``r * size + q``, the indices of its neighbours."""
    table = _NEIGHBOUR_CACHE.get(size)
    if table is None:
        table = []
        for r in range(size):
            for q in range(size):
                table.append(tuple((r + dr) * size + q + dq for dq, dr in NEIGHBOURS
                                   if 0 <= q + dq < size and 0 <= r + dr < size))
        _NEIGHBOUR_CACHE[size] = table
    return table


def full_board_winner(cells: list[int], size: int, neighbours: list[tuple[int, ...]]) -> int:
    """Winner of a completely filled board: blue if its stones join top and bottom, else red."""
    seen = bytearray(size * size)
    stack = [i for i in range(size) if cells[i] == BLUE]
    for i in stack:
        seen[i] = 1
    last_row = size * (size - 1)
    while stack:
        i = stack.pop()
        if i >= last_row:
            return BLUE
        for j in neighbours[i]:
            if not seen[j] and cells[j] == BLUE:
                seen[j] = 1
                stack.append(j)
    return RED


def winning_cells(cells: list[int], size: int, player: int, neighbours: list[tuple[int, ...]]) -> list[int]:
    """Empty cells where ``player``'s stone would join its two goal edges at once."""
    n = size * size
    parent = list(range(n + 2))  # n, n+1: the player's two edges

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def edges_of(i: int) -> tuple[bool, bool]:
        q, r = i % size, i // size
        if player == RED:
            return q == 0, q == size - 1
        return r == 0, r == size - 1

    for i in range(n):
        if cells[i] != player:
            continue
        first, second = edges_of(i)
        if first:
            parent[find(i)] = find(n)
        if second:
            parent[find(i)] = find(n + 1)
        for j in neighbours[i]:
            if cells[j] == player:
                a, b = find(i), find(j)
                if a != b:
                    parent[a] = b
    edge_a, edge_b = find(n), find(n + 1)
    wins = []
    for i in range(n):
        if cells[i] != 0:
            continue
        first, second = edges_of(i)
        roots = {find(j) for j in neighbours[i] if cells[j] == player}
        if (first or edge_a in roots) and (second or edge_b in roots):
            wins.append(i)
    return wins


class Node:
    __slots__ = ("move", "parent", "player", "children", "untried", "visits", "wins")

    def __init__(self, move: int, parent: Node | None, player: int, untried: list[int]) -> None:
        self.move = move  # cell index played to reach this node (-1 at the root)
        self.parent = parent
        self.player = player  # who played ``move``; wins are counted for this player
        self.children: list[Node] = []
        self.untried = untried
        self.visits = 0
        self.wins = 0.0


def search(cells: list[int], size: int, to_move: int, rng: random.Random, iterations: int | None,
           think_time: float | None, candidates: list[int] | None = None) -> int:
    """The most visited root move after the budget is spent."""
    neighbours = neighbour_table(size)
    empty = [i for i, c in enumerate(cells) if c == 0]
    root_moves = list(candidates) if candidates else list(empty)
    if len(root_moves) == 1:
        return root_moves[0]
    rng.shuffle(root_moves)
    root = Node(-1, None, -to_move, root_moves)
    deadline = time.monotonic() + think_time if think_time is not None else None
    done = 0
    log = math.log
    sqrt = math.sqrt
    while True:
        if iterations is not None and done >= iterations:
            break
        # Checking the clock every 16 iterations keeps its cost out of the loop.
        if deadline is not None and done % 16 == 0 and time.monotonic() >= deadline and done > 0:
            break
        done += 1
        board = cells[:]
        node = root
        player = to_move
        # Selection.
        while not node.untried and node.children:
            scale = EXPLORATION * sqrt(log(node.visits))
            best, best_value = None, -1.0
            for child in node.children:
                value = child.wins / child.visits + scale / sqrt(child.visits)
                if value > best_value:
                    best, best_value = child, value
            node = best  # type: ignore[assignment]
            board[node.move] = node.player
            player = -node.player
        # Expansion.
        if node.untried:
            move = node.untried.pop()
            board[move] = player
            rest = [i for i in empty if board[i] == 0]
            rng.shuffle(rest)
            child = Node(move, node, player, rest)
            node.children.append(child)
            node = child
            player = -player
        # Playout: fill the rest alternately; the winner of a full board is the game's winner.
        rest = [i for i in empty if board[i] == 0]
        rng.shuffle(rest)
        for k, i in enumerate(rest):
            board[i] = player if k % 2 == 0 else -player
        winner = full_board_winner(board, size, neighbours)
        # Backpropagation.
        while node is not None:
            node.visits += 1
            if node.player == winner:
                node.wins += 1.0
            node = node.parent
    best = max(root.children, key=lambda child: (child.visits, child.wins))
    return best.move


def infer_player(cells: Sequence[int]) -> int:
    """Whose turn it is from stone counts; on equal counts red is assumed
    (wrong in even games, where blue opens: pass ``player`` to be sure)."""
    reds = sum(1 for c in cells if c == RED)
    blues = sum(1 for c in cells if c == BLUE)
    if reds > blues:
        return BLUE
    if blues > reds:
        return RED
    return RED


def choose(board: Sequence[Sequence[int]], player: int | None, rng: random.Random, iterations: int | None,
           think_time: float | None) -> tuple[int, int]:
    """The move ``(row, col)`` for ``player`` on ``board`` (rows ``board[r][q]``)."""
    size = len(board)
    cells = [int(c or 0) for row in board for c in row]
    if 0 not in cells:
        raise ValueError("the board is full")
    me = player if player in (RED, BLUE) else infer_player(cells)
    neighbours = neighbour_table(size)
    mine = winning_cells(cells, size, me, neighbours)
    if mine:
        move = min(mine)
    else:
        threats = winning_cells(cells, size, -me, neighbours)
        move = search(cells, size, me, rng, iterations, think_time, candidates=threats or None)
    return move // size, move % size


def agent(board: Sequence[Sequence[int]], action_set: Iterable[tuple[int, int]],
          player: int | None = None) -> tuple[int, int]:
    """``hexgame``'s model entry point: returns ``(row, col)``."""
    row, col = choose(board, player, _rng, _settings.iterations, _settings.think_time)
    legal = set(action_set)
    if (row, col) not in legal:  # cannot happen with a consistent board and action_set
        return min(legal)
    return row, col
