"""A move is a spectator event only when someone watches its slot: unwatched,
nothing is broadcast to an empty spectator group (a channel-layer round trip
per move across processes); watched, every move reaches the spectators."""

from __future__ import annotations

import pytest

from games import rules
from matchmaking import protocol as proto
from matchmaking import services, spectators

pytestmark = pytest.mark.django_db(transaction=True)


def seat_two() -> tuple[int, dict[int, tuple[int, str]]]:
    services.ensure_slots()
    request = proto.MatchRequest(board_size=7, series_length=1, first_player=rules.RED, model_name="m", username="")
    seats = {}
    for channel in ("red-channel", "blue-channel"):
        identity = services.matchmake(request, "127.0.0.1", channel, "p").identity
        seats[identity.player] = (identity.seat_id, channel)
    return identity.slot_id, seats


def test_only_watched_slots_produce_spectator_events():
    slot_id, seats = seat_two()
    red_seat, red_channel = seats[rules.RED]
    blue_seat, blue_channel = seats[rules.BLUE]

    unwatched = services.apply_move(slot_id, red_seat, red_channel, 0, 0)
    assert [m["type"] for m in unwatched.messages[blue_channel]] == ["move"]
    assert unwatched.watch == {}

    spectators.add_watcher(slot_id, "spectator-channel", "p")
    watched = services.apply_move(slot_id, blue_seat, blue_channel, 1, 1)
    assert [m["type"] for m in watched.watch[slot_id]] == ["move"]
    assert watched.watch_versions[slot_id][2] == 2  # the second move of the game

    spectators.remove_watcher("spectator-channel")
    assert services.apply_move(slot_id, red_seat, red_channel, 2, 2).watch == {}


def test_seat_changes_and_game_ends_reach_spectators_only_of_watched_slots():
    services.ensure_slots()
    request = proto.MatchRequest(board_size=7, series_length=1, first_player=rules.RED, model_name="m", username="")
    red = services.matchmake(request, "127.0.0.1", "red-channel", "p")
    slot_id = red.identity.slot_id
    assert red.refresh_watchers == set() and red.watch == {}

    spectators.add_watcher(slot_id, "spectator-channel", "p")
    blue = services.matchmake(request, "127.0.0.1", "blue-channel", "p")
    assert blue.refresh_watchers == {slot_id}
    assert [m["type"] for m in blue.watch[slot_id]] == ["game_start"]
    resigned = services.resign(slot_id, blue.identity.seat_id, "blue-channel")
    assert [m["type"] for m in resigned.watch[slot_id]] == ["game_over", "series_update", "series_over"]

    spectators.remove_watcher("spectator-channel")
    left = services.disconnect_seat(slot_id, red.identity.seat_id, "red-channel")
    assert left.membership_changed and left.refresh_watchers == set() and left.watch == {}
