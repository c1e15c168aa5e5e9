"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hexsite.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from hexsite import websocket_close  # noqa: E402
from hexsite.origin import BrowserOriginValidator  # noqa: E402
from hexsite.routing import websocket_urlpatterns  # noqa: E402
from matchmaking import runtime  # noqa: E402

websocket_close.install()


class StartRuntime:
    """Starts this process's heartbeat and sweeper before the first request.

    Daphne sends no ASGI lifespan events, so the first scope of any kind (a
    health check, a page, a socket) does it; servers that do send lifespan
    events get it at startup.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await runtime.ensure_started()
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await runtime.ensure_started()
        return await self.app(scope, receive, send)


application = StartRuntime(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": BrowserOriginValidator(URLRouter(websocket_urlpatterns)),
        }
    )
)
