"""A connection whose channel layer fails (Redis restarting, in production)
ends cleanly: its seat is released like any disconnect, the client hears
``error`` and a 1011 close, and it resumes through /ws/reconnect."""

from __future__ import annotations

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer

from matchmaking import protocol as proto
from matchmaking.models import Seat
from tests.integration.helpers import RED, db, pair, red_resumes_and_plays_on, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_losing_the_channel_layer_releases_the_seat_and_closes_1011(monkeypatch):
    broken: set[str] = set()
    receive = InMemoryChannelLayer.receive

    async def failing_receive(self, channel: str):
        if channel in broken:
            raise ConnectionError("channel layer unreachable")
        return await receive(self, channel)

    monkeypatch.setattr(InMemoryChannelLayer, "receive", failing_receive)

    async def scenario() -> None:
        red, blue, _ = await pair(7)
        red_seat = await db(lambda: Seat.objects.get(player=RED))
        broken.add(red_seat.channel_name)
        # Red's pending receive returns this chat, as if from another process
        # (one of this process's goes straight to red's mailbox); its next receive fails.
        chat = proto.encode(proto.message("chat", player=1, message="hi"))
        await get_channel_layer().send(red_seat.channel_name, {"type": "hex.deliver", "texts": [chat]})
        assert await red.expect("chat") == {"player": 1, "message": "hi"}
        await red.expect_refused("Server is busy; try again", 1011)

        notice = await blue.expect("opponent_disconnected")
        assert notice["reason"] == "waiting_for_reconnect"
        seat = await db(lambda: Seat.objects.get(player=RED))
        assert not seat.connected and seat.reconnect_deadline is not None

        await red_resumes_and_plays_on(red, blue)

    run(scenario())
