"""A real daphne server on a free loopback port, for end-to-end tests.

Each server gets its own SQLite file (or the URL given), is migrated first,
and is polled on /health until it answers. ``kill()`` is a SIGKILL, so tests
can crash it mid-game and ``start()`` it again on the same port and database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, workdir: Path, env: dict[str, str] | None = None, port: int | None = None,
                 server: str = "daphne", workers: int = 1) -> None:
        self.workdir = workdir
        self.server = server
        self.workers = workers
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "hexsite.settings",
            "HEX_DATABASE_URL": f"sqlite:///{workdir / 'arena.sqlite3'}",
            "HEX_DATA_DIR": str(workdir),
            "HEX_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / f"daphne-{self.port}.log"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def migrate(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env,
                       check=True)

    def start(self, timeout: float = 30.0) -> LiveServer:
        self.migrate()
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        if self.server == "daphne" and self.workers == 1:
            command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                       "hexsite.asgi:application"]
        else:  # the same command line an operator uses
            command = [sys.executable, "-m", "hexsite.cli", "--no-migrate", "--host", "127.0.0.1", "--port",
                       str(self.port), "--server", self.server, "--workers", str(self.workers),
                       "--log-level", "warning"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() and kill() reach every worker
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server} exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.http_url}/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.server} did not answer on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no goodbyes."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http_json(url: str):
    """GET a JSON document."""
    import json

    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
