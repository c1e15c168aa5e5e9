"""Public views of slots: the reference's slot snapshot, never a token.

Shared by ``/slots``, ``/ws/slots``, the ``reconnected`` message, the
completed-series record and the live pages, so they always agree.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from games import rules
from games.models import Game, Series
from matchmaking.models import Seat, Slot
from matchmaking.protocol import labels_by_player


def slot_snapshot(slot: Slot, seats: dict[int, Seat], series: Series | None, game: Game | None) -> dict[str, Any]:
    """The reference's snapshot of one slot (keys and value shapes)."""
    players = [p for p in rules.PLAYERS if p in seats]
    connected = [p for p in players if seats[p].connected]
    red, blue = seats.get(rules.RED), seats.get(rules.BLUE)
    if slot.state == Slot.State.EMPTY:
        return {
            "slot_id": slot.id,
            "state": slot.state,
            "board_size": None,
            "series_length": None,
            "player_count": 0,
            "connected_player_count": 0,
            "players": [],
            "player_models": {},
            "player_usernames": {},
            "connected_players": [],
            "disconnected_players": [],
            "current_turn": None,
            "winner": None,
            "move_count": 0,
            "board": None,
            "wins_required": None,
            "current_game_number": None,
            "player_1_wins": 0,
            "player_2_wins": 0,
            "series_winner": None,
        }
    return {
        "slot_id": slot.id,
        "state": slot.state,
        "board_size": slot.board_size,
        "series_length": slot.series_length,
        "player_count": len(players),
        "connected_player_count": len(connected),
        "players": players,
        "player_models": labels_by_player(red.model_name if red else "", blue.model_name if blue else ""),
        "player_usernames": labels_by_player(red.username if red else "", blue.username if blue else ""),
        "connected_players": connected,
        "disconnected_players": [p for p in players if p not in connected],
        "current_turn": game.current_turn if game is not None else None,
        "winner": game.winner if game is not None else None,
        "move_count": game.move_count if game is not None else 0,
        "board": game.board if game is not None else None,
        "wins_required": rules.wins_required(slot.series_length),
        "current_game_number": game.number if game is not None else 1,
        "player_1_wins": series.player_1_wins if series is not None else 0,
        "player_2_wins": series.player_2_wins if series is not None else 0,
        "series_winner": series.winner if series is not None else None,
    }


def list_slot_snapshots() -> list[dict[str, Any]]:
    """Every slot of the pool, empty ones included, in id order (two queries)."""
    slots = list(Slot.objects.filter(id__lte=settings.HEX_MAX_SLOTS).select_related("series", "game").order_by("id"))
    seats_by_slot: dict[int, dict[int, Seat]] = {}
    for seat in Seat.objects.filter(slot_id__in=[s.id for s in slots]):
        seats_by_slot.setdefault(seat.slot_id, {})[seat.player] = seat
    present = {s.id for s in slots}
    snapshots = [slot_snapshot(s, seats_by_slot.get(s.id, {}), s.series, s.game) for s in slots]
    # Slots not created yet (no connection since start) are empty.
    for missing in range(1, settings.HEX_MAX_SLOTS + 1):
        if missing not in present:
            snapshots.append(slot_snapshot(Slot(id=missing), {}, None, None))
    snapshots.sort(key=lambda snap: snap["slot_id"])
    return snapshots
