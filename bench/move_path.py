"""Micro benchmark of the move service alone: no sockets, no event loop.

    python bench/move_path.py [--moves 20000] [--database-url sqlite:////tmp/x.sqlite3]

Seats two players in a fresh database and plays random games by calling
``services.apply_move`` directly, then prints the CPU time per accepted move
(this thread's CPU clock, so other load on the machine barely moves it) and
the wall time. It isolates what the database work of a move costs, the part
every server process serialises on its one ORM thread.

It also prints what the rarer calls of a series cost, with their queries:
a matchmake, a move that ends a game, and a leave. Under load they run
between the moves, so each one delays every game on the process.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The first calls of each kind count their queries; the rest are timed.
QUERY_COUNTED_CALLS = 10
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20_000)
    parser.add_argument("--board-size", type=int, default=11)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--series-length", type=int, default=9)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hexbench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hexsite.settings")
    os.environ["HEX_DATA_DIR"] = str(workdir)
    os.environ["HEX_DATABASE_URL"] = args.database_url or f"sqlite:///{workdir / 'arena.sqlite3'}"
    os.environ["HEX_LOG_LEVEL"] = "WARNING"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from games import rules
    from matchmaking import protocol as proto
    from matchmaking import services

    services.ensure_slots()
    rng = random.Random(1)
    request = proto.MatchRequest(board_size=args.board_size, series_length=args.series_length,
                                 first_player=rules.RED, model_name="bench", username="")
    # Per kind: calls timed, their CPU seconds, calls counted, their queries.
    calls: dict[str, list[float]] = {kind: [0, 0, 0, 0] for kind in ("matchmake", "game-ending move", "leave")}

    def timed(kind: str, func, *func_args):
        """``func(*func_args)``: its queries counted in the first few calls of
        each kind, its CPU time in the others (capturing queries forces
        Django's debug cursor, which costs more than the queries)."""
        figures = calls[kind]
        if figures[2] < QUERY_COUNTED_CALLS:
            with CaptureQueriesContext(connection) as queries:
                result = func(*func_args)
            figures[2] += 1
            figures[3] += len(queries)
            return result
        started_cpu = time.thread_time()
        result = func(*func_args)
        figures[0] += 1
        figures[1] += time.thread_time() - started_cpu
        return result

    accepted = 0
    cpu = wall = 0.0
    while accepted < args.moves:
        seats = {}
        for channel in ("red-channel", "blue-channel"):
            outbox = timed("matchmake", services.matchmake, request, "127.0.0.1", channel, "bench-process")
            seats[outbox.identity.player] = (outbox.identity, channel)
        slot_id = seats[rules.RED][0].slot_id
        board, turn, over = rules.Board(args.board_size), rules.RED, False
        while not over and accepted < args.moves:
            identity, channel = seats[turn]
            q, r = rng.choice(list(board.empty_cells()))
            winner = board.place(turn, q, r)
            if winner is not None:
                outbox = timed("game-ending move", services.apply_move, slot_id, identity.seat_id, channel, q, r)
            else:
                started_cpu, started = time.thread_time(), time.perf_counter()
                outbox = services.apply_move(slot_id, identity.seat_id, channel, q, r)
                cpu += time.thread_time() - started_cpu
                wall += time.perf_counter() - started
                accepted += 1
            sent = [m["type"] for m in outbox.messages.get(channel, [])]
            if "series_over" in sent:
                over = True
            elif winner is not None:
                board, turn = rules.Board(args.board_size), None
                start = next(m for m in outbox.messages[channel] if m["type"] == "game_start")
                turn = start["payload"]["first_turn"]
            else:
                turn = rules.opponent(turn)
        for identity, channel in seats.values():
            timed("leave", services.disconnect_seat, identity.slot_id, identity.seat_id, channel)
    print(f"database        {os.environ['HEX_DATABASE_URL'].split(':')[0]}")
    print(f"moves           {accepted} ordinary")
    print(f"cpu per move    {cpu / accepted * 1e6:.0f} µs (this thread)")
    print(f"wall per move   {wall / accepted * 1e6:.0f} µs")
    for kind, (count, seconds, counted, queries) in calls.items():
        if count:
            print(f"{kind:16s}{seconds / count * 1e6:6.0f} µs cpu (mean of {count:.0f}), "
                  f"{queries / counted:4.1f} queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
