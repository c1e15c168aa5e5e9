"""``hexgame-server``: refusals, and the supervisor behind ``--workers``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hexsite import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "needs HEX_REDIS_URL"),
        ({"HEX_REDIS_URL": "redis://127.0.0.1:6379/0"}, "needs a PostgreSQL HEX_DATABASE_URL"),
        ({"HEX_REDIS_URL": "redis://127.0.0.1:6379/0", "HEX_DATABASE_URL": "sqlite:////tmp/x.sqlite3"},
         "needs a PostgreSQL HEX_DATABASE_URL"),
    ],
)
def test_several_workers_are_refused_without_redis_and_postgresql(monkeypatch, capsys, env, expected):
    monkeypatch.setenv("HEX_LOG_LEVEL", "WARNING")  # main() sets it; restored after the test
    monkeypatch.delenv("HEX_REDIS_URL", raising=False)
    monkeypatch.delenv("HEX_DATABASE_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert cli.main(["--workers", "2", "--no-migrate"]) == 2
    assert expected in capsys.readouterr().err


def test_several_workers_are_accepted_with_redis_and_postgresql(monkeypatch):
    monkeypatch.setenv("HEX_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("HEX_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert cli._workers_refusal(4) is None
    assert cli._workers_refusal(1) is None


def test_zero_workers_is_an_error(monkeypatch, capsys):
    monkeypatch.setenv("HEX_LOG_LEVEL", "WARNING")
    assert cli.main(["--workers", "0", "--no-migrate"]) == 2
    assert "at least 1" in capsys.readouterr().err


def _must_not_serve(*args):
    raise AssertionError(f"a server was started: {args}")


def test_the_server_can_be_chosen_in_the_environment(monkeypatch):
    monkeypatch.setenv("HEX_SERVER", "uvicorn")
    assert cli.build_parser().parse_args([]).server == "uvicorn"
    assert cli.build_parser().parse_args(["--server", "daphne"]).server == "daphne"


def test_an_unknown_server_in_the_environment_is_refused(monkeypatch, capsys):
    # Without the check, any other value quietly started daphne.
    monkeypatch.setenv("HEX_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("HEX_SERVER", "gunicorn")
    monkeypatch.setattr(cli.os, "execv", _must_not_serve)
    assert cli.main(["--no-migrate"]) == 2
    assert "HEX_SERVER must be daphne or uvicorn, not 'gunicorn'" in capsys.readouterr().err


def test_a_bad_port_in_the_environment_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("HEX_PORT", "http")
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args([])
    assert exited.value.code == 2
    assert "--port: invalid int value: 'http'" in capsys.readouterr().err
    monkeypatch.setenv("HEX_PORT", "9123")
    assert cli.build_parser().parse_args([]).port == 9123


SUPERVISED = """
import sys
from hexsite.cli import supervise
import subprocess
sys.exit(supervise(lambda: subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]), 2,
                   restart_delay=0.1, min_lifetime=0))
"""


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return {int(child) for child in children.read().split()}


def _wait_for(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_supervisor_restarts_a_killed_worker_and_stops_all_on_sigterm():
    parent = subprocess.Popen([sys.executable, "-c", SUPERVISED], cwd=ROOT)
    try:
        first = _wait_for(lambda: len(_children(parent.pid)) == 2 and _children(parent.pid))
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        replaced = _wait_for(lambda: (kids := _children(parent.pid)) and victim not in kids and len(kids) == 2
                             and kids)
        assert len(replaced & first) == 1  # the survivor kept running

        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=20) == 0
        for pid in replaced:
            _wait_for(lambda pid=pid: not os.path.exists(f"/proc/{pid}") or _is_zombie(pid))
    finally:
        if parent.poll() is None:
            parent.kill()


def test_supervisor_stops_when_a_worker_dies_at_start():
    """A worker that cannot start (port in use, bad setting) is not restarted
    in a loop: the server stops with its exit code."""
    script = """
import subprocess, sys, time
from hexsite.cli import supervise
sys.exit(supervise(lambda: subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"]), 2))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "at start" in result.stderr


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_more_workers_than_cpus_are_warned_about():
    assert cli._workers_warning(2, 2) is None
    assert cli._workers_warning(1, 1) is None
    warning = cli._workers_warning(2, 1)
    assert warning is not None and "2 workers share 1 CPU:" in warning and "--workers 1" in warning
    assert "share 2 CPUs" in cli._workers_warning(3, 2)


def test_usable_cpus_follow_the_affinity_or_else_the_cpu_count(monkeypatch):
    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: {1}, raising=False)
    assert cli.usable_cpus() == 1
    monkeypatch.delattr(cli.os, "sched_getaffinity")  # macOS has none
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 8)
    assert cli.usable_cpus() == 8


def test_the_warning_is_printed_but_the_server_still_starts(monkeypatch, capsys):
    monkeypatch.setenv("HEX_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("HEX_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("HEX_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    monkeypatch.setattr(cli, "usable_cpus", lambda: 1)
    started = []
    monkeypatch.setattr(cli, "supervise", lambda start, count, house=None: started.append(count) or 0)
    monkeypatch.setattr("django.setup", lambda: None)

    assert cli.main(["--workers", "2", "--no-migrate"]) == 0
    assert started == [2]
    assert "warning: 2 workers share 1 CPU" in capsys.readouterr().err


@pytest.mark.parametrize(("workers", "chosen", "expected"), [(2, None, "4"), (2, "12", "12"), (1, None, None)])
def test_several_workers_default_to_fewer_database_threads(monkeypatch, workers, chosen, expected):
    monkeypatch.setenv("HEX_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("HEX_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("HEX_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("HEX_DB_THREADS", "unset below; restored after the test")
    monkeypatch.delenv("HEX_DB_THREADS")
    if chosen is not None:
        monkeypatch.setenv("HEX_DB_THREADS", chosen)
    monkeypatch.setattr(cli, "usable_cpus", lambda: 2)
    monkeypatch.setattr(cli, "supervise", lambda start, count, house=None: 0)
    monkeypatch.setattr(os, "execv", lambda *args: 0)  # one worker: the CLI would become the server
    monkeypatch.setattr("django.setup", lambda: None)

    assert cli.main(["--workers", str(workers), "--no-migrate"]) in (0, None)
    assert os.environ.get("HEX_DB_THREADS") == expected
