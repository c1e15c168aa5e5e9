"""A scripted stand-in for the arena, for client tests that need exact frames.

Subclasses write ``script(ws)``: what the server sends and how it answers.
It runs on a free loopback port in a background thread for the ``with`` block.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from websockets.sync.server import ServerConnection, serve


class FakeArena:
    def __init__(self) -> None:
        self.server = serve(self.script, "127.0.0.1", 0)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def script(self, ws: ServerConnection) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def send(ws: ServerConnection, type_: str, **payload: Any) -> None:
        ws.send(json.dumps({"type": type_, "payload": payload}))

    def __enter__(self) -> FakeArena:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(5)
