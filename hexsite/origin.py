"""Origin checks for WebSockets that still admit bots.

Browsers always send ``Origin``, so checking it stops a page on another site
from driving a visitor's browser into our sockets. Bots and CLI clients send
no Origin at all and must keep working; Channels' own
``AllowedHostsOriginValidator`` refuses a missing Origin, which would lock out
every existing client of the reference arena.
"""

from typing import Any
from urllib.parse import ParseResult

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    """Origin must match ALLOWED_HOSTS when present; absent is fine."""

    def __init__(self, application: Any) -> None:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed)

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)
