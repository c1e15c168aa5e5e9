"""One client session from parsed options: seat request, model, replay log, play loop.

Shared by the three subcommands; the GUI runs ``Session.run`` on a network
thread and watches ``Session.view`` from the pygame thread.
"""

from __future__ import annotations

import asyncio
import getpass
import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from clients.connection import DEFAULT_RECONNECT_WINDOW, ArenaClient, SeatRequest
from clients.errors import EXIT_INTERRUPTED, ClientError, ModelError
from clients.game_state import GameView, ViewSnapshot
from clients.htp import ColourNames, EngineDecider, EngineError, HtpEngine
from clients.model_loader import HUMAN, load_model
from clients.replay import ReplayLog
from clients.runner import Decider, HumanDecider, ModelDecider, RandomDecider, SeriesRunner, outcome_of


@dataclass
class Options:
    """What the command line asked for (see clients.cli for the flags)."""

    command: str
    server: str
    board_size: int = 11
    series_length: int = 1
    seed: int | None = None
    move_delay: float = 0.1
    model_name: str = "model_random"
    username: str | None = None
    keep_slot: bool = False
    slot_id: int | None = None
    reconnect_token: str | None = None
    replay_log: str = "auto"
    reconnect_window: float = DEFAULT_RECONNECT_WINDOW
    first_player: int | None = None
    # Model budget, passed to a model's configure() (model_mcts reads them).
    iterations: int | None = None
    think_time: float | None = None
    # False for house bots: an opponent who drops keeps their seat for the reconnect window.
    keep_on_disconnect: bool = True
    # hexgame engine: the HTP engine's command line and how to talk to it.
    engine_cmd: str | None = None
    engine_black: str = "blue"
    engine_timeout: float = 60.0
    engine_time_left: float | None = None
    swap: bool = False
    time_per_move: int | None = None
    time_base: int | None = None
    time_increment: int | None = None
    bot_token: str | None = None

    def seat_request(self) -> SeatRequest:
        return SeatRequest(board_size=self.board_size, series_length=self.series_length,
                           model_name=self.model_name or None, username=self.username or None,
                           slot_id=self.slot_id, token=self.reconnect_token, first_player=self.first_player,
                           swap=self.swap, time_per_move=self.time_per_move, time_base=self.time_base,
                           time_increment=self.time_increment, bot_token=self.bot_token or None)


def clean_label(text: str | None) -> str | None:
    """An engine's self-reported name as a model label: printable, 80 characters at most."""
    if not text:
        return None
    cleaned = "".join(ch for ch in text if ch.isprintable()).strip()[:80]
    return cleaned or None


def default_username() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers; then we send none
        return None


class Session:
    """Everything one run of the client needs, built before any connection is made
    (so a missing model fails fast, before a seat is taken)."""

    def __init__(self, options: Options, say: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.say = say or (lambda text: print(text, flush=True))
        self.human: HumanDecider | None = None
        self.engine: EngineDecider | None = None
        # The model first: one that cannot load must not leave an empty replay file behind.
        self.replay = ReplayLog(None)
        self.decider = self._make_decider()
        self.replay = ReplayLog.open(options.replay_log, options.model_name or options.command)
        if isinstance(self.decider, ModelDecider | HumanDecider):
            self.decider.replay = self.replay
        self.view = GameView(options.board_size)
        self._lock = threading.Lock()
        self._snapshot = self.view.snapshot()
        self._finished: ViewSnapshot | None = None
        self.client = ArenaClient(options.server, reconnect_window=options.reconnect_window,
                                  on_event=self._connection_event)
        self.runner = SeriesRunner(self.client, self.view, self.decider, self.replay, move_delay=options.move_delay,
                                   keep_slot=options.keep_slot, say=self.say, on_update=self._publish,
                                   show_token=options.command not in ("random", "house"),
                                   keep_on_disconnect=options.keep_on_disconnect)

    def _make_decider(self) -> Decider:
        options = self.options
        if options.command == "random":
            return RandomDecider(options.seed)
        if options.command == "engine":
            if not options.engine_cmd:
                raise EngineError("engine error: no engine command line (--cmd)")
            try:
                colours = ColourNames(options.engine_black)
            except ValueError as exc:
                raise EngineError(f"engine error: {exc}") from None
            self.engine = EngineDecider(HtpEngine(options.engine_cmd, timeout=options.engine_timeout), colours,
                                        time_left=options.engine_time_left)
            return self.engine
        if options.model_name == HUMAN:
            if options.command != "gui":
                raise ModelError("the 'human' model needs a window: use 'hexgame gui --model-name human'")
            self.human = HumanDecider(self.replay)
            return self.human
        if options.seed is not None:
            # Seed before the import, so models that draw at import time are reproducible too.
            random.seed(options.seed)
        model_options = {"iterations": options.iterations, "think_time": options.think_time, "seed": options.seed}
        return ModelDecider(load_model(options.model_name, model_options), self.replay)

    def _connection_event(self, name: str, details: dict) -> None:
        self.replay.connection(name, **details)
        if name == "reconnecting" and details.get("attempt") == 1:
            self.say(f"connection lost (code {details.get('close_code')}); resuming slot {details.get('slot_id')}")
        self.view.status = "reconnecting" if name == "reconnecting" else "reconnected"
        self._publish(self.view)

    def _publish(self, view: GameView) -> None:
        snapshot = view.snapshot()
        with self._lock:
            self._snapshot = snapshot
            if snapshot.game_winner is not None:
                self._finished = snapshot

    def finished_game(self) -> ViewSnapshot | None:
        """The final position of the latest finished game (a display may hold it a while)."""
        with self._lock:
            return self._finished

    def snapshot(self) -> ViewSnapshot:
        """The latest state, for another thread."""
        with self._lock:
            return self._snapshot

    async def run(self) -> int:
        """Play until the series ends; ``ClientError`` for failures a person can act on."""
        options = self.options
        if self.engine is not None:
            try:
                name = await self.engine.start()
            except BaseException:
                await self.engine.engine.close()
                raise
            if not options.model_name:
                options.model_name = clean_label(name) or "htp_engine"
            self.engine.resign = lambda: self.client.send("resign")
            self.say(f"engine {name or options.engine_cmd!r} started; playing as {options.model_name}")
        self.replay.session_start(options.command, options.model_name, self.client.server,
                                  {"board_size": options.board_size, "series_length": options.series_length,
                                   "slot_id": options.slot_id, "keep_slot": options.keep_slot,
                                   "resume": options.reconnect_token is not None, "swap": options.swap,
                                   "time_per_move": options.time_per_move, "time_base": options.time_base,
                                   "time_increment": options.time_increment,
                                   # Whether, never which: the token is a secret.
                                   "verified": options.bot_token is not None})
        if self.human is not None:
            self.human.bind()
        try:
            code = await self.runner.run(options.seat_request())
        except ClientError as exc:
            self.view.status = str(exc)
            self._publish(self.view)
            self.replay.terminal(outcome_of(exc), exc.exit_code, str(exc))
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            self.replay.terminal("interrupted", EXIT_INTERRUPTED, "interrupted")
            raise
        finally:
            self._publish(self.view)
            if self.engine is not None:
                await self.engine.engine.close()
        return code

    def close(self) -> None:
        self.replay.close()


def run_blocking(session: Session) -> int:
    """Run a session on this thread's own event loop."""
    try:
        return asyncio.run(session.run())
    finally:
        session.close()


def print_error(error: BaseException) -> None:
    print(f"hexgame: {error}", file=sys.stderr, flush=True)
