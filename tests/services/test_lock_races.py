"""On PostgreSQL, a call that waited for a slot's lock sees the slot as the
lock's holder left it: its seats, its spectators, its game.

Every service locks its slot's row and reads what it decides from. Read in
the same statement as the lock, the other tables would not do: under READ
COMMITTED a statement that waited for a row lock re-reads that row but
keeps the snapshot it started with for everything else. So:

- a move that waited for a reconnect sent its broadcast to the connection
  that had just gone;
- a leave that waited for the other player's leave kept a finished slot
  for two absent players;
- a resignation that waited for a move stored the series' final board
  without that move;
- a matchmaker that waited for a waiting player's leave paired with the
  player who had left;
- a move that waited for a spectator's registration went to nobody, while
  the spectator's snapshot, read before the move committed, missed it too.
"""

from __future__ import annotations

import pytest

from tests.support.django_script import run_script

pytestmark = pytest.mark.services

SCRIPT = r"""
import threading, time
from django.db import connection, transaction
from games import rules
from matchmaking import protocol as proto, services, spectators
from games.models import Series
from matchmaking.models import Slot

request = proto.MatchRequest(board_size=7, series_length=1, first_player=rules.RED, model_name="m", username="")


def seat_two():
    seats = {}
    for channel in (f"red-{time.monotonic()}", f"blue-{time.monotonic()}"):
        outbox = services.matchmake(request, "127.0.0.1", channel, "test")
        token = outbox.messages[channel][0]["payload"]["reconnect_token"]
        seats[outbox.identity.player] = (outbox.identity, channel, token)
    return seats[rules.RED], seats[rules.BLUE]


def raced(hold, call):
    # ``call`` starts while ``hold`` holds the slot's lock in a transaction
    # not yet committed, and goes on once it committed.
    holding, release = threading.Event(), threading.Event()
    result = {}

    def holder():
        with transaction.atomic():
            hold()
            holding.set()
            release.wait(10)
        connection.close()

    def caller():
        result["outbox"] = call()
        connection.close()

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    holding.wait(10)
    threads.append(threading.Thread(target=caller))
    threads[1].start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the call waits for the lock
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND datname = current_database()")
            if cursor.fetchone()[0]:
                break
        time.sleep(0.01)
    else:
        raise SystemExit("the call never waited for the slot's lock")
    release.set()
    for thread in threads:
        thread.join(10)
    return result["outbox"]


results = {}

# A move waits for a spectator's registration.
(red, red_channel, red_token), (blue, blue_channel, _) = seat_two()
slot_id = red.slot_id
move = raced(lambda: spectators.add_watcher(slot_id, "spectator-1", "test"),
             lambda: services.apply_move(slot_id, red.seat_id, red_channel, 0, 0))
results["move_to_spectators"] = [m["type"] for m in move.watch.get(slot_id, [])]

# A move waits for the opponent's reconnect: it goes to the new connection.
move = raced(lambda: services.reconnect_seat(slot_id, red_token, "red-again", "test"),
             lambda: services.apply_move(slot_id, blue.seat_id, blue_channel, 1, 1))
results["move_after_reconnect"] = {("blue" if channel == blue_channel else channel): [m["type"] for m in msgs]
                                  for channel, msgs in move.messages.items()}

# A leave waits for a spectator's registration: the spectator re-reads the seats.
leave = raced(lambda: spectators.add_watcher(slot_id, "spectator-2", "test"),
              lambda: services.disconnect_seat(slot_id, red.seat_id, "red-again"))
results["seats_refreshed"] = sorted(leave.refresh_watchers) == [slot_id]

# The series is over and both players leave at once: the last one frees the slot.
(red, red_channel, _), (blue, blue_channel, _) = seat_two()
services.resign(red.slot_id, red.seat_id, red_channel)
raced(lambda: services.disconnect_seat(red.slot_id, red.seat_id, red_channel),
      lambda: services.disconnect_seat(blue.slot_id, blue.seat_id, blue_channel))
results["finished_slot_after_both_left"] = Slot.objects.get(id=red.slot_id).state

# A resignation waits for a move: the series' final board holds that move.
(red, red_channel, _), (blue, blue_channel, _) = seat_two()
raced(lambda: services.apply_move(red.slot_id, red.seat_id, red_channel, 3, 3),
      lambda: services.resign(blue.slot_id, blue.seat_id, blue_channel))
final_board = Series.objects.get(id=Slot.objects.get(id=red.slot_id).series_id).final_board
results["final_board_has_the_move"] = final_board[3][3] == rules.RED

# A matchmaker waits for a waiting player's leave: it does not pair with the player who left.
alone = proto.MatchRequest(board_size=9, series_length=1, first_player=rules.RED, model_name="m", username="")
owner = services.matchmake(alone, "127.0.0.1", "owner", "test").identity
late = raced(lambda: services.disconnect_seat(owner.slot_id, owner.seat_id, "owner"),
             lambda: services.matchmake(alone, "127.0.0.1", "late", "test"))
results["matchmaker_after_owner_left"] = [m["type"] for m in late.messages["late"]]

print(json.dumps(results))
"""


def test_a_call_that_waited_for_the_slot_lock_sees_what_the_holder_committed(postgres_database):
    result = run_script(SCRIPT, postgres_database)
    assert result["move_to_spectators"] == ["move"]
    assert sorted(result["move_after_reconnect"].items()) == [("blue", ["move"]), ("red-again", ["move"])]
    assert result["seats_refreshed"] is True
    assert result["finished_slot_after_both_left"] == "empty"
    assert result["final_board_has_the_move"] is True
    assert result["matchmaker_after_owner_left"] == ["joined", "waiting_for_opponent"]
