from django.contrib import admin
from django.utils.html import format_html

from games.board_text import board_to_text
from games.models import Game, Move, Series


def _board_block(rows, last_move=None) -> str:
    drawing = board_to_text(rows, last_move)
    return format_html('<pre style="font-family: monospace; line-height: 1.25">{}</pre>', drawing)


def _page_link(obj) -> str:
    if obj.pk is None:  # the inline's empty template row
        return ""
    return format_html('<a href="{}">replay</a>', obj.get_absolute_url())


class GameInline(admin.TabularInline):
    model = Game
    extra = 0
    can_delete = False
    fields = ("number", "first_turn", "winner", "end_reason", "move_count", "finished_at", "page")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="page")
    def page(self, obj: Game) -> str:
        return _page_link(obj)


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ("id", "slot_id", "status", "board_size", "series_length", "player_1_model", "player_1_username",
                    "player_2_model", "player_2_username", "player_1_wins", "player_2_wins", "winner", "completed_at",
                    "page")
    list_filter = ("status", "board_size", "series_length", "rated", "swap", "time_control")
    search_fields = ("player_1_model", "player_2_model", "player_1_username", "player_2_username")
    readonly_fields = ("final_board_drawing",)
    exclude = ("final_board",)
    inlines = [GameInline]
    date_hierarchy = "started_at"

    @admin.display(description="page")
    def page(self, obj: Series) -> str:
        return format_html('<a href="{}">games</a>', obj.get_absolute_url())

    @admin.display(description="final board (R red left-right, B blue top-bottom)")
    def final_board_drawing(self, obj: Series) -> str:
        return _board_block(obj.final_board)


class MoveInline(admin.TabularInline):
    model = Move
    extra = 0
    can_delete = False
    fields = ("number", "player", "kind", "q", "r", "created_at")
    readonly_fields = fields


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ("id", "series", "number", "first_turn", "current_turn", "winner", "end_reason", "move_count",
                    "page")
    list_filter = ("end_reason", "series__board_size", "series__series_length", "series__status")
    search_fields = ("series__player_1_model", "series__player_2_model", "series__player_1_username",
                     "series__player_2_username")
    list_select_related = ("series",)
    readonly_fields = ("board_drawing",)
    exclude = ("board", "clock_ms")
    inlines = [MoveInline]

    @admin.display(description="page")
    def page(self, obj: Game) -> str:
        return _page_link(obj)

    @admin.display(description="board (R red left-right, B blue top-bottom; last move lower-case)")
    def board_drawing(self, obj: Game) -> str:
        return _board_block(obj.board, obj.last_move)


@admin.register(Move)
class MoveAdmin(admin.ModelAdmin):
    list_display = ("id", "game", "number", "player", "kind", "q", "r", "created_at")
    list_filter = ("player", "kind", "game__series__board_size")
    search_fields = ("game__series__player_1_model", "game__series__player_2_model",
                     "game__series__player_1_username", "game__series__player_2_username")
    list_select_related = ("game",)
    raw_id_fields = ("game",)
