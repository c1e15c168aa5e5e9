from django.contrib import admin

from stats.models import Rating, RatingChange


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    """Ratings are computed (manage.py rebuild_ratings recomputes them): read-only."""

    list_display = ("model_name", "username", "board_size", "conservative", "mu", "sigma", "games", "wins", "losses")
    list_filter = ("board_size",)
    search_fields = ("model_name", "username")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RatingChange)
class RatingChangeAdmin(admin.ModelAdmin):
    list_display = ("rating", "game", "won", "mu", "sigma", "conservative", "played_at")
    raw_id_fields = ("rating", "game")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
