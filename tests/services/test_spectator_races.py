"""On PostgreSQL, a commit racing a spectator who registers reaches that
spectator or is in the snapshot it reads next: never neither.

The spectator registers under its slot's row lock. A move or seat change
that started waiting for that lock before the registration committed must
still see the spectator once it holds the lock. Read in the same statement
as the lock, from another table, it would not: under READ COMMITTED that
statement keeps the snapshot it started with, so the move would go to
nobody while the spectator's snapshot, read before the move committed,
did not hold it either.
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

request = proto.MatchRequest(board_size=7, series_length=1, first_player=rules.RED, model_name="m", username="")
seats = {}
for channel in ("red", "blue"):
    identity = services.matchmake(request, "127.0.0.1", channel, "test").identity
    seats[identity.player] = (identity, channel)
red, red_channel = seats[rules.RED]
blue, blue_channel = seats[rules.BLUE]
slot_id = red.slot_id


def raced(call):
    # ``call`` starts while a spectator's registration holds the slot's lock,
    # and goes on once the registration committed.
    registered, release = threading.Event(), threading.Event()
    result = {}

    def register():
        with transaction.atomic():
            spectators.add_watcher(slot_id, f"spectator-{time.monotonic()}", "test")
            registered.set()
            release.wait(10)
        connection.close()

    def run_call():
        result["outbox"] = call()
        connection.close()

    holder = threading.Thread(target=register)
    holder.start()
    registered.wait(10)
    caller = threading.Thread(target=run_call)
    caller.start()
    # Until the call waits for the lock (seen from this thread's own connection).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                break
        time.sleep(0.01)
    else:
        raise SystemExit("the call never waited for the slot's lock")
    release.set()
    holder.join(10)
    caller.join(10)
    return result["outbox"]


move = raced(lambda: services.apply_move(slot_id, red.seat_id, red_channel, 0, 0))
leave = raced(lambda: services.disconnect_seat(slot_id, blue.seat_id, blue_channel))
print(json.dumps({
    "move_to_spectators": [m["type"] for m in move.watch.get(slot_id, [])],
    "seats_refreshed": sorted(leave.refresh_watchers),
}))
"""


def test_a_commit_racing_a_new_spectator_reaches_it(postgres_database):
    result = run_script(SCRIPT, postgres_database)
    assert result["move_to_spectators"] == ["move"]
    assert result["seats_refreshed"] == [1]
