"""Slots, seats and the server processes that hold their connections."""

from __future__ import annotations

from django.db import models

from games import rules
from games.models import Game, Series


class ServerProcess(models.Model):
    """One running server process; its heartbeat tells others it is alive."""

    id = models.CharField(primary_key=True, max_length=64)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    last_beat = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid} ({self.id[:8]})"


class Slot(models.Model):
    """A table in the arena. Ids run 1..HEX_MAX_SLOTS and never change."""

    class State(models.TextChoices):
        EMPTY = "empty", "empty"
        WAITING = "waiting", "waiting"
        FULL = "full", "full"

    id = models.PositiveIntegerField(primary_key=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.EMPTY)
    board_size = models.PositiveSmallIntegerField(null=True, blank=True)
    series_length = models.PositiveSmallIntegerField(null=True, blank=True)
    first_player = models.SmallIntegerField(default=rules.RED)
    # Options the creator asked for; only equal requests are paired.
    swap = models.BooleanField(default=False)
    time_control = models.CharField(max_length=40, blank=True)
    series = models.OneToOneField(Series, null=True, blank=True, on_delete=models.SET_NULL, related_name="slot")
    game = models.OneToOneField(Game, null=True, blank=True, on_delete=models.SET_NULL, related_name="slot")
    updated_at = models.DateTimeField(auto_now=True)
    # How many ``Watcher`` rows the slot has, rewritten under the slot's row
    # lock whenever one comes or goes (``spectators.add_watcher``). Every
    # service reads it with that lock, in the locked row itself: PostgreSQL
    # re-reads a row it waited for, but not another table, so a commit that
    # waited for a new spectator's registration still sees the spectator.
    spectators = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["id"]
        # Matchmaking takes the lowest slot in a state: one index seek. With
        # an index on the state alone, SQLite read every empty slot and sorted
        # them (600 us per matchmake with 5,000 slots).
        indexes = [models.Index(fields=["state", "id"], name="slot_state_id")]

    def __str__(self) -> str:
        return f"Slot {self.id} ({self.state})"


class Seat(models.Model):
    """A player's place at a slot, held across disconnects by its token."""

    class Origin(models.TextChoices):
        MATCHMAKE = "matchmake", "matchmake"
        JOIN_SLOT = "join_slot", "join-slot"

    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="seats")
    player = models.SmallIntegerField()
    token_hash = models.CharField(max_length=64, unique=True)
    model_name = models.CharField(max_length=80, blank=True)
    username = models.CharField(max_length=80, blank=True)
    # Connected with a valid bot token for exactly this model_name + username.
    verified = models.BooleanField(default=False)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.MATCHMAKE)
    client_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    connected = models.BooleanField(default=True)
    channel_name = models.CharField(max_length=200, blank=True)
    process_id = models.CharField(max_length=64, blank=True, db_index=True)
    reconnect_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    # Bumped when the seat starts over in the same slot (keep_slot), so
    # notices about the previous series still in flight are dropped.
    generation = models.PositiveIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slot_id", "player"]
        constraints = [
            models.UniqueConstraint(fields=["slot", "player"], name="one_seat_per_player_per_slot"),
            models.CheckConstraint(condition=models.Q(player__in=rules.PLAYERS), name="seat_player_valid"),
        ]

    def __str__(self) -> str:
        return f"Slot {self.slot_id} {rules.color_of(self.player)}"


class Watcher(models.Model):
    """A spectator connection on /ws/watch, recorded so every server process
    can count a slot's spectators; removed when it closes, or when the process
    holding it stops beating."""

    slot_id = models.PositiveIntegerField(db_index=True)
    channel_name = models.CharField(max_length=200, unique=True)
    process_id = models.CharField(max_length=64, db_index=True)
    connected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slot_id", "id"]

    def __str__(self) -> str:
        return f"Spectator of slot {self.slot_id}"
class BotToken(models.Model):
    """An operator-issued proof of a bot identity (model name + username).

    Only the token's SHA-256 is stored (like seat tokens); the plain token is
    shown once when issued. A live token reserves its identity: nobody may
    play under that model name and username without it.
    """

    username = models.CharField(max_length=80)
    model_name = models.CharField(max_length=80)
    token_hash = models.CharField(max_length=64, unique=True)
    revoked = models.BooleanField(default=False, db_index=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["username", "model_name", "-id"]
        indexes = [models.Index(fields=["username", "model_name"], name="bottoken_identity")]

    def __str__(self) -> str:
        state = " (revoked)" if self.revoked else ""
        return f"{self.model_name} / {self.username}{state}"
