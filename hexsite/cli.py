"""``hexgame-server``: migrate the database and serve the arena with daphne (or uvicorn).

Daphne is the default server. ``--server uvicorn`` serves the same ASGI
application with uvicorn on uvloop and httptools, which profiles showed to
spend far less time per WebSocket message than daphne's Twisted/autobahn
stack (see the README's benchmark section); the protocol, close codes and
message-size limit are the same on both.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

# Daphne's own cap on a WebSocket message; uvicorn is given the same.
WEBSOCKET_MAX_MESSAGE_BYTES = 1024 * 1024


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hexgame-server", description="Run the Hex arena server (daphne).")
    parser.add_argument("--host", default=os.environ.get("HEX_HOST", "127.0.0.1"), help="interface to bind")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEX_PORT", "8000")), help="TCP port")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes sharing the socket (more than 1 needs HEX_REDIS_URL and PostgreSQL)")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default=os.environ.get("HEX_SERVER", "daphne"),
                        help="ASGI server (default daphne; uvicorn needs the 'uvicorn' extra)")
    parser.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--no-migrate", action="store_true", help="do not apply database migrations first")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hexsite.settings")
    os.environ["HEX_LOG_LEVEL"] = args.log_level.upper()
    if args.workers < 1:
        print("hexgame-server: --workers must be at least 1", file=sys.stderr)
        return 2
    refusal = _workers_refusal(args.workers)
    if refusal:
        print(f"hexgame-server: {refusal}", file=sys.stderr)
        return 2

    import django
    from django.core.management import call_command

    django.setup()
    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    if args.reload:
        call_command("runserver", f"{args.host}:{args.port}")
        return 0

    if args.server == "uvicorn":
        return _serve_uvicorn(args)
    verbosity = {"critical": "0", "error": "0", "warning": "0", "info": "1", "debug": "2"}[args.log_level]
    if args.workers == 1:
        # Become daphne: signals (and a kill -9) reach the server itself.
        os.execv(sys.executable, [sys.executable, "-m", "daphne", "-b", args.host, "-p", str(args.port),
                                  "-v", verbosity, "hexsite.asgi:application"])
    # Several daphne processes, each accepting on its own SO_REUSEPORT socket
    # bound to the same port: the kernel spreads connections evenly, where one
    # shared socket lets whichever process wakes first take most of them.
    host, port = args.host, args.port

    def start_worker() -> subprocess.Popen:
        with _reuseport_listener(host, port) as listener:
            return subprocess.Popen(
                [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), "-v", verbosity,
                 "hexsite.asgi:application"],
                pass_fds=(listener.fileno(),),
            )  # the parent's copy closes here: a dead worker's socket dies with it

    return supervise(start_worker, args.workers)


def _reuseport_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(1024)
    listener.set_inheritable(True)
    return listener


def supervise(start: Callable[[], subprocess.Popen], count: int, restart_delay: float = 1.0) -> int:
    """Keep ``count`` processes made by ``start()`` running until SIGTERM or SIGINT.

    A worker that dies (crash, OOM kill, kill -9) is replaced after
    ``restart_delay`` seconds; its players reconnect through the others
    meanwhile. SIGTERM/SIGINT stop every worker, so a service manager that
    signals only this process still stops the whole server.
    """
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    workers = [start() for _ in range(count)]
    try:
        while not stopping:
            time.sleep(0.2)
            for index, worker in enumerate(workers):
                if worker.poll() is not None and not stopping:
                    print(f"hexgame-server: worker {worker.pid} exited with {worker.returncode}; restarting",
                          file=sys.stderr)
                    time.sleep(restart_delay)
                    workers[index] = start()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _workers_refusal(workers: int) -> str | None:
    """Why ``workers`` processes cannot share this configuration, if they cannot.

    Every process must see the same channel layer (Redis) and the same
    database with real row locks (PostgreSQL); SQLite files and the in-memory
    layer are per machine or per process.
    """
    if workers <= 1:
        return None
    if not os.environ.get("HEX_REDIS_URL"):
        return "--workers > 1 needs HEX_REDIS_URL (the in-memory channel layer is per process)"
    if not os.environ.get("HEX_DATABASE_URL", "").startswith(("postgres", "postgresql")):
        return "--workers > 1 needs a PostgreSQL HEX_DATABASE_URL (SQLite has no row locks across processes)"
    return None


def _serve_uvicorn(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        print("hexgame-server: --server uvicorn needs uvicorn: pip install 'hexgame[uvicorn]'", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "uvicorn", "hexsite.asgi:application", "--host", args.host, "--port",
           str(args.port), "--workers", str(args.workers), "--loop", "uvloop", "--http", "httptools",
           "--ws", "websockets-sansio", "--ws-max-size", str(WEBSOCKET_MAX_MESSAGE_BYTES),
           "--ws-per-message-deflate", "false", "--lifespan", "off", "--no-access-log",
           "--log-level", args.log_level]
    os.execv(sys.executable, cmd)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
