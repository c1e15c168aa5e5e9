"""``hexgame replay``: step through recorded games in the terminal or the GUI.

Sources:

* a client replay log (``replays/*.jsonl``, see ``clients.replay``): the
  games are rebuilt from the server messages it recorded;
* ``--game ID --server URL``: the arena's JSON record from ``/api/games/ID``;
* a ``.sgf`` or ``.json`` record downloaded from a game page.

Every source becomes ``games.records.GameRecord`` values, so positions come
from the one rules module. The terminal stepper reads one command per line
(so it can be driven from a pipe or a test): Enter or ``n`` next move, ``p``
previous, ``f``/``l`` first/last position, a number jumps to that move,
``]``/``[`` next/previous game, ``q`` quits. ``--print-all`` prints every
position without asking.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from clients.errors import EXIT_OK, ClientError, ServerRefusedError, ServerUnreachableError
from clients.replay import read_replay
from games import records, rules
from games.board_text import board_to_text


class ReplaySourceError(ClientError):
    """The file or record cannot be replayed."""

    exit_code = 2


# -- sources ---------------------------------------------------------------------------------


def games_from_log(entries: Iterable[dict[str, Any]]) -> list[records.GameRecord]:
    """The games a client replay log saw, rebuilt from its ``server_message`` records.

    A game the client joined late (after a reconnect) starts from the
    snapshot's stones without their order; those stones are placed first.
    """
    games: list[records.GameRecord] = []
    current: records.GameRecord | None = None
    moves: list[records.MoveRecord] = []
    labels: dict[str, dict[str, str]] = {"models": {}, "users": {}}

    def finish() -> None:
        nonlocal current, moves
        if current is not None:
            games.append(replace(current, moves=tuple(moves)))
        current, moves = None, []

    for entry in entries:
        if entry.get("event") != "server_message" or not isinstance(entry.get("message"), dict):
            continue
        message = entry["message"]
        kind = message.get("type")
        payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
        if kind == "game_start":
            finish()
            labels["models"] = payload.get("player_models") or labels["models"]
            labels["users"] = payload.get("player_usernames") or labels["users"]
            current = records.GameRecord(
                board_size=int(payload.get("board_size", 11)),
                first_turn=payload.get("first_turn", rules.RED),
                red=records.PlayerRecord(labels["models"].get("-1", ""), labels["users"].get("-1", "")),
                blue=records.PlayerRecord(labels["models"].get("1", ""), labels["users"].get("1", "")),
                status=records.STATUS_RUNNING,
                slot_id=payload.get("slot_id"),
                game_number=int(payload.get("current_game_number", len(games) + 1)),
                series_length=int(payload.get("series_length", 1)),
                started_at=entry.get("time"),
            )
        elif kind == "move" and current is not None:
            q, r = payload.get("q"), payload.get("r")
            if isinstance(q, int) and isinstance(r, int) and payload.get("player") in rules.PLAYERS:
                moves.append(records.MoveRecord(len(moves) + 1, payload.get("player"), int(q), int(r)))
        elif kind == "game_over" and current is not None:
            current = replace(current, winner=payload.get("winner"), end_reason=payload.get("reason", ""),
                              status=records.STATUS_FINISHED, finished_at=entry.get("time"))
            finish()
        elif kind == "reconnected":
            slot = payload.get("slot") if isinstance(payload.get("slot"), dict) else {}
            board = slot.get("board")
            if current is None and isinstance(board, list) and board:
                current = records.GameRecord(board_size=len(board), status=records.STATUS_RUNNING,
                                             slot_id=slot.get("slot_id"),
                                             game_number=int(slot.get("current_game_number") or 1))
            if current is not None and isinstance(board, list):
                known = {(m.q, m.r) for m in moves}
                for r, row in enumerate(board):
                    for q, cell in enumerate(row):
                        if cell in rules.PLAYERS and (q, r) not in known:
                            moves.append(records.MoveRecord(len(moves) + 1, cell, q, r))
    finish()
    return games


def http_base(server: str) -> str:
    """``ws://host:port`` (or http) → ``http://host:port``."""
    server = server.strip()
    if "://" not in server:
        server = "http://" + server
    parts = urlsplit(server)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise ServerUnreachableError(f"invalid server URL {server!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def fetch_game(server: str, game_id: int, timeout: float = 10.0) -> records.GameRecord:
    """The arena's record of one game (``/api/games/<id>``)."""
    url = f"{http_base(server)}/api/games/{game_id}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(5_000_000)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise ServerRefusedError(f"the server has no game {game_id} ({url})") from exc
        raise ServerRefusedError(f"{url} answered HTTP {exc.code}") from exc
    except (OSError, ValueError) as exc:
        raise ServerUnreachableError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from exc
    try:
        return records.from_json(body)
    except records.RecordError as exc:
        raise ServerRefusedError(f"{url} sent an unusable record: {exc}") from exc


def load_file(path: str) -> list[records.GameRecord]:
    """Games from a replay log (.jsonl), a JSON record (.json) or SGF (.sgf)."""
    file = Path(path)
    if not file.is_file():
        raise ReplaySourceError(f"no such file: {path}")
    try:
        if file.suffix.lower() == ".sgf":
            return records.parse_sgf(file.read_text(encoding="utf-8"))
        if file.suffix.lower() == ".json":
            data = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("games"), list):  # a series download
                return [records.from_json(game) for game in data["games"]]
            return [records.from_json(data)]
        games = games_from_log(read_replay(file))
    except (records.RecordError, ValueError, UnicodeDecodeError) as exc:
        raise ReplaySourceError(f"cannot read {path}: {exc}") from exc
    if not games:
        raise ReplaySourceError(f"{path} holds no game (no game_start was recorded)")
    return games


# -- stepping ------------------------------------------------------------------------------------


@dataclass
class Stepper:
    """A cursor over (game, position); position K = after K moves."""

    games: list[records.GameRecord]
    game_index: int = 0
    position: int = 0

    @property
    def game(self) -> records.GameRecord:
        return self.games[self.game_index]

    def command(self, text: str) -> bool:
        """Apply one command line; False means quit."""
        word = text.strip().lower()
        total = len(self.game.moves)
        if word in ("q", "quit", "exit"):
            return False
        if word in ("", "n", "next"):
            if self.position < total:
                self.position += 1
            elif self.game_index + 1 < len(self.games):
                self.game_index, self.position = self.game_index + 1, 0
        elif word in ("p", "prev", "b", "back"):
            if self.position > 0:
                self.position -= 1
            elif self.game_index > 0:
                self.game_index -= 1
                self.position = len(self.game.moves)
        elif word in ("f", "first", "home"):
            self.position = 0
        elif word in ("l", "last", "end"):
            self.position = total
        elif word == "]":
            self.game_index, self.position = min(self.game_index + 1, len(self.games) - 1), 0
        elif word == "[":
            self.game_index, self.position = max(self.game_index - 1, 0), 0
        elif word.isdigit():
            self.position = min(int(word), total)
        return True

    def render(self) -> str:
        return render_position(self.game, self.position, self.game_index, len(self.games))


def render_position(game: records.GameRecord, position: int, index: int = 0, count: int = 1) -> str:
    board = game.position_after(position)
    last = game.moves[position - 1] if position > 0 else None
    where = f"game {game.game_number}" + (f" of series {game.series_id}" if game.series_id else "")
    if count > 1:
        where += f" ({index + 1}/{count} in this file)"
    lines = [f"{where}  {game.board_size}x{game.board_size}  "
             f"red (R, left-right): {game.red.display}  blue (B, top-bottom): {game.blue.display}"]
    if last is None:
        lines.append(f"start position (0/{len(game.moves)})")
    else:
        lines.append(f"move {position}/{len(game.moves)}: {rules.color_of(last.player)} {last.cell} "
                     f"(q={last.q}, r={last.r})")
    lines.append(board_to_text(board.rows(), (last.q, last.r) if last else None))
    if position == len(game.moves):
        if game.winner in rules.PLAYERS:
            how = "resignation" if game.end_reason == records.REASON_RESIGNATION else "connected sides"
            lines.append(f"result: {rules.color_of(game.winner)} wins ({how})")
        elif game.status == records.STATUS_ABANDONED:
            lines.append("result: abandoned")
        else:
            lines.append("result: not finished")
    return "\n".join(lines)


PROMPT = "[Enter/n] next  [p] back  [f/l] first/last  [N] move N  [ ] [ ] game  [q] quit > "


def run_terminal(games: list[records.GameRecord], stdin: IO[str] | None = None, stdout: IO[str] | None = None,
                 print_all: bool = False, start: int = 0) -> int:
    out = stdout or sys.stdout
    if print_all:
        for index, game in enumerate(games):
            for position in range(len(game.moves) + 1):
                out.write(render_position(game, position, index, len(games)) + "\n\n")
        out.flush()
        return EXIT_OK
    source = stdin or sys.stdin
    stepper = Stepper(games, position=min(start, len(games[0].moves)))
    interactive = source.isatty()
    while True:
        out.write(stepper.render() + "\n")
        if interactive:
            out.write(PROMPT)
        out.flush()
        line = source.readline()
        if line == "" or not stepper.command(line):  # end of input, or q
            return EXIT_OK
        out.write("\n")


# -- GUI ---------------------------------------------------------------------------------------------


class ReplayWindow:
    """A pygame window over a ``Stepper``: → / n / Enter next, ← / p back,
    Home/End first/last, PageDown/PageUp next/previous game, Esc/q quit."""

    def __init__(self, games: list[records.GameRecord], start: int = 0) -> None:
        import pygame

        from clients.gui import WINDOW_SIZE, Fonts

        self.pygame = pygame
        self.stepper = Stepper(games, position=min(start, len(games[0].moves)))
        self.keys = {pygame.K_RIGHT: "n", pygame.K_n: "n", pygame.K_RETURN: "n", pygame.K_LEFT: "p",
                     pygame.K_p: "p", pygame.K_HOME: "f", pygame.K_END: "l", pygame.K_PAGEDOWN: "]",
                     pygame.K_PAGEUP: "["}
        pygame.display.init()
        self.screen = pygame.display.set_mode(WINDOW_SIZE)
        pygame.display.set_caption("hexgame replay")
        self.fonts = Fonts()
        self.running = True
        self.layout = None

    def handle_event(self, event: Any) -> None:
        pygame = self.pygame
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            if event.key in (pygame.K_ESCAPE, pygame.K_q):
                self.running = False
            elif event.key in self.keys:
                self.stepper.command(self.keys[event.key])

    def render(self) -> None:
        from clients.game_state import ViewSnapshot
        from clients.gui import PANEL_HEIGHT, BoardLayout, draw_board, draw_panel

        game, position = self.stepper.game, self.stepper.position
        board = game.position_after(position)
        last = game.moves[position - 1] if position else None
        snapshot = ViewSnapshot(board_size=game.board_size, cells=tuple(tuple(row) for row in board.rows()),
                                last_move=(last.q, last.r) if last else None, game_number=game.game_number,
                                move_count=position, waiting=False)
        width, height = self.screen.get_size()
        self.layout = BoardLayout.fit(game.board_size, width, height - PANEL_HEIGHT, margin=50)
        self.screen.fill((24, 26, 33))
        draw_board(self.screen, snapshot, self.layout, self.fonts)
        text = self.stepper.render().splitlines()
        lines = [(text[0][:110], (235, 235, 235)), (text[1], (235, 235, 235)),
                 (text[-1] if text[-1].startswith("result") else "", (160, 160, 170)),
                 ("keys: right next  left back  Home/End  PgUp/PgDn game  Esc quit", (160, 160, 170))]
        draw_panel(self.screen, self.pygame.Rect(0, height - PANEL_HEIGHT, width, PANEL_HEIGHT), lines, self.fonts)

    def step(self) -> bool:
        for event in self.pygame.event.get():
            self.handle_event(event)
        self.render()
        self.pygame.display.flip()
        return self.running

    def close(self) -> None:
        self.pygame.display.quit()


def run_gui(games: list[records.GameRecord], start: int = 0) -> int:
    window = ReplayWindow(games, start)
    clock = window.pygame.time.Clock()
    try:
        while window.step():
            clock.tick(30)
    finally:
        window.close()
    return EXIT_OK
