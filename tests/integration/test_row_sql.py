"""The plain-SQL rows of the services' busy paths read and write exactly what
the ORM would: every field, JSON and times and booleans included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from games import rules
from games.models import Game, Move, Series
from matchmaking import row_sql
from matchmaking.models import BotToken, Seat, Slot

pytestmark = pytest.mark.django_db


def new_series(**fields) -> Series:
    return row_sql.insert(Series(slot_id=1, board_size=7, series_length=3, player_1_model="red-bot",
                                 final_board=[[0, 1], [-1, 0]], **fields))


def test_an_inserted_row_reads_back_through_the_orm_with_every_field():
    series = new_series(swap=True, time_control="fischer:60:2")
    game = row_sql.insert(Game(series=series, number=1, first_turn=rules.RED, current_turn=rules.RED,
                               board=rules.Board(7).rows(), clock_ms={"1": 60000, "-1": 60000}))
    move = row_sql.insert(Move(game=game, number=1, player=rules.RED, q=3, r=4))

    stored = Series.objects.get(pk=series.pk)
    assert (stored.swap, stored.time_control, stored.final_board) == (True, "fischer:60:2", [[0, 1], [-1, 0]])
    assert stored.started_at is not None and abs(stored.started_at - timezone.now()) < timedelta(minutes=1)
    stored_game = Game.objects.get(pk=game.pk)
    assert stored_game.board == rules.Board(7).rows() and stored_game.clock_ms == {"1": 60000, "-1": 60000}
    # The ids read back are the rows' own.
    assert Move.objects.get(pk=move.pk).game_id == game.pk and stored_game.series_id == series.pk
    assert Move.objects.get(pk=move.pk).kind == Move.Kind.PLACE


def test_update_writes_only_the_named_fields_and_auto_now_with_the_whole_row():
    slot = Slot.objects.create(id=1)
    before = Slot.objects.get(pk=1).updated_at
    slot.state, slot.board_size = Slot.State.WAITING, 9
    row_sql.update(slot, ["board_size"])
    stored = Slot.objects.get(pk=1)
    assert (stored.state, stored.board_size, stored.updated_at) == (Slot.State.EMPTY, 9, before)

    row_sql.update(slot)
    stored = Slot.objects.get(pk=1)
    assert stored.state == Slot.State.WAITING and stored.updated_at > before


def test_locked_slot_attaches_its_series_and_game_without_a_reference_cycle(django_assert_num_queries):
    series = new_series()
    game = row_sql.insert(Game(series=series, number=1, first_turn=rules.BLUE, current_turn=rules.BLUE,
                               board=rules.Board(7).rows()))
    Slot.objects.create(id=1, state=Slot.State.FULL, board_size=7, series=series, game=game)

    with django_assert_num_queries(1):
        slot = row_sql.locked_slot(1)
        assert slot.series.player_1_model == "red-bot" and slot.game.first_turn == rules.BLUE
        assert slot.game.board == rules.Board(7).rows()
    assert not Game.slot.is_cached(slot.game)  # no reverse cache back to the slot


def test_locked_slot_with_seats_reads_the_slot_and_its_seats():
    series = new_series()
    Slot.objects.create(id=1, state=Slot.State.FULL, board_size=7, series=series)
    Slot.objects.create(id=2)
    for player, token in ((rules.RED, "a"), (rules.BLUE, "b")):
        row_sql.insert(Seat(slot_id=1, player=player, token_hash=token * 64, model_name=f"bot-{token}"))

    slot, seats = row_sql.locked_slot_with_seats(1)
    assert slot.series.player_1_model == "red-bot" and slot.game is None
    assert {player: seat.model_name for player, seat in seats.items()} == {rules.RED: "bot-a", rules.BLUE: "bot-b"}
    assert seats == row_sql.seats_of(1)
    free, no_seats = row_sql.locked_slot_with_seats(2)
    assert free.id == 2 and no_seats == {}
    assert row_sql.locked_slot_with_seats(3) == (None, {})
    assert row_sql.locked_slot_with_seats(10**30) == (None, {})


def test_locked_slot_of_a_free_slot_a_missing_one_or_an_absurd_number():
    Slot.objects.create(id=1)
    assert row_sql.locked_slot(1).series is None and row_sql.locked_slot(1).game is None
    assert row_sql.locked_slot(2) is None
    assert row_sql.locked_slot(10**30) is None


def test_seats_and_the_matchmaking_reads():
    slot = Slot.objects.create(id=1, state=Slot.State.WAITING, board_size=9, series_length=3)
    Slot.objects.create(id=2)
    now = timezone.now()
    row_sql.insert(Seat(slot=slot, player=rules.RED, token_hash="a" * 64, client_ip="10.0.0.1",
                        origin=Seat.Origin.MATCHMAKE, connected=False, reconnect_deadline=now - timedelta(seconds=1)))
    seats = row_sql.seats_of(1)
    assert list(seats) == [rules.RED] and seats[rules.RED].connected is False
    assert row_sql.slots_with_expired_seats(now) == [1]
    assert row_sql.slots_with_expired_seats(now - timedelta(seconds=2)) == []
    # What a matchmaker checks first, in one statement: slots beyond the two are missing.
    assert row_sql.matchmaking_chores(2, now) == (False, [1])
    assert row_sql.matchmaking_chores(3, now - timedelta(seconds=2)) == (True, [])
    # Its owner is away: nobody is paired into it, and it is not empty either.
    assert row_sql.waiting_slot(10, 9, 3, False, "", owner=rules.RED) is None
    assert row_sql.empty_slot(10).id == 2
    assert row_sql.empty_slot(1) is None
    assert row_sql.connected_seats_from("10.0.0.1", Seat.Origin.MATCHMAKE) == 0

    Seat.objects.filter(slot_id=1).update(connected=True)
    assert row_sql.waiting_slot(10, 9, 3, False, "", owner=rules.RED).id == 1
    assert row_sql.waiting_slot(10, 9, 3, True, "", owner=rules.RED) is None  # other options never pair
    assert row_sql.connected_seats_from("10.0.0.1", Seat.Origin.MATCHMAKE) == 1
    row_sql.delete_seats(1)
    assert row_sql.seats_of(1) == {}


def test_identity_reserved_ignores_case_and_revoked_tokens():
    BotToken.objects.create(username="Alice", model_name="Hexy", token_hash="b" * 64)
    BotToken.objects.create(username="bob", model_name="old", token_hash="c" * 64, revoked=True)
    assert row_sql.identity_reserved("hexy", "ALICE")
    assert not row_sql.identity_reserved("hexy", "alic%")
    assert not row_sql.identity_reserved("old", "bob")


def test_the_lowest_empty_slot_is_one_index_seek_however_many_slots_are_empty():
    """With an index on the state alone, SQLite read every empty slot and
    sorted them to find the lowest: each matchmake cost O(slots)."""
    from django.db import connection

    Slot.objects.bulk_create([Slot(id=i, state=Slot.State.FULL if i <= 3 else Slot.State.EMPTY)
                              for i in range(1, 2001)])
    assert row_sql.empty_slot(2000).id == 4
    sql = f"SELECT s.id FROM {Slot._meta.db_table} s WHERE s.id <= %s AND s.state = %s ORDER BY s.id LIMIT 1"
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, [2000, Slot.State.EMPTY.value])
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "slot_state_id" in plan and "TEMP B-TREE" not in plan, plan
