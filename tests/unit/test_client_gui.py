"""The pygame GUI, headless: geometry, what the rendered board shows, and that
clicking a cell on our turn sends that cell's move."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import json  # noqa: E402
import math  # noqa: E402
import queue  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pygame  # noqa: E402
import pytest  # noqa: E402

from clients import gui  # noqa: E402
from clients.game_state import ViewSnapshot  # noqa: E402
from clients.session import Options, Session  # noqa: E402
from games import rules  # noqa: E402
from tests.support.fake_arena import FakeArena  # noqa: E402

# -- geometry ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [7, 11, 19])
def test_every_cell_centre_maps_back_to_its_cell(size: int) -> None:
    layout = gui.BoardLayout.fit(size, 1000, 650)
    for r in range(size):
        for q in range(size):
            x, y = gui.cell_center(layout, q, r)
            assert gui.pixel_to_cell(layout, x, y) == (q, r)
            # Well inside the hexagon (towards each corner) is still the same cell.
            for cx, cy in gui.hex_corners(layout, q, r, scale=0.8):
                assert gui.pixel_to_cell(layout, cx, cy) == (q, r)


def test_protocol_neighbours_are_the_touching_hexagons() -> None:
    layout = gui.BoardLayout.fit(11, 1000, 650)
    touching = layout.radius * math.sqrt(3)
    q, r = 5, 5
    x, y = gui.cell_center(layout, q, r)
    for dq in (-2, -1, 0, 1, 2):
        for dr in (-2, -1, 0, 1, 2):
            if (dq, dr) == (0, 0):
                continue
            nx, ny = gui.cell_center(layout, q + dq, r + dr)
            adjacent = math.isclose(math.dist((x, y), (nx, ny)), touching, rel_tol=1e-9)
            assert adjacent == ((dq, dr) in rules.NEIGHBOURS), (dq, dr)


def test_orientation_rows_go_down_and_shift_right() -> None:
    layout = gui.BoardLayout.fit(7, 1000, 650)
    x00, y00 = gui.cell_center(layout, 0, 0)
    x10, y10 = gui.cell_center(layout, 1, 0)
    x01, y01 = gui.cell_center(layout, 0, 1)
    assert x10 > x00 and y10 == y00  # q grows to the right
    assert y01 > y00 and x01 > x00  # r grows downwards, each row half a cell to the right


def test_pixels_off_the_board_are_no_cell() -> None:
    layout = gui.BoardLayout.fit(7, 1000, 650)
    x, y = gui.cell_center(layout, 0, 0)
    assert gui.pixel_to_cell(layout, x - 2 * layout.radius, y) is None
    x, y = gui.cell_center(layout, 6, 6)
    assert gui.pixel_to_cell(layout, x, y + 2 * layout.radius) is None
    assert gui.pixel_to_cell(layout, 0, 0) is None


def test_board_fits_inside_the_area() -> None:
    for size in rules.BOARD_SIZES:
        layout = gui.BoardLayout.fit(size, 1000, 650, margin=40)
        points = [p for q, r in ((0, 0), (size - 1, 0), (0, size - 1), (size - 1, size - 1))
                  for p in gui.hex_corners(layout, q, r)]
        assert all(0 <= x <= 1000 and 0 <= y <= 650 for x, y in points)


# -- rendering ---------------------------------------------------------------------------------


def make_app(server: str = "ws://127.0.0.1:9", model: str = "human", board_size: int = 7) -> gui.GuiApp:
    session = Session(Options(command="gui", server=server, model_name=model, board_size=board_size, move_delay=0,
                              replay_log="off"), say=lambda text: None)
    return gui.GuiApp(session, match_delay=0)


def snapshot_with(stones: dict[tuple[int, int], int], size: int = 7, **fields) -> ViewSnapshot:
    """``stones`` maps (q, r) to a player."""
    cells = [[0] * size for _ in range(size)]
    for (q, r), player in stones.items():
        cells[r][q] = player
    defaults = dict(player=rules.RED, slot_id=3, board_size=size, series_length=3, wins_required=2,
                    cells=tuple(tuple(row) for row in cells), current_turn=rules.BLUE, game_number=2,
                    move_count=len(stones), wins=(1, 0), player_models={-1: "human", 1: "model_first"},
                    waiting=False)
    defaults.update(fields)
    return ViewSnapshot(**defaults)


def pixel(app: gui.GuiApp, x: float, y: float) -> tuple[int, int, int]:
    return tuple(app.screen.get_at((round(x), round(y))))[:3]


def test_stones_are_drawn_in_their_cells_in_their_colours() -> None:
    app = make_app()
    stones = {(1, 2): rules.RED, (4, 0): rules.BLUE, (6, 6): rules.BLUE, (0, 5): rules.RED}
    app.render(snapshot_with(stones, last_move=(6, 6)))
    for r in range(7):
        for q in range(7):
            x, y = gui.cell_center(app.layout, q, r)
            expected = {rules.RED: gui.RED_STONE, rules.BLUE: gui.BLUE_STONE}.get(stones.get((q, r)), gui.EMPTY_CELL)
            assert pixel(app, x, y) == expected, (q, r)
    # (q=2, r=1) is the transpose of a red stone and must stay empty.
    assert pixel(app, *gui.cell_center(app.layout, 2, 1)) == gui.EMPTY_CELL


def test_last_move_is_highlighted_around_its_stone() -> None:
    app = make_app()
    stones = {(1, 2): rules.RED, (4, 0): rules.BLUE}
    app.render(snapshot_with(stones, last_move=(4, 0)))
    outer, width = gui.highlight_ring(app.layout)
    ring = outer - width / 2
    x, y = gui.cell_center(app.layout, 4, 0)
    assert pixel(app, x + ring, y) == gui.LAST_MOVE
    x, y = gui.cell_center(app.layout, 1, 2)
    assert pixel(app, x + ring, y) == gui.RED_STONE  # the other stone has no ring


def test_goal_edges_red_left_right_blue_top_bottom() -> None:
    app = make_app()
    app.render(snapshot_with({}))
    radius = app.layout.radius
    out = gui.edge_width(app.layout) / 4  # just outside the border, inside the edge line
    half_width = radius * math.sqrt(3) / 2
    x, y = gui.cell_center(app.layout, 0, 3)
    assert pixel(app, x - half_width - out, y) == gui.RED_EDGE  # left of the left column
    x, y = gui.cell_center(app.layout, 6, 3)
    assert pixel(app, x + half_width + out, y) == gui.RED_EDGE  # right of the right column
    x, y = gui.cell_center(app.layout, 3, 0)
    assert pixel(app, x, y - radius - out) == gui.BLUE_EDGE  # above the top row
    x, y = gui.cell_center(app.layout, 3, 6)
    assert pixel(app, x, y + radius + out) == gui.BLUE_EDGE  # below the bottom row
    # And not the other way round.
    assert pixel(app, x, y + radius + out) != gui.RED_EDGE


def test_panel_shows_model_slot_score_turn_and_move_count() -> None:
    text = "\n".join(line for line, _ in gui.panel_lines(
        snapshot_with({(0, 0): rules.RED, (1, 1): rules.BLUE}, current_turn=rules.RED), "human"))
    assert "model: human" in text
    assert "slot: 3" in text
    assert "score: red 1 - 0 blue" in text
    assert "turn: red (you) - click an empty cell" in text
    assert "move 2" in text
    assert "red: human  connects left-right" in text
    assert "blue: model_first  connects top-bottom" in text
    over = "\n".join(line for line, _ in gui.panel_lines(
        snapshot_with({}, series_winner=rules.BLUE, current_turn=None), "human"))
    assert "series over: blue wins" in over


@pytest.mark.parametrize("event", [
    pygame.event.Event(pygame.QUIT),
    pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode="\x1b", scancode=41),
    pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q, mod=0, unicode="q", scancode=20),
])
def test_escape_q_and_window_close_quit(event: pygame.event.Event) -> None:
    app = make_app()
    assert app.step() is True
    pygame.event.post(event)
    assert app.step() is False


# -- clicking sends the move -------------------------------------------------------------------


class TurnServer(FakeArena):
    """A fake arena: seats the client as red on 7x7, blue to move first. Blue
    plays (q=3, r=3) when told to; every frame the client sends is queued."""

    def __init__(self) -> None:
        self.frames: queue.Queue[dict] = queue.Queue()
        self.blue_may_move = threading.Event()
        super().__init__()

    def script(self, ws) -> None:
        self.send(ws, "joined", slot_id=1, player=-1, color="red", board_size=7, series_length=1,
                  reconnect_token="t" * 43, protocol_version=1)
        self.send(ws, "game_start", slot_id=1, board_size=7, series_length=1, players=[-1, 1], first_turn=1,
                  current_game_number=1, player_1_wins=0, player_2_wins=0, wins_required=1)
        self.blue_may_move.wait(20)
        self.send(ws, "move", player=1, q=3, r=3, next_turn=-1)
        for text in ws:
            self.frames.put(json.loads(text))

    def __exit__(self, *exc: object) -> None:
        self.blue_may_move.set()
        super().__exit__(*exc)


def pump_until(app: gui.GuiApp, condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "GUI did not reach the expected state"
        app.step()
        time.sleep(0.01)


def click(app: gui.GuiApp, q: int, r: int) -> None:
    x, y = gui.cell_center(app.layout, q, r)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(round(x), round(y)), button=1))


def test_clicking_an_empty_cell_on_our_turn_sends_that_move() -> None:
    with TurnServer() as server:
        app = make_app(server=f"ws://127.0.0.1:{server.port}")
        network = gui.NetworkThread(app.session)
        network.start()
        try:
            pump_until(app, lambda: app.session.snapshot().game_number == 1)
            assert not app.session.snapshot().my_turn
            click(app, 5, 1)  # blue's turn: ignored
            app.step()
            server.blue_may_move.set()
            pump_until(app, lambda: app.session.snapshot().my_turn)
            app.step()
            # The blue stone is drawn where blue played.
            assert pixel(app, *gui.cell_center(app.layout, 3, 3)) == gui.BLUE_STONE
            click(app, 3, 3)  # occupied: ignored
            click(app, 2, 4)
            app.step()
            frame = server.frames.get(timeout=15)
        finally:
            network.stop()
    assert frame == {"type": "move", "payload": {"q": 2, "r": 4}}
    assert server.frames.empty()


# -- replay and watch windows ---------------------------------------------------------------------


def test_replay_window_steps_with_the_arrow_keys() -> None:
    from clients.replay_view import ReplayWindow, load_file

    games = load_file(str(Path(__file__).resolve().parent.parent / "data" / "golden_red_wins.sgf"))
    window = ReplayWindow(games)
    try:
        window.render()
        layout = window.layout
        first = tuple(gui.cell_center(layout, 0, 3))
        assert window.screen.get_at((int(first[0]), int(first[1])))[:3] == gui.EMPTY_CELL
        window.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT))
        window.render()
        assert window.stepper.position == 1
        assert window.screen.get_at((int(first[0]), int(first[1])))[:3] == gui.RED_STONE
        window.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_END))
        window.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_LEFT))
        assert window.stepper.position == 12
        window.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
        assert not window.running
    finally:
        window.close()


def test_gui_can_watch_a_slot() -> None:
    """The spectator plugs into the player's window (GuiApp) unchanged."""
    from clients.connection import Message
    from clients.watch import Spectator, WatchOptions

    spectator = Spectator(WatchOptions("ws://127.0.0.1:1", 3))
    snap = {"slot_id": 3, "state": "full", "board_size": 7, "series_length": 1, "players": [-1, 1],
            "player_models": {"-1": "a", "1": "b"}, "player_usernames": {}, "connected_players": [-1, 1],
            "disconnected_players": [], "current_turn": 1, "winner": None, "move_count": 1,
            "board": [[0] * 7 for _ in range(7)], "current_game_number": 1, "player_1_wins": 0,
            "player_2_wins": 0, "series_winner": None}
    snap["board"][2][3] = rules.RED
    spectator._apply(Message("watching", {"slot_id": 3, "slot": snap, "last_move": [3, 2]}))
    app = gui.GuiApp(spectator, match_delay=0)
    try:
        app.render(spectator.snapshot())
        x, y = gui.cell_center(app.layout, 3, 2)
        assert app.screen.get_at((int(x), int(y)))[:3] == gui.RED_STONE
        app.click((int(x), int(y)))  # a spectator's click does nothing
        lines = gui.panel_lines(spectator.snapshot(), spectator.options.model_name)
        assert "you: spectator" in lines[0][0] and "slot: 3" in lines[0][0]
    finally:
        pygame.display.quit()
