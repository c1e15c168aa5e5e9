from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html

from games.board_text import board_to_text
from matchmaking.models import BotToken, Seat, ServerProcess, Slot
from matchmaking.services import hash_token, new_token


class SeatInline(admin.TabularInline):
    model = Seat
    extra = 0
    can_delete = False
    # Never the token hash, nor the channel name.
    fields = ("player", "model_name", "username", "verified", "origin", "client_ip", "connected",
              "reconnect_deadline")
    readonly_fields = fields


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ("id", "state", "board_size", "series_length", "series", "updated_at")
    list_filter = ("state", "board_size", "series_length")
    search_fields = ("seats__model_name", "seats__username")
    readonly_fields = ("board_drawing",)
    raw_id_fields = ("series", "game")
    inlines = [SeatInline]

    def save_model(self, request: HttpRequest, obj: Slot, form: Any, change: bool) -> None:
        # Only what the operator changed: writing the whole row back would
        # also write the spectator count as the form read it (``Slot.spectators``).
        if change:
            obj.save(update_fields=[*form.changed_data, "updated_at"])
        else:
            obj.save()

    @admin.display(description="current board (R red left-right, B blue top-bottom; last move lower-case)")
    def board_drawing(self, obj: Slot) -> str:
        game = obj.game
        return format_html('<pre style="font-family: monospace">{}</pre>',
                           board_to_text(game.board if game else None, game.last_move if game else None))


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    list_display = ("id", "slot", "player", "model_name", "username", "verified", "origin", "client_ip", "connected",
                    "reconnect_deadline")
    list_filter = ("connected", "verified", "origin", "player", "slot__board_size", "slot__series_length",
                   "slot__state")
    search_fields = ("model_name", "username")
    exclude = ("token_hash", "channel_name")
    readonly_fields = ("process_id",)


@admin.register(ServerProcess)
class ServerProcessAdmin(admin.ModelAdmin):
    list_display = ("id", "hostname", "pid", "started_at", "last_beat")


@admin.register(BotToken)
class BotTokenAdmin(admin.ModelAdmin):
    """Issue a token by adding one (it is shown once, then only its hash is
    kept); revoke with the list action."""

    list_display = ("id", "model_name", "username", "revoked", "created_at", "last_used_at", "note")
    list_filter = ("revoked",)
    search_fields = ("model_name", "username", "note")
    fields = ("username", "model_name", "note", "revoked", "created_at", "last_used_at")
    readonly_fields = ("created_at", "last_used_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: BotToken | None = None) -> tuple[str, ...]:
        # An identity is what a token proves: it never changes after issue.
        if obj is not None:
            return ("username", "model_name", *self.readonly_fields)
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: BotToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token = "hexbot_" + new_token()
        obj.token_hash = hash_token(token)
        super().save_model(request, obj, form, change)
        messages.warning(request, format_html(
            "Bot token for <b>{}</b> / <b>{}</b> (shown once, store it now): <code>{}</code>",
            obj.model_name, obj.username, token))

    @admin.action(description="Revoke selected bot tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        count = queryset.update(revoked=True)
        messages.success(request, f"Revoked {count} bot token(s).")
