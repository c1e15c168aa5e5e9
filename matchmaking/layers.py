"""The embedded default's channel layer: Channels' in-memory layer, with its
expiry sweep amortised.

The stock ``InMemoryChannelLayer`` walks every channel's queue and every
group on each ``receive`` and ``group_send``: O(connections) work per
message, which at 400 connections cost more than the move itself. Expired
messages (60 s unread) are rare and harmless for a few more moments, so this
layer sweeps at most once a second.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer


class ArenaInMemoryChannelLayer(InMemoryChannelLayer):
    CLEAN_INTERVAL = 1.0
    _last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < self.CLEAN_INTERVAL:
            return
        self._last_clean = now
        super()._clean_expired()
