"""Two fixes to how daphne closes WebSockets, installed by ``hexsite.asgi``.

* Close codes pass through. Autobahn's ``sendClose`` only lets a server send
  1000 or 3000-4999 and raises on anything else, which daphne turns into
  1011; the protocol needs 1008 (policy: bad parameters, refused seats) and
  1001 (a seat taken over by a reconnect), as the reference sends them.
* Oversized messages close cleanly. Daphne caps a message at 1 MiB. On a
  bigger one autobahn fails the connection, goes on parsing the rest of the
  oversized frame as garbage and closes the socket with unread input, so the
  kernel answers with a reset and the client never sees why (1006). Instead
  we send a close frame with 1009 (message too big) and discard whatever
  else the client sends until the closing handshake ends.

Daphne imports the ASGI application before it builds its WebSocket factory,
so installing from ``hexsite.asgi`` covers ``daphne``, ``hexgame-server`` and
``manage.py runserver`` alike.
"""

from __future__ import annotations

import daphne.server
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

CLOSE_MESSAGE_TOO_BIG = 1009


class ArenaWebSocketProtocol(WebSocketProtocol):
    _discarding = False

    def serverClose(self, code: int | None = None) -> None:  # noqa: N802 - daphne's name
        self.sendCloseFrame(code=1000 if code is None else code, isReply=False)

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        if self._discarding:
            return
        self._discarding = True
        self.data = b""  # the rest of the oversized frame is not a frame
        if self.state == AutobahnProtocol.STATE_OPEN:
            self.sendCloseFrame(code=CLOSE_MESSAGE_TOO_BIG, reasonUtf8=b"Message too big", isReply=False)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self._discarding:
            # Keep draining so closing the socket later does not reset it;
            # autobahn's close-handshake timeout drops the connection.
            return
        super().dataReceived(data)


class CleanCloseWebSocketFactory(WebSocketFactory):
    protocol = ArenaWebSocketProtocol


def install() -> None:
    """Make daphne build our WebSocket protocol (idempotent)."""
    daphne.server.WebSocketFactory = CleanCloseWebSocketFactory
