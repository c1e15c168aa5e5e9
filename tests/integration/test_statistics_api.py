"""/api/statistics aggregation and ordering, from series rows written directly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from games.models import Series

pytestmark = pytest.mark.django_db


def completed(slot_id, size, length, winner, w1, w2, m1="", m2="", u1="", u2="", minutes_ago=0, status=None):
    return Series.objects.create(
        slot_id=slot_id, board_size=size, series_length=length, winner=winner,
        player_1_wins=w1, player_2_wins=w2, current_game_number=w1 + w2,
        player_1_model=m1, player_2_model=m2, player_1_username=u1, player_2_username=u2,
        status=status or Series.Status.COMPLETED,
        completed_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def history():
    a = completed(1, 7, 3, -1, 2, 1, m1="m1", m2="m2", u1="ann", minutes_ago=30)
    b = completed(2, 9, 1, 1, 0, 1, m1="m3", m2="m2", minutes_ago=20)
    c = completed(1, 7, 1, -1, 1, 0, m1="m1", m2="m3", u1="ann", minutes_ago=10)
    d = completed(3, 11, 1, 1, 0, 1, m1="", m2="m4", minutes_ago=5)
    # Not completed: never counted.
    completed(4, 7, 1, None, 0, 0, m1="ghost", m2="ghost", status=Series.Status.ACTIVE)
    completed(5, 7, 3, None, 1, 0, m1="ghost", m2="ghost", status=Series.Status.ABANDONED)
    return a, b, c, d


def test_statistics_aggregates_completed_series(client, history):
    a, b, c, d = history
    response = client.get("/api/statistics")
    assert response.status_code == 200
    stats = response.json()
    assert stats["persistence_enabled"] is True
    assert stats["totals"] == {"matches": 4, "games": 3 + 1 + 1 + 1, "models": 5, "model_entries": 8}
    assert stats["board_sizes"] == {"7": 2, "9": 1, "11": 1}
    assert stats["series_lengths"] == {"1": 3, "3": 1}
    # Keys in the reference's order: as first met going from the newest series back.
    assert list(stats["board_sizes"]) == ["11", "7", "9"]
    assert list(stats["series_lengths"]) == ["1", "3"]
    rows = [(r["model_name"], r["username"], r["matches"], r["wins"], r["losses"], r["games_won"],
             r["games_lost"], r["win_rate"]) for r in stats["leaderboard"]]
    assert rows == [
        ("m1", "ann", 2, 2, 0, 3, 1, 1.0),
        ("m4", None, 1, 1, 0, 1, 0, 1.0),       # as many wins as m2, better win rate
        ("m2", None, 2, 1, 1, 2, 2, 0.5),
        ("unknown", None, 1, 0, 1, 0, 1, 0.0),  # red of series d had no model name
        ("m3", None, 2, 0, 2, 0, 2, 0.0),
    ]
    assert "ghost" not in response.content.decode()
    recent = stats["recent_matches"]
    assert [m["id"] for m in recent] == [d.id, c.id, b.id, a.id]
    assert recent[0] == {
        "id": d.id, "slot_id": 3, "board_size": 11, "series_length": 1, "games_played": 1, "winner": 1,
        "player_1_model": None, "player_2_model": "m4", "player_1_username": None, "player_2_username": None,
        "player_1_wins": 0, "player_2_wins": 1, "completed_at": d.completed_at.isoformat(),
    }


def test_statistics_filtered_by_board_size(client, history):
    stats = client.get("/api/statistics?board_size=7").json()
    assert stats["totals"]["matches"] == 2
    assert stats["board_sizes"] == {"7": 2}
    # m2 and m3 tie on everything but the name (descending).
    assert [r["model_name"] for r in stats["leaderboard"]] == ["m1", "m3", "m2"]
    assert client.get("/api/statistics?board_size=8").status_code == 400


@pytest.mark.parametrize("raw", ["8", "abc", "-7", "7.0", "²", "٧", " 7", "1" * 5000])
def test_statistics_bad_board_size_is_a_400_not_a_crash(client, raw):
    response = client.get("/api/statistics", {"board_size": raw})
    assert response.status_code == 400
    assert "board_size must be one of [7, 9, 11, 13, 19]" in response.json()["detail"]


def test_statistics_tie_breaks(client):
    # Same wins and rate: game difference decides, then model name (descending).
    completed(1, 7, 3, -1, 2, 0, m1="alpha", m2="x")
    completed(2, 7, 3, -1, 2, 1, m1="beta", m2="y")
    completed(3, 7, 3, -1, 2, 1, m1="gamma", m2="z")
    names = [r["model_name"] for r in client.get("/api/statistics").json()["leaderboard"]]
    assert names[:3] == ["alpha", "gamma", "beta"]


def test_empty_statistics_shape(client):
    assert client.get("/api/statistics").json() == {
        "persistence_enabled": True,
        "totals": {"matches": 0, "games": 0, "models": 0, "model_entries": 0},
        "leaderboard": [], "board_sizes": {}, "series_lengths": {}, "recent_matches": [],
        # The ratings extension comes after every key of the reference, in its order.
        "ratings": [],
    }
    assert list(client.get("/api/statistics").json()) == [
        "persistence_enabled", "totals", "leaderboard", "board_sizes", "series_lengths", "recent_matches", "ratings",
    ]


def test_recent_matches_are_capped_at_twenty(client):
    for i in range(25):
        completed(1, 7, 1, -1, 1, 0, m1=f"m{i}", minutes_ago=i)
    recent = client.get("/api/statistics").json()["recent_matches"]
    assert len(recent) == 20
    assert recent[0]["player_1_model"] == "m0" and recent[-1]["player_1_model"] == "m19"


@pytest.mark.parametrize("path", ["/health", "/slots", "/api/statistics"])
def test_http_responses_carry_the_reference_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Embedder-Policy"] == "credentialless"
    assert response["Content-Type"].startswith("application/json")


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_slots_lists_the_whole_pool_before_anyone_connected(client, settings):
    settings.HEX_MAX_SLOTS = 4
    data = client.get("/slots").json()
    assert [s["slot_id"] for s in data] == [1, 2, 3, 4]
    assert all(s["state"] == "empty" and s["board"] is None for s in data)
