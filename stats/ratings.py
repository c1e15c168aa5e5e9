"""Rating updates with openskill's Plackett-Luce model.

Why openskill and not a Glicko-2 package: it is actively maintained (regular
releases, typed, extensively tested, no dependencies), its updates are
per game and order-independent of any "rating period" (Glicko-2 wants games
batched into periods, which a live arena does not have), and it reports mu
and sigma so a conservative rating ``mu - 3 sigma`` is immediate. The Glicko-2
packages on PyPI (glicko2, glicko2-py, ...) see few or no recent releases.
With default parameters (mu 25, sigma 25/3) and one player per team, the
Plackett-Luce update is the Weng-Lin formula the tests recompute by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from openskill.models import PlackettLuce

from games import rules
from games.models import Game, Series
from stats.models import ALL_SIZES, Rating, RatingChange

MODEL = PlackettLuce()
CONSERVATIVE_SIGMAS = 3


def conservative(mu: float, sigma: float) -> float:
    return mu - CONSERVATIVE_SIGMAS * sigma


def _locked_rating(model_name: str, username: str, board_size: int) -> Rating:
    """The identity's rating row, locked; created at the initial rating on its
    first game.

    On PostgreSQL get_or_create inserts in a savepoint and re-reads on a
    unique violation, so two games of a newcomer ending at once cannot fail
    the game-ending transaction. SQLite serialises writers, so nobody can
    insert the row meanwhile, and a game end may run inside a group commit
    (``matchmaking.group_commit``), where no savepoint can be opened: there
    the row is read, or inserted, plainly.
    """
    identity = {"model_name": model_name, "username": username, "board_size": board_size}
    defaults = {"mu": MODEL.mu, "sigma": MODEL.sigma, "conservative": conservative(MODEL.mu, MODEL.sigma)}
    rows = Rating.objects.select_for_update()
    if connection.vendor != "sqlite":
        return rows.get_or_create(**identity, defaults=defaults)[0]
    return rows.filter(**identity).first() or Rating.objects.create(**identity, **defaults)


def update_pair(winner: Rating, loser: Rating) -> None:
    """Apply one game (no draws in Hex) to two ratings in memory."""
    new_winner, new_loser = MODEL.rate([[MODEL.rating(mu=winner.mu, sigma=winner.sigma)],
                                        [MODEL.rating(mu=loser.mu, sigma=loser.sigma)]])
    for row, new, won in ((winner, new_winner[0], True), (loser, new_loser[0], False)):
        row.mu, row.sigma = new.mu, new.sigma
        row.conservative = conservative(new.mu, new.sigma)
        row.games += 1
        if won:
            row.wins += 1
        else:
            row.losses += 1


def record_game(series: Series, game: Game) -> None:
    """Rate one finished game of a rated series (call inside its transaction).

    Updates the identities' ratings on this board size and over all sizes,
    and appends one history row for each.
    """
    if game.winner is None:
        return
    played_at: datetime = game.finished_at or game.started_at
    identities = {player: (series.model_of(player), series.username_of(player)) for player in rules.PLAYERS}
    if identities[rules.RED] == identities[rules.BLUE]:
        return  # a bot against itself proves nothing
    for board_size in (series.board_size, ALL_SIZES):
        # Lock in one global order so two games finishing at once cannot deadlock.
        order = sorted(rules.PLAYERS, key=lambda p: identities[p])
        rows = {player: _locked_rating(*identities[player], board_size) for player in order}
        winner, loser = rows[game.winner], rows[rules.opponent(game.winner)]
        update_pair(winner, loser)
        for row, won in ((winner, True), (loser, False)):
            row.save()
            RatingChange.objects.create(rating=row, game=game, won=won, mu=row.mu, sigma=row.sigma,
                                        conservative=row.conservative, played_at=played_at)


def rated_games() -> Any:
    """Every finished game of a rated series, in the order it was played."""
    return (Game.objects.filter(series__rated=True, winner__isnull=False).select_related("series")
            .order_by("finished_at", "id"))


@transaction.atomic
def rebuild() -> int:
    """Recompute every rating from the stored games; returns the games rated."""
    RatingChange.objects.all().delete()
    Rating.objects.all().delete()
    count = 0
    for game in rated_games().iterator():
        record_game(game.series, game)
        count += 1
    return count
