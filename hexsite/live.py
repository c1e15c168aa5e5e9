"""/ws/overview: the live overview page's feed (htmx-ext-ws).

Listens to the ``slots.overview`` group, where the services announce the ids
of the slots that changed after every committed move, join and leave, and
pushes re-rendered HTML (the summary and the changed slots' cards, swapped
out of band by id). Bursts are coalesced: at most one push per
``MIN_INTERVAL`` seconds per viewer, however fast the bots play, and the
push always reflects the database at the time it is rendered. Input from the
browser is ignored. Access follows HEX_OVERVIEW like the page itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from hexsite.views import OVERVIEW_OPEN, overview_access, render_overview_update
from matchmaking.consumer_loop import LeanConsumerMixin
from matchmaking.delivery import OVERVIEW_GROUP, overview_viewed

log = logging.getLogger(__name__)

#: Seconds between two pushes to one viewer (so at most 4 updates a second).
MIN_INTERVAL = 0.25


class OverviewConsumer(LeanConsumerMixin, AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self._pending: set[int] = set()
        self._full = False
        self._last_push = float("-inf")
        self._task: asyncio.Task | None = None
        if overview_access(self.scope.get("user")) != OVERVIEW_OPEN:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        await self.channel_layer.group_add(OVERVIEW_GROUP, self.channel_name)
        overview_viewed(+1)
        self.counted = True
        await self.accept()
        # The page may have been rendered a moment ago: bring it up to date.
        self._schedule(full=True)

    async def disconnect(self, code: int) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self.channel_layer.group_discard(OVERVIEW_GROUP, self.channel_name)
        if getattr(self, "counted", False):
            self.counted = False
            overview_viewed(-1)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return

    async def slots_changed(self, event: dict[str, Any]) -> None:
        self._schedule(slot_ids=[int(i) for i in event.get("slot_ids", [])])

    def _schedule(self, slot_ids: list[int] | None = None, full: bool = False) -> None:
        self._pending.update(slot_ids or ())
        self._full = self._full or full
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._push_loop())

    async def _push_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending or self._full:
            wait = self._last_push + MIN_INTERVAL - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # more changes may gather meanwhile
            slot_ids = None if self._full else sorted(self._pending)
            self._pending, self._full = set(), False
            self._last_push = loop.time()
            try:
                html = await database_sync_to_async(render_overview_update)(slot_ids)
            except Exception:
                # Keep the socket; the next announced change repaints everything.
                log.exception("rendering the overview update failed")
                self._full = True
                return
            await self.send(text_data=html)
