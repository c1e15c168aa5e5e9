"""Read-only queries that turn stored games into ``games.records`` records.

Shared by the game and series pages, their SGF/JSON downloads and
``/api/games``, so every view of a game says the same thing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse

from games import records, rules
from games.models import Game, Move, Series


def games() -> QuerySet[Game]:
    """Every game with its series, newest first."""
    return Game.objects.select_related("series").order_by("-started_at", "-id")


def game_status(game: Game) -> str:
    if game.winner is not None:
        return records.STATUS_FINISHED
    if game.series.status != Series.Status.ACTIVE:
        return records.STATUS_ABANDONED
    return records.STATUS_RUNNING


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def record_of(game: Game, moves: list[Move] | None = None) -> records.GameRecord:
    """The record of one game; ``moves`` (already fetched, in order) saves a query."""
    series = game.series
    if moves is None:
        moves = list(game.moves.order_by("number"))
    return records.GameRecord(
        board_size=series.board_size,
        first_turn=game.first_turn,
        moves=tuple(records.MoveRecord(m.number, m.player, m.q, m.r, kind=m.kind) for m in moves),
        red=records.PlayerRecord(series.player_1_model, series.player_1_username),
        blue=records.PlayerRecord(series.player_2_model, series.player_2_username),
        winner=game.winner,
        end_reason=game.end_reason,
        status=game_status(game),
        id=game.id,
        series_id=series.id,
        game_number=game.number,
        series_length=series.series_length,
        slot_id=series.slot_id,
        started_at=_iso(game.started_at),
        finished_at=_iso(game.finished_at),
    )


def series_records(series: Series) -> list[records.GameRecord]:
    """Every game of a series in order, in two queries."""
    series_games = list(series.games.order_by("number"))
    by_game: dict[int, list[Move]] = {g.id: [] for g in series_games}
    for move in Move.objects.filter(game__series=series).order_by("game_id", "number"):
        by_game[move.game_id].append(move)
    for game in series_games:
        game.series = series
    return [record_of(game, by_game[game.id]) for game in series_games]


def links(game_id: int) -> dict[str, str]:
    return {
        "page": reverse("game-page", args=[game_id]),
        "sgf": reverse("game-sgf", args=[game_id]),
        "json": reverse("game-json", args=[game_id]),
        "api": reverse("api-game-detail", args=[game_id]),
    }


def summary_of(game: Game) -> dict[str, Any]:
    """A game without its moves: one row of ``/api/games``."""
    series = game.series
    return {
        "id": game.id,
        "series_id": series.id,
        "game_number": game.number,
        "series_length": series.series_length,
        "slot_id": series.slot_id,
        "board_size": series.board_size,
        "first_turn": game.first_turn,
        "status": game_status(game),
        "winner": game.winner,
        "end_reason": game.end_reason or None,
        "red": {"player": rules.RED, "model": series.player_1_model, "username": series.player_1_username},
        "blue": {"player": rules.BLUE, "model": series.player_2_model, "username": series.player_2_username},
        "started_at": _iso(game.started_at),
        "finished_at": _iso(game.finished_at),
        "move_count": game.move_count,
        "links": links(game.id),
    }


def detail_of(game: Game) -> dict[str, Any]:
    """The full JSON record plus links: the body of ``/api/games/<id>``."""
    return {**records.to_json(record_of(game)), "links": links(game.id)}


# -- filters (used by the API's FilterSet) ---------------------------------------------------


def with_model(queryset: QuerySet[Game], name: str) -> QuerySet[Game]:
    return queryset.filter(Q(series__player_1_model=name) | Q(series__player_2_model=name))


def with_username(queryset: QuerySet[Game], name: str) -> QuerySet[Game]:
    return queryset.filter(Q(series__player_1_username=name) | Q(series__player_2_username=name))


RESULTS = ("red", "blue", "running", "abandoned")


def with_result(queryset: QuerySet[Game], result: str) -> QuerySet[Game]:
    """``red``/``blue``: won by that colour; ``running``; ``abandoned`` (never finished)."""
    if result == "red":
        return queryset.filter(winner=rules.RED)
    if result == "blue":
        return queryset.filter(winner=rules.BLUE)
    unfinished = queryset.filter(winner__isnull=True)
    running = Q(series__status=Series.Status.ACTIVE)
    if result == "running":
        return unfinished.filter(running)
    return unfinished.exclude(running)
