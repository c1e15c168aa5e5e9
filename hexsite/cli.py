"""``hexgame-server``: migrate the database and serve the arena with daphne (or uvicorn).

Daphne is the default server. ``--server uvicorn`` serves the same ASGI
application with uvicorn on uvloop and httptools, which profiles showed to
spend far less time per WebSocket message than daphne's Twisted/autobahn
stack (see the README's benchmark section); the protocol, close codes and
message-size limit are the same on both. uvicorn runs through
``hexsite.uvicorn_serve`` (see there why). With ``--workers N`` each process
accepts on its own SO_REUSEPORT socket, whichever the server.

With ``HEX_HOUSE_BOTS`` set it also starts ``hexgame house`` for those bots,
pointed at this server over loopback, restarts it (with backoff) if it dies,
and stops it with the server."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

SERVERS = ("daphne", "uvicorn")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hexgame-server", description="Run the Hex arena server (daphne or uvicorn).")
    parser.add_argument("--host", default=os.environ.get("HEX_HOST", "127.0.0.1"), help="interface to bind")
    # A string default goes through ``type`` like a typed value, so a bad
    # HEX_PORT is a usage error rather than a traceback.
    parser.add_argument("--port", type=int, default=os.environ.get("HEX_PORT", "8000"), help="TCP port")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes on the same port (more than 1 needs HEX_REDIS_URL and PostgreSQL)")
    parser.add_argument("--server", choices=SERVERS, default=os.environ.get("HEX_SERVER", "daphne"),
                        help="ASGI server (default daphne; uvicorn needs the 'uvicorn' extra)")
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


def _has_uvicorn() -> bool:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


# Database threads per worker when several share the machine and the
# operator chose none. Each worker's PostgreSQL moves run on its event loop
# (matchmaking/loop_batches.py); its threads serve matchmakes, which wait for
# one lock anyway, leaves and game ends. Two workers on one core at 200 games
# / 50 ms served a median 95 % of the moves with 4 threads each, 93 % with 8
# and 89 % with 16 (docs/benchmarks.md, sixteenth session), where one worker
# did as well or better with its default 16.
SEVERAL_WORKERS_DB_THREADS = 4


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hexsite.settings")
    os.environ["HEX_LOG_LEVEL"] = args.log_level.upper()
    if args.workers < 1:
        print("hexgame-server: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.server not in SERVERS:  # argparse checks the choices of a typed --server, not of its default
        print(f"hexgame-server: HEX_SERVER must be daphne or uvicorn, not {args.server!r}", file=sys.stderr)
        return 2
    if args.server == "uvicorn" and not _has_uvicorn():
        print("hexgame-server: --server uvicorn needs uvicorn: pip install 'hexgame[uvicorn]'", file=sys.stderr)
        return 2
    refusal = _workers_refusal(args.workers)
    if refusal:
        print(f"hexgame-server: {refusal}", file=sys.stderr)
        return 2
    crowding = _workers_warning(args.workers, usable_cpus())
    if crowding:
        print(f"hexgame-server: warning: {crowding}", file=sys.stderr)
    if args.workers > 1:
        os.environ.setdefault("HEX_DB_THREADS", str(SEVERAL_WORKERS_DB_THREADS))

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

    def supervised(start: Callable[[], subprocess.Popen], count: int = 1) -> int:
        return supervise(start, count, house=house)

    verbosity = {"critical": "0", "error": "0", "warning": "0", "info": "1", "debug": "2"}[args.log_level]

    def serving_command(listener_fd: int | None) -> list[str]:
        """The server process: binding host:port itself, or on an inherited socket."""
        if args.server == "uvicorn":
            bind = ["--host", args.host, "--port", str(args.port)]
            return [sys.executable, "-m", "hexsite.uvicorn_serve", *(bind if listener_fd is None else
                    ["--fd", str(listener_fd)]), "--log-level", args.log_level]
        bind = ["-b", args.host, "-p", str(args.port)]
        return [sys.executable, "-m", "daphne", *(bind if listener_fd is None else ["--fd", str(listener_fd)]),
                "-v", verbosity, "hexsite.asgi:application"]

    if args.workers == 1:
        cmd = serving_command(None)
        if house is None:
            os.execv(sys.executable, cmd)  # become the server: signals (and a kill -9) reach it directly
        return supervised(lambda: subprocess.Popen(cmd))
    # Several processes, each accepting on its own SO_REUSEPORT socket bound
    # to the same port: the kernel spreads connections evenly, where one
    # shared socket lets whichever process wakes first take most of them.
    host, port = args.host, args.port

    def start_worker() -> subprocess.Popen:
        # The parent's copy of the socket closes on leaving the block: a dead
        # worker's socket (and the connections queued on it) dies with it.
        with bind_listener(host, port, reuseport=True) as listener:
            return subprocess.Popen(serving_command(listener.fileno()), pass_fds=(listener.fileno(),))

    return supervised(start_worker, args.workers)


def bind_listener(host: str, port: int, reuseport: bool = False, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when the host is).

    ``reuseport``: one of several sockets the worker processes bind to the
    same port (SO_REUSEPORT); without it a second server on the port fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(backlog)
    return listener


# A worker that dies sooner than this after starting is not restarted: the
# server stops with its exit code (a port in use, a bad setting, ...).
MIN_WORKER_LIFETIME = 5.0


def supervise(start: Callable[[], subprocess.Popen], count: int, house: HouseSupervisor | None = None,
              restart_delay: float = 1.0, min_lifetime: float = MIN_WORKER_LIFETIME) -> int:
    """Keep ``count`` processes made by ``start()`` (and the house bots) running
    until SIGTERM or SIGINT.

    A worker that dies after running a while (crash, OOM kill, kill -9) is
    replaced after ``restart_delay`` seconds; its players reconnect through
    the others meanwhile. One that dies right after starting stops
    everything and its exit code is returned. SIGTERM/SIGINT stop every
    worker and the house bots, so a service manager that signals only this
    process still stops the whole server.
    """
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    workers = [(start(), time.monotonic()) for _ in range(count)]
    code = 0
    try:
        while not stopping:
            time.sleep(0.2)
            if house is not None:
                house.tick()
            for index, (worker, started) in enumerate(workers):
                if worker.poll() is None or stopping:
                    continue
                if time.monotonic() - started < min_lifetime:
                    print(f"hexgame-server: worker {worker.pid} exited with {worker.returncode} at start",
                          file=sys.stderr)
                    code, stopping = worker.returncode or 1, True
                    break
                print(f"hexgame-server: worker {worker.pid} exited with {worker.returncode}; restarting",
                      file=sys.stderr)
                time.sleep(restart_delay)
                workers[index] = (start(), time.monotonic())
    finally:
        if house is not None:
            house.stop()
        for worker, _ in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker, _ in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


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


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity (``taskset``, cpusets)
    where the platform has one (not macOS), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _workers_warning(workers: int, cpus: int) -> str | None:
    """A warning when ``workers`` processes would share fewer CPUs than that.

    A worker beyond one per CPU adds no capacity, only the traffic between
    workers through Redis and the processes' switching: on one core, two
    workers served fewer moves, with a longer tail, than one (README,
    Benchmarks). It may still be wanted (a worker killed leaves another
    serving), so it is a warning, not a refusal.
    """
    if workers <= cpus:
        return None
    return (f"{workers} workers share {cpus} CPU{'s' if cpus != 1 else ''}: a worker beyond one per CPU adds "
            f"no capacity, only traffic between workers; --workers {cpus} is likely to serve more")


if __name__ == "__main__":
    sys.exit(main())
