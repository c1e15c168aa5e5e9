"""Seating under real concurrency: the services called from many threads at
once, each with its own database connection, so SQLite's writer lock (or
PostgreSQL's row locks) is what keeps a slot from being seated twice.

(Through WebsocketCommunicator every ORM call runs on the one
``database_sync_to_async`` thread, which serialises them; these tests take
that thread out of the picture.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from matchmaking import protocol as proto
from matchmaking import services
from matchmaking.models import Seat, Slot

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(count: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(i)`` in ``count`` threads released together; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def request(board_size: int = 7) -> proto.MatchRequest:
    return proto.MatchRequest(board_size=board_size, series_length=1, first_player=-1, model_name="", username="")


def test_concurrent_matchmaking_never_double_seats(settings):
    settings.HEX_MAX_SLOTS = 6
    settings.HEX_MAX_CONNECTIONS_PER_IP = 0
    services.ensure_slots()

    results = in_threads(20, lambda i: services.matchmake(request(), f"10.0.0.{i}", f"chan-{i}", "proc"))

    seated = [r for r in results if isinstance(r, services.Outbox)]
    refused = [r for r in results if isinstance(r, services.ServiceError)]
    assert len(seated) + len(refused) == 20, [r for r in results if not isinstance(r, services.Outbox | Exception)]
    assert all(e.message == "No available slot" and e.close_code == 1000 for e in refused), refused
    assert len(seated) == 12
    rows = list(Seat.objects.values_list("slot_id", "player", "channel_name"))
    by_slot: dict[int, list[int]] = {}
    for slot_id, player, _channel in rows:
        by_slot.setdefault(slot_id, []).append(player)
    assert sorted(by_slot) == [1, 2, 3, 4, 5, 6]
    assert all(sorted(players) == [-1, 1] for players in by_slot.values())
    assert len({channel for _s, _p, channel in rows}) == 12
    assert Slot.objects.filter(state="full").count() == 6
    # Each seated caller got exactly one joined for the slot it really holds.
    for outbox in seated:
        identity = outbox.identity
        seat = Seat.objects.get(id=identity.seat_id)
        assert (seat.slot_id, seat.player) == (identity.slot_id, identity.player)


def test_concurrent_join_slot_seats_exactly_one(settings):
    settings.HEX_MAX_CONNECTIONS_PER_IP = 0
    services.ensure_slots()
    services.matchmake(request(), "10.0.0.1", "owner", "proc")

    results = in_threads(10, lambda i: services.join_slot(1, f"m{i}", "", "10.0.1.1", f"joiner-{i}", "proc"))

    seated = [r for r in results if isinstance(r, services.Outbox)]
    refused = [r for r in results if isinstance(r, services.ServiceError)]
    assert len(seated) == 1 and len(refused) == 9, results
    assert {e.message for e in refused} == {"Slot is not waiting for an opponent"}
    assert sorted(Seat.objects.filter(slot_id=1).values_list("player", flat=True)) == [-1, 1]


def test_concurrent_moves_accept_exactly_one_per_turn(settings):
    """Both players hammer the same cell at once: one stone, one accepted move."""
    settings.HEX_MAX_CONNECTIONS_PER_IP = 0
    services.ensure_slots()
    red = services.matchmake(request(), "10.0.0.1", "red", "proc").identity
    blue = services.matchmake(request(), "10.0.0.2", "blue", "proc").identity

    def attempt(i: int) -> services.Outbox:
        who, channel = (red, "red") if i % 2 == 0 else (blue, "blue")
        return services.apply_move(1, who.seat_id, channel, 3, 3)

    results = in_threads(12, attempt)
    assert all(isinstance(r, services.Outbox) for r in results), results
    accepted = [r for r in results if any(m["type"] == "move" for msgs in r.messages.values() for m in msgs)]
    assert len(accepted) == 1
    from games.models import Move

    assert list(Move.objects.values_list("number", "player", "q", "r")) == [(1, -1, 3, 3)]


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_beats_while_the_event_loop_is_busy(settings):
    """Other processes judge this one alive by its beats; they come from a
    thread of their own, so a saturated event loop (here: a blocked main
    thread) does not make the process look dead and lose its seats."""
    import time as clock

    from matchmaking import runtime
    from matchmaking.models import ServerProcess

    settings.HEX_HEARTBEAT_INTERVAL = 0.05
    heart = runtime.start_heartbeat()
    try:
        deadline = clock.monotonic() + 10
        beats = set()
        while len(beats) < 3 and clock.monotonic() < deadline:
            clock.sleep(0.2)  # the "event loop" does not get a turn in between
            row = ServerProcess.objects.filter(id=runtime.PROCESS_ID).first()
            if row is not None:
                beats.add(row.last_beat)
        assert len(beats) >= 3
    finally:
        heart.stop()
        heart.join(5)


def test_a_move_stored_by_another_process_is_never_hidden_by_the_cached_position(settings):
    """Each process caches the position after its last committed move. When
    another process has stored a move since (here: a move written through the
    ORM path, which never touches this cache), the move count no longer
    matches and the position is rebuilt from the database, so the stone it
    placed is there."""
    from django.db import transaction

    from games import rules
    from matchmaking import move_store

    settings.HEX_MAX_CONNECTIONS_PER_IP = 0
    services.ensure_slots()
    red = services.matchmake(request(), "10.0.0.1", "red", "proc").identity
    blue = services.matchmake(request(), "10.0.0.2", "blue", "proc").identity
    services.apply_move(1, red.seat_id, "red", 0, 0)
    assert move_store._positions  # the committed position is cached

    with transaction.atomic():  # "another process": the ORM path, bypassing the cache
        services._apply_move_orm(1, blue.seat_id, "blue", 1, 1, 1, 1)
    outbox = services.apply_move(1, red.seat_id, "red", 1, 1)

    assert outbox.messages["red"] == [proto.move_rejected(rules.REASON_OCCUPIED)]


def test_a_position_one_move_behind_takes_the_other_process_move_without_a_rebuild(settings, monkeypatch):
    """With the players of a game on two processes, each process's cached
    position is one move behind at every move: it is brought up to date with
    the stored last move instead of being rebuilt from the board."""
    from django.db import transaction

    from games import rules
    from games.models import Game
    from matchmaking import move_store

    settings.HEX_MAX_CONNECTIONS_PER_IP = 0
    services.ensure_slots()
    red = services.matchmake(request(), "10.0.0.1", "red", "proc").identity
    blue = services.matchmake(request(), "10.0.0.2", "blue", "proc").identity
    services.apply_move(1, red.seat_id, "red", 0, 0)
    services.apply_move(1, blue.seat_id, "blue", 1, 1)
    with transaction.atomic():  # "another process" stores move 3
        services._apply_move_orm(1, red.seat_id, "red", 2, 2, 2, 2)

    def no_rebuild(cls, rows):
        raise AssertionError("the position was rebuilt from the stored board")

    monkeypatch.setattr(rules.Board, "from_rows", classmethod(no_rebuild))
    rejected = services.apply_move(1, blue.seat_id, "blue", 2, 2)
    accepted = services.apply_move(1, blue.seat_id, "blue", 3, 3)

    assert rejected.messages["blue"] == [proto.move_rejected(rules.REASON_OCCUPIED)]
    assert accepted.messages["blue"][0]["type"] == "move"
    game = Game.objects.get(slot=1)
    count, position = move_store._positions[game.id]
    assert count == game.move_count == 4
    assert position.board.rows() == game.board


def test_a_cached_position_is_never_advanced_over_a_swap(settings):
    """The second move may be a swap, which moves the opening stone instead of
    placing one: a position one move behind at that point is rebuilt."""
    from django.db import transaction

    from games import rules
    from games.models import Game
    from matchmaking import move_store

    settings.HEX_MAX_CONNECTIONS_PER_IP = 0
    services.ensure_slots()
    swap_game = proto.MatchRequest(board_size=7, series_length=1, first_player=-1, model_name="", username="",
                                   swap=True)
    red = services.matchmake(swap_game, "10.0.0.1", "red", "proc").identity
    blue = services.matchmake(swap_game, "10.0.0.2", "blue", "proc").identity
    services.apply_move(1, red.seat_id, "red", 0, 1)
    with transaction.atomic():  # "another process" swaps: blue's stone now stands at (1, 0)
        services.apply_swap(1, blue.seat_id, "blue")
    freed = services.apply_move(1, red.seat_id, "red", 0, 1)  # the opening stone's cell is empty again

    assert freed.messages["red"][0]["type"] == "move"
    game = Game.objects.get(slot=1)
    assert move_store._positions[game.id][1].board.rows() == game.board
    assert game.board[0][1] == rules.BLUE and game.board[1][0] == rules.RED
