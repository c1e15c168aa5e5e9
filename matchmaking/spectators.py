"""Spectators of a slot (``/ws/watch``): what they see and who they are.

A spectator gets the slot's public snapshot (never a token) and then the
slot's move, game and series messages, which the services queue in the
``Outbox`` next to the players' and ``delivery`` sends to the group
``watch.<slot id>`` as one event per commit. Every event carries the slot's
``watch_version`` after the commit; a spectator forwards only events newer
than what it has already shown, so a snapshot and the events racing it never
show a move twice.

Spectators are rows (``Watcher``) with the process holding their connection,
so every process can count them and a dead process's spectators are dropped
by the sweeper like its seats.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet

from games.models import Series
from matchmaking import row_sql
from matchmaking.models import Seat, Slot, Watcher
from matchmaking.outbox import Outbox
from matchmaking.services import clock_fields, options_fields, watch_version
from matchmaking.snapshots import slot_snapshot

Version = tuple[int, int, int, int]
#: Larger than any game number or move count: "everything of that series".
_ALL = 1 << 30


def slot_exists(slot_id: int) -> bool:
    return 1 <= slot_id <= settings.HEX_MAX_SLOTS


def watch_state(slot_id: int) -> tuple[dict[str, Any], Version]:
    """The ``watching`` payload of a slot and the version it shows."""
    with transaction.atomic():
        slot = Slot.objects.select_related("series", "game").filter(id=slot_id).first()
        if slot is None:
            slot = Slot(id=slot_id)
        seats = {seat.player: seat for seat in Seat.objects.filter(slot_id=slot_id)}
        snapshot = slot_snapshot(slot, seats, slot.series, slot.game)
        if slot.series_id is not None:
            version = watch_version(slot)
        else:
            # Between series: everything of earlier series is history.
            latest = Series.objects.filter(slot_id=slot_id).aggregate(latest=Max("id"))["latest"] or 0
            version = (latest, _ALL, _ALL, 1)
    game = slot.game
    payload = {
        "slot_id": slot_id,
        "spectators": slot.spectators,
        "series_id": slot.series_id,
        "game_id": game.id if game is not None else None,
        "last_move": list(game.last_move) if game is not None and game.last_move else None,
        "slot": snapshot,
    }
    # As a reconnecting player gets them: the series' options, and in a game
    # with a clock the remaining times and whose clock runs (None while it
    # waits for an absent player), so a spectator's clock is right at once
    # and stops when a seat change pauses it.
    payload.update(options_fields(slot.series))
    payload.update(clock_fields(slot.series, game))
    return payload, version


@transaction.atomic
def add_watcher(slot_id: int, channel: str, process_id: str) -> Outbox:
    """Register a spectator under the slot's lock, counted in the slot row
    (``Slot.spectators``) that every service reads with that lock: each
    commit either sees this spectator (and is sent to it) or committed
    before it (and is in the snapshot it reads next)."""
    row_sql.locked_slot(slot_id)  # which also drops the slot's kept move context (``move_contexts``)
    Watcher.objects.update_or_create(channel_name=channel, defaults={"slot_id": slot_id, "process_id": process_id})
    _recount(slot_id)
    return Outbox(changed_slots={slot_id})


def remove_watcher(channel: str) -> Outbox:
    return _forget(Watcher.objects.filter(channel_name=channel))


def forget_dead_watchers(alive_process_ids: set[str]) -> Outbox:
    """Drop spectators held by processes that stopped beating."""
    return _forget(Watcher.objects.exclude(process_id__in=alive_process_ids))


def _forget(watchers: QuerySet[Watcher]) -> Outbox:
    """Delete ``watchers`` and recount their slots, each slot under its lock."""
    slot_ids = set(watchers.values_list("slot_id", flat=True))
    for slot_id in sorted(slot_ids):
        with transaction.atomic():
            row_sql.locked_slot(slot_id)
            watchers.filter(slot_id=slot_id).delete()
            _recount(slot_id)
    return Outbox(changed_slots=slot_ids)


def _recount(slot_id: int) -> None:
    # A statement of its own, after the lock: its snapshot holds every
    # registration that committed before this transaction got the lock.
    Slot.objects.filter(id=slot_id).update(spectators=Watcher.objects.filter(slot_id=slot_id).count())


def spectator_counts(slot_ids: list[int] | None = None) -> dict[int, int]:
    """Spectators per watched slot, in one query."""
    rows = Slot.objects.filter(spectators__gt=0)
    if slot_ids is not None:
        rows = rows.filter(id__in=slot_ids)
    return dict(rows.values_list("id", "spectators"))
