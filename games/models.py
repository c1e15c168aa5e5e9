"""Series, games and moves: the persistent record of play.

A ``Series`` outlives its slot (slots are reused), so it copies the slot id,
labels and rules it was played with. ``Game.board`` caches the position after
``move_count`` moves so a move costs one read; the ``Move`` rows are the
authoritative history the board can always be rebuilt from.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from games import rules


class Series(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        COMPLETED = "completed", "completed"
        ABANDONED = "abandoned", "abandoned"

    slot_id = models.PositiveIntegerField(db_index=True)
    board_size = models.PositiveSmallIntegerField()
    series_length = models.PositiveSmallIntegerField()
    first_player = models.SmallIntegerField(default=rules.RED)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    current_game_number = models.PositiveSmallIntegerField(default=1)
    player_1_wins = models.PositiveSmallIntegerField(default=0)
    player_2_wins = models.PositiveSmallIntegerField(default=0)
    winner = models.SmallIntegerField(null=True, blank=True)
    player_1_model = models.CharField(max_length=80, blank=True)
    player_2_model = models.CharField(max_length=80, blank=True)
    player_1_username = models.CharField(max_length=80, blank=True)
    player_2_username = models.CharField(max_length=80, blank=True)
    final_board = models.JSONField(null=True, blank=True)
    # Opt-in competitive options (matchmaking swap=1 / time controls); empty
    # time_control means no clock, exactly the reference's behaviour.
    swap = models.BooleanField(default=False)
    time_control = models.CharField(max_length=40, blank=True)
    # Identities proven with a bot token; a series is rated when both are.
    player_1_verified = models.BooleanField(default=False)
    player_2_verified = models.BooleanField(default=False)
    rated = models.BooleanField(default=False, db_index=True)
    final_snapshot = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name_plural = "series"
        ordering = ["-id"]

    def __str__(self) -> str:
        size = self.board_size
        return f"Series {self.pk} (slot {self.slot_id}, {size}x{size}, best of {self.series_length})"

    def get_absolute_url(self) -> str:
        return reverse("series-page", args=[self.pk])

    @property
    def wins_required(self) -> int:
        return rules.wins_required(self.series_length)

    @property
    def games_played(self) -> int:
        return self.player_1_wins + self.player_2_wins

    def model_of(self, player: int) -> str:
        return self.player_1_model if player == rules.RED else self.player_2_model

    def username_of(self, player: int) -> str:
        return self.player_1_username if player == rules.RED else self.player_2_username

    def verified_of(self, player: int) -> bool:
        return self.player_1_verified if player == rules.RED else self.player_2_verified


class Game(models.Model):
    class EndReason(models.TextChoices):
        CONNECTED_SIDES = "connected_sides", "connected sides"
        RESIGNATION = "resignation", "resignation"
        TIMEOUT = "timeout", "timeout"

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="games")
    number = models.PositiveSmallIntegerField()
    first_turn = models.SmallIntegerField()
    current_turn = models.SmallIntegerField(null=True, blank=True)
    winner = models.SmallIntegerField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)
    move_count = models.PositiveIntegerField(default=0)
    board = models.JSONField()
    last_move = models.JSONField(null=True, blank=True)
    # Clock of the player to move (see matchmaking.clock): remaining ms per
    # player ("-1"/"1") as of turn_started_at, and the deadline the sweeper
    # and every access enforce. No deadline: no clock, or paused.
    clock_ms = models.JSONField(null=True, blank=True)
    turn_started_at = models.DateTimeField(null=True, blank=True)
    turn_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["series_id", "number"]
        constraints = [models.UniqueConstraint(fields=["series", "number"], name="game_number_unique_in_series")]

    def __str__(self) -> str:
        return f"Game {self.number} of series {self.series_id}"

    def get_absolute_url(self) -> str:
        return reverse("game-page", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.winner is not None


class Move(models.Model):
    class Kind(models.TextChoices):
        PLACE = rules.MOVE_KIND_PLACE, "place a stone"
        # Swap-pieces (SGF ``swap-pieces``): q, r is the swapper's new stone,
        # the mirror (r, q) of the first move's stone, which it replaces.
        SWAP = rules.MOVE_KIND_SWAP, "swap pieces"

    # No index of its own: the (game, number) unique constraint's index serves
    # every lookup by game, and one index fewer is cheaper on every move.
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="moves", db_index=False)
    number = models.PositiveIntegerField(help_text="1-based ply within the game")
    player = models.SmallIntegerField()
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.PLACE)
    q = models.PositiveSmallIntegerField()
    r = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["game_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["game", "number"], name="move_number_unique_in_game"),
            # Among placements after the first. A swap (kind "swap") takes the first
            # stone off the board, so its cell may be played again later, and a
            # swap on the long diagonal re-colours that very cell.
            models.UniqueConstraint(fields=["game", "q", "r"], condition=models.Q(kind="place", number__gt=1),
                                    name="move_cell_unique_in_game"),
            models.CheckConstraint(condition=models.Q(player__in=rules.PLAYERS), name="move_player_valid"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.SWAP:
            return f"{rules.color_of(self.player)} swap -> ({self.q}, {self.r})"
        return f"{rules.color_of(self.player)} ({self.q}, {self.r})"
