"""Matchmakers pair on their own server process first (``matchmaking.local_pairing``).

A waiter "on another process" is a seat written with another process id; this
process is told another worker is alive. Services are called directly for
their rules, and through ``WebsocketCommunicator`` for the holding back.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from matchmaking import local_pairing, runtime, services
from matchmaking import protocol as proto
from matchmaking.models import Seat, Slot
from tests.integration.helpers import BLUE, RED, WS, matchmake, matchmake_path, run

pytestmark = pytest.mark.django_db(transaction=True)

HERE, ELSEWHERE = "this-process", "another-process"
REQUEST = proto.MatchRequest(board_size=7, series_length=1, first_player=RED, model_name="m", username="")


@pytest.fixture(autouse=True)
def _two_workers(settings, monkeypatch):
    settings.HEX_SWEEP_INTERVAL = 60.0  # the sweeper would release the other process's seats as orphans
    monkeypatch.setattr(runtime, "PROCESS_ID", HERE)
    monkeypatch.setattr(runtime, "other_workers_alive", lambda: True)
    local_pairing._arrivals.clear()  # newcomers of earlier tests count as recent arrivals


def seat(process_id: str, channel: str, request: proto.MatchRequest = REQUEST, **kwargs) -> services.Outbox:
    services.ensure_slots()
    return services.matchmake(request, "127.0.0.1", channel, process_id, **kwargs)


def waited(slot_id: int, seconds: float) -> None:
    Slot.objects.filter(id=slot_id).update(updated_at=timezone.now() - timedelta(seconds=seconds))


# -- the service's rules ---------------------------------------------------------------------------------------


def test_any_pairing_takes_the_lowest_waiting_slot_wherever_its_owner_is():
    seat(ELSEWHERE, "remote")
    seat(HERE, "local", proto.MatchRequest(7, 1, RED, "m", "", swap=True))  # slot 2, other options
    seat(HERE, "local-7")  # joins slot 1: the reference's rule
    assert Seat.objects.get(channel_name="local-7").slot_id == 1


def test_here_first_prefers_a_waiter_on_this_process_to_a_lower_slot_elsewhere():
    seat(ELSEWHERE, "remote")
    seat(HERE, "local", pairing=services.Pairing.HERE_ONLY)  # opens slot 2 despite slot 1 waiting
    joined = seat(HERE, "newcomer", pairing=services.Pairing.HERE_FIRST, hold_for=5.0)
    assert joined.identity.slot_id == 2 and joined.identity.player == BLUE
    assert Slot.objects.get(id=1).state == Slot.State.WAITING


def test_a_fresh_waiter_elsewhere_holds_the_newcomer_back_unseated():
    seat(ELSEWHERE, "remote")
    waited(1, 1.0)
    held = seat(HERE, "newcomer", pairing=services.Pairing.HERE_FIRST, hold_for=5.0)
    assert held.identity is None and held.messages == {}
    assert 3.9 < held.held_for <= 4.0  # the rest of the five seconds
    assert not Seat.objects.filter(channel_name="newcomer").exists()
    assert Slot.objects.get(id=1).state == Slot.State.WAITING


def test_a_waiter_elsewhere_that_waited_the_whole_hold_is_joined_at_once():
    seat(ELSEWHERE, "remote")
    waited(1, 6.0)
    joined = seat(HERE, "newcomer", pairing=services.Pairing.HERE_FIRST, hold_for=5.0)
    assert joined.identity.slot_id == 1 and joined.identity.player == BLUE
    assert "game_start" in [m["type"] for m in joined.messages["remote"]]


def test_a_hold_is_reported_even_when_the_search_first_expired_seats():
    """The chores' outbox carried the seat over but dropped the hold, and a
    held connection then counted as seated with no seat at all."""
    seat(ELSEWHERE, "remote")
    gone = seat(HERE, "gone", proto.MatchRequest(9, 1, RED, "m", "")).identity
    services.disconnect_seat(gone.slot_id, gone.seat_id, "gone")
    Seat.objects.filter(id=gone.seat_id).update(reconnect_deadline=timezone.now() - timedelta(seconds=1))
    held = seat(HERE, "newcomer", pairing=services.Pairing.HERE_FIRST, hold_for=5.0)
    assert held.identity is None and held.held_for is not None
    assert Slot.objects.get(id=gone.slot_id).state == Slot.State.EMPTY  # the expiry itself happened


def test_a_pair_of_newcomers_is_seated_in_one_slot_here_in_one_call():
    seat(ELSEWHERE, "remote")
    first, second = services.matchmake_pair((REQUEST, "10.0.0.1", "first"), (REQUEST, "10.0.0.2", "second"), HERE)
    assert (first.identity.slot_id, first.identity.player) == (2, RED)
    assert (second.identity.slot_id, second.identity.player) == (2, BLUE)
    assert [m["type"] for m in first.messages["first"]] == ["joined", "waiting_for_opponent"]
    assert "game_start" in [m["type"] for m in second.messages["first"]]
    assert Slot.objects.get(id=1).state == Slot.State.WAITING


def test_a_pair_whose_second_is_refused_leaves_the_first_seated(settings):
    settings.HEX_MAX_CONNECTIONS_PER_IP = 1
    services.ensure_slots()
    first, second = services.matchmake_pair((REQUEST, "10.0.0.1", "first"), (REQUEST, "10.0.0.1", "second"), HERE)
    assert second is None
    assert Seat.objects.get(channel_name="first").slot_id == first.identity.slot_id
    assert not Seat.objects.filter(channel_name="second").exists()


# -- holding back, through the consumers -----------------------------------------------------------------------


async def _remote_waiter() -> None:
    await runtime.ensure_started()
    await database_sync_to_async(seat)(ELSEWHERE, "remote")


async def _held_newcomer() -> WS:
    """A /ws/matchmake newcomer (board 7, best of 1), once this process holds it back."""
    held = local_pairing.held_count()
    newcomer = await WS(matchmake_path(7, 1)).connect()
    await _until_held(held + 1)
    return newcomer


async def _until_held(count: int) -> None:
    for _ in range(500):
        if local_pairing.held_count() == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{local_pairing.held_count()} newcomers held, expected {count}")


def test_two_newcomers_here_play_each_other_while_a_waiter_elsewhere_keeps_waiting(settings):
    settings.HEX_MATCHMAKING_LOCAL_WAIT = 30.0  # far longer than the test: only a partner ends the hold

    async def scenario():
        await _remote_waiter()
        first = await _held_newcomer()
        await first.silent()
        second = await matchmake(7, 1)
        first.joined = await first.expect("joined")
        # The first to come owns the new slot, as a first newcomer always does.
        assert first.joined["player"] == RED and first.joined["slot_id"] == 2
        await first.expect("waiting_for_opponent")
        assert second.joined["player"] == BLUE and second.joined["slot_id"] == 2
        assert await first.expect("game_start") == await second.expect("game_start")
        assert local_pairing.held_count() == 0
        await first.close()
        await second.close()

    run(scenario())
    assert Slot.objects.get(id=1).state == Slot.State.WAITING
    assert Seat.objects.get(slot_id=1).channel_name == "remote"


def test_a_held_newcomer_whose_client_leaves_is_forgotten_and_nobody_plays_it(settings):
    """Its client closes during the hold: the next newcomer is held in turn
    instead of being paired with a connection that has gone, and neither the
    gone one nor the waiter elsewhere is seated."""
    settings.HEX_MATCHMAKING_LOCAL_WAIT = 30.0  # far longer than the test: only a partner ends a hold

    async def scenario():
        await _remote_waiter()
        leaver = await _held_newcomer()
        await leaver.close()
        await _until_held(0)
        assert await leaver.comm.receive_nothing(0.1)  # no joined, no error: it had gone
        second = await _held_newcomer()
        await second.silent()  # held, not joined to the leaver's ghost
        third = await matchmake(7, 1)
        assert third.joined["player"] == BLUE
        second.joined = await second.expect("joined")
        assert second.joined["slot_id"] == third.joined["slot_id"] == 2
        await second.close()
        await third.close()

    run(scenario())
    assert Slot.objects.get(id=1).state == Slot.State.WAITING
    assert Seat.objects.get(slot_id=1).channel_name == "remote"
    assert Seat.objects.filter(slot_id=2).count() == 2


def test_a_message_a_held_newcomer_sends_is_answered_once_it_is_seated(settings):
    settings.HEX_MATCHMAKING_LOCAL_WAIT = 30.0

    async def scenario():
        await _remote_waiter()
        early = await _held_newcomer()
        await early.send("ping")  # read ahead during the hold, handled after the seat is taken
        await early.silent()
        partner = await matchmake(7, 1)
        assert [(await early.recv())["type"] for _ in range(4)] == ["joined", "waiting_for_opponent", "game_start",
                                                                    "pong"]
        await early.close()
        await partner.close()

    run(scenario())


def test_a_newcomer_with_no_partner_here_joins_the_waiter_elsewhere_when_the_hold_ends(settings):
    settings.HEX_MATCHMAKING_LOCAL_WAIT = 1.0  # one newcomer a second makes a partner likely enough

    async def scenario():
        await _remote_waiter()
        loop = asyncio.get_running_loop()
        began = loop.time()
        newcomer = await matchmake(7, 1)
        assert loop.time() - began >= 0.8  # held for most of the second (the waiter is a little older)
        assert newcomer.joined["slot_id"] == 1 and newcomer.joined["player"] == BLUE
        await newcomer.expect("game_start")
        assert local_pairing.held_count() == 0
        await newcomer.close()

    run(scenario())
    assert Slot.objects.get(id=1).state == Slot.State.FULL


def test_newcomers_too_rare_here_for_a_partner_are_not_held(settings, monkeypatch):
    settings.HEX_MATCHMAKING_LOCAL_WAIT = 0.1  # a partner likely only at ten newcomers a second or more
    holds = []

    def matchmake_spy(*args, **kwargs):
        holds.append(args[6] if len(args) > 6 else kwargs.get("hold_for", 0.0))
        return real_matchmake(*args, **kwargs)

    real_matchmake = services.matchmake
    monkeypatch.setattr(services, "matchmake", matchmake_spy)

    async def scenario():
        await _remote_waiter()
        holds.clear()  # the waiter's own call
        newcomer = await matchmake(7, 1)
        assert newcomer.joined["slot_id"] == 1 and newcomer.joined["player"] == BLUE
        await newcomer.close()

    run(scenario())
    assert holds == [0.0]  # searched once, never allowed to hold


def test_with_no_other_worker_alive_nobody_is_held(settings, monkeypatch):
    settings.HEX_MATCHMAKING_LOCAL_WAIT = 30.0
    monkeypatch.setattr(runtime, "other_workers_alive", lambda: False)

    async def scenario():
        await _remote_waiter()
        newcomer = await matchmake(7, 1)
        assert newcomer.joined["slot_id"] == 1
        await newcomer.close()

    run(scenario())
