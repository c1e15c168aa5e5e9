from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from stats import views as api

urlpatterns = [
    path("health", api.HealthView.as_view(), name="health"),
    path("slots", api.SlotListView.as_view(), name="slots"),
    path("api/statistics", api.StatisticsView.as_view(), name="api-statistics"),
    path("api/openapi.json", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="swagger-ui"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="openapi-schema"), name="redoc"),
    path("admin/", admin.site.urls),
]
