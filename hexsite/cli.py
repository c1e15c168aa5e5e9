"""``hexgame-server``: migrate the database and serve the arena with daphne."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hexgame-server", description="Run the Hex arena server (daphne).")
    parser.add_argument("--host", default=os.environ.get("HEX_HOST", "127.0.0.1"), help="interface to bind")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEX_PORT", "8000")), help="TCP port")
    parser.add_argument("--workers", type=int, default=1,
                        help="daphne processes sharing the socket (more than 1 needs HEX_REDIS_URL)")
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
    if args.workers > 1 and not os.environ.get("HEX_REDIS_URL"):
        print("hexgame-server: --workers > 1 needs HEX_REDIS_URL (the in-memory channel layer is per process)",
              file=sys.stderr)
        return 2

    import django
    from django.core.management import call_command

    django.setup()
    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    if args.reload:
        call_command("runserver", f"{args.host}:{args.port}")
        return 0

    verbosity = {"critical": "0", "error": "0", "warning": "0", "info": "1", "debug": "2"}[args.log_level]
    if args.workers == 1:
        cmd = [sys.executable, "-m", "daphne", "-b", args.host, "-p", str(args.port), "-v", verbosity,
               "hexsite.asgi:application"]
        return subprocess.call(cmd)
    # Several daphne processes accept on one inherited listening socket.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(512)
    listener.set_inheritable(True)
    cmd = [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), "-v", verbosity,
           "hexsite.asgi:application"]
    workers = [subprocess.Popen(cmd, pass_fds=(listener.fileno(),)) for _ in range(args.workers)]
    try:
        return max(worker.wait() for worker in workers)
    except KeyboardInterrupt:
        for worker in workers:
            worker.terminate()
        return 0


if __name__ == "__main__":
    sys.exit(main())
