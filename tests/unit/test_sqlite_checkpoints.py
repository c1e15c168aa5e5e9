"""SQLite checkpoints on a thread of their own (matchmaking/sqlite_checkpoints.py)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from django.conf import settings

from hexsite.settings import database_from_url
from matchmaking import sqlite_checkpoints
from matchmaking.sqlite_checkpoints import Checkpointer

PAGE = 4096
WAL_FRAME = PAGE + 24  # each frame of the log: a page and its header


def writer(path: Path, autocheckpoint: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
    connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
    return connection


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_committed_pages_reach_the_database_file_without_the_writer_checkpointing(tmp_path):
    path = tmp_path / "arena.sqlite3"
    connection = writer(path, autocheckpoint=0)  # the writer never copies pages itself
    for i in range(200):
        connection.execute("INSERT INTO t (body) VALUES (?)", ("x" * 2000 + str(i),))
    size_before = path.stat().st_size
    checkpointer = Checkpointer(str(path), interval=0.01).start()
    try:
        # 200 rows of 2 kB are about 100 pages: only a checkpoint puts them in the file.
        assert wait_for(lambda: path.stat().st_size >= size_before + 90 * PAGE)
        assert checkpointer.checkpoints >= 1
    finally:
        checkpointer.stop()
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (200,)


def test_the_log_stays_bounded_while_a_writer_commits_all_the_time(tmp_path):
    """A checkpoint racing a busy writer never copies the last frames, and only
    a fully copied log starts over from its beginning: the writer's own
    checkpoint at the settings' bound is what keeps the log from growing."""
    path = tmp_path / "arena.sqlite3"
    bound = settings.WAL_AUTOCHECKPOINT_PAGES
    connection = writer(path, autocheckpoint=bound)
    checkpointer = Checkpointer(str(path), interval=0.005).start()
    try:
        for i in range(5 * bound):  # each commit writes at least one frame
            connection.execute("INSERT INTO t (body) VALUES (?)", (str(i),))
    finally:
        checkpointer.stop()
    wal = path.with_name(path.name + "-wal").stat().st_size
    assert checkpointer.checkpoints >= 1
    # The writer's checkpoint is skipped while this thread's holds the lock,
    # so the log may pass the bound by what the writer commits meanwhile.
    assert wal <= 3 * bound * WAL_FRAME, wal


def test_the_servers_sqlite_connections_bound_the_log_at_that_setting(tmp_path):
    config = database_from_url(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert f"wal_autocheckpoint={settings.WAL_AUTOCHECKPOINT_PAGES};" in config["OPTIONS"]["init_command"]
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


@pytest.mark.parametrize(("name", "interval"), [
    ("file:memorydb_default?mode=memory&cache=shared", 0.05),
    (":memory:", 0.05),
    ("/tmp/arena.sqlite3", 0),
])
def test_no_thread_for_a_database_in_memory_or_with_the_interval_at_zero(name, interval):
    assert sqlite_checkpoints.start(name, interval) is None


def test_a_database_file_that_is_not_there_is_not_created(tmp_path):
    path = tmp_path / "gone.sqlite3"
    checkpointer = Checkpointer(str(path), interval=0.005).start()
    try:
        time.sleep(0.05)  # some ten attempts
    finally:
        checkpointer.stop()
    assert not path.exists() and checkpointer.checkpoints == 0


def test_a_path_with_uri_characters_is_checkpointed(tmp_path):
    path = tmp_path / "odd ?#% name.sqlite3"
    connection = writer(path, autocheckpoint=0)
    connection.execute("INSERT INTO t (body) VALUES (?)", ("x" * 4000,))
    checkpointer = Checkpointer(str(path), interval=0.005).start()
    try:
        assert wait_for(lambda: checkpointer.checkpoints >= 1)
    finally:
        checkpointer.stop()


def test_one_checkpointer_per_process(tmp_path):
    path = str(tmp_path / "arena.sqlite3")
    writer(Path(path), autocheckpoint=0).close()
    try:
        first = sqlite_checkpoints.start(path, 0.05)
        assert first is not None and sqlite_checkpoints.start(path, 0.05) is first
    finally:
        sqlite_checkpoints.stop()
