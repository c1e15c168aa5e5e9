from django.urls import path

from matchmaking import consumers

websocket_urlpatterns = [
    path("ws/matchmake", consumers.MatchmakeConsumer.as_asgi()),
    path("ws/join-slot", consumers.JoinSlotConsumer.as_asgi()),
    path("ws/reconnect", consumers.ReconnectConsumer.as_asgi()),
    path("ws/slots", consumers.SlotsFeedConsumer.as_asgi()),
    # Extension: read-only spectators of one slot.
    path("ws/watch", consumers.WatchConsumer.as_asgi()),
]
