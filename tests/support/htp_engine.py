"""A tiny HTP engine for the bridge tests, run as a real subprocess over pipes.

It keeps its own board (black connects top and bottom, as in HexGui), answers
``genmove`` with the first empty cell in reading order (a1, b1, ..., a2, ...),
refuses illegal ``play`` commands with ``?``, and logs every command it
receives to ``--log`` so a test can compare what it was told with what the
arena saw. ``--misbehave`` makes it fail on purpose:

* ``occupied``: genmove answers a cell that is already taken
* ``garbage``: genmove answers ``zz``
* ``refuse``: genmove answers ``? not today``
* ``crash``: exits (status 3) instead of answering the first genmove
* ``resign``: genmove answers ``resign``

``--slow S`` makes it think S seconds before answering ``genmove``.
"""

from __future__ import annotations

import argparse
import string
import sys
import time

LETTERS = string.ascii_lowercase


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", default=None)
    parser.add_argument("--misbehave", default=None)
    parser.add_argument("--name", default="tiny-htp")
    parser.add_argument("--slow", type=float, default=0.0)
    args = parser.parse_args()
    log = open(args.log, "a", buffering=1) if args.log else None  # noqa: SIM115 - lives as long as the process
    size = 11
    stones: dict[str, str] = {}
    print("tiny-htp engine ready", file=sys.stderr, flush=True)

    def answer(text: str = "", ok: bool = True) -> None:
        sys.stdout.write(("= " if ok else "? ") + text + "\n\n")
        sys.stdout.flush()

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if log:
            log.write(line.strip() + "\n")
        command, rest = words[0], words[1:]
        if command == "name":
            answer(args.name)
        elif command == "version":
            answer("1.0")
        elif command == "protocol_version":
            answer("2")
        elif command == "boardsize":
            size = int(rest[0])
            stones.clear()
            answer()
        elif command == "clear_board":
            stones.clear()
            answer()
        elif command == "play":
            colour, cell = rest[0].lower(), rest[1].lower()
            q, r = LETTERS.index(cell[0]), int(cell[1:]) - 1
            if cell in stones or not (0 <= q < size and 0 <= r < size):
                answer("illegal move", ok=False)
            else:
                stones[cell] = colour
                answer()
        elif command == "genmove":
            colour = rest[0].lower()
            empty = [f"{LETTERS[q]}{r + 1}" for r in range(size) for q in range(size)
                     if f"{LETTERS[q]}{r + 1}" not in stones]
            time.sleep(args.slow)
            if args.misbehave == "crash":
                return 3
            if args.misbehave == "refuse":
                answer("not today", ok=False)
            elif args.misbehave == "garbage":
                answer("zz")
            elif args.misbehave == "resign":
                answer("resign")
            elif args.misbehave == "occupied" and stones:
                answer(sorted(stones)[0])
            else:
                stones[empty[0]] = colour
                answer(empty[0])
        elif command == "time_left":
            answer()
        elif command == "quit":
            answer()
            return 0
        else:
            answer("unknown command", ok=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
