"""Skill ratings of verified bot identities (model name + username).

One ``Rating`` per identity per board size, plus one over all sizes
(``board_size = 0``), each with its history: one ``RatingChange`` per rated
game, so a chart and a rebuild need nothing else.
"""

from __future__ import annotations

from django.db import models

ALL_SIZES = 0


class Rating(models.Model):
    model_name = models.CharField(max_length=80)
    username = models.CharField(max_length=80)
    board_size = models.PositiveSmallIntegerField(default=ALL_SIZES, help_text="0: all board sizes together")
    mu = models.FloatField()
    sigma = models.FloatField()
    # mu - 3 sigma: what the bot is very probably at least as good as; the ranking key.
    conservative = models.FloatField(db_index=True)
    games = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-conservative", "model_name", "username"]
        constraints = [
            models.UniqueConstraint(fields=["model_name", "username", "board_size"], name="one_rating_per_identity"),
        ]

    def __str__(self) -> str:
        where = "all sizes" if self.board_size == ALL_SIZES else f"{self.board_size}x{self.board_size}"
        return f"{self.model_name} / {self.username} ({where}): {self.mu:.2f} ± {self.sigma:.2f}"


class RatingChange(models.Model):
    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="changes")
    game = models.ForeignKey("games.Game", null=True, on_delete=models.SET_NULL, related_name="rating_changes")
    won = models.BooleanField()
    mu = models.FloatField()
    sigma = models.FloatField()
    conservative = models.FloatField()
    played_at = models.DateTimeField()

    class Meta:
        ordering = ["rating_id", "played_at", "id"]

    def __str__(self) -> str:
        return f"{self.rating_id}: {self.mu:.2f} ± {self.sigma:.2f}"
