"""Settings every consumer test starts from.

The per-IP cap defaults to HEX_MAX_SLOTS, and every WebsocketCommunicator of a
test comes from the same fake address; tests about the cap turn it back on.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _arena_settings(settings):
    settings.HEX_MAX_SLOTS = 6
    settings.HEX_MAX_CONNECTIONS_PER_IP = 0
    settings.HEX_TRUSTED_PROXIES = []
    settings.HEX_RECONNECT_TIMEOUT = 30.0
    return settings
