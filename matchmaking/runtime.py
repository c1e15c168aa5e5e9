"""This server process: its identity, heartbeat and background sweeper.

Every process records a heartbeat row; seats remember the process holding
their connection. At start, and on every sweep, seats held by processes that
stopped beating count as disconnected, and reconnect deadlines stored in the
database (reconnect windows and move clocks) are enforced by whichever
process sees them pass.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from matchmaking import services, spectators, sqlite_checkpoints
from matchmaking.db_calls import database_vendor, run_in_db
from matchmaking.delivery import deliver, single_process
from matchmaking.group_commit import CommitFailedError
from matchmaking.models import ServerProcess
from matchmaking.outbox import Outbox

log = logging.getLogger(__name__)

PROCESS_ID = uuid.uuid4().hex
_started: asyncio.Event | None = None
_sweeper: asyncio.Task | None = None
_start_lock: asyncio.Lock | None = None
_heart: Heartbeat | None = None
# Whether another server process beat lately (kept by the heartbeat): only
# then do matchmakers prefer opponents on their own process (``local_pairing``).
_other_workers = False


def alive_process_ids() -> set[str]:
    if single_process():
        return {PROCESS_ID}
    stale_after = timedelta(seconds=settings.HEX_HEARTBEAT_INTERVAL * 3)
    alive = set(ServerProcess.objects.filter(last_beat__gte=timezone.now() - stale_after).values_list("id", flat=True))
    return alive | {PROCESS_ID}


def other_workers_alive() -> bool:
    """Another server process shares this arena, as of the last heartbeat."""
    return _other_workers


def _note_workers(alive: set[str]) -> None:
    global _other_workers
    _other_workers = bool(alive - {PROCESS_ID})


def beat() -> None:
    ServerProcess.objects.update_or_create(
        id=PROCESS_ID,
        defaults={"last_beat": timezone.now(), "hostname": socket.gethostname()[:255], "pid": os.getpid()},
    )


class Heartbeat(threading.Thread):
    """Beats for this process from a thread of its own, with its own database
    connection.

    The other processes declare this one dead after three missed beats and
    release its seats. A beat from the sweeper, on the event loop or behind a
    queue of database calls, came late exactly when the process was busiest
    (a load test at saturation had its players' seats released under them),
    so the beat does not wait for either.
    """

    def __init__(self, interval: float) -> None:
        super().__init__(name="hex-heartbeat", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                beat()
                _note_workers(alive_process_ids())
            except Exception:  # the database is away: beat again next time
                log.warning("heartbeat failed", exc_info=True)
                connection.close()

    def stop(self) -> None:
        self.stopped.set()


def start_heartbeat() -> Heartbeat:
    global _heart
    if _heart is None or not _heart.is_alive():
        _heart = Heartbeat(settings.HEX_HEARTBEAT_INTERVAL)
        _heart.start()
    return _heart


def startup_sync() -> Outbox:
    """Register this process, create the slot pool and release orphans."""
    with transaction.atomic():
        beat()
        services.ensure_slots()
    alive = alive_process_ids()
    _note_workers(alive)
    outbox = services.release_orphaned_seats(alive)
    outbox.merge(services.expire_due_seats())
    outbox.merge(spectators.forget_dead_watchers(alive))
    outbox.merge(services.expire_due_clocks())
    return outbox


# Cleanups of closed connections (a seat left, a spectator gone) that the
# database refused because it was unreachable. The sweeper records them once
# it is back, so a seat never stays "connected" to a socket that closed.
_unrecorded_leaves: collections.deque[tuple[Callable[..., Outbox], tuple[Any, ...]]] = collections.deque()


def record_leave_later(service: Callable[..., Outbox], *args: Any) -> None:
    """Have the sweeper call ``service(*args)`` (a leave: idempotent, and a
    no-op once superseded) when the database answers again."""
    _unrecorded_leaves.append((service, args))


def record_unrecorded_leaves() -> Outbox:
    """Record the leaves the database refused earlier, oldest first; stop at
    the first that fails for want of the database (they stay queued)."""
    outbox = Outbox()
    while _unrecorded_leaves:
        service, args = _unrecorded_leaves[0]
        try:
            outbox.merge(service(*args))
        except (DatabaseError, CommitFailedError):
            break
        except Exception:
            log.exception("recording a leave failed; dropped: %s%r", service.__name__, args)
        _unrecorded_leaves.popleft()
    return outbox


def sweep_sync(with_beat: bool) -> Outbox:
    outbox = record_unrecorded_leaves()
    if with_beat:
        if _heart is None or not _heart.is_alive():
            beat()
        # Forget processes that stopped long ago, so the table stays small.
        ServerProcess.objects.filter(last_beat__lt=timezone.now() - timedelta(days=1)).delete()
    outbox.merge(services.expire_due_seats())
    # Move clocks: deadlines in the database, so a game whose worker died still ends on time.
    outbox.merge(services.expire_due_clocks())
    if with_beat:
        alive = alive_process_ids()
        outbox.merge(services.release_orphaned_seats(alive))
        outbox.merge(spectators.forget_dead_watchers(alive))
    return outbox


_gc_tuned = False


def tune_gc() -> None:
    """Fewer, cheaper cyclic garbage collections in a server process.

    Python's default collects the youngest generation every 700 allocations,
    and every collection of an older generation walks every tracked object:
    Django, the app and hundreds of connections. Under load that showed in
    profiles as a sixth of the time "inside" whatever allocated next. So the
    objects alive at startup are frozen out of collection (``gc.freeze``)
    and the thresholds are raised; reference counting still frees almost
    everything at once, and cycles are still collected, just in bigger
    batches.
    """
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


async def ensure_started() -> None:
    """Run the startup work once per process and start the sweeper task.

    Daphne has no lifespan events, so the first connection of any kind
    triggers this; everything else waits until it has finished.
    """
    global _started, _sweeper, _start_lock
    if _started is not None and _started.is_set():
        return
    if _start_lock is None:
        _start_lock = asyncio.Lock()
    async with _start_lock:
        if _started is not None and _started.is_set():
            return
        outbox = await run_in_db(startup_sync)
        await deliver(outbox)
        if not single_process():
            start_heartbeat()
        if database_vendor() == "sqlite":
            sqlite_checkpoints.start(str(connection.settings_dict["NAME"]),
                                     settings.HEX_SQLITE_CHECKPOINT_INTERVAL)
        _sweeper = asyncio.get_running_loop().create_task(_sweep_forever())
        _started = asyncio.Event()
        _started.set()
        tune_gc()


async def _sweep_forever() -> None:
    interval = settings.HEX_SWEEP_INTERVAL
    beats_every = max(1, round(settings.HEX_HEARTBEAT_INTERVAL / interval))
    tick = 0
    while True:
        await asyncio.sleep(interval)
        tick += 1
        try:
            outbox = await run_in_db(sweep_sync, tick % beats_every == 0)
            await deliver(outbox)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep sweeping whatever one round hit (DB restart, ...)
            log.exception("sweeper round failed")


def reset_for_tests() -> None:
    """Forget the per-process start state (each test has its own event loop)."""
    global _started, _sweeper, _start_lock, _heart, _other_workers
    if _sweeper is not None:
        try:
            _sweeper.cancel()
        except RuntimeError:  # its event loop is already closed
            pass
    if _heart is not None:
        _heart.stop()
    _started = _sweeper = _start_lock = _heart = None
    _other_workers = False
    sqlite_checkpoints.stop()
    _unrecorded_leaves.clear()
    # Each test has a fresh database whose game ids start over.
    from matchmaking import move_store

    move_store.forget_positions()
