from django.contrib import admin
from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from games import api as games_api
from stats import views as api

urlpatterns = [
    path("health", api.HealthView.as_view(), name="health"),
    path("slots", api.SlotListView.as_view(), name="slots"),
    path("api/statistics", api.StatisticsView.as_view(), name="api-statistics"),
    path("api/games", games_api.GameListView.as_view(), name="api-games"),
    path("api/games/<int:game_id>", games_api.GameDetailView.as_view(), name="api-game-detail"),
    # JSON whatever the Accept header says: the path promises it (the generic
    # view answers YAML to clients that accept anything).
    path("api/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="swagger-ui"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="openapi-schema"), name="redoc"),
    # Programs get JSON for a path under /api/ that matches nothing (a negative id, say), not an HTML page.
    re_path(r"^api/", api.api_not_found),
    path("admin/", admin.site.urls),
]

# Web pages (hexsite.views): landing, usage guide, live overview, statistics.
from hexsite import views as pages  # noqa: E402

urlpatterns += [
    path("", pages.landing, name="landing"),
    path("docs", pages.docs, name="docs"),
    path("overview", pages.overview, name="overview"),
    path("statistics", pages.statistics_page, name="statistics"),
    path("play", pages.play, name="play"),
    path("play/house-bots", pages.play_house_bots, name="play-house-bots"),
    path("play/board/<int:size>", pages.play_board, name="play-board"),
]

# Game records (hexsite.game_views): replay pages and SGF/JSON downloads.
from hexsite import game_views as records_pages  # noqa: E402

urlpatterns += [
    path("games/<int:game_id>", records_pages.game_page, name="game-page"),
    path("games/<int:game_id>.sgf", records_pages.game_sgf, name="game-sgf"),
    path("games/<int:game_id>.json", records_pages.game_json, name="game-json"),
    path("series/<int:series_id>", records_pages.series_page, name="series-page"),
    path("series/<int:series_id>.sgf", records_pages.series_sgf, name="series-sgf"),
    path("series/<int:series_id>.json", records_pages.series_json, name="series-json"),
]
