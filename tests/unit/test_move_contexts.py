"""``move_contexts``: when the kept move contexts must be dropped, seen from
the batches the event loop opens (no database: the batch's connection only
answers ``PRAGMA data_version``)."""

from __future__ import annotations

import pytest

from matchmaking import group_commit, move_contexts


class Connection:
    """A raw connection whose ``PRAGMA data_version`` reads ``version``."""

    def __init__(self, version: int) -> None:
        self.version = version

    def execute(self, sql: str) -> Connection:
        assert sql == "PRAGMA data_version"
        return self

    def fetchone(self) -> tuple[int]:
        return (self.version,)


class Batch:
    def __init__(self, raw: Connection) -> None:
        self.raw = raw
        self.data_version: int | None = None
        self.failures: list = []


@pytest.fixture
def open_batch(monkeypatch):
    """Make ``batch`` the open one: ``open_batch(batch)``."""
    move_contexts.forget_all()
    current: list[Batch | None] = [None]
    monkeypatch.setattr(group_commit, "open_batch", lambda: current[0])
    monkeypatch.setattr(move_contexts, "_read_on", [None, None])

    def set_open(batch: Batch | None) -> dict | None:
        current[0] = batch
        return move_contexts.in_sqlite_batch()

    yield set_open
    move_contexts.forget_all()


def test_contexts_are_kept_only_inside_a_batch(open_batch):
    assert open_batch(None) is None


def test_kept_across_batches_while_nobody_else_committed(open_batch):
    loop_connection = Connection(7)
    open_batch(Batch(loop_connection))[3] = "context of slot 3"
    assert open_batch(Batch(loop_connection)) == {3: "context of slot 3"}


def test_another_connection_s_commit_drops_them(open_batch):
    loop_connection = Connection(7)
    open_batch(Batch(loop_connection))[3] = "context of slot 3"
    loop_connection.version = 8
    assert open_batch(Batch(loop_connection)) == {}


def test_a_new_connection_drops_them_even_at_the_same_counter(open_batch):
    """data_version counters of two connections do not compare."""
    open_batch(Batch(Connection(7)))[3] = "context of slot 3"
    assert open_batch(Batch(Connection(7))) == {}


def test_a_rolled_back_batch_drops_them(open_batch):
    loop_connection = Connection(7)
    batch = Batch(loop_connection)
    open_batch(batch)[3] = "written before the commit that failed"
    for told in batch.failures:
        told(OSError("disk full"))
    assert open_batch(Batch(loop_connection)) == {}
