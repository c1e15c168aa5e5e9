"""``hexgame gui``: a pygame window on one seat, played by a model or a person.

The board is drawn in the reference's orientation: pointy-top hexagons,
row ``r`` shifted right by half a cell per row, so cell ``(q, r)`` touches
``(q±1, r)``, ``(q, r±1)``, ``(q+1, r-1)`` and ``(q-1, r+1)`` exactly as in
the protocol. Red's goal edges (q = 0 and q = n-1) are the left and right
sides, blue's (r = 0 and r = n-1) the top and bottom.

The network runs on its own thread (``Session.run`` on an asyncio loop);
pygame stays on the main thread and only reads immutable snapshots of the
view, and hands clicks to the play loop through ``HumanDecider.submit``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass

import pygame

from clients.errors import EXIT_FAILURE, EXIT_OK, ClientError
from clients.game_state import ViewSnapshot
from clients.model_loader import HUMAN
from clients.session import Options, Session, print_error
from games import rules

SQRT3 = math.sqrt(3)

WINDOW_SIZE = (1000, 780)
PANEL_HEIGHT = 130
FPS = 30

BACKGROUND = (24, 26, 33)
EMPTY_CELL = (228, 220, 198)
HOVER_CELL = (246, 240, 222)
CELL_OUTLINE = (70, 66, 60)
RED_STONE = (214, 48, 49)
BLUE_STONE = (35, 104, 214)
RED_EDGE = (230, 80, 80)
BLUE_EDGE = (80, 140, 240)
LAST_MOVE = (255, 221, 87)
TEXT = (235, 235, 235)
MUTED_TEXT = (160, 160, 170)
ERROR_TEXT = (255, 120, 120)
STONE_COLOURS = {rules.RED: RED_STONE, rules.BLUE: BLUE_STONE}

#: How ``hexgame watch --gui`` names itself in the panel (no seat, no model).
SPECTATOR = "spectator"

STONE_SCALE = 0.72
HIGHLIGHT_SCALE = 0.42


# -- geometry (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardLayout:
    """Where the board sits: ``radius`` is a hexagon's centre-to-corner distance,
    ``origin`` the pixel centre of cell (0, 0)."""

    board_size: int
    radius: float
    origin: tuple[float, float]

    @classmethod
    def fit(cls, board_size: int, width: float, height: float, margin: float = 40.0, top: float = 0.0) -> BoardLayout:
        """The largest layout of an n×n board centred in ``width``×``height`` (from ``top``)."""
        n = board_size
        span_x = SQRT3 * (1.5 * (n - 1) + 1)  # board width in radii
        span_y = 1.5 * (n - 1) + 2  # board height in radii
        radius = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
        left = (width - span_x * radius) / 2
        upper = top + (height - span_y * radius) / 2
        return cls(board_size, radius, (left + SQRT3 * radius / 2, upper + radius))


def cell_center(layout: BoardLayout, q: int, r: int) -> tuple[float, float]:
    ox, oy = layout.origin
    return ox + layout.radius * SQRT3 * (q + r / 2), oy + layout.radius * 1.5 * r


def hex_corners(layout: BoardLayout, q: int, r: int, scale: float = 1.0) -> list[tuple[float, float]]:
    """The six corners of a cell, clockwise from the lower right (30°)."""
    cx, cy = cell_center(layout, q, r)
    size = layout.radius * scale
    return [(cx + size * math.cos(math.radians(30 + 60 * k)), cy + size * math.sin(math.radians(30 + 60 * k)))
            for k in range(6)]


def pixel_to_cell(layout: BoardLayout, x: float, y: float) -> tuple[int, int] | None:
    """The ``(q, r)`` of the hexagon containing pixel ``(x, y)``, or ``None`` off the board."""
    ox, oy = layout.origin
    fr = (y - oy) / (1.5 * layout.radius)
    fq = (x - ox) / (SQRT3 * layout.radius) - fr / 2
    # Cube rounding: round all three axial-cube coordinates, then repair the
    # one that moved most so that q + r + s stays 0.
    fs = -fq - fr
    q, r, s = round(fq), round(fr), round(fs)
    dq, dr, ds = abs(q - fq), abs(r - fr), abs(s - fs)
    if dq > dr and dq > ds:
        q = -r - s
    elif dr > ds:
        r = -q - s
    if 0 <= q < layout.board_size and 0 <= r < layout.board_size:
        return q, r
    return None


def edge_width(layout: BoardLayout) -> int:
    """Thickness of the goal-edge lines, which are centred on the board's border."""
    return max(4, int(layout.radius * 0.28))


def highlight_ring(layout: BoardLayout) -> tuple[int, int]:
    """Outer radius and thickness of the last-move ring (drawn inside the stone)."""
    return max(3, int(layout.radius * HIGHLIGHT_SCALE)), max(2, int(layout.radius * 0.12))


def goal_edges(layout: BoardLayout) -> dict[int, list[list[tuple[float, float]]]]:
    """Polylines along the board's outer border, by the player whose goal they are."""
    n = layout.board_size

    def corners(q: int, r: int, angles: tuple[int, ...]) -> list[tuple[float, float]]:
        cx, cy = cell_center(layout, q, r)
        return [(cx + layout.radius * math.cos(math.radians(a)), cy + layout.radius * math.sin(math.radians(a)))
                for a in angles]

    top = [p for q in range(n) for p in corners(q, 0, (210, 270))] + corners(n - 1, 0, (330,))
    bottom = corners(0, n - 1, (150,)) + [p for q in range(n) for p in corners(q, n - 1, (90, 30))]
    left = [p for r in range(n) for p in corners(0, r, (210, 150))] + corners(0, n - 1, (90,))
    right = corners(n - 1, 0, (270,)) + [p for r in range(n) for p in corners(n - 1, r, (330, 30))]
    return {rules.BLUE: [top, bottom], rules.RED: [left, right]}


# -- drawing ------------------------------------------------------------------------------------


class Fonts:
    def __init__(self) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.small = pygame.font.Font(None, 20)
        self.normal = pygame.font.Font(None, 24)
        self.large = pygame.font.Font(None, 30)


def _label(player: int | None, snapshot: ViewSnapshot) -> str:
    if player is None:
        return "-"
    name = rules.color_of(player)
    return f"{name} (you)" if player == snapshot.player else name


def draw_board(surface: pygame.Surface, snapshot: ViewSnapshot, layout: BoardLayout, fonts: Fonts,
               hover: tuple[int, int] | None = None) -> None:
    """Goal edges, cells, stones, the last move and coordinate labels."""
    n = layout.board_size
    for player, lines in goal_edges(layout).items():
        colour = RED_EDGE if player == rules.RED else BLUE_EDGE
        for line in lines:
            pygame.draw.lines(surface, colour, False, line, edge_width(layout))
    stone_radius = max(2, int(layout.radius * STONE_SCALE))
    for r in range(n):
        for q in range(n):
            cell = snapshot.at(q, r) if snapshot.cells else rules.EMPTY
            fill = HOVER_CELL if hover == (q, r) and cell == rules.EMPTY and snapshot.my_turn else EMPTY_CELL
            corners = hex_corners(layout, q, r)
            pygame.draw.polygon(surface, fill, corners)
            pygame.draw.polygon(surface, CELL_OUTLINE, corners, 1)
            if cell != rules.EMPTY:
                centre = cell_center(layout, q, r)
                pygame.draw.circle(surface, STONE_COLOURS[cell], centre, stone_radius)
    if snapshot.last_move is not None and snapshot.cells:
        q, r = snapshot.last_move
        # A ring inside the stone: the stone's own colour stays visible at its centre.
        ring_radius, ring_width = highlight_ring(layout)
        pygame.draw.circle(surface, LAST_MOVE, cell_center(layout, q, r), ring_radius, ring_width)
    for q in range(n):
        x, y = cell_center(layout, q, 0)
        text = fonts.small.render(str(q), True, MUTED_TEXT)
        surface.blit(text, text.get_rect(center=(x, y - layout.radius * 1.55)))
    for r in range(n):
        x, y = cell_center(layout, 0, r)
        text = fonts.small.render(str(r), True, MUTED_TEXT)
        surface.blit(text, text.get_rect(center=(x - layout.radius * 1.55, y)))
    corner = fonts.small.render("r \\ q", True, MUTED_TEXT)
    x0, y0 = cell_center(layout, 0, 0)
    surface.blit(corner, corner.get_rect(center=(x0 - layout.radius * 1.55, y0 - layout.radius * 1.55)))


def _clock_text(snapshot: ViewSnapshot) -> str:
    """Remaining times in clock games ("" otherwise); the running clock is marked."""
    if not snapshot.remaining_ms:
        return ""
    parts = []
    for player in rules.PLAYERS:
        ms = snapshot.remaining_ms.get(player, 0)
        mark = ""
        if snapshot.clock_running == player and snapshot.game_winner is None and not snapshot.paused:
            # Count the running clock down locally between server messages.
            ms = max(0, ms - int((time.monotonic() - snapshot.clock_received) * 1000))
            mark = "*"
        seconds = -(-ms // 1000)  # whole seconds left, rounded up as clocks show them
        parts.append(f"{rules.color_of(player)} {seconds // 60}:{seconds % 60:02d}{mark}")
    return "   clock: " + "  ".join(parts)


def panel_lines(snapshot: ViewSnapshot, model_name: str, banner: str = "") -> list[tuple[str, tuple[int, int, int]]]:
    """The text shown under the board, line by line."""
    if snapshot.player is not None:
        me = rules.color_of(snapshot.player)
    else:
        me = "spectator" if model_name.startswith(SPECTATOR) else "not seated yet"
    red_name = snapshot.player_models.get(rules.RED, "?")
    blue_name = snapshot.player_models.get(rules.BLUE, "?")
    red_user = snapshot.player_usernames.get(rules.RED)
    blue_user = snapshot.player_usernames.get(rules.BLUE)
    red_label = f"{red_name}" + (f" ({red_user})" if red_user else "")
    blue_label = f"{blue_name}" + (f" ({blue_user})" if blue_user else "")
    if snapshot.series_winner is not None:
        turn = f"series over: {rules.color_of(snapshot.series_winner)} wins"
    elif snapshot.waiting:
        turn = "waiting for an opponent"
    elif snapshot.paused:
        turn = "paused: a player is reconnecting"
    else:
        turn = f"turn: {_label(snapshot.current_turn, snapshot)}"
        if snapshot.my_turn and model_name == HUMAN:
            turn += " - click an empty cell" + (" or press S to swap" if snapshot.can_swap else "")
    slot = snapshot.slot_id if snapshot.slot_id is not None else "-"
    score = f"red {snapshot.wins[0]} - {snapshot.wins[1]} blue"
    lines = [
        (f"model: {model_name}   you: {me}   slot: {slot}   game {snapshot.game_number or '-'} "
         f"(best of {snapshot.series_length})   score: {score}", TEXT),
        (f"{turn}   move {snapshot.move_count}" + _clock_text(snapshot), TEXT),
        (f"red: {red_label}  connects left-right      blue: {blue_label}  connects top-bottom", MUTED_TEXT),
        (banner or snapshot.status, ERROR_TEXT if banner.startswith("error") else MUTED_TEXT),
    ]
    return lines


def draw_panel(surface: pygame.Surface, rect: pygame.Rect, lines: list[tuple[str, tuple[int, int, int]]],
               fonts: Fonts) -> None:
    pygame.draw.rect(surface, (34, 37, 46), rect)
    y = rect.top + 10
    for text, colour in lines:
        rendered = fonts.normal.render(text, True, colour)
        surface.blit(rendered, (rect.left + 16, y))
        y += 28


# -- the app ------------------------------------------------------------------------------------


class NetworkThread(threading.Thread):
    """Runs the session's play loop on its own event loop."""

    def __init__(self, session: Session) -> None:
        super().__init__(name="hexgame-network", daemon=True)
        self.session = session
        self.code: int | None = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[int] | None = None
        self._started = threading.Event()

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self.session.run())
            self._started.set()
            self.code = loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            self.code = EXIT_OK
        except BaseException as exc:  # noqa: BLE001 - reported by the GUI thread
            self.error = exc
        finally:
            self._started.set()
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        self._started.wait(timeout)
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not task.done():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass  # the loop closed meanwhile
        self.join(timeout)


class GuiApp:
    """The window: renders the latest snapshot and turns clicks into moves."""

    def __init__(self, session: Session, *, match_delay: float = 3.0, size: tuple[int, int] = WINDOW_SIZE,
                 close_when_done: bool = False) -> None:
        self.session = session
        self.model_name = session.options.model_name
        self.match_delay = match_delay
        self.close_when_done = close_when_done
        pygame.display.init()
        self.screen = pygame.display.set_mode(size)
        pygame.display.set_caption(f"hexgame - {self.model_name}")
        self.fonts = Fonts()
        self.clock = pygame.time.Clock()
        self.running = True
        self.hover: tuple[int, int] | None = None
        self._held: ViewSnapshot | None = None
        self._held_until = 0.0
        self._held_game = 0
        self.layout = self._layout_for(session.options.board_size)
        self.network: NetworkThread | None = None

    def _layout_for(self, board_size: int) -> BoardLayout:
        width, height = self.screen.get_size()
        return BoardLayout.fit(board_size, width, height - PANEL_HEIGHT, margin=50)

    # -- input --------------------------------------------------------------------------------

    def handle_event(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            if event.key in (pygame.K_ESCAPE, pygame.K_q):
                self.running = False
            elif event.key == pygame.K_SPACE:
                self._held = None
            elif event.key == pygame.K_s:
                self.swap()
        elif event.type == pygame.MOUSEMOTION:
            self.hover = pixel_to_cell(self.layout, *event.pos)
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.click(event.pos)

    def click(self, pos: tuple[int, int]) -> None:
        """A left click: on our turn, an empty cell becomes our move (human model only)."""
        human = self.session.human
        if human is None:
            return
        snapshot = self.session.snapshot()
        cell = pixel_to_cell(self.layout, *pos)
        if cell is None or not snapshot.my_turn or self._holding():
            return
        q, r = cell
        if snapshot.at(q, r) == rules.EMPTY:
            human.submit(q, r)

    def swap(self) -> None:
        """The S key: in a swap game, answer the opponent's first stone with a swap (human model only)."""
        human = self.session.human
        if human is None or self._holding() or not self.session.snapshot().can_swap:
            return
        human.submit(*rules.SWAP_ACTION)

    # -- output -------------------------------------------------------------------------------

    def _holding(self) -> bool:
        return self._held is not None and time.monotonic() < self._held_until

    def _displayed(self) -> tuple[ViewSnapshot, str]:
        snapshot = self.session.snapshot()
        finished = self.session.finished_game()
        if (finished is not None and self.match_delay > 0 and finished.series_winner is None
                and finished.game_number != self._held_game):
            self._held_game = finished.game_number
            self._held, self._held_until = finished, time.monotonic() + self.match_delay
        if self._holding() and self._held is not None and snapshot.series_winner is None:
            left = self._held_until - time.monotonic()
            return self._held, f"{self._held.status} - next game in {left:.0f}s (SPACE to skip)"
        self._held = None
        network = self.network
        if network is not None and not network.is_alive():
            if network.error is not None:
                return snapshot, f"error: {network.error} - Esc or Q to close"
            return snapshot, f"{snapshot.status} - Esc or Q to close"
        return snapshot, ""

    def render(self, snapshot: ViewSnapshot | None = None, banner: str = "") -> None:
        if snapshot is None:
            snapshot, banner = self._displayed()
        if snapshot.board_size and snapshot.board_size != self.layout.board_size:
            self.layout = self._layout_for(snapshot.board_size)
        self.screen.fill(BACKGROUND)
        draw_board(self.screen, snapshot, self.layout, self.fonts, self.hover)
        width, height = self.screen.get_size()
        draw_panel(self.screen, pygame.Rect(0, height - PANEL_HEIGHT, width, PANEL_HEIGHT),
                   panel_lines(snapshot, self.model_name, banner), self.fonts)

    def step(self) -> bool:
        """One frame: events, drawing, flip. False once the user asked to quit."""
        for event in pygame.event.get():
            self.handle_event(event)
        self.render()
        pygame.display.flip()
        return self.running

    def run(self, network: NetworkThread) -> int:
        self.network = network
        try:
            while self.step():
                if self.close_when_done and not network.is_alive():
                    break
                self.clock.tick(FPS)
        finally:
            network.stop()
            pygame.display.quit()
        if network.error is not None:
            if isinstance(network.error, ClientError):
                print_error(network.error)
                return network.error.exit_code
            print_error(f"unexpected error: {type(network.error).__name__}: {network.error}")
            return EXIT_FAILURE
        return EXIT_OK


def run_gui(options: Options, match_delay: float = 3.0, close_when_done: bool = False) -> int:
    """Open the window and play; returns the exit code (0 when the user closes it)."""
    session = Session(options)  # a missing model fails here, before a window or a seat
    try:
        app = GuiApp(session, match_delay=match_delay, close_when_done=close_when_done)
        network = NetworkThread(session)
        network.start()
        return app.run(network)
    finally:
        session.close()
