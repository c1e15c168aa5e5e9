"""Every WebSocket route of the site."""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from hexsite.live import OverviewConsumer
from matchmaking.routing import websocket_urlpatterns as matchmaking_routes

websocket_urlpatterns = [
    *matchmaking_routes,
    # Live overview feed; sessions give it the user for HEX_OVERVIEW=staff.
    path("ws/overview", AuthMiddlewareStack(OverviewConsumer.as_asgi())),
    # Anything else: refuse the handshake (HTTP 403) instead of crashing the
    # router into a 500.
    re_path(r"", WebsocketDenier.as_asgi()),
]
