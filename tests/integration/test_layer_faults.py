"""A connection whose channel layer fails (Redis restarting, in production)
ends cleanly: its seat is released like any disconnect, the client hears
``error`` and a 1011 close, and it resumes through /ws/reconnect."""

from __future__ import annotations

import pytest
from channels.layers import InMemoryChannelLayer

from matchmaking.models import Seat
from tests.integration.helpers import RED, WS, db, pair, run

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
        # Red's pending receive returns this chat; its next receive fails.
        await blue.send("chat", message="hi")
        assert await red.expect("chat") == {"player": 1, "message": "hi"}
        await red.expect_refused("Server is busy; try again", 1011)

        notice = await blue.expect("opponent_disconnected")
        assert notice["reason"] == "waiting_for_reconnect"
        seat = await db(lambda: Seat.objects.get(player=RED))
        assert not seat.connected and seat.reconnect_deadline is not None

        back = WS(f"/ws/reconnect?slot_id={red.joined['slot_id']}&token={red.joined['reconnect_token']}")
        await back.connect()
        assert (await back.expect("reconnected"))["player"] == RED
        assert await blue.expect("opponent_reconnected") == {"player": RED}
        await back.move(3, 3)
        assert (await blue.expect("move"))["player"] == RED
        for ws in (back, blue):
            await ws.close()

    run(scenario())
