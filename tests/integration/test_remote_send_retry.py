"""A send to a connection of another process survives one failed attempt:
right after a Redis restart the first may pick a pooled connection the old
server closed."""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer, get_channel_layer

from matchmaking import delivery


def test_a_send_that_fails_once_is_tried_again_and_arrives(monkeypatch):
    send = InMemoryChannelLayer.send
    failures = []

    async def failing_once(self, channel, message):
        if not failures:
            failures.append(channel)
            raise ConnectionError("Connection closed by server.")
        return await send(self, channel, message)

    monkeypatch.setattr(InMemoryChannelLayer, "send", failing_once)

    async def scenario() -> dict:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        event = {"type": "hex.deliver", "texts": ['{"type":"pong","payload":{}}'], "close": None, "generation": None}
        await delivery._send_remote(channel, event)
        return await asyncio.wait_for(layer.receive(channel), 1)

    received = asyncio.run(scenario())
    assert len(failures) == 1
    assert received["texts"] == ['{"type":"pong","payload":{}}']
