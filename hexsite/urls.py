from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from stats import views as api

urlpatterns = [
    path("health", api.HealthView.as_view(), name="health"),
    path("slots", api.SlotListView.as_view(), name="slots"),
    path("api/statistics", api.StatisticsView.as_view(), name="api-statistics"),
    # JSON whatever the Accept header says: the path promises it (the generic
    # view answers YAML to clients that accept anything).
    path("api/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="swagger-ui"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="openapi-schema"), name="redoc"),
    path("admin/", admin.site.urls),
]

# Web pages (hexsite.views): landing, usage guide, live overview, statistics.
from hexsite import views as pages  # noqa: E402

urlpatterns += [
    path("", pages.landing, name="landing"),
    path("docs", pages.docs, name="docs"),
    path("overview", pages.overview, name="overview"),
    path("statistics", pages.statistics_page, name="statistics"),
]
