"""Read-only views of slots for the web pages.

The pages show the same snapshots as ``/slots`` (``list_slot_snapshots``),
plus what the reference snapshot lacks: the last move of the current game.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from games.rules import RED
from matchmaking.models import Slot
from matchmaking.snapshots import list_slot_snapshots
from matchmaking.spectators import spectator_counts


def overview_slots(slot_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Every slot's public snapshot plus ``last_move`` (``[q, r]`` or ``None``).

    Four queries whatever the number of slots: the two of
    ``list_slot_snapshots``, one for the last moves (and ids) of the current
    games and one for the spectator counts (``spectators``).
    The last move is kept only if it belongs to the position in the snapshot
    (same move count), so a move committed between the two reads never marks
    a cell the drawn board does not have. ``slot_ids`` keeps only those slots.
    """
    snapshots = list_slot_snapshots()
    if slot_ids is not None:
        wanted = set(slot_ids)
        snapshots = [snap for snap in snapshots if snap["slot_id"] in wanted]
    playing = [snap["slot_id"] for snap in snapshots if snap["board"] is not None]
    last_moves: dict[int, tuple[int, list[int] | None, int]] = {}
    if playing:
        rows = Slot.objects.filter(id__in=playing, game__isnull=False).values_list(
            "id", "game__move_count", "game__last_move", "game_id"
        )
        last_moves = {slot_id: (count, move, game_id) for slot_id, count, move, game_id in rows}
    watching = spectator_counts([snap["slot_id"] for snap in snapshots])
    result = []
    for snap in snapshots:
        count, move, game_id = last_moves.get(snap["slot_id"], (None, None, None))
        valid = move is not None and count == snap["move_count"] and snap["move_count"] > 0
        result.append({**snap, "last_move": list(move) if valid else None, "game_id": game_id,
                       "spectators": watching.get(snap["slot_id"], 0)})
    return result


def overview_counts(snapshots: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Slots in use, games running, seated players and free slots of a snapshot list."""
    snaps = list(snapshots)
    in_use = [s for s in snaps if s["state"] != "empty"]
    running = [s for s in in_use if s["state"] == "full" and s["series_winner"] is None and s["winner"] is None
               and s["board"] is not None]
    return {
        "slots_total": len(snaps),
        "slots_in_use": len(in_use),
        "slots_free": len(snaps) - len(in_use),
        "games_running": len(running),
        "players_connected": sum(len(s["connected_players"]) for s in snaps),
    }


def waiting_house_bots(house_username: str, snapshots: Iterable[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """House bots waiting for an opponent: waiting slots whose connected owner
    (red) carries the house username. Ordered by board size, then series length.

    The username is a label anyone may send, so this says "a bot is waiting
    under the house name", which is all a newcomer needs to find an opponent.
    """
    snaps = list_slot_snapshots() if snapshots is None else snapshots
    red = str(RED)
    bots = [
        {
            "slot_id": snap["slot_id"],
            "board_size": snap["board_size"],
            "series_length": snap["series_length"],
            "model_name": snap["player_models"].get(red),
        }
        for snap in snaps
        if snap["state"] == "waiting" and RED in snap["connected_players"]
        and snap["player_usernames"].get(red) == house_username
    ]
    return sorted(bots, key=lambda bot: (bot["board_size"], bot["series_length"], bot["slot_id"]))
