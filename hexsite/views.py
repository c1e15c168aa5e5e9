"""The arena's web pages: landing, docs, live overview and statistics.

Server-rendered templates. The views turn the selectors' data (the same that
``/slots`` and ``/api/statistics`` serve) into display-ready dictionaries so
the templates only loop and print.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.timesince import timesince

from games import rules
from hexsite.board_svg import board_svg
from hexsite.rating_svg import rating_chart
from matchmaking.clock import TimeControl
from matchmaking.selectors import overview_counts, overview_slots, waiting_house_bots
from matchmaking.snapshots import list_slot_snapshots
from stats import selectors as stats_selectors

# -- access to the live overview -------------------------------------------------

OVERVIEW_OPEN = "open"
OVERVIEW_LOGIN = "login"
OVERVIEW_OFF = "off"


def overview_access(user: Any) -> str:
    """Whether ``user`` may see /overview and its live feed under HEX_OVERVIEW:
    ``open``, ``login`` (staff only and this user is not staff) or ``off``."""
    mode = settings.HEX_OVERVIEW
    if mode == "off":
        return OVERVIEW_OFF
    if mode == "staff" and not (user is not None and user.is_authenticated and user.is_staff):
        return OVERVIEW_LOGIN
    return OVERVIEW_OPEN


def _page(request: HttpRequest, template: str, context: dict[str, Any], active: str) -> HttpResponse:
    nav_overview = overview_access(getattr(request, "user", None)) == OVERVIEW_OPEN
    base = {"active": active, "nav_overview": nav_overview}
    response = render(request, template, {**base, **context})
    response.headers["Vary"] = "HX-Request, Cookie"
    return response


def _is_htmx_fragment(request: HttpRequest) -> bool:
    """An HTMX request for a fragment (not a history restore, which wants the page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


# -- slots as shown on the pages -----------------------------------------------------

PLAYER_LABELS = {rules.RED: "Red", rules.BLUE: "Blue"}


def _status(snap: dict[str, Any]) -> tuple[str, str]:
    """(label, css modifier) of a slot's state."""
    if snap["state"] == "empty":
        return "Free", "free"
    if snap["state"] == "waiting":
        if snap["disconnected_players"]:
            return "Owner away", "paused"
        return "Waiting for opponent", "waiting"
    if snap["series_winner"] is not None:
        return "Series over", "over"
    if snap["disconnected_players"]:
        return "Paused: reconnecting", "paused"
    return "Playing", "playing"


def slot_card(snap: dict[str, Any]) -> dict[str, Any]:
    """A slot snapshot (plus ``last_move``) made ready for ``partials/slot_card.html``."""
    label, modifier = _status(snap)
    seated = set(snap["connected_players"]) | set(snap["disconnected_players"])
    players = []
    for player in rules.PLAYERS:
        key = str(player)
        is_seated = player in seated
        players.append({
            "player": player,
            "color": rules.color_of(player),
            "label": PLAYER_LABELS[player],
            "goal": "left ↔ right" if player == rules.RED else "top ↕ bottom",
            "seated": is_seated,
            "model": snap["player_models"].get(key),
            "username": snap["player_usernames"].get(key),
            "connected": player in snap["connected_players"],
            "wins": snap["player_1_wins"] if player == rules.RED else snap["player_2_wins"],
            "to_move": snap["current_turn"] == player and snap["winner"] is None and snap["series_winner"] is None,
            "series_winner": snap["series_winner"] == player,
            "verified": player in snap.get("verified_players", ()),
        })
    turn = None
    if snap["series_winner"] is not None:
        turn = f"{PLAYER_LABELS[snap['series_winner']]} won the series"
    elif snap["winner"] is not None:
        turn = f"{PLAYER_LABELS[snap['winner']]} won game {snap['current_game_number']}"
    elif snap["current_turn"] is not None:
        turn = f"{PLAYER_LABELS[snap['current_turn']]} to move"
    svg = None
    if snap["board_size"]:
        svg = board_svg(snap["board_size"], snap["board"], snap.get("last_move"))
    last = snap.get("last_move")
    return {
        "slot_id": snap["slot_id"],
        "state": snap["state"],
        "status_label": label,
        "status_class": modifier,
        "empty": snap["state"] == "empty",
        "board_size": snap["board_size"],
        "series_length": snap["series_length"],
        "wins_required": snap["wins_required"],
        "game_number": snap["current_game_number"],
        "move_count": snap["move_count"],
        "has_board": snap["board"] is not None,
        "players": players,
        "score": f"{snap['player_1_wins']}–{snap['player_2_wins']}",
        "turn_text": turn,
        "last_move_text": f"q={last[0]}, r={last[1]}" if last else None,
        "svg": svg,
        "game_href": reverse("game-page", args=[snap["game_id"]]) if snap.get("game_id") else None,
        "spectators": snap.get("spectators", 0),
        "option_tags": _option_tags(snap),
        "swapped": bool(snap.get("swapped")),
    }


def _option_tags(snap: dict[str, Any]) -> list[str]:
    """Short labels of a slot's opt-in rules (swap, clock) for its card."""
    tags = []
    if snap.get("swap_rule"):
        tags.append("swap rule")
    control = TimeControl.from_code(snap.get("time_control") or "")
    if control is not None:
        tags.append(f"clock: {control.describe()}")
    return tags


def overview_context(slot_ids: list[int] | None = None) -> dict[str, Any]:
    snapshots = overview_slots(slot_ids)
    context: dict[str, Any] = {"cards": [slot_card(s) for s in snapshots]}
    if slot_ids is None:
        context["counts"] = overview_counts(snapshots)
    return context


def render_overview_update(slot_ids: list[int] | None) -> str:
    """The HTML the live feed pushes: the summary and the changed slots' cards,
    each an element whose id the page already has (swapped out of band).
    ``None`` means every slot."""
    snapshots = overview_slots()
    wanted = None if slot_ids is None else set(slot_ids)
    cards = [slot_card(s) for s in snapshots if wanted is None or s["slot_id"] in wanted]
    return render_to_string("partials/overview_update.html", {"counts": overview_counts(snapshots), "cards": cards})


# -- pages ---------------------------------------------------------------------


def house_bots_context(snapshots: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The house bots waiting right now, with what a link to /play needs."""
    bots = waiting_house_bots(settings.HEX_HOUSE_USERNAME, snapshots)
    for bot in bots:
        bot["play_query"] = urlencode({"board_size": bot["board_size"], "series_length": bot["series_length"]})
    return {"house_bots": bots, "house_username": settings.HEX_HOUSE_USERNAME}


def landing(request: HttpRequest) -> HttpResponse:
    snapshots = list_slot_snapshots()
    counts = overview_counts(snapshots)
    counts["series_completed"] = stats_selectors.completed_series().count()
    context = {"counts": counts, "board_sizes": rules.BOARD_SIZES, "series_lengths": rules.SERIES_LENGTHS,
               **house_bots_context(snapshots)}
    if _is_htmx_fragment(request) and request.headers.get("HX-Target") == "live-counts":
        return _page(request, "partials/live_counts.html", context, "home")
    return _page(request, "landing.html", context, "home")


def _choice(raw: str | None, allowed: tuple[int, ...], default: int) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) in allowed else default


def play(request: HttpRequest) -> HttpResponse:
    """/play: a person plays in the browser over the same WebSocket protocol as every client.
    ``?board_size=&series_length=`` preselect the form (links from the house bot list)."""
    context = {
        "board_sizes": rules.BOARD_SIZES,
        "series_lengths": rules.SERIES_LENGTHS,
        "board_size": _choice(request.GET.get("board_size"), rules.BOARD_SIZES, 7),
        "series_length": _choice(request.GET.get("series_length"), rules.SERIES_LENGTHS, 1),
        **house_bots_context(),
    }
    return _page(request, "play.html", context, "play")


def play_house_bots(request: HttpRequest) -> HttpResponse:
    """The waiting house bots as a fragment (polled by /play and the landing page)."""
    return _page(request, "partials/house_bots.html", house_bots_context(), "play")


def play_board(request: HttpRequest, size: int) -> HttpResponse:
    """An empty board of ``size`` drawn by hexsite.board_svg (the overview's geometry), for /play's script."""
    if size not in rules.BOARD_SIZES:
        raise Http404("Unsupported board size.")
    response = render(request, "partials/play_board.html", {"svg": board_svg(size, labels=True)})
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# Measured with `python bench/mcts_strength.py` (seed 1, 100 games per line against
# model_random/model_first, 40 between budgets); see the README for the full table.
MCTS_STRENGTH = (
    ("7×7", "2000 iterations vs model_random", "100 / 100", "100%"),
    ("7×7", "2000 iterations vs model_first", "100 / 100", "100%"),
    ("7×7", "2000 vs 500 iterations", "35 / 40", "87.5%"),
    ("11×11", "2000 iterations vs model_random", "100 / 100", "100%"),
    ("11×11", "2000 iterations vs model_first", "100 / 100", "100%"),
    ("11×11", "2000 vs 500 iterations", "40 / 40", "100%"),
)

DOCS_DIAGRAM_STONES = ((-1, 0, 2), (-1, 1, 2), (-1, 2, 1), (1, 2, 0), (1, 2, 2), (-1, 3, 1), (1, 1, 3))


def docs(request: HttpRequest) -> HttpResponse:
    size = 5
    board = [[0] * size for _ in range(size)]
    for player, q, r in DOCS_DIAGRAM_STONES:
        board[r][q] = player
    neighbours = [[0] * size for _ in range(size)]
    neighbours[2][2] = rules.BLUE
    for dq, dr in rules.NEIGHBOURS:
        neighbours[2 + dr][2 + dq] = rules.RED
    context = {
        "diagram": board_svg(size, board, last_move=(3, 1), labels=True),
        "neighbour_diagram": board_svg(size, neighbours, labels=True),
        "board_sizes": rules.BOARD_SIZES,
        "series_lengths": rules.SERIES_LENGTHS,
        "max_slots": settings.HEX_MAX_SLOTS,
        "mcts_strength": MCTS_STRENGTH,
    }
    return _page(request, "docs.html", context, "docs")


def overview(request: HttpRequest) -> HttpResponse:
    access = overview_access(request.user)
    if access == OVERVIEW_OFF:
        raise Http404("The overview is switched off on this server.")
    if access == OVERVIEW_LOGIN:
        return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
    return _page(request, "overview.html", overview_context(), "overview")


# -- statistics ------------------------------------------------------------------

SORT_COLUMNS: dict[str, tuple[str, str, str]] = {
    # key: (label, short label for phones, default direction)
    "rank": ("#", "#", "asc"),
    "model": ("Model", "Model", "asc"),
    "matches": ("Series", "S", "desc"),
    "wins": ("Won", "W", "desc"),
    "losses": ("Lost", "L", "desc"),
    "games_won": ("Games won", "GW", "desc"),
    "games_lost": ("Games lost", "GL", "desc"),
    "win_rate": ("Win rate", "Win %", "desc"),
}
NUMERIC_HINTS = {"matches", "wins", "losses", "games_won", "games_lost", "win_rate"}


def _sort_rows(rows: list[dict[str, Any]], key: str, direction: str) -> list[dict[str, Any]]:
    """Rows ordered by one column; Python's sort is stable in both directions,
    so ties keep the leaderboard (rank) order."""
    text_keys = {"model": "model_name"}
    if key in text_keys:
        field = text_keys[key]

        def sort_key(row: dict[str, Any]) -> Any:
            return (row[field] or "").casefold()
    else:

        def sort_key(row: dict[str, Any]) -> Any:
            return row[key]

    ranked = sorted(rows, key=lambda row: row["rank"])
    return sorted(ranked, key=sort_key, reverse=direction == "desc")


def _query(board_size: int | None, sort: str, direction: str) -> str:
    params: dict[str, Any] = {}
    if board_size is not None:
        params["board_size"] = board_size
    if sort != "rank" or direction != "asc":
        params["sort"] = sort
        params["dir"] = direction
    return "?" + urlencode(params) if params else "?"


def _bars(counts: dict[str, int], unit: str) -> list[dict[str, Any]]:
    top = max(counts.values(), default=0)
    return [
        {"label": f"{key}{unit}", "key": key, "count": value, "percent": round(100 * value / top) if top else 0}
        for key, value in counts.items()
    ]


def _ago(moment: Any) -> str | None:
    if moment is None:
        return None
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment).split(',')[0]} ago"


def _player_cell(model: str | None, username: str | None) -> dict[str, Any]:
    return {"model": model or "unknown", "username": username, "verified": False}


def statistics_page(request: HttpRequest) -> HttpResponse:
    raw_size = request.GET.get("board_size", "")
    board_size = int(raw_size) if raw_size.isdigit() and int(raw_size) in rules.BOARD_SIZES else None
    sort = request.GET.get("sort", "rank")
    if sort not in SORT_COLUMNS:
        sort = "rank"
    direction = request.GET.get("dir", SORT_COLUMNS[sort][2])
    if direction not in ("asc", "desc"):
        direction = SORT_COLUMNS[sort][2]

    data = stats_selectors.statistics(board_size)
    rows = [{**row, "rank": index, "win_percent": f"{row['win_rate'] * 100:.1f}%"}
            for index, row in enumerate(data["leaderboard"], start=1)]
    rows = _sort_rows(rows, sort, direction)

    columns = []
    for key, (label, short, default_dir) in SORT_COLUMNS.items():
        active = key == sort
        next_dir = ("desc" if direction == "asc" else "asc") if active else default_dir
        columns.append({
            "key": key,
            "label": label,
            "short": short,
            "numeric": key in NUMERIC_HINTS or key == "rank",
            "active": active,
            "aria_sort": ("ascending" if direction == "asc" else "descending") if active else None,
            "arrow": ("▲" if direction == "asc" else "▼") if active else "",
            "href": _query(board_size, key, next_dir),
            "title": f"Sort by {label.lower() if key != 'rank' else 'rank'}"
                     f" ({'ascending' if next_dir == 'asc' else 'descending'})",
        })

    recent = []
    for match in data["recent_matches"]:
        completed = parse_datetime(match["completed_at"]) if match["completed_at"] else None
        recent.append({
            **match,
            "completed": completed,
            "completed_ago": _ago(completed),
            "red": _player_cell(match["player_1_model"], match["player_1_username"]),
            "blue": _player_cell(match["player_2_model"], match["player_2_username"]),
            "winner_color": rules.color_of(match["winner"]) if match["winner"] in rules.PLAYERS else None,
            "winner_label": PLAYER_LABELS.get(match["winner"]),
        })

    histories = stats_selectors.rating_histories(board_size)
    ratings = [{**row, "chart": rating_chart(histories.get((row["model_name"], row["username"]), []))}
               for row in data["ratings"]]
    verified = stats_selectors.verified_identities()
    for match in recent:
        match["red"]["verified"] = (match["player_1_model"], match["player_1_username"] or "") in verified
        match["blue"]["verified"] = (match["player_2_model"], match["player_2_username"] or "") in verified
    for row in rows:
        row["verified"] = (row["model_name"], row["username"] or "") in verified

    context = {
        "stats": data,
        "ratings": ratings,
        "totals": data["totals"],
        "rows": rows,
        "columns": columns,
        "sort": sort,
        "direction": direction,
        "board_size": board_size,
        "size_options": [{"value": s, "label": f"{s}×{s}", "selected": s == board_size} for s in rules.BOARD_SIZES],
        "size_bars": _bars(data["board_sizes"], ""),
        "length_bars": _bars(data["series_lengths"], ""),
        "recent": recent,
        "filter_label": f"{board_size}×{board_size} boards" if board_size else "all board sizes",
    }
    if _is_htmx_fragment(request) and request.headers.get("HX-Target") == "stats-content":
        return _page(request, "partials/statistics_content.html", context, "statistics")
    return _page(request, "statistics.html", context, "statistics")
