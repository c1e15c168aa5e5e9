"""``hexgame-server``: migrate the database and serve the arena with daphne.

With ``HEX_HOUSE_BOTS`` set it also starts ``hexgame house`` for those bots,
pointed at this server over loopback, restarts it (with backoff) if it dies,
and stops it with the server.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence


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


def loopback_url(host: str, port: int) -> str:
    """Where house bots on this machine reach a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"ws://[{host}]:{port}" if ":" in host else f"ws://{host}:{port}"


def house_plan(spec: str, max_slots: int, per_ip_cap: int) -> tuple[list[str], list[str]]:
    """``hexgame house`` arguments for ``HEX_HOUSE_BOTS`` and warnings; ``ValueError`` when unusable."""
    from clients.house import parse_bot
    from games import rules

    entries = [item.strip() for item in spec.split(",") if item.strip()]
    seats = [parse_bot(entry) for entry in entries]
    for seat in seats:
        if seat.board_size not in rules.BOARD_SIZES or seat.series_length not in rules.SERIES_LENGTHS:
            raise ValueError(f"HEX_HOUSE_BOTS: {seat.model}:{seat.board_size}:{seat.series_length} has an "
                             f"unsupported board size or series length")
    if len(seats) >= max_slots:
        raise ValueError(f"HEX_HOUSE_BOTS lists {len(seats)} bots but HEX_MAX_SLOTS is {max_slots}: every bot "
                         f"holds a slot, so leave at least one free (raise HEX_MAX_SLOTS)")
    warnings = []
    if per_ip_cap and len(seats) > per_ip_cap:
        raise ValueError(f"HEX_HOUSE_BOTS lists {len(seats)} bots but HEX_MAX_CONNECTIONS_PER_IP is {per_ip_cap}: "
                         f"the house bots all connect from loopback (raise the cap or set it to 0)")
    if per_ip_cap and len(seats) == per_ip_cap:
        warnings.append(f"the {len(seats)} house bots use every loopback seat HEX_MAX_CONNECTIONS_PER_IP allows: "
                        f"players connecting through loopback (or an untrusted local proxy) will be refused")
    args: list[str] = []
    for seat in seats:
        args += ["--bot", f"{seat.model}:{seat.board_size}:{seat.series_length}"]
    return args, warnings


class HouseSupervisor:
    """Keeps one ``hexgame house`` process running beside the server."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.process: subprocess.Popen | None = None
        self.backoff = 1.0
        self.next_start = time.monotonic() + 1.0  # give daphne a moment to bind first
        self.started_at = 0.0

    def tick(self) -> None:
        """Start the house process if it is not running and its backoff has passed."""
        if self.process is not None and self.process.poll() is None:
            return
        now = time.monotonic()
        if self.process is not None:
            code, self.process = self.process.returncode, None
            if now - self.started_at > 60:
                self.backoff = 1.0
            print(f"hexgame-server: house bots exited with {code}; restarting in {self.backoff:g}s",
                  file=sys.stderr, flush=True)
            self.next_start = now + self.backoff
            self.backoff = min(self.backoff * 2, 60.0)
        if now >= self.next_start:
            self.process = subprocess.Popen(self.argv)
            self.started_at = now

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the bots close their connections and exit 0
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class _StopRequestedError(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _StopRequestedError


def supervise(servers: list[subprocess.Popen], house: HouseSupervisor | None) -> int:
    """Wait for the server processes, keeping the house bots up; SIGTERM/SIGINT stop everything."""
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    code = 0
    try:
        while True:
            finished = [server.poll() for server in servers]
            if any(result is not None for result in finished):
                code = max(result for result in finished if result is not None)
                break
            if house is not None:
                house.tick()
            time.sleep(0.5)
    except (_StopRequestedError, KeyboardInterrupt):
        code = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if house is not None:
            house.stop()
        for server in servers:
            if server.poll() is None:
                server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return code


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
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    house: HouseSupervisor | None = None
    if settings.HEX_HOUSE_BOTS.strip():
        try:
            house_args, warnings = house_plan(settings.HEX_HOUSE_BOTS, settings.HEX_MAX_SLOTS,
                                              settings.HEX_MAX_CONNECTIONS_PER_IP)
        except ValueError as exc:
            print(f"hexgame-server: {exc}", file=sys.stderr)
            return 2
        for warning in warnings:
            print(f"hexgame-server: warning: {warning}", file=sys.stderr)
        house = HouseSupervisor([sys.executable, "-m", "clients.cli", "house", "--server",
                                 loopback_url(args.host, args.port), "--username", settings.HEX_HOUSE_USERNAME,
                                 *house_args])
    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    if args.reload:
        if house is not None:
            house.tick()
        try:
            call_command("runserver", f"{args.host}:{args.port}")
        finally:
            if house is not None:
                house.stop()
        return 0

    verbosity = {"critical": "0", "error": "0", "warning": "0", "info": "1", "debug": "2"}[args.log_level]
    if args.workers == 1:
        cmd = [sys.executable, "-m", "daphne", "-b", args.host, "-p", str(args.port), "-v", verbosity,
               "hexsite.asgi:application"]
        return supervise([subprocess.Popen(cmd)], house)
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
    return supervise(workers, house)


if __name__ == "__main__":
    sys.exit(main())
