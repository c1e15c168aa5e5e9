"""The Hex rules: board, legality, win detection and series arithmetic.

Pure Python with no Django import, so the server, the clients and the
benchmarks share one engine. Coordinates follow the reference protocol:
a move is ``(q, r)``, the board is indexed ``board[r][q]``, red (-1)
connects the left and right edges (q = 0 and q = n-1), blue (1) connects
the top and bottom edges (r = 0 and r = n-1).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence

RED = -1
BLUE = 1
EMPTY = 0
PLAYERS = (RED, BLUE)
COLORS = {RED: "red", BLUE: "blue"}

BOARD_SIZES = (7, 9, 11, 13, 19)
SERIES_LENGTHS = (1, 3, 5, 7, 9, 11, 13, 15)
PROTOCOL_VERSION = 1

# Axial-like neighbour offsets (dq, dr) of the reference protocol.
NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1))

# Rejection reasons, verbatim from the reference server.
REASON_NOT_STARTED = "Game has not started"
REASON_PAUSED = "Game paused for reconnect"
REASON_FINISHED = "Game already finished"
REASON_NOT_YOUR_TURN = "Not your turn"
REASON_OFF_BOARD = "Move outside board"
REASON_OCCUPIED = "Cell already occupied"
REASON_MALFORMED = "Move coordinates must be integers"


def opponent(player: int) -> int:
    """The other player id."""
    return -player


def color_of(player: int) -> str:
    return COLORS[player]


class Board:
    """An n×n Hex board with incremental win detection.

    Stones of each colour are kept in a union-find whose two virtual
    nodes stand for that colour's goal edges, so every placement costs
    near-constant time and ``winner`` is known at once.
    """

    __slots__ = ("size", "cells", "_parent", "_winner")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("board size must be positive")
        self.size = size
        self.cells: list[list[int]] = [[EMPTY] * size for _ in range(size)]
        n = size * size
        # Nodes 0..n-1 are cells; n, n+1 are red's left/right edges;
        # n+2, n+3 are blue's top/bottom edges.
        self._parent = list(range(n + 4))
        self._winner: int | None = None

    @classmethod
    def from_moves(cls, size: int, moves: Iterable[tuple[int, int, int]]) -> Board:
        """Rebuild a board from ``(player, q, r)`` triples in play order."""
        board = cls(size)
        for player, q, r in moves:
            board.place(player, q, r)
        return board

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[int]]) -> Board:
        """Rebuild a board from ``board[r][q]`` rows (order of play is irrelevant
        to connectivity, so the result has the same winner)."""
        board = cls(len(rows))
        for r, row in enumerate(rows):
            if len(row) != board.size:
                raise ValueError("board rows must be square")
            for q, cell in enumerate(row):
                if cell != EMPTY:
                    board.place(cell, q, r)
        return board

    # -- queries -----------------------------------------------------------

    def in_bounds(self, q: int, r: int) -> bool:
        return 0 <= q < self.size and 0 <= r < self.size

    def at(self, q: int, r: int) -> int:
        return self.cells[r][q]

    def is_empty(self, q: int, r: int) -> bool:
        return self.cells[r][q] == EMPTY

    @property
    def winner(self) -> int | None:
        return self._winner

    @property
    def stone_count(self) -> int:
        return sum(1 for row in self.cells for cell in row if cell != EMPTY)

    def empty_cells(self) -> Iterator[tuple[int, int]]:
        """Every empty cell as ``(q, r)``."""
        for r, row in enumerate(self.cells):
            for q, cell in enumerate(row):
                if cell == EMPTY:
                    yield q, r

    def rows(self) -> list[list[int]]:
        """A copy of the board as ``board[r][q]`` rows of 0/-1/1."""
        return [list(row) for row in self.cells]

    def neighbours(self, q: int, r: int) -> Iterator[tuple[int, int]]:
        for dq, dr in NEIGHBOURS:
            nq, nr = q + dq, r + dr
            if 0 <= nq < self.size and 0 <= nr < self.size:
                yield nq, nr

    # -- mutation ----------------------------------------------------------

    def place(self, player: int, q: int, r: int) -> int | None:
        """Put ``player``'s stone on an empty in-bounds cell.

        Returns the winner after the placement (``None`` while nobody has
        connected their sides). Raises ``ValueError`` on an illegal cell;
        turn order is the caller's business (see ``check_move``).
        """
        if player not in PLAYERS:
            raise ValueError(f"unknown player {player!r}")
        n = self.size
        if not (0 <= q < n and 0 <= r < n):
            raise ValueError(REASON_OFF_BOARD)
        cells = self.cells
        if cells[r][q] != EMPTY:
            raise ValueError(REASON_OCCUPIED)
        cells[r][q] = player
        node = r * n + q
        cells_total = n * n
        if player == RED:
            if q == 0:
                self._union(node, cells_total)
            if q == n - 1:
                self._union(node, cells_total + 1)
        else:
            if r == 0:
                self._union(node, cells_total + 2)
            if r == n - 1:
                self._union(node, cells_total + 3)
        for nq, nr, neighbour in _adjacency(n)[node]:
            if cells[nr][nq] == player:
                self._union(node, neighbour)
        if self._winner is None:
            if player == RED and self._find(cells_total) == self._find(cells_total + 1):
                self._winner = RED
            elif player == BLUE and self._find(cells_total + 2) == self._find(cells_total + 3):
                self._winner = BLUE
        return self._winner

    def _find(self, node: int) -> int:
        parent = self._parent
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[ra] = rb


@functools.cache
def _adjacency(size: int) -> tuple[tuple[tuple[int, int, int], ...], ...]:
    """For each cell node of a ``size`` board, its in-bounds neighbours as
    ``(q, r, node)``: ``place`` runs on every move, and walking the offsets
    through a generator there cost as much as the union-find itself."""
    return tuple(
        tuple((nq, nr, nr * size + nq) for nq, nr in ((q + dq, r + dr) for dq, dr in NEIGHBOURS)
              if 0 <= nq < size and 0 <= nr < size)
        for r in range(size) for q in range(size)
    )


def is_int(value: object) -> bool:
    """True for ints, as the reference accepts them (``bool`` included:
    the reference validates with ``isinstance(x, int)``, so ``true``/``false``
    pass as 1/0 and existing clients may rely on it)."""
    return isinstance(value, int)


def check_move(board: Board, player: int, current_turn: int | None, q: object, r: object) -> str | None:
    """Why ``player`` may not play ``(q, r)`` now, or ``None`` when legal.

    Covers the per-game checks in the reference's order (type, turn,
    bounds, occupancy). Slot-level checks (not started, paused, finished)
    belong to the caller, which knows the slot.
    """
    if not (is_int(q) and is_int(r)):
        return REASON_MALFORMED
    if board.winner is not None or current_turn is None:
        return REASON_FINISHED
    if player != current_turn:
        return REASON_NOT_YOUR_TURN
    if not board.in_bounds(q, r):  # type: ignore[arg-type]
        return REASON_OFF_BOARD
    if not board.is_empty(q, r):  # type: ignore[arg-type]
        return REASON_OCCUPIED
    return None


# -- series arithmetic -----------------------------------------------------


def wins_required(series_length: int) -> int:
    """Games needed to win a best-of-``series_length`` series: ceil(n/2)."""
    return series_length // 2 + 1


def first_turn(game_number: int, first_player: int = RED) -> int:
    """Who opens game ``game_number`` (1-based): ``first_player`` in odd
    games, the other player in even games."""
    return first_player if game_number % 2 == 1 else opponent(first_player)


def series_winner(player_1_wins: int, player_2_wins: int, series_length: int) -> int | None:
    """The series winner once someone reached the required wins, else None."""
    needed = wins_required(series_length)
    if player_1_wins >= needed:
        return RED
    if player_2_wins >= needed:
        return BLUE
    return None


def is_valid_board_size(value: int) -> bool:
    return value in BOARD_SIZES


def is_valid_series_length(value: int) -> bool:
    return value in SERIES_LENGTHS


def legal_actions(board: Board) -> list[tuple[int, int]]:
    """Legal cells in the model convention ``(row, col)`` = ``(r, q)``."""
    return [(r, q) for q, r in board.empty_cells()]


# -- swap rule (pie rule, "swap-pieces" form) ------------------------------------

# Opted-in games only (matchmaking ``swap=1``): after the first stone the second
# player may answer with a swap instead of a move. In the swap-pieces form
# (PlayHex, HexGui's ``swap-pieces``) the first stone (q, r) is replaced by a
# stone of the swapper's colour at (r, q), mirrored across the long diagonal:
# the position is the one the swapper would face had they opened with the
# mirrored stone. Ids, colours and goal sides never change, and the first
# player moves next.
MOVE_KIND_PLACE = "place"
MOVE_KIND_SWAP = "swap"
# The swap option in a model's ``action_set`` (row, col convention): a pair, so
# models that sort or compare actions keep working, and never a cell.
SWAP_ACTION = (-1, -1)

REASON_SWAP_NOT_ALLOWED = "Swap is not allowed in this game"
REASON_SWAP_TOO_LATE = "Swap is only allowed as the reply to the first stone"


def swap_target(board: Board) -> tuple[int, int, int] | None:
    """``(player, q, r)`` of the only stone on the board, or None when the
    board does not hold exactly one stone."""
    found: tuple[int, int, int] | None = None
    for r, row in enumerate(board.cells):
        for q, cell in enumerate(row):
            if cell != EMPTY:
                if found is not None:
                    return None
                found = (cell, q, r)
    return found


def check_swap(board: Board, player: int, current_turn: int | None, swap_allowed: bool,
               moves_played: int = 1) -> str | None:
    """Why ``player`` may not swap now, or None when the swap is legal.

    ``moves_played`` counts the game's moves so far (a swap counts as one):
    only the reply to the opening stone may swap, never a second time."""
    if not swap_allowed:
        return REASON_SWAP_NOT_ALLOWED
    if board.winner is not None or current_turn is None:
        return REASON_FINISHED
    if player != current_turn:
        return REASON_NOT_YOUR_TURN
    target = swap_target(board)
    if moves_played != 1 or target is None or target[0] == player:
        return REASON_SWAP_TOO_LATE
    return None


def swap_pieces(board: Board, player: int) -> tuple[Board, tuple[int, int], tuple[int, int]]:
    """Apply a legal swap by ``player`` (see ``check_swap``).

    Returns the new board, the removed stone's ``(q, r)`` and the new
    stone's ``(q, r)`` = ``(r, q)``.
    """
    target = swap_target(board)
    if target is None or target[0] == player or player not in PLAYERS:
        raise ValueError(REASON_SWAP_TOO_LATE)
    _, q, r = target
    swapped = Board(board.size)
    swapped.place(player, r, q)
    return swapped, (q, r), (r, q)


def replay_moves(size: int, moves: Iterable[tuple[str, int, int, int]]) -> Board:
    """The board after ``(kind, player, q, r)`` moves in play order, where a
    ``swap`` move's ``(q, r)`` is the new (mirrored) stone."""
    board = Board(size)
    for kind, player, q, r in moves:
        if kind == MOVE_KIND_SWAP:
            board, _, new = swap_pieces(board, player)
            if new != (q, r):
                raise ValueError(f"swap to ({q}, {r}) does not mirror the first stone")
        else:
            board.place(player, q, r)
    return board


def legal_actions_with_swap(board: Board, player: int, current_turn: int | None, swap_allowed: bool,
                            moves_played: int = 1) -> list[tuple[int, int]]:
    """``legal_actions`` plus ``SWAP_ACTION`` (last) when ``player`` may swap."""
    actions = legal_actions(board)
    if swap_allowed and check_swap(board, player, current_turn, True, moves_played) is None:
        actions.append(SWAP_ACTION)
    return actions
