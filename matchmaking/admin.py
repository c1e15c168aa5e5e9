from django.contrib import admin
from django.utils.html import format_html

from games.board_text import board_to_text
from matchmaking.models import Seat, ServerProcess, Slot


class SeatInline(admin.TabularInline):
    model = Seat
    extra = 0
    can_delete = False
    # Never the token hash, nor the channel name.
    fields = ("player", "model_name", "username", "origin", "client_ip", "connected", "reconnect_deadline")
    readonly_fields = fields


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ("id", "state", "board_size", "series_length", "series", "updated_at")
    list_filter = ("state", "board_size", "series_length")
    search_fields = ("seats__model_name", "seats__username")
    readonly_fields = ("board_drawing",)
    raw_id_fields = ("series", "game")
    inlines = [SeatInline]

    @admin.display(description="current board (R red left-right, B blue top-bottom; last move lower-case)")
    def board_drawing(self, obj: Slot) -> str:
        game = obj.game
        return format_html('<pre style="font-family: monospace">{}</pre>',
                           board_to_text(game.board if game else None, game.last_move if game else None))


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    list_display = ("id", "slot", "player", "model_name", "username", "origin", "client_ip", "connected",
                    "reconnect_deadline")
    list_filter = ("connected", "origin", "player", "slot__board_size", "slot__series_length", "slot__state")
    search_fields = ("model_name", "username")
    exclude = ("token_hash", "channel_name")
    readonly_fields = ("process_id",)


@admin.register(ServerProcess)
class ServerProcessAdmin(admin.ModelAdmin):
    list_display = ("id", "hostname", "pid", "started_at", "last_beat")
