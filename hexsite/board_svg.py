"""Geometry of a Hex board drawn as SVG, for the templates.

Pure Python, no Django: the templates only loop over what this returns.

The board is the reference's rhombus: ``board[r][q]``, pointy-top hexagons,
row ``r`` shifted right by half a hexagon per row, so the six neighbours
(+1,0) (-1,0) (0,+1) (0,-1) (+1,-1) (-1,+1) of a cell are the six hexagons
that touch it. Red (-1) owns the left and right edges (q = 0 and q = n-1),
blue (1) the top and bottom edges (r = 0 and r = n-1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RED = -1
BLUE = 1

#: Circumradius of one hexagon in SVG user units.
RADIUS = 10.0
HEX_WIDTH = math.sqrt(3) * RADIUS  # flat-to-flat width of a pointy-top hexagon
ROW_STEP = 1.5 * RADIUS  # 0.75 × the hexagon's height (2 × RADIUS)
EDGE_WIDTH = 0.6 * RADIUS  # stroke width of the coloured goal edges
LABEL_GAP = 1.4 * RADIUS  # room for coordinate labels outside the board

STONE_CLASSES = {0: "cell-empty", RED: "cell-red", BLUE: "cell-blue"}
PLAYER_NAMES = {RED: "red", BLUE: "blue"}


def center(q: int, r: int) -> tuple[float, float]:
    """Centre of cell (q, r): x = (q + r/2) · w, y = r · 0.75 · h."""
    return (q + r / 2) * HEX_WIDTH, r * ROW_STEP


def corners(q: int, r: int) -> list[tuple[float, float]]:
    """The six corners of cell (q, r), clockwise from the top."""
    cx, cy = center(q, r)
    half = HEX_WIDTH / 2
    return [
        (cx, cy - RADIUS),  # top
        (cx + half, cy - RADIUS / 2),  # upper right
        (cx + half, cy + RADIUS / 2),  # lower right
        (cx, cy + RADIUS),  # bottom
        (cx - half, cy + RADIUS / 2),  # lower left
        (cx - half, cy - RADIUS / 2),  # upper left
    ]


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def points_attr(points: Sequence[tuple[float, float]]) -> str:
    """An SVG ``points`` attribute: ``"x1,y1 x2,y2 ..."`` with 2 decimals at most."""
    return " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in points)


@dataclass(frozen=True)
class Cell:
    q: int
    r: int
    state: int
    points: str
    cx: str
    cy: str
    css_class: str
    is_last: bool = False


@dataclass(frozen=True)
class Edge:
    player: int
    css_class: str
    points: str


@dataclass(frozen=True)
class Label:
    text: str
    x: str
    y: str
    css_class: str = ""


@dataclass(frozen=True)
class BoardSVG:
    size: int
    view_box: str
    width: float
    height: float
    cells: list[Cell]
    edges: list[Edge]
    labels: list[Label] = field(default_factory=list)
    last_move: tuple[int, int] | None = None
    last_player: int | None = None
    marker_radius: str = _fmt(RADIUS * 0.38)
    red_stones: int = 0
    blue_stones: int = 0
    #: Move numbers drawn on their stones (``move_numbers`` of ``board_svg``).
    numbers: list[Label] = field(default_factory=list)

    @property
    def description(self) -> str:
        """A text alternative for screen readers."""
        text = (f"{self.size} by {self.size} Hex board, {self.red_stones} red and "
                f"{self.blue_stones} blue stones")
        if self.last_move is not None:
            q, r = self.last_move
            who = PLAYER_NAMES.get(self.last_player or 0)
            text += f"; last move {who + ' ' if who else ''}at q={q}, r={r}"
        return text + "."

    @property
    def last_cell(self) -> Cell | None:
        return next((c for c in self.cells if c.is_last), None)


def _edges(size: int) -> list[Edge]:
    """The four goal edges as zig-zag polylines along the board's outline."""
    n = size - 1
    top = [pt for q in range(size) for pt in (corners(q, 0)[5], corners(q, 0)[0])] + [corners(n, 0)[1]]
    bottom = [corners(0, n)[4]] + [pt for q in range(size) for pt in (corners(q, n)[3], corners(q, n)[2])]
    left = [pt for r in range(size) for pt in (corners(0, r)[5], corners(0, r)[4])] + [corners(0, n)[3]]
    right = [corners(n, 0)[0]] + [pt for r in range(size) for pt in (corners(n, r)[1], corners(n, r)[2])]
    return [
        Edge(BLUE, "edge-blue", points_attr(top)),
        Edge(BLUE, "edge-blue", points_attr(bottom)),
        Edge(RED, "edge-red", points_attr(left)),
        Edge(RED, "edge-red", points_attr(right)),
    ]


def _labels(size: int, cell_names: bool = False) -> list[Label]:
    """q along the top edge, r along the left edge: ``q0``/``r0``, or with
    ``cell_names`` the SGF/HexGui names (column letter ``a``, row number ``1``)."""
    labels = []
    for q in range(size):
        x, y = center(q, 0)
        text = "abcdefghijklmnopqrstuvwxyz"[q] if cell_names and q < 26 else f"q{q}"
        labels.append(Label(text, _fmt(x), _fmt(y - RADIUS - LABEL_GAP * 0.75)))
    for r in range(size):
        x, y = center(0, r)
        labels.append(Label(str(r + 1) if cell_names else f"r{r}", _fmt(x - HEX_WIDTH / 2 - LABEL_GAP * 0.9),
                            _fmt(y)))
    return labels


def board_svg(
    size: int,
    board: Sequence[Sequence[int | None]] | None = None,
    last_move: Sequence[int] | None = None,
    labels: bool = False,
    move_numbers: Mapping[tuple[int, int], int] | None = None,
    cell_names: bool = False,
) -> BoardSVG:
    """Everything a template needs to draw ``board`` (``board[r][q]``; ``None``
    means an empty board of ``size``). ``last_move`` is ``[q, r]``; it is
    ignored unless it names an occupied cell of the board. ``move_numbers``
    maps ``(q, r)`` to the number drawn on that cell's stone (the last move's
    number gets the class ``is-last``); ``cell_names`` labels the edges with
    SGF names instead of q/r indices."""
    if size < 1:
        raise ValueError("board size must be positive")
    grid = board if board is not None else [[0] * size for _ in range(size)]
    if len(grid) != size or any(len(row) != size for row in grid):
        raise ValueError("board does not match its size")
    last: tuple[int, int] | None = None
    if last_move is not None and len(last_move) == 2:
        lq, lr = int(last_move[0]), int(last_move[1])
        if 0 <= lq < size and 0 <= lr < size and grid[lr][lq] in (RED, BLUE):
            last = (lq, lr)
    cells = []
    counts = {RED: 0, BLUE: 0}
    for r in range(size):
        for q in range(size):
            state = grid[r][q] or 0
            if state not in STONE_CLASSES:
                raise ValueError(f"unknown cell value {state!r} at q={q}, r={r}")
            if state:
                counts[state] += 1
            cx, cy = center(q, r)
            cells.append(Cell(q, r, state, points_attr(corners(q, r)), _fmt(cx), _fmt(cy),
                              STONE_CLASSES[state], is_last=(q, r) == last))
    numbers = []
    for (nq, nr), number in sorted((move_numbers or {}).items(), key=lambda item: item[1]):
        if 0 <= nq < size and 0 <= nr < size and grid[nr][nq] in (RED, BLUE):
            cx, cy = center(nq, nr)
            css = f"number-on-{PLAYER_NAMES[grid[nr][nq]]}" + (" is-last" if (nq, nr) == last else "")
            numbers.append(Label(str(number), _fmt(cx), _fmt(cy), css))
    # Bounds of the rhombus plus room for the edge strokes (and labels).
    margin = EDGE_WIDTH
    min_x = center(0, 0)[0] - HEX_WIDTH / 2 - margin
    max_x = center(size - 1, size - 1)[0] + HEX_WIDTH / 2 + margin
    min_y = -RADIUS - margin
    max_y = center(0, size - 1)[1] + RADIUS + margin
    if labels:
        min_x -= LABEL_GAP * 1.3
        min_y -= LABEL_GAP
    width, height = max_x - min_x, max_y - min_y
    return BoardSVG(
        size=size,
        view_box=f"{_fmt(min_x)} {_fmt(min_y)} {_fmt(width)} {_fmt(height)}",
        width=round(width, 2),
        height=round(height, 2),
        cells=cells,
        edges=_edges(size),
        labels=_labels(size, cell_names) if labels else [],
        last_move=last,
        last_player=grid[last[1]][last[0]] if last else None,
        red_stones=counts[RED],
        blue_stones=counts[BLUE],
        numbers=numbers,
    )
