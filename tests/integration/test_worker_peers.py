"""Whether a server process knows another worker shares the arena
(``runtime.other_workers_alive``): matchmaking holds newcomers for a partner
on their own worker only then (``matchmaking.local_pairing``)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from matchmaking import runtime
from matchmaking.models import ServerProcess

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shared_layer(monkeypatch):
    # As with Redis: another process may be serving players.
    monkeypatch.setattr(runtime, "single_process", lambda: False)


def test_startup_sees_another_worker_only_while_it_beats(settings, shared_layer):
    runtime.startup_sync()
    assert not runtime.other_workers_alive()

    other = ServerProcess.objects.create(id="another-worker", last_beat=timezone.now(), hostname="h", pid=1)
    runtime.startup_sync()
    assert runtime.other_workers_alive()

    silent_for = timedelta(seconds=3 * settings.HEX_HEARTBEAT_INTERVAL + 1)
    ServerProcess.objects.filter(id=other.id).update(last_beat=timezone.now() - silent_for)
    runtime.startup_sync()
    assert not runtime.other_workers_alive()


def test_the_heartbeat_notices_a_worker_that_starts_later(shared_layer):
    runtime.startup_sync()
    assert not runtime.other_workers_alive()
    ServerProcess.objects.create(id="another-worker", last_beat=timezone.now(), hostname="h", pid=1)
    heart = runtime.Heartbeat(0.05)
    heart.start()
    try:
        for _ in range(200):
            if runtime.other_workers_alive():
                break
            time.sleep(0.025)
        assert runtime.other_workers_alive()
    finally:
        heart.stop()
        heart.join(5)
