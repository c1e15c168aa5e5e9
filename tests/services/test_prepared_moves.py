"""PostgreSQL keeps a move's statements prepared per connection, with one
generic plan each, and a connection that lost them prepares them again
instead of failing every move."""

from __future__ import annotations

from tests.support.django_script import run_script

SCRIPT = r"""
from django.db import connection
from games import rules
from games.models import Move
from matchmaking import protocol as proto, services

request = proto.MatchRequest(board_size=7, series_length=1, first_player=rules.RED, model_name="m", username="")
seats = {}
for channel in ("red", "blue"):
    identity = services.matchmake(request, "127.0.0.1", channel, "test").identity
    seats[identity.player] = (identity, channel)
red, red_channel = seats[rules.RED]
blue, blue_channel = seats[rules.BLUE]
services.apply_move(red.slot_id, red.seat_id, red_channel, 0, 0)
with connection.cursor() as cursor:
    cursor.execute("SELECT name, generic_plans, custom_plans FROM pg_prepared_statements")
    plans = {name: [generic, custom] for name, generic, custom in cursor.fetchall()}
connection.connection.execute("DEALLOCATE ALL")
try:
    services.apply_move(blue.slot_id, blue.seat_id, blue_channel, 1, 1)
    lost = "no error"
except Exception as exc:
    lost = type(exc).__name__
outbox = services.apply_move(blue.slot_id, blue.seat_id, blue_channel, 1, 1)
print(json.dumps({
    "plans": plans,
    "lost": lost,
    "answer": outbox.messages[blue_channel][0]["type"],
    "stored": [[m.number, m.q, m.r] for m in Move.objects.order_by("number")],
}))
"""


def test_move_statements_are_prepared_and_prepared_again_after_they_are_lost(postgres_database):
    result = run_script(SCRIPT, postgres_database)
    assert sorted(result["plans"]) == ["hex_boards", "hex_contexts", "hex_lock_slots", "hex_write_moves"]
    # Planned once, not per batch: left to itself PostgreSQL kept re-planning
    # the reads (their parameters are arrays of ids).
    assert result["plans"]["hex_contexts"] == [1, 0]
    assert all(custom == 0 for _generic, custom in result["plans"].values())
    assert result["lost"] == "InvalidSqlStatementName"  # that one move fails, and is not stored
    assert result["answer"] == "move"
    assert result["stored"] == [[1, 0, 0], [2, 1, 1]]
