"""The play loop shared by ``random``, ``play`` and ``gui``.

Receiving and deciding run side by side: a decision (a model thinking, a
person about to click) is a task that is cancelled when the position it was
for stops being current (a resume, a pause, a game decided by the other
side), while server messages keep flowing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Protocol

from clients.connection import ArenaClient, ConnectionEndedError, Message, SeatRequest
from clients.errors import (
    EXIT_OK,
    ClientError,
    ModelError,
    OpponentLeftError,
    ProtocolViolationError,
    ServerRefusedError,
    ServerUnreachableError,
)
from clients.game_state import GameView
from clients.model_loader import Agent, ModelMoveError, validate_move, wants_player
from clients.replay import ReplayLog
from games import rules

# A move the server rejects although our board said it was legal means the
# two boards disagree; retrying a few times covers a race, not a real split.
MAX_CONSECUTIVE_REJECTIONS = 3
PAUSED_REASON = rules.REASON_PAUSED
TIMEOUT_REASON = "Time limit exceeded"  # clock games only (an extension of this arena)


class Decider(Protocol):
    """Chooses this player's next move as ``(q, r)``."""

    async def decide(self, view: GameView) -> tuple[int, int]: ...


class RandomDecider:
    """Uniformly random legal moves from its own seeded generator."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)

    async def decide(self, view: GameView) -> tuple[int, int]:
        assert view.board is not None
        cells = sorted(view.board.empty_cells())
        if rules.SWAP_ACTION in view.action_set():
            # In swap games the swap is one more choice (``SWAP_ACTION`` reads the same as (q, r)).
            cells.append(rules.SWAP_ACTION)
        return self.rng.choice(cells)


class ModelDecider:
    """Calls ``agent(board, action_set)`` off the event loop and validates its answer."""

    def __init__(self, agent: Agent, replay: ReplayLog) -> None:
        self.agent = agent
        self.replay = replay
        self.pass_player = wants_player(agent)

    async def decide(self, view: GameView) -> tuple[int, int]:
        board, actions = view.model_board(), view.action_set()
        board_before = view.model_board()
        try:
            # A thread keeps the connection's keep-alive pings answered while a slow model thinks.
            extra = {"player": view.player} if self.pass_player else {}
            returned = await asyncio.to_thread(self.agent, board, list(actions), **extra)
        except Exception as exc:  # noqa: BLE001 - a crashing model is reported, not a traceback
            self.replay.model_error(f"agent raised {type(exc).__name__}: {exc}", repr(exc))
            raise ModelError(f"model error: agent raised {type(exc).__name__}: {exc}") from exc
        try:
            row, col = validate_move(returned, actions, view.board_size)
        except ModelMoveError as exc:
            self.replay.model_error(exc.detail, repr(returned))
            raise
        assert view.player is not None
        self.replay.decision(view.game_number, view.move_count, view.player, board_before, len(actions),
                             (row, col), q=col, r=row)
        if (row, col) == rules.SWAP_ACTION:
            return rules.SWAP_ACTION
        return col, row


class HumanDecider:
    """Waits for a person's click, delivered from the GUI thread by ``submit``."""

    def __init__(self, replay: ReplayLog) -> None:
        self.replay = replay
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clicks: asyncio.Queue[tuple[int, int]] | None = None

    def bind(self) -> None:
        """Attach to the running event loop (called from inside it)."""
        self.loop = asyncio.get_running_loop()
        self.clicks = asyncio.Queue()

    def submit(self, q: int, r: int) -> None:
        """Thread-safe: hand a clicked cell to the play loop."""
        if self.loop is not None and self.clicks is not None:
            self.loop.call_soon_threadsafe(self.clicks.put_nowait, (q, r))

    async def decide(self, view: GameView) -> tuple[int, int]:
        assert self.clicks is not None and view.board is not None
        # Clicks made while it was not our turn are stale.
        while not self.clicks.empty():
            self.clicks.get_nowait()
        while True:
            q, r = await self.clicks.get()
            if (q, r) == rules.SWAP_ACTION:
                if rules.SWAP_ACTION in view.action_set():
                    return rules.SWAP_ACTION
                continue
            if view.board.in_bounds(q, r) and view.board.is_empty(q, r):
                assert view.player is not None
                self.replay.decision(view.game_number, view.move_count, view.player, view.model_board(),
                                     len(view.action_set()), (r, q), q=q, r=r)
                return q, r


Printer = Callable[[str], None]


class SeriesRunner:
    """Plays one seat until the series ends (or, with ``keep_slot``, forever)."""

    def __init__(self, client: ArenaClient, view: GameView, decider: Decider, replay: ReplayLog, *,
                 move_delay: float = 0.0, keep_slot: bool = False, say: Printer | None = None,
                 on_update: Callable[[GameView], None] | None = None, show_token: bool = False,
                 keep_on_disconnect: bool = True) -> None:
        self.client = client
        self.view = view
        self.decider = decider
        self.replay = replay
        self.move_delay = move_delay
        self.keep_slot = keep_slot
        # False (house bots): an opponent who drops keeps their seat for the whole
        # reconnect window, so a person reloading the page finds their game again.
        self.keep_on_disconnect = keep_on_disconnect
        self.show_token = show_token
        self.say = say or (lambda text: None)
        self.on_update = on_update or (lambda view: None)
        self._decision: asyncio.Task[tuple[int, int]] | None = None
        self._decision_key: tuple[int, int, int] | None = None
        self._sent_key: tuple[int, int, int] | None = None
        self._last_sent: dict[str, int] | None = None
        self._rejections = 0
        self._keep_pending = False

    async def run(self, request: SeatRequest) -> int:
        await self.client.open(request)
        receiving: asyncio.Task[Message] | None = None
        try:
            receiving = asyncio.ensure_future(self.client.receive())
            while True:
                waiting_on: set[asyncio.Future] = {receiving}
                if self._decision is not None:
                    waiting_on.add(self._decision)
                done, _ = await asyncio.wait(waiting_on, return_when=asyncio.FIRST_COMPLETED)
                if self._decision is not None and self._decision in done:
                    await self._send_decision()
                if receiving in done:
                    try:
                        message = receiving.result()
                    except ConnectionEndedError as exc:
                        return self._connection_ended(exc)
                    finished = await self._handle(message)
                    if finished is not None:
                        return finished
                    receiving = asyncio.ensure_future(self.client.receive())
                self._steer_decision()
                self.on_update(self.view)
        finally:
            for task in (receiving, self._decision):
                if task is not None and not task.done():
                    task.cancel()
            await self.client.close()

    # -- deciding ----------------------------------------------------------------------------

    def _steer_decision(self) -> None:
        key = self.view.turn_key()
        if self._decision is not None and (not self.view.my_turn or self._decision_key != key):
            self._decision.cancel()
            self._decision = None
        if self.view.my_turn and self._decision is None and self._sent_key != key:
            self._decision_key = key
            self._decision = asyncio.ensure_future(self._decide_after_delay())

    async def _decide_after_delay(self) -> tuple[int, int]:
        if self.move_delay > 0:
            await asyncio.sleep(self.move_delay)
        return await self.decider.decide(self.view)

    async def _send_decision(self) -> None:
        task, self._decision = self._decision, None
        assert task is not None
        if task.cancelled():
            return
        q, r = task.result()  # a model error propagates and ends the session
        if not self.view.my_turn or self.view.turn_key() != self._decision_key:
            return
        self._sent_key = self._decision_key
        # A failed send is not fatal: the resumed snapshot bumps the epoch and we decide again.
        if (q, r) == rules.SWAP_ACTION:
            self._last_sent = {"swap": True}
            await self.client.send_swap()
            return
        self._last_sent = {"q": q, "r": r}
        await self.client.send_move(q, r)

    # -- receiving ---------------------------------------------------------------------------

    async def _handle(self, message: Message) -> int | None:
        self.replay.server_message(message.as_dict())
        before_player = self.view.player
        self.view.apply(message)
        kind = message.type
        view = self.view
        if kind == "joined":
            self.say(f"joined slot {view.slot_id} as {rules.color_of(view.player)} "
                     f"(board {view.board_size}, best of {view.series_length})")
            if self.show_token and message.get("reconnect_token"):
                # Only its owner sees this terminal; without it --reconnect-token cannot be used after a crash.
                self.say(f"to resume after a crash: --slot-id {view.slot_id} "
                         f"--reconnect-token {message.get('reconnect_token')}")
        elif kind == "reconnected":
            self.say(f"resumed slot {view.slot_id} as {rules.color_of(view.player)} at move {view.move_count}")
        elif kind == "game_start":
            self.say(f"game {view.game_number} started; {rules.color_of(view.current_turn)} moves first")
        elif kind == "move":
            self._rejections = 0
            self.replay.move_applied(view.game_number, view.move_count, message.get("player"), message.get("q"),
                                     message.get("r"), message.get("next_turn"))
            if message.get("player") == view.player and view.board is not None:
                self.replay.board_snapshot("after_own_move", view.game_number, view.move_count, view.model_board())
        elif kind == "swap":
            self._rejections = 0
            self.say(view.status)
        elif kind == "game_over":
            self.say(view.status)
        elif kind == "move_rejected":
            return self._rejected(str(message.get("reason")))
        elif kind == "series_over":
            self.say(view.status)
            if self.keep_slot:
                await self._keep()
                return None
            self.client.resumable = False
            self.replay.terminal("series_over", EXIT_OK, view.status, winner=view.series_winner,
                                 player_1_wins=view.wins[rules.RED], player_2_wins=view.wins[rules.BLUE])
            return EXIT_OK
        elif kind == "slot_kept":
            self._keep_pending = False
            self.say(view.status)
        elif kind == "error":
            text = str(message.get("message"))
            if before_player is None:
                raise ServerRefusedError(self._refusal_text(text))
            if self._keep_pending:
                return self._keep_refused(text)
            raise ServerRefusedError(f"server error: {text}")
        elif kind == "opponent_disconnected":
            if message.get("reason") == "reconnect_timeout":
                raise OpponentLeftError("opponent left: they did not reconnect within the reconnect window")
            if view.waiting:
                # Alone in a kept slot there is no opponent to lose: the notice
                # is a late one about the previous series.
                return None
            self.say(view.status)
            # After series_over the keep is already on its way: a second one
            # would be refused once the first has re-opened the slot.
            if self.keep_slot and self.keep_on_disconnect and not self._keep_pending:
                await self._keep()
        elif kind == "opponent_reconnected":
            self.say(view.status)
        elif kind == "opponent_left_slot":
            detail = message.get("message") or "they kept the slot for another match"
            raise OpponentLeftError(f"opponent left: {detail}")
        return None

    async def _keep(self) -> None:
        self._keep_pending = True
        await self.client.keep_slot()

    def _keep_refused(self, text: str) -> int | None:
        """A refused keep_slot is no failure: the series still ends (or goes on) normally."""
        self._keep_pending = False
        self.say(f"could not keep the slot: {text}")
        if self.view.series_winner is not None:
            self.client.resumable = False
            self.replay.terminal("series_over", EXIT_OK, f"{self.view.status}; could not keep the slot: {text}",
                                 winner=self.view.series_winner, player_1_wins=self.view.wins[rules.RED],
                                 player_2_wins=self.view.wins[rules.BLUE])
            return EXIT_OK
        return None

    def _refusal_text(self, text: str) -> str:
        if text == "No available slot":
            return "no free slot on the server (No available slot): try again later or join one with --slot-id"
        return f"server refused: {text}"

    def _rejected(self, reason: str) -> int | None:
        self.replay.move_rejected(reason, self._last_sent)
        # Allow the same position to be decided again (after the pause, or now).
        self._sent_key = None
        if reason == PAUSED_REASON:
            self.view.paused = True
            return None
        if reason == TIMEOUT_REASON:
            # Our move came after our clock ran out; game_over (timeout) already said so.
            self.say("move too late: the game was lost on time")
            return None
        self._rejections += 1
        if self._rejections >= MAX_CONSECUTIVE_REJECTIONS:
            raise ProtocolViolationError(f"the server keeps rejecting our moves: {reason}")
        self.say(f"move rejected: {reason}")
        return None

    def _connection_ended(self, exc: ConnectionEndedError) -> int:
        raise ServerUnreachableError(f"the server closed the connection before the series ended (code {exc.code}"
                                f"{': ' + exc.reason if exc.reason else ''})")


def outcome_of(error: BaseException) -> str:
    """The replay log's name for how a session ended."""
    if isinstance(error, OpponentLeftError):
        return "opponent_left"
    if isinstance(error, ModelError):
        return "model_error"
    if isinstance(error, ServerUnreachableError):
        return "connection_lost"
    if isinstance(error, ClientError):
        return "error"
    return "interrupted"
