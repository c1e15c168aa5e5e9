"""Leaves the database refused are recorded by the sweeper, in order, once
it answers again."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from matchmaking import runtime
from matchmaking.outbox import Outbox


@pytest.fixture(autouse=True)
def empty_queue():
    runtime._unrecorded_leaves.clear()
    yield
    runtime._unrecorded_leaves.clear()


def test_leaves_wait_while_the_database_is_down_and_are_recorded_in_order_when_it_is_back():
    database_up = False
    recorded: list[str] = []

    def leave(name: str) -> Outbox:
        if not database_up:
            raise OperationalError("connection refused")
        recorded.append(name)
        outbox = Outbox()
        outbox.send(f"channel-of-{name}", {"type": "left", "payload": {"who": name}})
        return outbox

    runtime.record_leave_later(leave, "blue")
    runtime.record_leave_later(leave, "watcher")
    runtime.record_unrecorded_leaves()
    assert recorded == [] and len(runtime._unrecorded_leaves) == 2

    database_up = True
    outbox = runtime.record_unrecorded_leaves()
    assert recorded == ["blue", "watcher"]
    assert list(outbox.messages) == ["channel-of-blue", "channel-of-watcher"]
    assert not runtime._unrecorded_leaves


def test_a_leave_failing_for_another_reason_is_dropped_and_does_not_block_the_rest():
    recorded: list[str] = []

    def broken() -> Outbox:
        raise ValueError("a bug, not an outage")

    def leave() -> Outbox:
        recorded.append("after")
        return Outbox()

    runtime.record_leave_later(broken)
    runtime.record_leave_later(leave)
    runtime.record_unrecorded_leaves()
    assert recorded == ["after"] and not runtime._unrecorded_leaves
