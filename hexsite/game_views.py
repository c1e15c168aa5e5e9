"""Game and series pages, and their SGF/JSON downloads.

``/games/<id>?move=K`` shows the position after K moves (every position has
its own URL, so stepping works without JavaScript; htmx swaps only the viewer
and pushes the URL). A running game's viewer polls for new moves while it
shows the latest position.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import urlencode

from games import records, rules, selectors
from games.models import Game, Series
from hexsite.board_svg import board_svg
from hexsite.views import PLAYER_LABELS, _is_htmx_fragment, _page

#: Seconds between two polls of a running game's page.
POLL_SECONDS = 2


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else None


def _result_text(record: records.GameRecord) -> str:
    if record.winner in rules.PLAYERS:
        how = "by resignation" if record.end_reason == records.REASON_RESIGNATION else "by connecting their sides"
        return f"{PLAYER_LABELS[record.winner]} won {how}"
    if record.status == records.STATUS_ABANDONED:
        return "Abandoned (a player did not come back)"
    return "In progress"


def _players(record: records.GameRecord) -> list[dict[str, Any]]:
    return [
        {"color": rules.color_of(player), "label": PLAYER_LABELS[player], "sgf": records.SGF_COLOR[player],
         "goal": "left ↔ right" if player == rules.RED else "top ↕ bottom",
         "model": record.player(player).model or "unknown", "username": record.player(player).username,
         "winner": record.winner == player}
        for player in rules.PLAYERS
    ]


def game_context(game: Game, position: int | None, numbers: bool) -> dict[str, Any]:
    """Everything the game page shows at ``position`` (moves played; None: the latest)."""
    record = selectors.record_of(game)
    total = len(record.moves)
    at = total if position is None else max(0, min(position, total))
    board = record.position_after(at)
    shown = record.moves[:at]
    last = shown[-1] if shown else None

    def href(k: int, with_numbers: bool = numbers) -> str:
        params = {"move": k}
        if with_numbers:
            params["numbers"] = 1
        return f"{reverse('game-page', args=[game.id])}?{urlencode(params)}"

    svg = board_svg(record.board_size, board.rows(), (last.q, last.r) if last else None, labels=True, cell_names=True,
                    move_numbers={(m.q, m.r): m.number for m in shown
                                  if board.at(m.q, m.r) != rules.EMPTY} if numbers else None)
    moves = [{"number": m.number, "color": rules.color_of(m.player), "label": PLAYER_LABELS[m.player],
              "cell": _notation(m), "q": m.q, "r": m.r, "href": href(m.number), "current": m.number == at}
             for m in record.moves]
    running = record.status == records.STATUS_RUNNING
    if last is None:
        position_text = "Start position"
    else:
        position_text = f"After move {at} of {total}: {PLAYER_LABELS[last.player]} {_notation(last)}"
    return {
        "game": game,
        "series": game.series,
        "record": record,
        "players": _players(record),
        "result_text": _result_text(record),
        "reason": record.end_reason,
        "running": running,
        # Only a viewer that shows the latest position follows a running game.
        "follow": running and at == total,
        "poll_url": f"{reverse('game-page', args=[game.id])}?{urlencode({'numbers': 1} if numbers else {})}",
        "poll_seconds": POLL_SECONDS,
        "svg": svg,
        "at": at,
        "total": total,
        "position_text": position_text,
        "moves": moves,
        "numbers": numbers,
        "numbers_href": href(at, not numbers),
        "nav": {
            "first": href(0) if at > 0 else None,
            "prev": href(at - 1) if at > 0 else None,
            "next": href(at + 1) if at < total else None,
            "last": href(total) if at < total else None,
        },
        "downloads": selectors.links(game.id),
        "spectate_url": f"/ws/watch?slot_id={record.slot_id}" if running else None,
    }


def game_page(request: HttpRequest, game_id: int) -> HttpResponse:
    game = get_object_or_404(Game.objects.select_related("series"), pk=game_id)
    context = game_context(game, _int_param(request, "move"), request.GET.get("numbers") == "1")
    if _is_htmx_fragment(request) and request.headers.get("HX-Target") == "game-view":
        return _page(request, "partials/game_view.html", context, "games")
    return _page(request, "game.html", context, "games")


def series_page(request: HttpRequest, series_id: int) -> HttpResponse:
    series = get_object_or_404(Series, pk=series_id)
    rows = []
    for record in selectors.series_records(series):
        rows.append({
            "record": record,
            "href": reverse("game-page", args=[record.id]),
            "result_text": _result_text(record),
            "first": PLAYER_LABELS[record.first_turn],
            "winner_color": rules.color_of(record.winner) if record.winner in rules.PLAYERS else None,
            "move_count": len(record.moves),
        })
    context = {
        "series": series,
        "rows": rows,
        "players": [
            {"color": "red", "label": "Red", "model": series.player_1_model or "unknown",
             "username": series.player_1_username, "wins": series.player_1_wins,
             "winner": series.winner == rules.RED},
            {"color": "blue", "label": "Blue", "model": series.player_2_model or "unknown",
             "username": series.player_2_username, "wins": series.player_2_wins,
             "winner": series.winner == rules.BLUE},
        ],
        "sgf_url": reverse("series-sgf", args=[series.id]),
        "json_url": reverse("series-json", args=[series.id]),
    }
    return _page(request, "series.html", context, "games")


def _download(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


SGF_TYPE = "application/x-go-sgf; charset=utf-8"


def game_sgf(request: HttpRequest, game_id: int) -> HttpResponse:
    game = get_object_or_404(Game.objects.select_related("series"), pk=game_id)
    return _download(records.to_sgf(selectors.record_of(game)), SGF_TYPE, f"hex-game-{game.id}.sgf")


def game_json(request: HttpRequest, game_id: int) -> HttpResponse:
    game = get_object_or_404(Game.objects.select_related("series"), pk=game_id)
    body = json.dumps(records.to_json(selectors.record_of(game)), indent=2) + "\n"
    return _download(body, "application/json", f"hex-game-{game.id}.json")


def series_sgf(request: HttpRequest, series_id: int) -> HttpResponse:
    series = get_object_or_404(Series, pk=series_id)
    games = selectors.series_records(series)
    if not games:
        raise Http404("This series has no games.")
    return _download(records.to_sgf(games), SGF_TYPE, f"hex-series-{series.id}.sgf")


def series_json(request: HttpRequest, series_id: int) -> HttpResponse:
    series = get_object_or_404(Series, pk=series_id)
    body = json.dumps({"series_id": series.id, "games": [records.to_json(r) for r in selectors.series_records(series)]},
                      indent=2) + "\n"
    return _download(body, "application/json", f"hex-series-{series.id}.json")


def _notation(move: records.MoveRecord) -> str:
    """``e5`` for a placement, ``swap → e2`` for a swap (its new stone)."""
    if move.kind == rules.MOVE_KIND_SWAP:
        return f"swap → {records.cell_name(move.q, move.r)}"
    return move.cell or ""
