"""The matchmaker's pairing rules on PostgreSQL, where its slot search locks
rows in SQL of its own (``row_sql.waiting_slot`` with ``owner_process``)."""

from __future__ import annotations

import pytest

from tests.support.django_script import run_script

pytestmark = pytest.mark.services

SCRIPT = r"""
from datetime import timedelta
from django.utils import timezone
from games import rules
from matchmaking import protocol as proto, services
from matchmaking.models import Seat, Slot

request = proto.MatchRequest(board_size=7, series_length=1, first_player=rules.RED, model_name="m", username="")
HERE, ELSEWHERE = "this-process", "another-process"

def call(process_id, channel, **kwargs):
    return services.matchmake(request, "127.0.0.1", channel, process_id, **kwargs)

remote = call(ELSEWHERE, "remote").identity
local = call(HERE, "local", pairing=services.Pairing.HERE_ONLY).identity
result = {"remote_slot": remote.slot_id, "local_slot": local.slot_id}
# While the waiter here is away, the fresh one elsewhere holds the newcomer back.
Seat.objects.filter(id=local.seat_id).update(connected=False)
held = call(HERE, "held", pairing=services.Pairing.HERE_FIRST, hold_for=5.0)
result["held"] = [held.identity is None, 0 < held.held_for <= 5.0]
Seat.objects.filter(id=local.seat_id).update(connected=True)
joined = call(HERE, "newcomer", pairing=services.Pairing.HERE_FIRST, hold_for=5.0).identity
result["here_first_joined"] = [joined.slot_id, joined.player == rules.BLUE]
Slot.objects.filter(id=remote.slot_id).update(updated_at=timezone.now() - timedelta(seconds=6))
late = call(HERE, "late", pairing=services.Pairing.HERE_FIRST, hold_for=5.0).identity
result["after_the_hold_joined"] = [late.slot_id, late.player == rules.BLUE]
first, second = services.matchmake_pair((request, "10.0.0.1", "p1"), (request, "10.0.0.2", "p2"), HERE)
result["pair"] = [first.identity.slot_id == second.identity.slot_id,
                  first.identity.slot_id in (remote.slot_id, local.slot_id),
                  first.identity.player == rules.RED, second.identity.player == rules.BLUE]
print(json.dumps(result))
"""


def test_matchmakers_prefer_waiters_on_their_own_process_and_hold_for_fresh_remote_ones(postgres_database):
    result = run_script(SCRIPT, postgres_database)
    remote, local = result["remote_slot"], result["local_slot"]
    assert local != remote
    assert result["here_first_joined"] == [local, True]  # blue, in the waiter's slot on this process
    assert result["held"] == [True, True]
    assert result["after_the_hold_joined"] == [remote, True]
    assert result["pair"] == [True, False, True, True]  # a new slot, the first newcomer its owner
