"""Every WebSocket route of the site."""

from matchmaking.routing import websocket_urlpatterns as matchmaking_routes

websocket_urlpatterns = [*matchmaking_routes]

# Live overview feed (hexsite.live); sessions give it the user for HEX_OVERVIEW=staff.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from django.urls import path  # noqa: E402

from hexsite.live import OverviewConsumer  # noqa: E402

websocket_urlpatterns.append(path("ws/overview", AuthMiddlewareStack(OverviewConsumer.as_asgi())))
