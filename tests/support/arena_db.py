"""Reading the arena's database from outside the server, and checking that
what it holds is a consistent history of play.

Works on a DB-API connection to SQLite (``sqlite3``) or PostgreSQL
(``psycopg``): fault tests look at the database the server wrote, not at
what the server says about it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from games import rules

Move = tuple[int, int, int, int]  # (game number, player, q, r)


def stored_moves(db: Any) -> list[Move]:
    """Every persisted move as (game number, player, q, r), in play order."""
    return [tuple(row) for row in db.execute(
        "SELECT g.number, m.player, m.q, m.r FROM games_move m JOIN games_game g ON g.id = m.game_id "
        "ORDER BY g.series_id, g.number, m.number"
    ).fetchall()]


def moves_in(database: str | Path) -> list[Move]:
    """``stored_moves`` of a SQLite file (a path) or a PostgreSQL URL (any form the server accepts)."""
    text = str(database)
    if text.startswith("postgres"):
        import psycopg

        with psycopg.connect(re.sub(r"^postgres(ql)?(\+psycopg2?)?://", "postgresql://", text)) as db:
            return stored_moves(db)
    with closing(sqlite3.connect(text)) as db:
        return stored_moves(db)


def check_history(db: Any) -> list[str]:
    """Replay every stored series with ``games.rules`` and list what is wrong.

    Per game: move numbers 1..n without gaps, players alternate from the
    game's first turn, every stone lands on an empty cell of the board, the
    stored board and move count match the replay, a connected-sides winner is
    the replay's winner and nobody moved after it. Per series: first turns
    alternate by game number, wins add up to the finished games' winners and
    never exceed what the series needs, a completed series has its winner.
    """
    problems: list[str] = []
    series_rows = db.execute(
        "SELECT id, board_size, series_length, first_player, player_1_wins, player_2_wins, winner, status "
        "FROM games_series ORDER BY id"
    ).fetchall()
    for sid, size, length, first_player, wins_1, wins_2, series_winner, status in series_rows:
        games = db.execute(
            f"SELECT id, number, first_turn, winner, end_reason, move_count, board FROM games_game "
            f"WHERE series_id = {int(sid)} ORDER BY number"
        ).fetchall()
        counted = {rules.RED: 0, rules.BLUE: 0}
        for gid, number, first_turn, winner, end_reason, move_count, board_json in games:
            where = f"series {sid} game {number}"
            if first_turn != rules.first_turn(number, first_player):
                problems.append(f"{where}: first turn {first_turn}")
            moves = db.execute(
                f"SELECT number, player, q, r FROM games_move WHERE game_id = {int(gid)} ORDER BY number"
            ).fetchall()
            board = rules.Board(size)
            turn, replay_winner = first_turn, None
            for index, (move_number, player, q, r) in enumerate(moves, start=1):
                if move_number != index:
                    problems.append(f"{where}: move number {move_number} at position {index}")
                if replay_winner is not None:
                    problems.append(f"{where}: move {move_number} after the game was won")
                if player != turn:
                    problems.append(f"{where}: move {move_number} by {player}, expected {turn}")
                if not board.in_bounds(q, r) or not board.is_empty(q, r):
                    problems.append(f"{where}: move {move_number} on taken or missing cell ({q}, {r})")
                    continue
                replay_winner = board.place(player, q, r)
                turn = rules.opponent(player)
            if move_count != len(moves):
                problems.append(f"{where}: move_count {move_count} but {len(moves)} moves stored")
            stored_board = json.loads(board_json) if isinstance(board_json, str) else board_json
            if stored_board != board.rows():
                problems.append(f"{where}: stored board differs from the replayed moves")
            if end_reason == "connected_sides" and winner != replay_winner:
                problems.append(f"{where}: winner {winner} but the replay says {replay_winner}")
            if winner is None and replay_winner is not None:
                problems.append(f"{where}: won on the board but not recorded")
            if winner is not None:
                counted[winner] += 1
        if (wins_1, wins_2) != (counted[rules.RED], counted[rules.BLUE]):
            problems.append(f"series {sid}: score {wins_1}-{wins_2} but games say "
                            f"{counted[rules.RED]}-{counted[rules.BLUE]}")
        needed = rules.wins_required(length)
        if max(wins_1, wins_2) > needed:
            problems.append(f"series {sid}: score {wins_1}-{wins_2} beyond {needed} wins")
        if status == "completed" and series_winner != rules.series_winner(wins_1, wins_2, length):
            problems.append(f"series {sid}: completed with winner {series_winner} at {wins_1}-{wins_2}")
        if series_winner is not None and status != "completed":
            problems.append(f"series {sid}: winner {series_winner} but status {status}")
    return problems


def is_subsequence(part: list[Move], whole: list[Move]) -> bool:
    """``part`` appears in ``whole`` in the same order (a client that was away
    for a while saw fewer moves, never other ones or another order)."""
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)
