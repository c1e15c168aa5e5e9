"""SQLite WAL checkpoints on a thread of their own.

A committed SQLite transaction sits in the write-ahead log until a
checkpoint copies its pages into the database file. By default the
connection that commits does that itself whenever the log passes 1,000
pages: about a dozen times a second under load (``bench/load.py``, 200
games at 50 ms think time), each commit then taking 5-15 ms instead of a
fraction of one. On the server that connection is the event loop's, so
every player waited, and each stall took several times its length to work
off (the loop then had that much more to do in its next passes).

Here a thread with a connection of its own runs a PASSIVE checkpoint every
``HEX_SQLITE_CHECKPOINT_INTERVAL`` seconds. PASSIVE never waits for, nor
blocks, the writer; the sqlite3 module releases the GIL while SQLite copies
and syncs, so the loop goes on meanwhile. The writer's own automatic
checkpoint stays as the bound on the log, at ``WAL_AUTOCHECKPOINT_PAGES``
(settings): by the time the log reaches it, this thread has copied all but
the last interval's pages, so the writer's checkpoint is short, and only the
writer's can restart the log from its beginning. (SQLite restarts the log
when a write begins after every frame was copied, which a checkpoint racing
a busy writer never achieves: with this thread alone the log grows without
bound.)

Nothing here changes what is durable: a checkpoint only moves committed
pages from the log to the database file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``path`` every ``interval`` seconds until stopped."""

    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # completed, for tests and curiosity
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Checkpointer:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: ``(busy, pages in the log, pages copied)``."""
        busy, logged, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        return busy, logged, copied

    def _run(self) -> None:
        connection = None
        while not self._stop.wait(self.interval):
            try:
                if connection is None:
                    # mode=rw: a file that went away is not created again, empty.
                    uri = Path(self.path).resolve().as_uri() + "?mode=rw"
                    connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
                self.checkpoint(connection)
            except sqlite3.Error as exc:
                # The file went away or the disk failed; the writer's own
                # checkpoints still bound the log. Try again with a fresh connection.
                log.debug("background checkpoint of %s failed (%s)", self.path, exc)
                if connection is not None:
                    connection.close()
                    connection = None
        if connection is not None:
            connection.close()


_checkpointer: Checkpointer | None = None


def start(path: str, interval: float) -> Checkpointer | None:
    """Start this process's checkpointer for the SQLite file ``path``, once.

    None when there is nothing to do: ``interval`` is 0 (SQLite's own
    checkpoints only), or the database lives in memory (the test databases).
    """
    global _checkpointer
    if _checkpointer is not None:
        return _checkpointer
    if interval <= 0 or not path or path == ":memory:" or "mode=memory" in path:
        return None
    _checkpointer = Checkpointer(path, interval).start()
    return _checkpointer


def stop() -> None:
    global _checkpointer
    if _checkpointer is not None:
        _checkpointer.stop()
        _checkpointer = None
