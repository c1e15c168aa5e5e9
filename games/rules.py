"""The Hex rules: board, legality, win detection and series arithmetic.

Pure Python with no Django import, so the server, the clients and the
benchmarks share one engine. Coordinates follow the reference protocol:
a move is ``(q, r)``, the board is indexed ``board[r][q]``, red (-1)
connects the left and right edges (q = 0 and q = n-1), blue (1) connects
the top and bottom edges (r = 0 and r = n-1).
"""

from __future__ import annotations

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
        if not self.in_bounds(q, r):
            raise ValueError(REASON_OFF_BOARD)
        if self.cells[r][q] != EMPTY:
            raise ValueError(REASON_OCCUPIED)
        self.cells[r][q] = player
        n = self.size
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
        for nq, nr in self.neighbours(q, r):
            if self.cells[nr][nq] == player:
                self._union(node, nr * n + nq)
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
