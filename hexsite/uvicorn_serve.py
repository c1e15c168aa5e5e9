"""One uvicorn process serving the arena: ``python -m hexsite.uvicorn_serve``.

``hexgame-server --server uvicorn`` runs this instead of uvicorn's own
command line, for one reason: libuv accepts a single connection per event-loop
pass and listening socket. Under load a pass takes tens of milliseconds, so
with one socket the kernel's accept queue grew to hundreds of connections and
new players waited up to two seconds before the server even read their
handshake (measured with ``bench/load.py``, 200 games at 50 ms think time).
Serving on several descriptors of the same listening socket lets each pass
accept one connection per descriptor; it needs no SO_REUSEPORT, so a second
server started on the same port still fails with "address in use".
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from hexsite.cli import bind_listener

# Connections one event-loop pass can accept. An idle server pays for the
# extra descriptors only with a few refused accept() calls per connection.
ACCEPTORS = 16

# Daphne's own cap on a WebSocket message; uvicorn is given the same.
WEBSOCKET_MAX_MESSAGE_BYTES = 1024 * 1024


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hexsite.uvicorn_serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, help="serve on this inherited listening socket instead of binding")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def acceptor_sockets(listener: socket.socket, count: int = ACCEPTORS) -> list[socket.socket]:
    """``count`` descriptors of ``listener``'s one socket (the first is
    ``listener`` itself), each of which the event loop watches and accepts
    from separately."""
    return [listener, *(listener.dup() for _ in range(count - 1))]


def serve(listener: socket.socket, log_level: str) -> None:
    """Serve ``hexsite.asgi:application`` on ``listener`` until SIGTERM/SIGINT:
    uvloop, httptools, the sans-I/O websockets protocol without per-message
    compression (its zlib state costs memory per connection), daphne's
    message cap, no access log."""
    import uvicorn

    config = uvicorn.Config(
        "hexsite.asgi:application", loop="uvloop", http="httptools", ws="websockets-sansio",
        ws_max_size=WEBSOCKET_MAX_MESSAGE_BYTES, ws_per_message_deflate=False, lifespan="off",
        access_log=False, log_level=log_level,
    )
    if log_level in ("info", "debug"):
        host, port = listener.getsockname()[:2]
        print(f"hexgame-server: uvicorn listening on {host}:{port} (process {os.getpid()})", file=sys.stderr,
              flush=True)
    uvicorn.Server(config).run(sockets=acceptor_sockets(listener))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hexsite.settings")
    if args.fd is not None:
        listener = socket.socket(fileno=args.fd)
    else:
        try:
            listener = bind_listener(args.host, args.port)
        except OSError as exc:
            print(f"hexgame-server: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
            return 1
    serve(listener, args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
