"""Every WebSocket route of the site."""

from matchmaking.routing import websocket_urlpatterns as matchmaking_routes

websocket_urlpatterns = [*matchmaking_routes]
