"""Driving a Hex engine that speaks HTP (Hex's dialect of GTP) over pipes.

Coordinates. An HTP cell is a column letter and a row number, ``a1`` at the
top-left corner: the letter is the protocol's ``q`` (``a`` = 0, ``b`` = 1,
..., ``s`` = 18) and the number is ``r + 1``. Rows shift right as they go
down, as in HexGui, so the six neighbours are the protocol's (+1,0) (-1,0)
(0,+1) (0,-1) (+1,-1) (-1,+1) and ``a1`` is an acute corner.

Colours. In HexGui and the Benzene engines (MoHex, Wolve) black connects top
and bottom and white left and right. In the arena blue (player 1) connects
top and bottom and red (player -1) left and right, so by default black is
blue and white is red. ``--black red`` swaps the names for an engine with the
opposite convention. Engines answer ``genmove`` with a cell, or ``resign``;
``swap``/``pass`` have no meaning here and count as illegal answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import string
from collections import deque

from clients.errors import EXIT_ENGINE, ClientError
from clients.game_state import GameView
from games import rules

LETTERS = string.ascii_lowercase
RESIGN = "resign"


class EngineError(ClientError):
    """The engine failed: it would not start, crashed, answered ``?``, or played an illegal move."""

    exit_code = EXIT_ENGINE


def cell_name(q: int, r: int) -> str:
    """``(q, r)`` → ``"a1"``-style HTP cell."""
    if not (0 <= q < len(LETTERS)) or r < 0:
        raise ValueError(f"no HTP name for q={q}, r={r}")
    return f"{LETTERS[q]}{r + 1}"


def parse_cell(text: str, size: int) -> tuple[int, int]:
    """``"c4"`` → ``(q, r)`` = ``(2, 3)``; ``ValueError`` for anything else or off the board."""
    word = text.strip().lower()
    if len(word) < 2 or word[0] not in LETTERS or not word[1:].isdigit():
        raise ValueError(f"{text!r} is not a cell (expected a column letter and a row number, like c4)")
    q, r = LETTERS.index(word[0]), int(word[1:]) - 1
    if not (0 <= q < size and 0 <= r < size):
        raise ValueError(f"{text!r} is outside the {size}x{size} board")
    return q, r


class ColourNames:
    """HTP colour words for the arena's players."""

    def __init__(self, black: str = "blue") -> None:
        if black not in ("blue", "red"):
            raise ValueError("black must be 'blue' or 'red'")
        self.black_player = rules.BLUE if black == "blue" else rules.RED

    def word(self, player: int) -> str:
        return "black" if player == self.black_player else "white"

    def player(self, word: str) -> int:
        lowered = word.strip().lower()
        if lowered in ("b", "black"):
            return self.black_player
        if lowered in ("w", "white"):
            return -self.black_player
        raise ValueError(f"unknown colour {word!r}")


class EngineRefusedError(EngineError):
    """The engine answered ``?`` to a command."""


class HtpEngine:
    """One engine subprocess: ``command`` sends a line and returns the answer's text."""

    def __init__(self, command_line: str, *, timeout: float = 60.0) -> None:
        try:
            self.argv = shlex.split(command_line)
        except ValueError as exc:  # unbalanced quotes
            raise EngineError(f"engine error: cannot read --cmd {command_line!r}: {exc}") from None
        if not self.argv:
            raise EngineError("engine error: --cmd is empty")
        self.command_line = command_line
        self.timeout = timeout
        self.process: asyncio.subprocess.Process | None = None
        self._stderr: deque[str] = deque(maxlen=20)
        self._stderr_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._reading: asyncio.Future[list[str]] | None = None

    async def start(self) -> None:
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise EngineError(f"engine error: cannot start {self.argv[0]!r}: {exc.strerror or exc}") from exc
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        # Engines log freely to stderr; read it so a full pipe never blocks them, keep the tail for errors.
        assert self.process is not None and self.process.stderr is not None
        while True:
            line = await self.process.stderr.readline()
            if not line:
                return
            self._stderr.append(line.decode(errors="replace").rstrip())

    def _crash_text(self) -> str:
        code = self.process.returncode if self.process is not None else None
        tail = "; ".join(line for line in self._stderr if line)[-400:]
        return f"engine crashed (exit code {code})" + (f"; its last words: {tail}" if tail else "")

    async def command(self, line: str) -> str:
        """Send one command; the text after ``=`` on success, ``EngineError`` on ``?``, a crash or a timeout."""
        async with self._lock:
            if self._reading is not None:
                # The answer to a command whose caller was cancelled (a decision that
                # went stale) is still on its way: read it and throw it away.
                with contextlib.suppress(EngineError):
                    await self._await_reading("(an abandoned command)")
            process = self.process
            if process is None or process.stdin is None or process.stdout is None:
                raise EngineError("engine error: the engine is not running")
            try:
                process.stdin.write((line + "\n").encode())
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                await self._reap()
                raise EngineError(f"{self._crash_text()} before '{line}'") from None
            self._reading = asyncio.ensure_future(self._read_answer(line))
            lines = await self._await_reading(line)
        head, rest = lines[0], lines[1:]
        status, body = head[0], head[1:]
        # An optional numeric id may follow the status character.
        body = body.lstrip("0123456789").strip()
        answer = "\n".join([body, *rest]).strip()
        if status == "=":
            return answer
        if status == "?":
            raise EngineRefusedError(f"engine error: '{line}' was answered '? {answer}'")
        raise EngineError(f"engine error: '{line}' got an answer that is not HTP: {head!r}")

    async def _await_reading(self, line: str) -> list[str]:
        assert self._reading is not None
        try:
            # Shielded: a cancelled caller leaves the read running, so the answer never desynchronises the pipe.
            lines = await asyncio.wait_for(asyncio.shield(self._reading), self.timeout)
        except TimeoutError:
            raise EngineError(f"engine error: no answer to '{line}' within {self.timeout:g}s") from None
        except EngineError:
            self._reading = None
            raise
        self._reading = None
        return lines

    async def command_or_none(self, line: str) -> str | None:
        """Like ``command`` but ``None`` when the engine answers ``?`` (optional commands)."""
        try:
            return await self.command(line)
        except EngineRefusedError:
            return None

    async def _read_answer(self, line: str) -> list[str]:
        assert self.process is not None and self.process.stdout is not None
        lines: list[str] = []
        while True:
            try:
                raw = await self.process.stdout.readline()
            except ValueError:  # asyncio's LimitOverrunError: one line beyond 64 KiB
                raise EngineError(f"engine error: the answer to '{line}' has a line longer than 64 KiB") from None
            if not raw:
                await self._reap()
                raise EngineError(f"{self._crash_text()} while answering '{line}'")
            text = raw.decode(errors="replace").rstrip("\r\n")
            if not text.strip():
                if lines:
                    return lines
                continue  # stray blank lines between answers
            lines.append(text)

    async def _reap(self) -> None:
        if self.process is not None:
            with contextlib.suppress(TimeoutError, ProcessLookupError):
                await asyncio.wait_for(self.process.wait(), 2)
            if self._stderr_task is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(self._stderr_task), 1)

    async def close(self) -> None:
        """``quit``, then make sure the process is gone."""
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            self.timeout = min(self.timeout, 3)
            with contextlib.suppress(EngineError, OSError):
                await self.command("quit")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 3)
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
        self.process = None


class EngineDecider:
    """The arena client's decider for an HTP engine: keeps the engine's board in
    step with the arena's, then asks it ``genmove`` for our colour."""

    def __init__(self, engine: HtpEngine, colours: ColourNames, *, time_left: float | None = None) -> None:
        self.engine = engine
        self.colours = colours
        self.time_left = time_left
        self.name: str | None = None
        self._size: int | None = None
        self._game: int | None = None
        self._told: dict[tuple[int, int], int] = {}
        # Set by the session: resigning goes straight to the server.
        self.resign = None

    async def start(self) -> str | None:
        await self.engine.start()
        name = await self.engine.command_or_none("name")
        self.name = name.splitlines()[0].strip() if name else None
        return self.name

    async def sync(self, view: GameView) -> None:
        """Tell the engine every stone it has not seen (a new game starts from ``clear_board``)."""
        board = view.board
        assert board is not None
        stale = any(board.at(q, r) != player for (q, r), player in self._told.items())
        if self._size != board.size:
            await self.engine.command(f"boardsize {board.size}")
            self._size = board.size
            stale = True
        if stale or self._game != view.game_number:
            await self.engine.command("clear_board")
            self._told = {}
            self._game = view.game_number
        new = [(q, r) for q, r in board_cells(board) if (q, r) not in self._told]
        # The last stone goes last, so an engine that keeps history sees the real order at the end.
        last = view.last_move
        if last in new:
            new.remove(last)
            new.append(last)
        for q, r in new:
            player = board.at(q, r)
            await self.engine.command(f"play {self.colours.word(player)} {cell_name(q, r)}")
            self._told[(q, r)] = player

    async def decide(self, view: GameView) -> tuple[int, int]:
        assert view.board is not None and view.player is not None
        await self.sync(view)
        colour = self.colours.word(view.player)
        if self.time_left is not None:
            await self.engine.command_or_none(f"time_left {colour} {self.time_left:g} 0")
        try:
            answer = await self.engine.command(f"genmove {colour}")
        except asyncio.CancelledError:
            # The position went stale while the engine thought; whatever it played on
            # its own board is unknown to the arena, so start its board over next time.
            self._game = None
            raise
        word = answer.split()[0] if answer.split() else ""
        if word.lower() == RESIGN and self.resign is not None:
            await self.resign()
            # The game is over; this decision is cancelled when the server says so.
            await asyncio.Future()
        try:
            q, r = parse_cell(word, view.board.size)
        except ValueError as exc:
            raise EngineError(f"engine played an illegal move: 'genmove {colour}' answered {answer!r}: {exc}") from None
        if not view.board.is_empty(q, r):
            raise EngineError(f"engine played an illegal move: {word} (q={q}, r={r}) is already occupied")
        # The engine has placed the stone on its own board.
        self._told[(q, r)] = view.player
        return q, r


def board_cells(board: rules.Board) -> list[tuple[int, int]]:
    """Occupied cells ``(q, r)`` in reading order."""
    return [(q, r) for r in range(board.size) for q in range(board.size) if board.at(q, r) != rules.EMPTY]
