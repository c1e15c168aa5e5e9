"""On PostgreSQL, moves that wait at the same time are applied in one
transaction on the event loop (``loop_batches.apply_moves``): each still gets
the answer it would have had alone, and every accepted move is stored once,
in order."""

from __future__ import annotations

from tests.support.django_script import run_script

SCRIPT = r"""
import asyncio
import threading

from django.db import connection, connections
from games import rules
from games.models import Game, Move, Series
from matchmaking import loop_batches, move_store, protocol as proto, services

loop = asyncio.new_event_loop()
loop_connections = loop_batches.LoopConnections()


def apply_moves(requests, committed=lambda results: None):
    return loop.run_until_complete(loop_batches.apply_moves(loop_connections, requests, committed))


def in_thread(query):
    # A query from the event loop, as a database thread would run it.
    result = []

    def run():
        result.append(query())
        connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]

request = proto.MatchRequest(board_size=7, series_length=1, first_player=rules.RED, model_name="m", username="")


def new_game(name):
    seats = {}
    for colour in ("red", "blue"):
        channel = f"{name}-{colour}"
        identity = services.matchmake(request, f"10.0.0.{len(calls) + ord(name)}", channel, "test").identity
        seats[identity.player] = (identity.slot_id, identity.seat_id, channel)
    return seats[rules.RED], seats[rules.BLUE]


def move(seat, q, r):
    return (*seat, q, r)


def answers(results):
    # Per request: the types of what its sender got, or the exception's name.
    out = []
    for (slot_id, seat_id, channel, q, r), result in zip(calls[-1], results):
        if isinstance(result, Exception):
            out.append(type(result).__name__)
        else:
            out.append([m["type"] for m in result.messages.get(channel, [])])
    return out


def apply(requests):
    calls.append(requests)
    return answers(apply_moves(requests))


calls = []
a_red, a_blue = new_game("a")
b_red, b_blue = new_game("b")
first = apply([
    move(a_red, 0, 0),
    move(a_blue, 0, 1),        # the same slot: applied after a_red's move, so it is blue's turn
    move(b_red, 0, 0),
    move(b_red, 1, 1),         # the same slot again: no longer red's turn
    move(b_blue, "x", 1),      # malformed
    (999_999, 1, "nobody", 1, 1),  # no such slot
])
fix_b = apply([move(b_blue, 0, 1)])
later = []
for k in range(1, 7):
    if k == 3:
        move_store.forget_positions()  # as if another process had moved: boards are read back
    later.append(apply([move(a_red, k, 0), move(b_red, k, 0)]))
    if k < 6:
        later.append(apply([move(a_blue, k, 1), move(b_blue, k, 1)]))

# The event loop's batch connections plan each statement once, as a batch on
# a thread does: their array parameters would otherwise be planned afresh
# for every batch (the transaction's settings, ``move_store._BEGIN``).
(batch_connection,) = loop_connections.idle
cursor = loop.run_until_complete(batch_connection.execute(
    "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements"))
loop_plans = {name: [generic, custom] for name, generic, custom in loop.run_until_complete(cursor.fetchall())}

games = []
for game in Game.objects.order_by("id"):
    moves = list(Move.objects.filter(game=game).order_by("number"))
    board = rules.Board(7)
    for m in moves:
        board.place(m.player, m.q, m.r)
    games.append({
        "moves": [[m.number, m.player, m.q, m.r] for m in moves],
        "board_matches": board.rows() == game.board,
        "winner": game.winner,
        "move_count": game.move_count,
        "timestamps_ordered": all(x.created_at <= y.created_at for x, y in zip(moves, moves[1:])),
    })
series_winners = sorted(s.winner for s in Series.objects.all())
with connection.cursor() as cursor:
    cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [Game._meta.db_table])
    games_table_options = cursor.fetchone()[0]

# A batch holding a game end: the batch's other moves are reported as soon
# as it commits, before the game end has run.
e_red, e_blue = new_game("e")
f_red, f_blue = new_game("f")
for k in range(6):
    apply([move(e_red, k, 0)])
    apply([move(e_blue, k, 1)])
calls.append([move(e_red, 6, 0), move(f_red, 0, 0)])
reported_early = []
e_winners = lambda: list(Game.objects.filter(slot__id=e_red[0]).values_list("winner", flat=True))
end_batch = answers(apply_moves(calls[-1], lambda results: reported_early.append(
    [sorted(results), in_thread(e_winners)])))

# A callback that fails (its event loop closed, say) costs no move its answer.
def closed_loop(results):
    raise RuntimeError("Event loop is closed")


calls.append([move(e_blue, 6, 1), move(f_blue, 0, 1)])
despite_callback = answers(apply_moves(calls[-1], closed_loop))

# Statements lost between batches: the batch fails, and each move is applied on its own.
c_red, c_blue = new_game("c")
d_red, d_blue = new_game("d")
idle_before_loss = len(loop_connections.idle)
for idle in loop_connections.idle:
    loop.run_until_complete(idle.execute("DEALLOCATE ALL"))
after_loss = apply([move(c_red, 3, 3), move(d_red, 3, 3)])
again = apply([move(c_blue, 4, 4), move(d_blue, 4, 4)])

# A position evicted from the cache between the batch's read and its moves:
# the batch did not read that board, so the move takes the ORM path.
begin = move_store.begin_batch_on_loop


async def begin_then_evict(*args):
    batch = await begin(*args)
    move_store.forget_positions()
    return batch

move_store.begin_batch_on_loop = begin_then_evict
evicted = apply([move(c_red, 5, 5), move(d_red, 5, 5)])
move_store.begin_batch_on_loop = begin

# PostgreSQL ends the batch connection (an administrator, a restart): the
# batch is refused, so its moves are tried one at a time, and the next batch
# connects afresh.
(backend_pid,) = [idle.info.backend_pid for idle in loop_connections.idle]
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [backend_pid])  # returns once it is gone
terminated = apply([move(c_blue, 5, 6), move(d_blue, 5, 6)])
reconnected = apply([move(c_red, 0, 6), move(d_red, 0, 6)])
new_backend = [idle.info.backend_pid != backend_pid for idle in loop_connections.idle]
c_d_moves = sorted([m.number, m.q, m.r] for m in Move.objects.filter(game__slot__in=[c_red[0], d_red[0]]))

# The database cannot be reached: every move hears so at once, without a try
# of its own (each would wait for the same failure), but a malformed move
# still gets its refusal.
for idle in loop_connections.idle:
    loop.run_until_complete(idle.close())
connection.settings_dict["PORT"] = 1  # nothing listens there
one_at_a_time = []
alone = services.apply_move
services.apply_move = lambda *request: one_at_a_time.append(request[3:]) or alone(*request)
unreachable = apply([move(c_red, 6, 6), move(d_red, 6, 6), move(c_blue, "x", 5)])

print(json.dumps({
    "first": first, "fix_b": fix_b, "later": later, "games": games, "series_winners": series_winners,
    "games_table_options": games_table_options, "loop_plans": loop_plans, "reported_early": reported_early,
    "end_batch": end_batch,
    "despite_callback": despite_callback,
    "idle_before_loss": idle_before_loss, "after_loss": after_loss, "again": again, "evicted": evicted,
    "terminated": terminated, "reconnected": reconnected, "new_backend": new_backend,
    "c_d_moves": c_d_moves, "unreachable": unreachable, "one_at_a_time": one_at_a_time,
}))
"""


def test_a_batch_of_moves_answers_each_as_alone_and_stores_each_once(postgres_database):
    result = run_script(SCRIPT, postgres_database)

    assert result["first"] == [["move"], ["move"], ["move"], ["move_rejected"], ["move_rejected"], "ServiceError"]
    # Every later call: both moves accepted; the last red moves win both games.
    assert result["later"][:-1] == [[["move"], ["move"]]] * 10
    assert [kinds[:2] for kinds in result["later"][-1]] == [["move", "game_over"], ["move", "game_over"]]

    assert result["fix_b"] == [["move"]]
    expected = [[1, -1, 0, 0], [2, 1, 0, 1]] + [
        row for k in range(1, 7) for row in ([2 * k + 1, -1, k, 0], [2 * k + 2, 1, k, 1])][:11]
    game_a, game_b = result["games"][:2]
    assert game_a["moves"] == expected
    assert game_b["moves"] == expected
    for game in (game_a, game_b):
        assert game["board_matches"], "the stored board is the position of the stored moves"
        assert game["winner"] == -1 and game["move_count"] == len(game["moves"])
        assert game["timestamps_ordered"]
    assert result["series_winners"] == [-1, -1]
    plans = result["loop_plans"]
    assert plans["hex_contexts"][0] >= 10 and plans["hex_write_moves"][0] >= 10
    assert all(custom == 0 for _generic, custom in plans.values()), plans
    # Room on each page for a game row's next version, which can then be
    # written without new index entries (games/migrations/0004).
    assert result["games_table_options"] == ["fillfactor=50"]

    # Only the ordinary move was reported at the commit, and game e was not yet won then.
    assert result["reported_early"] == [[[1], [None]]]
    assert [kinds[:2] for kinds in result["end_batch"]] == [["move", "game_over"], ["move"]]
    # e's series is over (its move is refused), f's move goes through.
    assert result["despite_callback"][1] == ["move"]

    assert result["idle_before_loss"] == 1, "batches one after the other share one connection"
    assert result["after_loss"] == [["move"], ["move"]]
    assert result["again"] == [["move"], ["move"]]
    assert result["evicted"] == [["move"], ["move"]]
    assert result["terminated"] == [["move"], ["move"]]
    assert result["reconnected"] == [["move"], ["move"]]
    assert result["new_backend"] == [True]
    assert result["c_d_moves"] == [[1, 3, 3], [1, 3, 3], [2, 4, 4], [2, 4, 4], [3, 5, 5], [3, 5, 5],
                                   [4, 5, 6], [4, 5, 6], [5, 0, 6], [5, 0, 6]]

    assert result["unreachable"] == ["OperationalError", "OperationalError", ["move_rejected"]]
    assert result["one_at_a_time"] == [["x", 5]]
