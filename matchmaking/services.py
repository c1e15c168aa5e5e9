"""Every state change of the arena: seating, moves, series, reconnects.

Each public function runs one short transaction that locks the slot it
touches (a row lock on PostgreSQL; SQLite serialises writers), validates
with ``games.rules``, writes, and returns an ``Outbox`` of messages to
deliver once the transaction has committed. Nothing here holds game state
in memory: the database is the source of truth, so any server process can
serve any player and a restart loses no accepted move.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from games import rules
from games.models import Game, Move, Series
from matchmaking import clock, group_commit, move_store, row_sql
from matchmaking import protocol as proto
from matchmaking.clock import TimeControl
from matchmaking.models import BotToken, Seat, Slot
from matchmaking.outbox import Identity, Outbox
from matchmaking.snapshots import slot_snapshot

log = logging.getLogger(__name__)

# ``apply_move``'s arguments: slot id, seat id, channel name, q, r (as sent).
MoveRequest = tuple[int, int, str, object, object]


class ServiceError(Exception):
    """A refusal to report to the caller as an ``error`` message.

    ``close_code`` set means the connection is closed after the message.
    """

    def __init__(self, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.close_code = close_code
        # Committed work to deliver even though the call was refused (expiry).
        self.outbox: Outbox | None = None


# -- tokens ------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


# -- helpers -------------------------------------------------------------------------


def ensure_slots() -> None:
    """Create slots 1..HEX_MAX_SLOTS that do not exist yet (cheap when they all do)."""
    if row_sql.slot_exists(settings.HEX_MAX_SLOTS):
        return  # slots are only ever created together, lowest ids first
    wanted = set(range(1, settings.HEX_MAX_SLOTS + 1))
    existing = set(Slot.objects.filter(id__in=wanted).values_list("id", flat=True))
    missing = sorted(wanted - existing)
    if missing:
        Slot.objects.bulk_create([Slot(id=i) for i in missing], ignore_conflicts=True)


def _deadline() -> Any:
    return clock.now() + timedelta(seconds=settings.HEX_RECONNECT_TIMEOUT)


def watch_version(slot: Slot) -> tuple[int, int, int, int]:
    """Where a slot's play stands: (series id, game number, move count, game
    finished). Strictly increases with every commit spectators hear about, so
    a spectator can drop what its snapshot already contains."""
    game = slot.game
    if game is None:
        return (slot.series_id or 0, 0, 0, 0)
    return (slot.series_id or 0, game.number, game.move_count, int(game.winner is not None))


def _broadcast(outbox: Outbox, slot: Slot, seats: dict[int, Seat], msg: dict[str, Any]) -> None:
    """Queue ``msg`` for every connected seat, red first as the reference does,
    and for the slot's spectators if it has any."""
    _broadcast_version(outbox, slot.id, watch_version(slot), seats, msg, watched=slot.spectators > 0)


def _seats_changed(outbox: Outbox, slot: Slot) -> None:
    """A seat of ``slot`` came, went or reconnected: the /ws/slots feed, the
    live pages and the slot's spectators (if any) hear of it."""
    outbox.membership_changed = True
    outbox.changed_slots.add(slot.id)
    if slot.spectators:
        outbox.refresh_watchers.add(slot.id)


def _broadcast_version(outbox: Outbox, slot_id: int, version: tuple[int, int, int, int], seats: dict[int, Any],
                       msg: dict[str, Any], watched: bool) -> None:
    for player in rules.PLAYERS:
        outbox.to_seat(seats.get(player), msg)
    if watched:
        outbox.to_watchers(slot_id, msg, version)


def _calling_seat(seats: dict[int, Any], seat_id: int, channel: str) -> Any:
    """The caller's seat, refusing a connection that no longer owns it."""
    for seat in seats.values():
        if seat.id == seat_id:
            if not seat.connected:
                raise ServiceError(proto.ERR_NOT_CONNECTED)
            if seat.channel_name != channel:
                raise ServiceError(proto.ERR_STALE)
            return seat
    raise ServiceError(proto.ERR_STALE)


def _reset_slot(slot: Slot) -> None:
    """Free a slot: its seats (and their tokens) are gone, the series detached."""
    row_sql.delete_seats(slot.id)
    slot.state = Slot.State.EMPTY
    slot.board_size = None
    slot.series_length = None
    slot.first_player = rules.RED
    slot.swap = False
    slot.time_control = ""
    slot.series = None
    slot.game = None
    row_sql.update(slot)


def _abandon_series(series: Series | None, game: Game | None) -> None:
    if series is not None and series.status == Series.Status.ACTIVE:
        series.status = Series.Status.ABANDONED
        series.final_board = game.board if game is not None else None
        row_sql.update(series, ["status", "final_board"])
    if game is not None and clock.running(game):
        # An abandoned game's clock must not time out later.
        game.turn_started_at = game.turn_deadline = None
        row_sql.update(game, ["turn_started_at", "turn_deadline"])


def _control(series: Series | None) -> TimeControl | None:
    return TimeControl.from_code(series.time_control) if series is not None else None


_CLOCK_FIELDS = ["clock_ms", "turn_started_at", "turn_deadline"]


def _start_game(slot: Slot, series: Series, number: int, seats: dict[int, Seat]) -> Game:
    first = rules.first_turn(number, series.first_player)
    game = Game(
        series=series,
        number=number,
        first_turn=first,
        current_turn=first,
        board=rules.Board(series.board_size).rows(),
    )
    control = _control(series)
    clock.init_game(game, control)
    if _clock_should_run(game, seats):
        clock.start_turn(game, control, first, clock.now())
    row_sql.insert(game)
    row_sql.attach(slot, "game", game)
    return game


def _clock_should_run(game: Game, seats: dict[int, Seat]) -> bool:
    """The player to move's clock runs while both are connected. With one of
    them away nobody may move: the clock stops, except that a disconnected
    player to move keeps losing time unless the operator says otherwise."""
    if game.winner is not None or game.current_turn is None:
        return False
    if all(seat.connected for seat in seats.values()):
        return True
    to_move = seats.get(game.current_turn)
    return to_move is not None and not to_move.connected and not settings.HEX_CLOCK_PAUSE_ON_DISCONNECT


def _sync_clock(game: Game | None, series: Series | None, seats: dict[int, Seat]) -> None:
    """Pause or resume the clock of ``game`` after a connection change."""
    if game is None or game.winner is not None or not clock.has_deadlines(_control(series)):
        return
    control = _control(series)
    should_run = _clock_should_run(game, seats)
    if should_run and not clock.running(game):
        clock.start_turn(game, control, game.current_turn, clock.now(), fresh=False)
    elif not should_run and clock.running(game):
        clock.stop_turn(game, control, game.current_turn, clock.now(), moved=False)
    else:
        return
    row_sql.update(game, _CLOCK_FIELDS)


def clock_fields(series: Series | None, game: Game | None, at_turn_start: bool = False) -> dict[str, Any]:
    """Remaining times for games with a clock only (nothing for the others).

    ``at_turn_start``: as of the moment the current turn started, for the
    message announcing that very turn (game_start, move, swap), so a fresh
    budget reads exactly as configured."""
    control = _control(series)
    if control is None or game is None:
        return {}
    at = game.turn_started_at if at_turn_start and game.turn_started_at is not None else clock.now()
    return {
        "remaining_ms": clock.remaining_ms(game, control, at),
        "clock_running": game.current_turn if clock.running(game) and game.winner is None else None,
    }


def options_fields(series: Series | None) -> dict[str, Any]:
    """``swap`` / ``time_control`` of an opted-in series (nothing otherwise)."""
    fields: dict[str, Any] = {}
    if series is not None and series.swap:
        fields["swap"] = True
    control = _control(series)
    if control is not None:
        fields["time_control"] = control.as_payload()
    return fields


def _game_start_message(slot: Slot, series: Series, game: Game) -> dict[str, Any]:
    msg = _reference_game_start(slot, series, game)
    msg["payload"].update(options_fields(series))
    msg["payload"].update(clock_fields(series, game, at_turn_start=True))
    return msg


def _reference_game_start(slot: Slot, series: Series, game: Game) -> dict[str, Any]:
    return proto.message(
        "game_start",
        slot_id=slot.id,
        board_size=series.board_size,
        series_length=series.series_length,
        players=list(rules.PLAYERS),
        first_turn=game.first_turn,
        current_game_number=game.number,
        player_1_wins=series.player_1_wins,
        player_2_wins=series.player_2_wins,
        wins_required=series.wins_required,
        player_models=proto.labels_by_player(series.player_1_model, series.player_2_model),
        player_usernames=proto.labels_by_player(series.player_1_username, series.player_2_username),
    )


def _begin_series(slot: Slot, seats: dict[int, Seat], outbox: Outbox) -> None:
    """Both seats are taken: create the series and its first game."""
    red, blue = seats[rules.RED], seats[rules.BLUE]
    series = row_sql.insert(Series(
        slot_id=slot.id,
        board_size=slot.board_size,
        series_length=slot.series_length,
        first_player=slot.first_player,
        player_1_model=red.model_name,
        player_2_model=blue.model_name,
        player_1_username=red.username,
        player_2_username=blue.username,
        swap=slot.swap,
        time_control=slot.time_control,
        player_1_verified=red.verified,
        player_2_verified=blue.verified,
        rated=red.verified and blue.verified,
    ))
    row_sql.attach(slot, "series", series)
    slot.state = Slot.State.FULL
    game = _start_game(slot, series, 1, seats)
    row_sql.update(slot)
    _broadcast(outbox, slot, seats, _game_start_message(slot, series, game))


def _finish_game(slot: Slot, seats: dict[int, Seat], series: Series, game: Game, winner: int, reason: str,
                 outbox: Outbox, changed: Sequence[str] = ()) -> None:
    """Score a finished game and start the next one or end the series.

    Shared by connected-sides wins and resignations so both count the same.
    ``changed``: fields of ``game`` the caller changed and left to be written
    with the result, in the same statement.
    """
    now = clock.now()
    game.winner = winner
    game.end_reason = reason
    game.finished_at = now
    game.turn_started_at = game.turn_deadline = None
    row_sql.update(game, list(dict.fromkeys(
        ["winner", "end_reason", "finished_at", "turn_started_at", "turn_deadline", *changed])))
    _broadcast(outbox, slot, seats, proto.game_over(winner, reason))
    if series.rated:
        # Same transaction as the result: a rating never disagrees with the record.
        from stats.ratings import record_game

        record_game(series, game)

    if winner == rules.RED:
        series.player_1_wins += 1
    else:
        series.player_2_wins += 1
    series_winner = rules.series_winner(series.player_1_wins, series.player_2_wins, series.series_length)
    if series_winner is None:
        series.current_game_number = game.number + 1
    row_sql.update(series, ["player_1_wins", "player_2_wins", "current_game_number"])
    _broadcast(outbox, slot, seats, proto.message(
        "series_update",
        player_1_wins=series.player_1_wins,
        player_2_wins=series.player_2_wins,
        current_game_number=series.current_game_number,
        wins_required=series.wins_required,
        series_length=series.series_length,
    ))
    if series_winner is None:
        next_game = _start_game(slot, series, series.current_game_number, seats)
        row_sql.update(slot, ["game", "updated_at"])
        _broadcast(outbox, slot, seats, _game_start_message(slot, series, next_game))
        return

    series.winner = series_winner
    series.status = Series.Status.COMPLETED
    series.completed_at = now
    series.final_board = game.board
    series.final_snapshot = slot_snapshot(slot, seats, series, game)
    row_sql.update(series, ["winner", "status", "completed_at", "final_board", "final_snapshot"])
    row_sql.update(slot, ["updated_at"])
    _broadcast(outbox, slot, seats, proto.message(
        "series_over",
        winner=series_winner,
        player_1_wins=series.player_1_wins,
        player_2_wins=series.player_2_wins,
        wins_required=series.wins_required,
        series_length=series.series_length,
    ))


def _seat(slot: Slot, player: int, token: str, who: Identity3, origin: str, client_ip: str | None,
          channel: str, process_id: str) -> Seat:
    model_name, username, verified = who
    return row_sql.insert(Seat(
        slot=slot,
        player=player,
        token_hash=hash_token(token),
        model_name=model_name,
        username=username,
        verified=verified,
        origin=origin,
        client_ip=client_ip,
        connected=True,
        channel_name=channel,
        process_id=process_id,
    ))


def _series_over(slot: Slot) -> bool:
    return slot.series is not None and slot.series.winner is not None


# -- verified identities ---------------------------------------------------------------------

# (model_name, username, verified)
Identity3 = tuple[str, str, bool]


def resolve_identity(model_name: str, username: str, bot_token: str | None) -> Identity3:
    """The identity a connection plays under.

    With a bot token: the token's identity, verified (labels the client sent
    must match it; absent labels are filled in). Without: the client's labels,
    unverified, refused when a live token reserves that model name and
    username (compared case-insensitively, so "Alice" cannot pose as "alice").
    """
    if bot_token is not None:
        found = BotToken.objects.filter(token_hash=hash_token(bot_token)).first()
        if found is None or not hmac.compare_digest(found.token_hash, hash_token(bot_token)):
            raise ServiceError(proto.ERR_BAD_BOT_TOKEN, proto.CLOSE_POLICY)
        if found.revoked:
            raise ServiceError(proto.ERR_REVOKED_BOT_TOKEN, proto.CLOSE_POLICY)
        if (model_name and model_name != found.model_name) or (username and username != found.username):
            raise ServiceError(proto.ERR_BOT_TOKEN_MISMATCH, proto.CLOSE_POLICY)
        BotToken.objects.filter(pk=found.pk).update(last_used_at=clock.now())
        return found.model_name, found.username, True
    if model_name and row_sql.identity_reserved(model_name, username):
        raise ServiceError(proto.ERR_IDENTITY_RESERVED, proto.CLOSE_POLICY)
    return model_name, username, False


def issue_bot_token(username: str, model_name: str, note: str = "") -> tuple[BotToken, str]:
    """Create a token for an identity; the plain token is returned only here."""
    token = "hexbot_" + new_token()
    row = BotToken.objects.create(username=proto.clean_label(username), model_name=proto.clean_label(model_name),
                                  token_hash=hash_token(token), note=note[:200])
    return row, token


# -- seating -------------------------------------------------------------------------------


def _after_expiry(expired: Outbox, step: Callable[[], Outbox]) -> Outbox:
    """Run ``step`` after an expiry that already committed on its own, so a
    refusal of the caller cannot roll it back; its notices go out either way."""
    try:
        outbox = step()
    except ServiceError as exc:
        exc.outbox = expired
        raise
    expired.merge(outbox)
    expired.identity, expired.held_for = outbox.identity, outbox.held_for
    return expired


def _expire_slot(slot_id: int) -> Outbox:
    outbox = Outbox()
    with transaction.atomic():
        slot, seats = row_sql.locked_slot_with_seats(slot_id)
        if slot is not None:
            _expire_if_due(slot, seats, clock.now(), outbox)
    return outbox


def _in_group_commit(call: Callable[..., Outbox], *args: Any) -> Outbox:
    """``call(*args)`` inside the open group commit, in a savepoint of its own
    (a failure undoes this call alone), answered when the batch commits.
    Committing the batch first and then itself cost a game end, a matchmake
    or a leave two more commits."""
    with group_commit.joined(alone=True) as batch:
        outbox = call(*args)
    outbox.pending_commit = batch
    return outbox


class Pairing(enum.Enum):
    """Which waiting slots a matchmaker may join, by where their owner is
    connected: this server process ("here") or another worker."""

    ANY = "any"  # the lowest, wherever its owner is (the reference's rule)
    HERE_FIRST = "here first"  # the lowest of this process's, else the lowest of any
    HERE_ONLY = "here only"  # only this process's: else wait in a slot of one's own


@group_commit.joins
def matchmake(request: proto.MatchRequest, client_ip: str | None, channel: str, process_id: str,
              pairing: Pairing = Pairing.ANY, hold_for: float = 0.0) -> Outbox:
    """Seat a /ws/matchmake connection: join the first waiting slot with the
    same board size and series length whose owner is connected, else open the
    lowest empty slot.

    With ``Pairing.HERE_FIRST`` and ``hold_for`` seconds, a caller whose only
    possible opponent waits on another process, and has waited less than
    ``hold_for``, is not seated: the outbox says for how much longer that
    opponent counts as fresh (``Outbox.held_for``), and the caller may look
    for a partner on its own process meanwhile (``matchmaking.local_pairing``).

    Inline on SQLite it joins the group commit like a move, unless slots are
    missing or seats due to expire: those are written in transactions of
    their own first, so that a refusal of this caller cannot undo them.
    """
    now = clock.now()
    slots_missing, expired = row_sql.matchmaking_chores(settings.HEX_MAX_SLOTS, now)
    if group_commit.enabled():
        if not slots_missing and not expired:
            return _in_group_commit(_seat_matchmaker, request, client_ip, channel, process_id, pairing, hold_for)
        group_commit.flush()
    if slots_missing:
        ensure_slots()
    return _after_expiry(_expire_seats_of(expired, now, Outbox()),
                         lambda: _matchmake(request, client_ip, channel, process_id, pairing, hold_for))


# Key of the PostgreSQL advisory lock that serialises matchmakers ("HEX!").
MATCHMAKING_LOCK = 0x48455821


def _lock_matchmaking() -> None:
    """Let one matchmaker at a time choose a slot.

    PostgreSQL takes a transaction-level advisory lock; SQLite's BEGIN
    IMMEDIATE already serialises writers. Joins and reconnects lock only
    their slot's row and never this, so no lock cycle is possible. (Locking
    every slot row instead made each matchmake read the whole pool: O(slots)
    time and memory per connection, quadratic for thousands of slots.)
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MATCHMAKING_LOCK])


@transaction.atomic
def _matchmake(request: proto.MatchRequest, client_ip: str | None, channel: str, process_id: str,
               pairing: Pairing, hold_for: float) -> Outbox:
    return _seat_matchmaker(request, client_ip, channel, process_id, pairing, hold_for)


def _seat_matchmaker(request: proto.MatchRequest, client_ip: str | None, channel: str, process_id: str,
                     pairing: Pairing = Pairing.ANY, hold_for: float = 0.0) -> Outbox:
    outbox = Outbox()
    _lock_matchmaking()
    cap = settings.HEX_MAX_CONNECTIONS_PER_IP
    if cap and client_ip is not None:
        open_here = row_sql.connected_seats_from(client_ip, Seat.Origin.MATCHMAKE)
        if open_here >= cap:
            raise ServiceError(proto.ERR_TOO_MANY_FROM_IP, proto.CLOSE_POLICY)
    who = resolve_identity(request.model_name, request.username, request.bot_token)
    token = new_token()
    # Only equal options pair: a swap or clock game is never forced on a client
    # that did not ask for it (nor the reverse).
    waiting, seats = _waiting_slot(request, process_id, pairing)
    if waiting is not None and hold_for > 0 and seats[rules.RED].process_id != process_id:
        fresh_for = hold_for - (clock.now() - waiting.updated_at).total_seconds()
        if fresh_for > 0:
            outbox.held_for = fresh_for
            return outbox
    if waiting is not None:
        slot = waiting
        seat = _seat(slot, rules.BLUE, token, who, Seat.Origin.MATCHMAKE, client_ip, channel, process_id)
        outbox.send(channel, proto.joined(slot.id, rules.BLUE, slot.board_size, slot.series_length, token))
        seats[rules.BLUE] = seat
        _begin_series(slot, seats, outbox)
        return _seated(outbox, slot, seat)
    slot = row_sql.empty_slot(settings.HEX_MAX_SLOTS)
    if slot is None:
        raise ServiceError(proto.ERR_NO_SLOT, proto.CLOSE_NORMAL)
    slot.state = Slot.State.WAITING
    slot.board_size = request.board_size
    slot.series_length = request.series_length
    slot.first_player = request.first_player
    slot.swap = request.swap
    slot.time_control = request.time_control
    row_sql.update(slot)
    seat = _seat(slot, rules.RED, token, who, Seat.Origin.MATCHMAKE, client_ip, channel, process_id)
    outbox.send(channel, proto.joined(slot.id, rules.RED, slot.board_size, slot.series_length, token))
    outbox.send(channel, proto.waiting_for_opponent(slot.id, slot.board_size))
    return _seated(outbox, slot, seat)


# A /ws/matchmake connection's request: what it asked for, its address, its channel.
Newcomer = tuple[proto.MatchRequest, str | None, str]


@transaction.atomic
def matchmake_pair(first: Newcomer, second: Newcomer, process_id: str) -> tuple[Outbox, Outbox | None]:
    """Seat two newcomers of this process who asked for the same options, in
    one transaction: ``first`` opens a slot here (or joins a waiter here),
    ``second`` joins it. ``local_pairing`` calls this for a newcomer it held
    back and the one that came for it; two calls would make the second wait
    for the first's round trips.

    If ``second`` cannot be seated (its own refusal, say the per-address
    cap), ``first`` stays seated and the second outbox is None.
    """
    seated = _seat_matchmaker(*first, process_id, Pairing.HERE_ONLY)
    try:
        with transaction.atomic():
            joined = _seat_matchmaker(*second, process_id, Pairing.HERE_FIRST)
    except ServiceError:
        return seated, None
    return seated, joined


def _waiting_slot(request: proto.MatchRequest, process_id: str,
                  pairing: Pairing) -> tuple[Slot | None, dict[int, Seat]]:
    """The waiting slot a matchmaker joins under ``pairing``, locked, and its seats."""
    if pairing is not Pairing.ANY:
        found = _lowest_waiting_slot(request, process_id)
        if found[0] is not None or pairing is Pairing.HERE_ONLY:
            return found
    return _lowest_waiting_slot(request, None)


def _lowest_waiting_slot(request: proto.MatchRequest,
                         owner_process: str | None) -> tuple[Slot | None, dict[int, Seat]]:
    """The lowest waiting slot with the request's options whose owner is
    connected (to ``owner_process``, if given), locked, and its seats; passes
    over a slot whose owner left or moved while the search waited for its lock
    (``row_sql.waiting_slot``)."""
    after = 0
    while True:
        slot = row_sql.waiting_slot(settings.HEX_MAX_SLOTS, request.board_size, request.series_length, request.swap,
                                    request.time_control, owner=rules.RED, after=after, owner_process=owner_process)
        if slot is None:
            return None, {}
        seats = row_sql.seats_of(slot.id)
        owner = seats.get(rules.RED)
        if owner is not None and owner.connected and owner_process in (None, owner.process_id):
            return slot, seats
        after = slot.id


def _seated(outbox: Outbox, slot: Slot, seat: Seat) -> Outbox:
    outbox.identity = Identity(slot.id, seat.id, seat.player, seat.generation)
    _seats_changed(outbox, slot)
    return outbox


def join_slot(slot_id: int, model_name: str, username: str, client_ip: str | None, channel: str,
              process_id: str, bot_token: str | None = None, options: tuple[bool, str] = (False, "")) -> Outbox:
    """Join a given waiting slot as blue, inheriting its board size, series
    length and first player. Its options (swap, time control) must be the
    ``options`` the joiner asked for, so a client that asked for none never
    lands in a game with messages it does not know."""
    return _after_expiry(_expire_slot(slot_id),
                         lambda: _join_slot(slot_id, model_name, username, client_ip, channel, process_id, bot_token,
                                            options))


@transaction.atomic
def _join_slot(slot_id: int, model_name: str, username: str, client_ip: str | None, channel: str,
               process_id: str, bot_token: str | None, options: tuple[bool, str]) -> Outbox:
    outbox = Outbox()
    slot, seats = row_sql.locked_slot_with_seats(slot_id)
    if slot is None or slot_id > settings.HEX_MAX_SLOTS:
        raise ServiceError(proto.ERR_SLOT_MISSING, proto.CLOSE_POLICY)
    if slot.state != Slot.State.WAITING:
        raise ServiceError(proto.ERR_SLOT_NOT_WAITING, proto.CLOSE_POLICY)
    owner = seats.get(rules.RED)
    if owner is None or not owner.connected:
        raise ServiceError(proto.ERR_SLOT_OWNER_DISCONNECTED, proto.CLOSE_POLICY)
    if rules.BLUE in seats:
        raise ServiceError(proto.ERR_SLOT_FULL, proto.CLOSE_POLICY)
    if (slot.swap, slot.time_control) != options:
        raise ServiceError(proto.ERR_SLOT_OPTIONS_DIFFER, proto.CLOSE_POLICY)
    who = resolve_identity(model_name, username, bot_token)
    token = new_token()
    try:
        with transaction.atomic():
            seat = _seat(slot, rules.BLUE, token, who, Seat.Origin.JOIN_SLOT, client_ip, channel, process_id)
    except IntegrityError:
        raise ServiceError(proto.ERR_SLOT_FULL, proto.CLOSE_POLICY) from None
    outbox.send(channel, proto.joined(slot.id, rules.BLUE, slot.board_size, slot.series_length, token))
    seats[rules.BLUE] = seat
    _begin_series(slot, seats, outbox)
    return _seated(outbox, slot, seat)


def reconnect_seat(slot_id: int, token: str, channel: str, process_id: str) -> Outbox:
    """Rebind a reserved seat to a new connection.

    The token stays valid for the seat's lifetime, so a seat can be resumed
    any number of times (the reference rotates it without telling the client,
    which makes a second reconnect impossible).
    """
    return _after_expiry(_expire_slot(slot_id), lambda: _reconnect_seat(slot_id, token, channel, process_id))


@transaction.atomic
def _reconnect_seat(slot_id: int, token: str, channel: str, process_id: str) -> Outbox:
    outbox = Outbox()
    slot, seats = row_sql.locked_slot_with_seats(slot_id)
    if slot is None or slot.state == Slot.State.EMPTY:
        raise ServiceError(proto.ERR_NOT_RECONNECTABLE, proto.CLOSE_POLICY)
    wanted = hash_token(token)
    seat = next((s for s in seats.values() if hmac.compare_digest(s.token_hash, wanted)), None)
    if seat is None:
        raise ServiceError(proto.ERR_BAD_TOKEN, proto.CLOSE_POLICY)
    if seat.connected and seat.channel_name and seat.channel_name != channel:
        # The old socket may still be open (a half-dead connection): retire it.
        outbox.close(seat.channel_name, proto.CLOSE_GOING_AWAY)
    # A game that ran out of time while we were away ends first (found on this
    # access); the snapshot below then shows what follows it.
    _enforce_clock(slot, seats, outbox)
    seat.connected = True
    seat.channel_name = channel
    seat.process_id = process_id
    seat.reconnect_deadline = None
    row_sql.update(seat, ["connected", "channel_name", "process_id", "reconnect_deadline"])
    _sync_clock(slot.game, slot.series, seats)

    reconnected = proto.message(
        "reconnected",
        slot_id=slot.id,
        player=seat.player,
        color=rules.color_of(seat.player),
        board_size=slot.board_size,
        series_length=slot.series_length,
        protocol_version=rules.PROTOCOL_VERSION,
        slot=slot_snapshot(slot, seats, slot.series, slot.game),
    )
    reconnected["payload"].update(options_fields(slot.series))
    reconnected["payload"].update(clock_fields(slot.series, slot.game))
    outbox.send(channel, reconnected)
    other = seats.get(rules.opponent(seat.player))
    if other is not None and other.connected:
        back = proto.opponent_reconnected(seat.player)
        back["payload"].update(clock_fields(slot.series, slot.game))  # the clock may run again
        outbox.to_seat(other, back)
    else:
        outbox.send(channel, proto.waiting_for_opponent(slot.id, slot.board_size))
    return _seated(outbox, slot, seat)


# -- play ----------------------------------------------------------------------------------


@group_commit.joins
def apply_move(slot_id: int, seat_id: int, channel: str, q: object, r: object) -> Outbox:
    """Validate and persist one move; a rejection goes to the sender only.

    An ordinary move reads and writes through ``move_store`` (three plain SQL
    statements: this is the arena's hot path). Inline on SQLite it is
    committed with the other moves of the same loop pass (``group_commit``);
    on PostgreSQL it is a batch of one (``move_store.postgres_batch``), two
    round trips, where the server batches the moves that wait together
    (``loop_batches.apply_moves``).
    A move that ends its game, or any move of a game with a clock, goes on
    through the ORM path: in the same group commit on SQLite, in a
    transaction of its own on PostgreSQL. (That path opens no ``atomic``
    block, which a batch could not hold: its statements go through
    ``row_sql``, and a rated game's rating rows through the ORM, all on the
    batch's connection and inside its transaction.)
    """
    if not _coordinates_are_ints(q, r):
        outbox = Outbox()
        outbox.send(channel, proto.move_rejected(rules.REASON_MALFORMED))
        return outbox
    # The broadcast echoes the coordinates as sent (true/false stay booleans,
    # as in the reference); the board and the stored move use integers.
    move = (slot_id, seat_id, channel, q, r, int(q), int(r))  # type: ignore[call-overload]
    if group_commit.enabled():
        with group_commit.joined() as batch:
            outbox = _ordinary_move(*move)
        if outbox is None and batch is not None:
            return _in_group_commit(_apply_move_orm, *move)  # a game end, or a move with a clock
        if outbox is not None:
            outbox.pending_commit = batch
            return outbox
    elif connection.vendor == "postgresql" and not connection.in_atomic_block:
        with move_store.postgres_batch([slot_id]):  # committed on leaving
            outbox = _ordinary_move(*move)
        if outbox is not None:
            return outbox
    else:
        return _apply_move_in_transaction(*move)
    return _apply_move_in_transaction(*move, maybe_ordinary=False)


class BatchedMoves:
    """Moves applied together (``loop_batches.apply_moves``), through their
    phases: the ordinary moves of different slots in one batch, then the rest
    one at a time, in order. Each phase is synchronous; the batch's round
    trips run between them."""

    def __init__(self, requests: Sequence[MoveRequest]) -> None:
        self.requests = requests
        self.results: list[Outbox | Exception | None] = [None] * len(requests)
        self.batched: dict[int, tuple[int, int, str, object, object, int, int]] = {}
        self.alone: list[int] = []  # refused at once, or run after the move of its slot before it
        self.for_orm: set[int] = set()  # moves the batch left to the ORM path: game ends, clocks
        slot_ids: set[int] = set()
        for index, (slot_id, seat_id, channel, q, r) in enumerate(requests):
            if not _coordinates_are_ints(q, r) or slot_id in slot_ids:
                self.alone.append(index)
            else:
                self.batched[index] = (slot_id, seat_id, channel, q, r, int(q), int(r))  # type: ignore[call-overload]
                slot_ids.add(slot_id)

    def slot_ids(self) -> list[int]:
        return sorted(move[0] for move in self.batched.values())

    def apply_in(self, batch: move_store.PostgresBatch) -> None:
        """Apply the batched moves in ``batch``, open on this thread."""
        for index, move in self.batched.items():
            mark = batch.mark()
            try:
                self.results[index] = _ordinary_move(*move)
            except move_store.BoardNotReadError:
                batch.undo(mark)  # the ORM path reads it
            except Exception as exc:  # noqa: BLE001 - handed to that move's caller
                batch.undo(mark)
                self.results[index] = exc
            if self.results[index] is None:
                self.for_orm.add(index)

    def batch_failed(self, exc: Exception) -> list[Outbox | Exception] | None:
        """After the batch failed, with nothing of it written: every move's
        result if that is the end of the call, or None when the moves are to
        be tried one at a time."""
        if not move_store.refused_by_postgres(exc):
            # Each move gets the error, but a malformed one its refusal, which needs no database.
            return [exc if _coordinates_are_ints(*request[3:]) else apply_move(*request) for request in self.requests]
        log.warning("a batch of %d moves failed; applying them one at a time", len(self.batched), exc_info=True)
        self.results = [None] * len(self.requests)
        self.alone, self.for_orm = list(range(len(self.requests))), set()
        return None

    def report_committed(self, committed: Callable[[dict[int, Outbox | Exception]], None] | None) -> None:
        if committed is None or not self.remaining():  # else the caller hears at the end, at once
            return
        try:
            committed({index: self.results[index] for index in self.batched  # type: ignore[misc]
                       if index not in self.for_orm})
        except Exception:  # the caller hears at the end instead; the moves left still run
            log.warning("reporting a committed batch early failed", exc_info=True)

    def remaining(self) -> bool:
        return bool(self.alone or self.for_orm)

    def apply_remaining(self) -> None:
        """Run the moves the batch did not apply, one at a time, in order."""
        for index in sorted([*self.alone, *self.for_orm]):
            try:
                if index in self.for_orm:  # known to need it: no second try of the plain-SQL path
                    self.results[index] = _apply_move_in_transaction(*self.batched[index], maybe_ordinary=False)
                else:
                    self.results[index] = apply_move(*self.requests[index])
            except Exception as exc:  # noqa: BLE001 - handed to that move's caller
                self.results[index] = exc


def _coordinates_are_ints(q: object, r: object) -> bool:
    return rules.is_int(q) and rules.is_int(r)


@transaction.atomic
def _apply_move_in_transaction(slot_id: int, seat_id: int, channel: str, echo_q: object, echo_r: object, q: int,
                               r: int, maybe_ordinary: bool = True) -> Outbox:
    outbox = _ordinary_move(slot_id, seat_id, channel, echo_q, echo_r, q, r) if maybe_ordinary else None
    if outbox is None:
        outbox = _apply_move_orm(slot_id, seat_id, channel, echo_q, echo_r, q, r)
    return outbox


def _ordinary_move(slot_id: int, seat_id: int, channel: str, echo_q: object, echo_r: object, q: int,
                   r: int) -> Outbox | None:
    """Apply a move that ends nothing in a game without a clock, or refuse
    any move; None (nothing written) when the ORM path has to decide."""
    context = move_store.lock_for_move(slot_id)
    if context is None:
        raise ServiceError(proto.ERR_STALE)
    if context.time_control or clock.has_deadlines(None):
        return None
    outbox = Outbox()
    seat = _calling_seat(context.seats, seat_id, channel)
    reason = _play_refusal(context.state, context.game_id, context.seats, context.series_winner is not None)
    if reason is None:
        position = move_store.position_for(context)
        reason = rules.check_move(position.board, seat.player, context.current_turn, q, r)
    if reason is not None:
        outbox.send(channel, proto.move_rejected(reason))
        return outbox

    winner = move_store.place(context, position, seat.player, q, r)
    if winner is not None:
        return None  # the ORM path scores it, from the stored position
    outbox.changed_slots.add(slot_id)
    next_turn = rules.opponent(seat.player)
    move_store.record_move(context, seat.player, q, r, position, next_turn)
    version = (context.series_id or 0, context.game_number, context.move_count + 1, 0)
    # Unwatched, a move is no spectator event at all: across processes that
    # was a channel-layer broadcast per move to an empty group.
    _broadcast_version(outbox, slot_id, version, context.seats, proto.move(seat.player, echo_q, echo_r, next_turn),
                       watched=context.watched)
    return outbox


def _locked_for_play(slot_id: int, seat_id: int, channel: str,
                     outbox: Outbox) -> tuple[Slot, dict[int, Seat], Seat] | None:
    """Lock the slot for the caller's move or swap, after enforcing its clock.

    None when the game just ended on time: the refusal is already queued.
    """
    slot, seats = row_sql.locked_slot_with_seats(slot_id)
    if slot is None:
        raise ServiceError(proto.ERR_STALE)
    seat = _calling_seat(seats, seat_id, channel)
    if _enforce_clock(slot, seats, outbox):
        # The move was meant for the game that just ended on time.
        outbox.send(channel, proto.move_rejected(proto.REASON_TIMEOUT))
        return None
    return slot, seats, seat


def _apply_move_orm(slot_id: int, seat_id: int, channel: str, echo_q: object, echo_r: object, q: int,
                    r: int) -> Outbox:
    """A move through the ORM, in ``apply_move``'s transaction: games with a
    clock, and the moves that end a game (scored by ``_finish_game``)."""
    outbox = Outbox()
    locked = _locked_for_play(slot_id, seat_id, channel, outbox)
    if locked is None:
        return outbox
    slot, seats, seat = locked
    reason = _slot_refusal(slot, seats)
    game = slot.game
    if reason is None:
        # A winning move the plain-SQL path already checked and placed, in this
        # very state of the game: its board need not be rebuilt.
        board = move_store.won_board(game, seat.player, q, r)
        if board is not None:
            winner = board.winner
        else:
            board = rules.Board.from_rows(game.board)
            reason = rules.check_move(board, seat.player, game.current_turn, q, r)
            if reason is None:
                winner = board.place(seat.player, q, r)
    if reason is not None:
        outbox.send(channel, proto.move_rejected(reason))
        return outbox

    game.move_count += 1
    game.board = board.rows()
    game.last_move = [q, r]
    # After the winning move the reference's snapshot keeps the mover as
    # current_turn (the game has a winner, so nobody can move); the move
    # message itself says next_turn null.
    next_turn = None if winner is not None else rules.opponent(seat.player)
    if next_turn is not None:
        game.current_turn = next_turn
    fields = ["move_count", "board", "last_move", "current_turn"]
    control = _control(slot.series)
    if clock.has_deadlines(control):
        at = clock.now()
        clock.stop_turn(game, control, seat.player, at, moved=True)
        if next_turn is not None:
            clock.start_turn(game, control, next_turn, at)
        fields += _CLOCK_FIELDS
    row_sql.insert(Move(game=game, number=game.move_count, player=seat.player, q=q, r=r))
    if winner is None:
        row_sql.update(game, fields)  # else with the result (``_finish_game``)
    outbox.changed_slots.add(slot.id)
    announced = proto.move(seat.player, echo_q, echo_r, next_turn)
    announced["payload"].update(clock_fields(slot.series, game, at_turn_start=True))
    _broadcast(outbox, slot, seats, announced)
    if winner is not None:
        _finish_game(slot, seats, slot.series, game, winner, Game.EndReason.CONNECTED_SIDES, outbox, changed=fields)
    return outbox


@transaction.atomic
def apply_swap(slot_id: int, seat_id: int, channel: str) -> Outbox:
    """The second player's swap-pieces answer to the first stone (swap games
    only): the stone (q, r) becomes the swapper's at (r, q) and the first
    player moves again. A refusal goes to the sender as ``move_rejected``."""
    outbox = Outbox()
    locked = _locked_for_play(slot_id, seat_id, channel, outbox)
    if locked is None:
        return outbox
    slot, seats, seat = locked
    reason = _slot_refusal(slot, seats)
    game = slot.game
    if reason is None:
        board = rules.Board.from_rows(game.board)
        reason = rules.check_swap(board, seat.player, game.current_turn, slot.series.swap, game.move_count)
    if reason is not None:
        outbox.send(channel, proto.move_rejected(reason))
        return outbox

    board, (from_q, from_r), (q, r) = rules.swap_pieces(board, seat.player)
    next_turn = rules.opponent(seat.player)
    game.move_count += 1
    game.board = board.rows()
    game.last_move = [q, r]
    game.current_turn = next_turn
    fields = ["move_count", "board", "last_move", "current_turn"]
    control = _control(slot.series)
    if clock.has_deadlines(control):
        at = clock.now()
        clock.stop_turn(game, control, seat.player, at, moved=True)
        clock.start_turn(game, control, next_turn, at)
        fields += _CLOCK_FIELDS
    row_sql.insert(Move(game=game, number=game.move_count, player=seat.player, kind=Move.Kind.SWAP, q=q, r=r))
    row_sql.update(game, fields)
    outbox.changed_slots.add(slot.id)
    announced = proto.swap(seat.player, q, r, from_q, from_r, next_turn)
    announced["payload"].update(clock_fields(slot.series, game, at_turn_start=True))
    _broadcast(outbox, slot, seats, announced)
    return outbox


def _enforce_clock(slot: Slot, seats: dict[int, Seat], outbox: Outbox) -> bool:
    """With ``slot`` locked: end its current game on time if the deadline of
    the player to move has passed (checked on every access, so a clock runs
    out even when no sweeper is alive). True when a game ended."""
    game = slot.game
    if slot.state != Slot.State.FULL or game is None or _series_over(slot) or not clock.is_due(game, clock.now()):
        return False
    loser = game.current_turn
    outbox.changed_slots.add(slot.id)
    _finish_game(slot, seats, slot.series, game, rules.opponent(loser), Game.EndReason.TIMEOUT, outbox)
    return True


def expire_due_clocks(outbox: Outbox | None = None) -> Outbox:
    """End every game whose move deadline has passed (the sweeper's half of
    clock enforcement), each slot in its own transaction."""
    outbox = outbox if outbox is not None else Outbox()
    due = set(
        Slot.objects.filter(game__turn_deadline__lte=clock.now(), game__winner__isnull=True,
                            state=Slot.State.FULL).values_list("id", flat=True)
    )
    for slot_id in sorted(due):
        with transaction.atomic():
            slot, seats = row_sql.locked_slot_with_seats(slot_id)
            if slot is not None:
                _enforce_clock(slot, seats, outbox)
    return outbox


def _slot_refusal(slot: Slot, seats: dict[int, Seat]) -> str | None:
    return _play_refusal(slot.state, slot.game_id, seats, _series_over(slot))


def _play_refusal(state: str, game_id: int | None, seats: dict[int, Any], series_over: bool) -> str | None:
    """Why nobody may play in this slot right now (reference order)."""
    if state != Slot.State.FULL or game_id is None or len(seats) < 2:
        return rules.REASON_NOT_STARTED
    if not all(seat.connected for seat in seats.values()):
        return rules.REASON_PAUSED
    if series_over:
        return rules.REASON_FINISHED
    return None


@transaction.atomic
def resign(slot_id: int, seat_id: int, channel: str) -> Outbox:
    """Concede the current game: it counts for the opponent exactly like a
    connected-sides win, and the series continues or ends as usual."""
    outbox = Outbox()
    slot, seats = row_sql.locked_slot_with_seats(slot_id)
    if slot is None:
        raise ServiceError(proto.ERR_STALE)
    seat = _calling_seat(seats, seat_id, channel)
    if slot.state != Slot.State.FULL or slot.game is None:
        raise ServiceError(rules.REASON_NOT_STARTED)
    if _series_over(slot):
        raise ServiceError(rules.REASON_FINISHED)
    if _enforce_clock(slot, seats, outbox):
        return outbox  # the game resigned from had already ended on time
    outbox.changed_slots.add(slot.id)
    _finish_game(slot, seats, slot.series, slot.game, rules.opponent(seat.player), Game.EndReason.RESIGNATION,
                 outbox)
    return outbox


def chat(slot_id: int, seat_id: int, channel: str, text: object) -> Outbox:
    """Forward a sanitised chat line to the opponent only (no echo).

    Read-only, so no transaction: a non-string message or an absent opponent
    drops the line silently, as the reference does.
    """
    outbox = Outbox()
    if not isinstance(text, str):
        return outbox
    cleaned = proto.clean_chat(text)
    seats = {seat.player: seat for seat in Seat.objects.filter(slot_id=slot_id)}
    sender = next((s for s in seats.values() if s.id == seat_id and s.channel_name == channel), None)
    if sender is None:
        return outbox
    outbox.to_seat(seats.get(rules.opponent(sender.player)), proto.chat(sender.player, cleaned))
    return outbox


@transaction.atomic
def keep_slot(slot_id: int, seat_id: int, channel: str) -> Outbox:
    """Stay in the slot as red of a fresh series after the series ended or the
    opponent left; the opponent, if still here, is told and closed."""
    outbox = Outbox()
    slot, seats = row_sql.locked_slot_with_seats(slot_id)
    if slot is None:
        raise ServiceError(proto.ERR_STALE)
    if slot.state != Slot.State.FULL:
        raise ServiceError(proto.ERR_KEEP_NOT_FINISHED)
    if slot.series is None:
        raise ServiceError(proto.ERR_KEEP_NOT_READY)
    seat = _calling_seat(seats, seat_id, channel)
    other = seats.get(rules.opponent(seat.player))
    if not _series_over(slot) and other is not None and other.connected:
        raise ServiceError(proto.ERR_KEEP_SERIES_RUNNING)

    _abandon_series(slot.series, slot.game)
    if other is not None:
        if other.connected:
            outbox.to_seat(other, proto.opponent_left_slot())
            outbox.close_seat(other, proto.CLOSE_NORMAL)
        row_sql.delete_seat(other.id)
    token = new_token()
    seat.player = rules.RED
    seat.token_hash = hash_token(token)
    seat.generation += 1
    row_sql.update(seat, ["player", "token_hash", "generation"])
    slot.state = Slot.State.WAITING
    slot.first_player = rules.RED
    # The kept slot keeps its options (swap, time control): its owner asked for them.
    slot.series = None
    slot.game = None
    row_sql.update(slot)
    outbox.send(channel, proto.slot_kept(slot.id, slot.board_size, slot.series_length, token))
    outbox.send(channel, proto.waiting_for_opponent(slot.id, slot.board_size))
    return _seated(outbox, slot, seat)


# -- leaving and expiry -------------------------------------------------------------------------


@group_commit.joins
def disconnect_seat(slot_id: int, seat_id: int, channel: str) -> Outbox:
    """A seat's connection closed: hold the seat for the reconnect window and
    tell the opponent; free the slot at once when a finished series has
    nobody left.

    Inline on SQLite it joins the group commit like a move (every finished
    series ends with two leaves, each of which cost two commits of its own
    when it committed the batch first); else it is a transaction of its own.
    """
    if group_commit.enabled():
        return _in_group_commit(_disconnect_seat, slot_id, seat_id, channel)
    with transaction.atomic():
        return _disconnect_seat(slot_id, seat_id, channel)


def _disconnect_seat(slot_id: int, seat_id: int, channel: str) -> Outbox:
    outbox = Outbox()
    slot, seats = row_sql.locked_slot_with_seats(slot_id)
    if slot is None:
        return outbox
    seat = next((s for s in seats.values() if s.id == seat_id), None)
    if seat is None or seat.channel_name != channel or not seat.connected:
        return outbox  # superseded by a reconnect, or already released
    _enforce_clock(slot, seats, outbox)  # a clock that ran out is not paused but ended
    _mark_disconnected(slot, seats, seat, outbox)
    return outbox


def _mark_disconnected(slot: Slot, seats: dict[int, Seat], seat: Seat, outbox: Outbox) -> None:
    finished = _series_over(slot)
    seat.connected = False
    seat.channel_name = ""
    # Unfinished series: the window holds the seat. Finished series: it bounds how
    # long a lone remaining player keeps the slot (the reference resets it then).
    seat.reconnect_deadline = _deadline()
    row_sql.update(seat, ["connected", "channel_name", "reconnect_deadline"])
    _seats_changed(outbox, slot)
    if finished and not any(s.connected for s in seats.values()):
        _reset_slot(slot)
        return
    _sync_clock(slot.game, slot.series, seats)
    other = seats.get(rules.opponent(seat.player))
    if other is not None and other.connected:
        notice = proto.opponent_disconnected("waiting_for_reconnect", settings.HEX_RECONNECT_TIMEOUT)
        notice["payload"].update(clock_fields(slot.series, slot.game))  # the clock may have stopped
        outbox.to_seat(other, notice)


def expire_due_seats(outbox: Outbox | None = None) -> Outbox:
    """Reset every slot holding a seat whose reconnect window has passed.

    Runs from the sweeper and before matchmaking, each slot in its own
    transaction, so expiry happens even when the process that saw the
    disconnect is gone.
    """
    now = clock.now()
    return _expire_seats_of(row_sql.slots_with_expired_seats(now), now, outbox if outbox is not None else Outbox())


def _expire_seats_of(slot_ids: list[int], now: Any, outbox: Outbox) -> Outbox:
    """``expire_due_seats`` for the slots ``slot_ids``, found due by ``now``."""
    for slot_id in slot_ids:
        with transaction.atomic():
            slot, seats = row_sql.locked_slot_with_seats(slot_id)
            if slot is not None:
                _expire_if_due(slot, seats, now, outbox)
    return outbox


def _expire_if_due(slot: Slot, seats: dict[int, Seat], now: Any, outbox: Outbox) -> bool:
    """With ``slot`` locked: reset it if one of its ``seats``' windows passed.

    The remaining player is told (reason ``reconnect_timeout``) and closed,
    the unfinished series is kept as abandoned, and every token dies.
    """
    if not any(not s.connected and s.reconnect_deadline and s.reconnect_deadline <= now for s in seats.values()):
        return False
    for other in seats.values():
        if other.connected:
            outbox.to_seat(other, proto.opponent_disconnected("reconnect_timeout", settings.HEX_RECONNECT_TIMEOUT))
            outbox.close_seat(other, proto.CLOSE_NORMAL)
    _abandon_series(slot.series, slot.game)
    _reset_slot(slot)
    _seats_changed(outbox, slot)
    return True


def release_orphaned_seats(alive_process_ids: set[str]) -> Outbox:
    """Treat seats held by dead server processes as disconnected, so their
    players resume through /ws/reconnect on any living process."""
    outbox = Outbox()
    orphan_slots = set(
        Seat.objects.filter(connected=True).exclude(process_id__in=alive_process_ids).values_list("slot_id", flat=True)
    )
    for slot_id in sorted(orphan_slots):
        with transaction.atomic():
            slot, seats = row_sql.locked_slot_with_seats(slot_id)
            if slot is None:
                continue
            for seat in list(seats.values()):
                if seat.connected and seat.process_id not in alive_process_ids and slot.state != Slot.State.EMPTY:
                    _mark_disconnected(slot, seats, seat, outbox)
    return outbox
