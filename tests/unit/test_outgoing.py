"""A connection's outgoing queue: keeps order, never makes the one queuing
wait, stops after a close, and gives up on a client that falls ``capacity``
messages behind."""

from __future__ import annotations

import asyncio

from matchmaking.consumer_loop import Outgoing


def text(n: int) -> dict:
    return {"type": "websocket.send", "text": str(n)}


class Client:
    """An ASGI ``send`` that can stop reading."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        self.reading = asyncio.Event()
        self.reading.set()

    async def send(self, message: dict) -> None:
        await self.reading.wait()
        self.got.append(message)


async def no_overflow() -> None:
    raise AssertionError("did not overflow")


def test_messages_go_out_in_order_and_nothing_after_a_close():
    async def scenario() -> list[dict]:
        client, outgoing = Client(), Outgoing(capacity=10)
        writer = asyncio.create_task(outgoing.write(client.send, no_overflow))
        await asyncio.sleep(0)  # the writer now waits on an empty queue
        for n in range(3):
            outgoing.put(text(n))
        outgoing.put({"type": "websocket.close", "code": 1000})
        outgoing.put(text(99))  # after the close: dropped
        await asyncio.wait_for(writer, 1)  # the close ends the writer
        return client.got

    assert asyncio.run(scenario()) == [text(0), text(1), text(2), {"type": "websocket.close", "code": 1000}]


def test_a_client_that_stops_reading_overflows_and_the_connection_is_ended():
    async def scenario() -> tuple[list[dict], int]:
        client, outgoing = Client(), Outgoing(capacity=3)
        overflows = 0

        async def on_overflow() -> None:
            nonlocal overflows
            overflows += 1
            outgoing.put({"type": "websocket.close", "code": 1011})

        writer = asyncio.create_task(outgoing.write(client.send, on_overflow))
        client.reading.clear()
        outgoing.put(text(0))
        await asyncio.sleep(0)  # the writer is stuck sending 0
        for n in range(1, 5):
            outgoing.put(text(n))  # never waits: 1..3 fill the queue, 4 overflows it
        assert outgoing.overflowed
        client.reading.set()
        await asyncio.wait_for(writer, 1)
        return client.got, overflows

    got, overflows = asyncio.run(scenario())
    assert got == [text(0), {"type": "websocket.close", "code": 1011}]  # the backlog is dropped
    assert overflows == 1


def test_finish_lets_the_writer_write_what_is_queued_then_stop():
    async def scenario() -> list[dict]:
        client, outgoing = Client(), Outgoing(capacity=10)
        writer = asyncio.create_task(outgoing.write(client.send, no_overflow))
        outgoing.put(text(1))
        outgoing.put(text(2))
        outgoing.finish()
        await asyncio.wait_for(writer, 1)
        return client.got

    assert asyncio.run(scenario()) == [text(1), text(2)]


def test_a_client_that_is_gone_ends_the_writer():
    async def gone(message: dict) -> None:
        raise ConnectionResetError("gone")

    async def scenario() -> bool:
        outgoing = Outgoing(capacity=10)
        writer = asyncio.create_task(outgoing.write(gone, no_overflow))
        outgoing.put(text(1))
        await asyncio.wait_for(writer, 1)
        return outgoing.closed

    assert asyncio.run(scenario()) is True


def test_a_write_begun_at_once_that_has_to_wait_is_not_overtaken():
    async def scenario() -> list[dict]:
        client, outgoing = Client(), Outgoing(capacity=10)
        writer = asyncio.create_task(outgoing.write(client.send, no_overflow))
        await asyncio.sleep(0)  # the writer is idle: the next put writes at once...
        client.reading.clear()
        outgoing.put(text(0))  # ...and this one has to wait for the client
        outgoing.put(text(1))
        outgoing.put(text(2))
        await asyncio.sleep(0.01)
        assert client.got == []
        client.reading.set()
        outgoing.finish()
        await asyncio.wait_for(writer, 1)
        return client.got

    assert asyncio.run(scenario()) == [text(0), text(1), text(2)]
