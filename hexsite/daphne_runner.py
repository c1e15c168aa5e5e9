"""Run daphne with one change: oversized WebSocket messages close cleanly.

Daphne caps a message at 1 MiB. On a bigger one autobahn fails the
connection, goes on parsing the rest of the oversized frame as garbage and
closes the socket with unread input, so the kernel answers with a reset and
the client never sees why (1006). Instead we send a close frame with 1009
(message too big) and discard whatever else the client sends until the
closing handshake ends, so the client reads a proper close.

Used as ``python -m hexsite.daphne_runner <daphne args>`` by
``hexgame-server`` and the end-to-end tests; plain ``daphne`` serves the same
application, minus this nicety.
"""

from __future__ import annotations

import sys

import daphne.server
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

CLOSE_MESSAGE_TOO_BIG = 1009


class OversizeClosingProtocol(WebSocketProtocol):
    _discarding = False

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
    protocol = OversizeClosingProtocol


def main(argv: list[str] | None = None) -> None:
    daphne.server.WebSocketFactory = CleanCloseWebSocketFactory
    CommandLineInterface().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
