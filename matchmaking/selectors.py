"""Read-only views of slots for the web pages.

The pages show the same snapshots as ``/slots`` (``list_slot_snapshots``),
plus what the reference snapshot lacks: the last move of the current game.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from games.models import Move
from games.rules import RED
from matchmaking.models import Slot
from matchmaking.snapshots import list_slot_snapshots
from matchmaking.spectators import spectator_counts


def overview_slots(slot_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Every slot's public snapshot plus ``last_move`` (``[q, r]`` or ``None``).

    At most five queries whatever the number of slots: the two of
    ``list_slot_snapshots``, one for the last moves (and ids) of the current
    games with the competitive options and verified seats, one for the
    spectator counts (``spectators``), and one for swaps when a swap game is
    shown.
    The last move is kept only if it belongs to the position in the snapshot
    (same move count), so a move committed between the two reads never marks
    a cell the drawn board does not have. ``slot_ids`` keeps only those slots.
    """
    snapshots = list_slot_snapshots()
    if slot_ids is not None:
        wanted = set(slot_ids)
        snapshots = [snap for snap in snapshots if snap["slot_id"] in wanted]
    seated = [snap["slot_id"] for snap in snapshots if snap["state"] != "empty"]
    last_moves: dict[int, tuple[int, list[int] | None]] = {}
    # The competitive extensions (verified seats, swap, clock) come with the
    # last moves: one row per seat, still one query.
    extras: dict[int, dict[str, Any]] = {}
    game_of: dict[int, int | None] = {}
    if seated:
        rows = Slot.objects.filter(id__in=seated).values_list(
            "id", "game__move_count", "game__last_move", "game_id", "swap", "time_control", "seats__player",
            "seats__verified",
        )
        for slot_id, count, move, game_id, swap, control, player, verified in rows:
            last_moves[slot_id] = (count, move)
            game_of[slot_id] = game_id
            extra = extras.setdefault(slot_id, {"verified_players": [], "swap_rule": swap, "time_control": control})
            if verified:
                extra["verified_players"].append(player)
    # One more query only when a swap game past its first move is shown.
    swap_games = [game_of[sid] for sid, extra in extras.items()
                  if extra["swap_rule"] and game_of.get(sid) and last_moves[sid][0] and last_moves[sid][0] >= 2]
    swapped_games = set(Move.objects.filter(game_id__in=swap_games, kind=Move.Kind.SWAP)
                        .values_list("game_id", flat=True)) if swap_games else set()
    watching = spectator_counts([snap["slot_id"] for snap in snapshots])
    result = []
    for snap in snapshots:
        slot_id = snap["slot_id"]
        count, move = last_moves.get(slot_id, (None, None))
        valid = snap["board"] is not None and move is not None and count == snap["move_count"] \
            and snap["move_count"] > 0
        extra = extras.get(slot_id, {"verified_players": [], "swap_rule": False, "time_control": ""})
        result.append({**snap, "last_move": list(move) if valid else None, **extra,
                       "verified_players": sorted(extra["verified_players"]),
                       "swapped": game_of.get(slot_id) in swapped_games, "game_id": game_of.get(slot_id),
                       "spectators": watching.get(slot_id, 0)})
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
