"""The SVG geometry of boards: rhombus layout, neighbours, edges, last move."""

from __future__ import annotations

import math

import pytest

from games import rules
from hexsite import board_svg as bs


def parse_points(points: str) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in pair.split(",")) for pair in points.split()]


def centroid(points: str) -> tuple[float, float]:
    pts = parse_points(points)
    return sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)


def test_centres_follow_the_rhombus_layout():
    w = math.sqrt(3) * bs.RADIUS
    assert bs.center(0, 0) == (0, 0)
    assert bs.center(1, 0) == pytest.approx((w, 0))
    # Each row is shifted right by half a hexagon and down by 3/4 of its height.
    assert bs.center(0, 1) == pytest.approx((w / 2, 1.5 * bs.RADIUS))
    assert bs.center(2, 3) == pytest.approx(((2 + 1.5) * w, 3 * 1.5 * bs.RADIUS))


@pytest.mark.parametrize("q, r", [(2, 2), (0, 3), (4, 1)])
def test_the_six_protocol_neighbours_are_the_six_touching_hexagons(q, r):
    """Every neighbour offset of the protocol lands one hexagon width away, and
    no other cell does: the drawing and the rules agree on adjacency."""
    w = math.sqrt(3) * bs.RADIUS
    cx, cy = bs.center(q, r)
    touching = set()
    for oq in range(-2, 3):
        for orow in range(-2, 3):
            if (oq, orow) == (0, 0):
                continue
            x, y = bs.center(q + oq, r + orow)
            if math.isclose(math.hypot(x - cx, y - cy), w, rel_tol=1e-9):
                touching.add((oq, orow))
    assert touching == set(rules.NEIGHBOURS)


def test_neighbouring_hexagons_share_an_edge():
    a = set(parse_points(bs.points_attr(bs.corners(2, 2))))
    for dq, dr in rules.NEIGHBOURS:
        b = set(parse_points(bs.points_attr(bs.corners(2 + dq, 2 + dr))))
        assert len(a & b) == 2, (dq, dr)


def test_cells_carry_stone_classes_in_board_r_q_order():
    board = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
    board[2][0] = rules.RED  # q=0, r=2
    board[0][1] = rules.BLUE  # q=1, r=0
    svg = bs.board_svg(3, board)
    by_qr = {(c.q, c.r): c for c in svg.cells}
    assert len(svg.cells) == 9
    assert by_qr[(0, 2)].css_class == "cell-red"
    assert by_qr[(1, 0)].css_class == "cell-blue"
    assert by_qr[(2, 2)].css_class == "cell-empty"
    assert (svg.red_stones, svg.blue_stones) == (1, 1)
    # Cell polygons are drawn around their centres.
    cell = by_qr[(0, 2)]
    assert centroid(cell.points) == pytest.approx((float(cell.cx), float(cell.cy)), abs=0.02)


def test_empty_board_when_none():
    svg = bs.board_svg(7, None)
    assert len(svg.cells) == 49
    assert all(c.css_class == "cell-empty" for c in svg.cells)
    assert svg.last_cell is None


def test_last_move_is_marked_only_on_an_occupied_cell():
    board = [[0] * 5 for _ in range(5)]
    board[1][3] = rules.RED
    svg = bs.board_svg(5, board, last_move=[3, 1])
    assert svg.last_move == (3, 1)
    assert svg.last_player == rules.RED
    assert [(c.q, c.r) for c in svg.cells if c.is_last] == [(3, 1)]
    assert "last move red at q=3, r=1" in svg.description
    # q/r swapped, off the board, or empty: no marker.
    assert bs.board_svg(5, board, last_move=[1, 3]).last_cell is None
    assert bs.board_svg(5, board, last_move=[9, 9]).last_cell is None
    assert bs.board_svg(5, board, last_move=None).last_cell is None


def test_goal_edges_run_along_the_right_sides():
    size = 4
    svg = bs.board_svg(size)
    edges = {(e.css_class, i): parse_points(e.points) for i, e in enumerate(svg.edges)}
    blue = [pts for (cls, _), pts in edges.items() if cls == "edge-blue"]
    red = [pts for (cls, _), pts in edges.items() if cls == "edge-red"]
    assert len(blue) == 2 and len(red) == 2
    top, bottom = sorted(blue, key=lambda pts: pts[0][1])
    # Blue's edges are horizontal zig-zags above row 0 and below row n-1.
    assert max(y for _, y in top) < bs.center(0, 0)[1]
    assert min(y for _, y in bottom) > bs.center(0, size - 1)[1]
    # Red's edges run left of column 0 and right of column n-1, row by row.
    left, right = sorted(red, key=lambda pts: pts[0][0])
    for r in range(size):
        assert min(x for x, y in left if abs(y - bs.center(0, r)[1]) <= bs.RADIUS) < bs.center(0, r)[0]
        assert max(x for x, y in right if abs(y - bs.center(size - 1, r)[1]) <= bs.RADIUS) > bs.center(size - 1, r)[0]
    # Every edge point is a corner of a border cell.
    corners = {pt for q in range(size) for r in range(size)
               for pt in parse_points(bs.points_attr(bs.corners(q, r)))}
    for pts in blue + red:
        assert set(pts) <= corners


def test_view_box_contains_every_cell_and_labels():
    for labels in (False, True):
        svg = bs.board_svg(11, labels=labels)
        x, y, w, h = (float(v) for v in svg.view_box.split())
        for cell in svg.cells:
            for px, py in parse_points(cell.points):
                assert x <= px <= x + w and y <= py <= y + h
        for label in svg.labels:
            assert x <= float(label.x) <= x + w and y <= float(label.y) <= y + h
    labelled = bs.board_svg(3, labels=True)
    assert [lb.text for lb in labelled.labels] == ["q0", "q1", "q2", "r0", "r1", "r2"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        bs.board_svg(0)
    with pytest.raises(ValueError):
        bs.board_svg(3, [[0, 0], [0, 0]])
    with pytest.raises(ValueError):
        bs.board_svg(2, [[0, 5], [0, 0]])


def test_points_are_compact_and_never_negative_zero():
    assert bs.points_attr([(0.0, -0.0001), (1.5, 2.25)]) == "0,0 1.5,2.25"
