"""Micro benchmark of the move service alone: no sockets, no event loop.

    python bench/move_path.py [--moves 20000] [--database-url sqlite:////tmp/x.sqlite3]

Seats two players in a fresh database and plays random games by calling
``services.apply_move`` directly, then prints the CPU time per accepted move
(this thread's CPU clock, so other load on the machine barely moves it) and
the wall time. It isolates what the database work of a move costs, the part
every server process serialises on its one ORM thread.
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
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20_000)
    parser.add_argument("--board-size", type=int, default=11)
    parser.add_argument("--database-url", help="default: a new SQLite file")
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
    from games import rules
    from matchmaking import protocol as proto
    from matchmaking import services

    services.ensure_slots()
    rng = random.Random(1)
    request = proto.MatchRequest(board_size=args.board_size, series_length=9, first_player=rules.RED,
                                 model_name="bench", username="")
    accepted = 0
    cpu = wall = 0.0
    while accepted < args.moves:
        seats = {}
        for channel in ("red-channel", "blue-channel"):
            outbox = services.matchmake(request, "127.0.0.1", channel, "bench-process")
            seats[outbox.identity.player] = (outbox.identity, channel)
        slot_id = seats[rules.RED][0].slot_id
        board, turn, over = rules.Board(args.board_size), rules.RED, False
        while not over and accepted < args.moves:
            identity, channel = seats[turn]
            q, r = rng.choice(list(board.empty_cells()))
            started_cpu, started = time.thread_time(), time.perf_counter()
            outbox = services.apply_move(slot_id, identity.seat_id, channel, q, r)
            cpu += time.thread_time() - started_cpu
            wall += time.perf_counter() - started
            accepted += 1
            winner = board.place(turn, q, r)
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
            services.disconnect_seat(identity.slot_id, identity.seat_id, channel)
    print(f"database        {os.environ['HEX_DATABASE_URL'].split(':')[0]}")
    print(f"moves           {accepted}")
    print(f"cpu per move    {cpu / accepted * 1e6:.0f} µs (this thread)")
    print(f"wall per move   {wall / accepted * 1e6:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
