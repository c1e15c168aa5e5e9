"""Read-only queries over completed series: the statistics of the reference."""

from __future__ import annotations

from collections import Counter
from typing import Any

from games import rules
from games.models import Series

RECENT_LIMIT = 20


def completed_series():
    return Series.objects.filter(status=Series.Status.COMPLETED)


def leaderboard_rows(board_size: int | None = None) -> list[dict[str, Any]]:
    """Per (model_name, username): matches, wins, losses, games won/lost and
    win rate, sorted like the reference (wins, win rate, game difference,
    model name; all descending)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    series_qs = completed_series()
    if board_size is not None:
        series_qs = series_qs.filter(board_size=board_size)
    fields = ("winner", "player_1_model", "player_2_model", "player_1_username", "player_2_username",
              "player_1_wins", "player_2_wins")
    for winner, m1, m2, u1, u2, w1, w2 in series_qs.values_list(*fields).iterator():
        for player, model, username, won, lost in (
            (rules.RED, m1, u1, w1, w2),
            (rules.BLUE, m2, u2, w2, w1),
        ):
            key = (model or "unknown", username or "")
            row = rows.setdefault(key, {
                "model_name": key[0], "username": username or None, "matches": 0, "wins": 0, "losses": 0,
                "games_won": 0, "games_lost": 0, "win_rate": 0.0,
            })
            row["matches"] += 1
            row["wins" if winner == player else "losses"] += 1
            row["games_won"] += won
            row["games_lost"] += lost
    for row in rows.values():
        row["win_rate"] = round(row["wins"] / row["matches"], 4) if row["matches"] else 0.0
    return sorted(
        rows.values(),
        key=lambda r: (r["wins"], r["win_rate"], r["games_won"] - r["games_lost"], r["model_name"]),
        reverse=True,
    )


def recent_matches(limit: int = RECENT_LIMIT, board_size: int | None = None) -> list[dict[str, Any]]:
    qs = completed_series()
    if board_size is not None:
        qs = qs.filter(board_size=board_size)
    return [
        {
            "id": s.id,
            "slot_id": s.slot_id,
            "board_size": s.board_size,
            "series_length": s.series_length,
            "games_played": s.current_game_number,
            "winner": s.winner,
            "player_1_model": s.player_1_model or None,
            "player_2_model": s.player_2_model or None,
            "player_1_username": s.player_1_username or None,
            "player_2_username": s.player_2_username or None,
            "player_1_wins": s.player_1_wins,
            "player_2_wins": s.player_2_wins,
            "completed_at": s.completed_at.isoformat() if s.completed_at else None,
        }
        for s in qs.order_by("-completed_at", "-id")[:limit]
    ]


def statistics(board_size: int | None = None) -> dict[str, Any]:
    """The reference's /api/statistics document (persistence is always on)."""
    qs = completed_series()
    if board_size is not None:
        qs = qs.filter(board_size=board_size)
    # Counted newest series first: the reference's dicts list keys in that order.
    sizes: Counter[str] = Counter()
    lengths: Counter[str] = Counter()
    matches = games = 0
    rows = qs.order_by("-completed_at", "-id").values_list("board_size", "series_length", "current_game_number")
    for size, length, played in rows.iterator():
        matches += 1
        games += played
        sizes[str(size)] += 1
        lengths[str(length)] += 1
    leaderboard = leaderboard_rows(board_size)
    return {
        "persistence_enabled": True,
        "totals": {"matches": matches, "games": games, "models": len(leaderboard), "model_entries": 2 * matches},
        "leaderboard": leaderboard,
        "board_sizes": dict(sizes),
        "series_lengths": dict(lengths),
        "recent_matches": recent_matches(board_size=board_size),
        # Extension, after every reference key: skill ratings of verified bots.
        "ratings": rating_rows(board_size),
    }


# -- ratings (extension: additive key "ratings" of /api/statistics) --------------------------


def rating_rows(board_size: int | None = None) -> list[dict[str, Any]]:
    """Rated identities on ``board_size`` (None: over all sizes), ranked by the
    conservative rating mu - 3 sigma, highest first."""
    from stats.models import ALL_SIZES, Rating

    size = board_size if board_size is not None else ALL_SIZES
    return [
        {
            "rank": rank,
            "model_name": r.model_name,
            "username": r.username,
            "rating": round(r.conservative, 3),
            "mu": round(r.mu, 3),
            "sigma": round(r.sigma, 3),
            "games": r.games,
            "wins": r.wins,
            "losses": r.losses,
            "verified": True,
        }
        for rank, r in enumerate(Rating.objects.filter(board_size=size).order_by("-conservative", "model_name",
                                                                                  "username"), start=1)
    ]


def rating_histories(board_size: int | None = None) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """``(model, username) -> [(mu, conservative), ...]`` in play order, one query."""
    from stats.models import ALL_SIZES, RatingChange

    size = board_size if board_size is not None else ALL_SIZES
    histories: dict[tuple[str, str], list[tuple[float, float]]] = {}
    rows = (RatingChange.objects.filter(rating__board_size=size)
            .order_by("rating_id", "played_at", "id")
            .values_list("rating__model_name", "rating__username", "mu", "conservative"))
    for model, username, mu, low in rows.iterator():
        histories.setdefault((model, username), []).append((mu, low))
    return histories


def verified_identities() -> set[tuple[str, str]]:
    """``(model_name, username)`` pairs held by a live bot token (for badges)."""
    from matchmaking.models import BotToken

    return set(BotToken.objects.filter(revoked=False).values_list("model_name", "username"))
