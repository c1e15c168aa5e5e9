"""Ratings: openskill's Plackett-Luce update checked against the Weng-Lin
formulas computed by hand, updates on every rated game, rebuild, API and page."""

from __future__ import annotations

import math

import pytest
from django.core.management import call_command

from games import rules
from games.models import Game, Series
from matchmaking import services
from stats import ratings
from stats.models import ALL_SIZES, Rating, RatingChange
from tests.integration.helpers import BLUE, RED, both_get, creator, db, matchmake, run, win_game

pytestmark = pytest.mark.django_db(transaction=True)

MU, SIGMA = 25.0, 25.0 / 3
BETA = SIGMA / 2
TAU = MU / 300  # openskill adds tau^2 to every variance before a game


def hand_update(winner: tuple[float, float], loser: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    """Weng & Lin (2011), Algorithm 4 (Plackett-Luce), two teams of one, no tie:
    c^2 = s_w^2 + s_l^2 + 2 beta^2; p_w = e^(mu_w/c) / (e^(mu_w/c) + e^(mu_l/c));
    mu_w += s_w^2/c (1 - p_w); mu_l -= s_l^2/c p_l;
    s^2 *= 1 - (s/c) s^2/c^2 p_w p_l (the same product for both)."""
    (mw, sw), (ml, sl) = winner, loser
    sw2, sl2 = sw * sw + TAU * TAU, sl * sl + TAU * TAU
    c = math.sqrt(sw2 + sl2 + 2 * BETA * BETA)
    ew, el = math.exp(mw / c), math.exp(ml / c)
    pw, pl = ew / (ew + el), el / (ew + el)
    new_mw = mw + sw2 / c * (1 - pw)
    new_ml = ml - sl2 / c * pl
    new_sw = math.sqrt(sw2) * math.sqrt(max(1 - (math.sqrt(sw2) / c) * sw2 / c**2 * pw * pl, 0.0001))
    new_sl = math.sqrt(sl2) * math.sqrt(max(1 - (math.sqrt(sl2) / c) * sl2 / c**2 * pw * pl, 0.0001))
    return (new_mw, new_sw), (new_ml, new_sl)


def test_first_game_between_newcomers_matches_the_hand_computation():
    (mw, sw), (ml, sl) = hand_update((MU, SIGMA), (MU, SIGMA))
    # The same numbers written out: c = sqrt(2 (69.4514 + 17.3611)) = 13.1768.
    assert mw == pytest.approx(27.63539, abs=1e-5) and ml == pytest.approx(22.36461, abs=1e-5)
    assert sw == pytest.approx(8.06590, abs=1e-5) and sl == pytest.approx(8.06590, abs=1e-5)
    winner = Rating(mu=MU, sigma=SIGMA, games=0, wins=0, losses=0)
    loser = Rating(mu=MU, sigma=SIGMA, games=0, wins=0, losses=0)
    ratings.update_pair(winner, loser)
    assert (winner.mu, winner.sigma) == pytest.approx((mw, sw), abs=1e-9)
    assert (loser.mu, loser.sigma) == pytest.approx((ml, sl), abs=1e-9)
    assert winner.conservative == pytest.approx(mw - 3 * sw)
    assert (winner.games, winner.wins, loser.losses) == (1, 1, 1)


def test_an_upset_moves_ratings_more_than_an_expected_result():
    strong, weak = (30.0, 4.0), (20.0, 4.0)
    expected = hand_update(strong, weak)
    upset = hand_update(weak, strong)
    for (w_mu, w_sigma), (l_mu, l_sigma) in ((strong, weak), (weak, strong)):
        winner = Rating(mu=w_mu, sigma=w_sigma, games=0, wins=0, losses=0)
        loser = Rating(mu=l_mu, sigma=l_sigma, games=0, wins=0, losses=0)
        ratings.update_pair(winner, loser)
        want = expected if w_mu == 30.0 else upset
        assert (winner.mu, winner.sigma, loser.mu, loser.sigma) == pytest.approx(
            (*want[0], *want[1]), abs=1e-9)
    assert upset[0][0] - weak[0] > expected[0][0] - strong[0] > 0


def verified_pair_tokens() -> tuple[str, str]:
    return services.issue_bot_token("ann", "hexnet")[1], services.issue_bot_token("bob", "mcts")[1]


def test_every_rated_game_updates_both_identities_on_its_size_and_overall():
    async def scenario():
        ann, bob = await db(verified_pair_tokens)
        red = await creator(7, 3, bot_token=ann)
        blue = await matchmake(7, 3, bot_token=bob)
        start = await both_get([blue, red], "game_start")
        await win_game(red, blue, 7, start["first_turn"], RED)
        second = await both_get([red, blue], "game_start")
        await win_game(red, blue, 7, second["first_turn"], BLUE)
        third = await both_get([red, blue], "game_start")
        await win_game(red, blue, 7, third["first_turn"], RED)
        await both_get([red, blue], "series_over")
        await red.close()
        await blue.close()

    run(scenario())
    # Ann (red) won, lost, won: replay the three updates by hand.
    a, b = (MU, SIGMA), (MU, SIGMA)
    a, b = hand_update(a, b)
    b, a = hand_update(b, a)
    a, b = hand_update(a, b)
    for size in (7, ALL_SIZES):
        ann = Rating.objects.get(model_name="hexnet", username="ann", board_size=size)
        bob = Rating.objects.get(model_name="mcts", username="bob", board_size=size)
        assert (ann.mu, ann.sigma) == pytest.approx(a, abs=1e-9)
        assert (bob.mu, bob.sigma) == pytest.approx(b, abs=1e-9)
        assert (ann.games, ann.wins, ann.losses) == (3, 2, 1)
        assert list(ann.changes.values_list("won", flat=True)) == [True, False, True]
    assert RatingChange.objects.count() == 12
    assert Series.objects.get().rated


def test_unverified_series_are_not_rated():
    async def scenario():
        ann, _ = await db(verified_pair_tokens)
        red = await creator(7, bot_token=ann)
        blue = await matchmake(7, model_name="someone")
        start = await both_get([blue, red], "game_start")
        await win_game(red, blue, 7, start["first_turn"], BLUE)
        await both_get([red, blue], "series_over")
        await red.close()
        await blue.close()

    run(scenario())
    assert not Series.objects.get().rated
    assert Rating.objects.count() == 0


def _store_rated_game(red: tuple[str, str], blue: tuple[str, str], size: int, winner: int) -> None:
    from django.utils import timezone

    series = Series.objects.create(slot_id=1, board_size=size, series_length=1, status=Series.Status.COMPLETED,
                                   player_1_model=red[0], player_1_username=red[1], player_2_model=blue[0],
                                   player_2_username=blue[1], player_1_verified=True, player_2_verified=True,
                                   rated=True, winner=winner)
    game = Game.objects.create(series=series, number=1, first_turn=RED, current_turn=winner, winner=winner,
                               end_reason="connected_sides", board=rules.Board(size).rows(),
                               finished_at=timezone.now())
    ratings.record_game(series, game)


def test_rebuild_ratings_recomputes_from_the_stored_games_and_the_api_ranks_by_conservative_rating(client):
    x, y, z = ("x", "u"), ("y", "u"), ("z", "u")
    _store_rated_game(x, y, 7, RED)
    _store_rated_game(x, z, 9, RED)
    _store_rated_game(z, y, 9, RED)
    before = sorted(Rating.objects.values_list("model_name", "board_size", "mu", "sigma", "games"))
    Rating.objects.update(mu=0, sigma=1, conservative=-3)  # corrupt, then rebuild
    call_command("rebuild_ratings", stdout=open("/dev/null", "w"))
    after = sorted(Rating.objects.values_list("model_name", "board_size", "mu", "sigma", "games"))
    assert [row[:2] for row in after] == [row[:2] for row in before]
    for got, want in zip(after, before, strict=True):
        assert got[2:4] == pytest.approx(want[2:4], abs=1e-9) and got[4] == want[4]
    assert RatingChange.objects.count() == 12

    overall = client.get("/api/statistics").json()["ratings"]
    assert [r["model_name"] for r in overall] == ["x", "z", "y"]
    assert [r["rank"] for r in overall] == [1, 2, 3]
    assert overall[0]["rating"] == pytest.approx(overall[0]["mu"] - 3 * overall[0]["sigma"], abs=1e-2)
    assert set(overall[0]) == {"rank", "model_name", "username", "rating", "mu", "sigma", "games", "wins", "losses",
                               "verified"}
    nine = client.get("/api/statistics?board_size=9").json()["ratings"]
    assert [(r["model_name"], r["games"]) for r in nine] == [("x", 1), ("z", 2), ("y", 1)]
    assert [r["model_name"] for r in client.get("/api/statistics?board_size=11").json()["ratings"]] == []

    page = client.get("/statistics?board_size=9").content.decode()
    assert 'id="ratings-title"' in page and page.count('class="rating-chart"') == 3
    assert "<polyline" in page and "✓ verified" in page
    assert "No rated games on 11&times;11 boards yet" in client.get("/statistics?board_size=11").content.decode()


def test_issue_bot_token_command_prints_the_token_once_and_stores_its_hash(capsys):
    call_command("issue_bot_token", "carol", "zero")
    token = capsys.readouterr().out.strip()
    assert token.startswith("hexbot_") and len(token) > 40
    row = services.BotToken.objects.get()
    assert (row.username, row.model_name) == ("carol", "zero")
    assert row.token_hash == services.hash_token(token) and token not in row.token_hash
    assert services.resolve_identity("", "", token) == ("zero", "carol", True)


def test_a_bot_playing_itself_is_not_rated():
    same = ("twin", "u")
    _store_rated_game(same, same, 7, RED)
    assert Rating.objects.count() == 0 and RatingChange.objects.count() == 0
    assert Series.objects.get().rated  # the series is kept as it was; only the rating is skipped
