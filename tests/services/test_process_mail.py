"""Messages between server processes through Redis (``process_mail``): every
event reaches its connection, in order, and several travel per Redis message."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import uuid

import pytest
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer

from matchmaking import process_mail
from matchmaking.layers import ArenaRedisChannelLayer


def two_processes(redis_url: str) -> tuple[RedisChannelLayer, RedisChannelLayer]:
    """The channel layers of two server processes (a sender and a receiver) on one Redis."""
    prefix = f"hexarena-test-{uuid.uuid4().hex[:8]}"
    return tuple(ArenaRedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": 10}], prefix=prefix,
                                   capacity=1000) for _ in range(2))


async def eventually(condition, seconds: float = 5.0) -> None:
    """Wait until ``condition()`` holds, for at most ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


def test_events_for_another_process_arrive_in_order_batched_and_group_sends_too(redis_url, monkeypatch):
    async def scenario() -> None:
        sender, receiver = two_processes(redis_url)
        channels = [await receiver.new_channel() for _ in range(20)]
        heard: dict[str, list[int]] = {channel: [] for channel in channels}
        all_heard = asyncio.Event()
        total = 20 * 50

        def route(channel: str, message: dict) -> None:
            heard[channel].append(message["n"])
            if sum(map(len, heard.values())) == total:
                all_heard.set()

        process_mail.ensure_receiving(receiver, route, failed=lambda exc: None)
        layer_sends = []
        real_post = process_mail._post

        async def counted_post(layer, channel, message):
            layer_sends.append(channel)
            await real_post(layer, channel, message)

        monkeypatch.setattr(process_mail, "_post", counted_post)
        for n in range(50):
            for channel in channels:
                process_mail.send(sender, channel, {"type": "hex.deliver", "n": n})
        await asyncio.wait_for(all_heard.wait(), 20)
        assert all(numbers == list(range(50)) for numbers in heard.values())
        assert len(layer_sends) < total / 10  # queued while a send was in flight: batched

        # A group send from the other process reaches each member once.
        await receiver.group_add("spectators", channels[0])
        await receiver.group_add("spectators", channels[1])
        await sender.group_send("spectators", {"type": "hex.watch", "n": 50})
        await eventually(lambda: heard[channels[0]][-1] == 50 and heard[channels[1]][-1] == 50)
        assert heard[channels[0]][-1] == 50 and heard[channels[1]][-1] == 50
        assert heard[channels[2]][-1] == 49
        await sender.flush()

    asyncio.run(scenario())


def test_a_process_takes_everything_waiting_for_it_in_one_redis_round_trip(redis_url):
    async def scenario() -> None:
        sender, receiver = two_processes(redis_url)
        channels = [await receiver.new_channel() for _ in range(10)]
        for n in range(10):
            for channel in channels:  # one Redis message each, waiting before anyone receives
                await sender.send(channel, {"type": "hex.deliver", "n": n})
        pops: list[tuple[str, int]] = []  # (command, messages heard before it)
        heard: dict[str, list[int]] = {channel: [] for channel in channels}
        connection = receiver.connection

        def counting_connection(index):
            redis = connection(index)
            for name in ("zpopmin", "bzpopmin"):
                real = getattr(redis, name)

                async def counted(*args, _real=real, _name=name, **kwargs):
                    pops.append((_name, sum(map(len, heard.values()))))
                    return await _real(*args, **kwargs)

                setattr(redis, name, counted)
            return redis

        receiver.connection = counting_connection
        process_mail.ensure_receiving(receiver, lambda channel, message: heard[channel].append(message["n"]),
                                      failed=lambda exc: None)
        await eventually(lambda: sum(map(len, heard.values())) == 100)
        assert all(numbers == list(range(10)) for numbers in heard.values())
        assert pops[:2] == [("zpopmin", 0), ("zpopmin", 100)]  # the first took all (not one, in four commands)
        await sender.flush()

    asyncio.run(scenario())


def test_a_message_that_cannot_be_decoded_is_skipped_and_the_rest_arrive(redis_url):
    async def scenario() -> None:
        sender, receiver = two_processes(redis_url)
        channel = await receiver.new_channel()
        key = receiver.prefix + receiver.non_local_name(channel)
        await sender.send(channel, {"type": "hex.deliver", "n": 1})
        # Scored now: channels-redis drops older members as expired on the next send.
        damaged = b"random-12byt" + b"\xc1"  # its 12-byte random prefix, then no msgpack at all
        await receiver.connection(receiver.consistent_hash(channel)).zadd(key, {damaged: time.time()})
        await sender.send(channel, {"type": "hex.deliver", "n": 2})
        heard, failures = [], []
        process_mail.ensure_receiving(receiver, lambda to, message: heard.append(message["n"]), failures.append)
        await eventually(lambda: len(heard) == 2)
        assert heard == [1, 2] and failures == []  # nobody's connection was ended for it
        await sender.flush()

    asyncio.run(scenario())


async def _cut_off_pair(redis_url: str, monkeypatch) -> tuple[RedisChannelLayer, str, list[int], dict[str, bool]]:
    """A sender, the channel of a connection of another process, what that
    connection hears (its ``n``), and a switch: every send fails (as with
    Redis out of reach) while ``state["down"]``, which it starts as."""
    sender, receiver = two_processes(redis_url)
    channel = await receiver.new_channel()
    heard: list[int] = []
    process_mail.ensure_receiving(receiver, lambda to, message: heard.append(message["n"]), lambda exc: None)
    state = {"down": True}
    real_post = process_mail._post

    async def post(layer, channel, message):
        if state["down"]:
            raise ConnectionError("Error 22 connecting to redis. Invalid argument.")
        await real_post(layer, channel, message)

    monkeypatch.setattr(process_mail, "_post", post)
    return sender, channel, heard, state


def test_events_sent_while_redis_is_out_of_reach_arrive_in_order_when_it_returns(redis_url, monkeypatch):
    """A connection that came back during an outage its own worker never
    noticed would otherwise wait forever for what its opponent's worker
    could not send (a move, ``opponent_reconnected``)."""
    async def scenario() -> list[int]:
        sender, channel, heard, state = await _cut_off_pair(redis_url, monkeypatch)
        for n in range(5):
            process_mail.send(sender, channel, {"type": "hex.deliver", "n": n})
            await asyncio.sleep(0.1)
        state["down"] = False
        for n in range(5, 10):
            process_mail.send(sender, channel, {"type": "hex.deliver", "n": n})
        await eventually(lambda: len(heard) >= 10)
        await asyncio.sleep(0.2)  # nothing more, nothing twice
        await sender.flush()
        return heard

    assert asyncio.run(scenario()) == list(range(10))


def test_events_are_given_up_after_the_retry_time_and_later_ones_still_arrive(redis_url, monkeypatch):
    monkeypatch.setattr(process_mail, "SEND_RETRY_SECONDS", 0.3)

    async def scenario() -> list[int]:
        sender, channel, heard, state = await _cut_off_pair(redis_url, monkeypatch)
        process_mail.send(sender, channel, {"type": "hex.deliver", "n": 0})
        await asyncio.sleep(1.0)  # past the retry time: that batch is given up (the addressee resynchronises)
        state["down"] = False
        process_mail.send(sender, channel, {"type": "hex.deliver", "n": 1})
        await eventually(lambda: heard)
        await asyncio.sleep(0.2)
        await sender.flush()
        return heard

    assert asyncio.run(scenario()) == [1]


def test_a_batch_sent_again_after_its_reply_was_lost_is_routed_once(redis_url, monkeypatch):
    """Redis stored the batch but the reply never came (the network failed
    on the way back): the send is tried again and the batch arrives twice."""
    async def scenario() -> list[int]:
        sender, channel, heard, state = await _cut_off_pair(redis_url, monkeypatch)
        state["down"] = False
        stored_but_unanswered = process_mail._post
        lost = []

        async def post(layer, to, message):
            await stored_but_unanswered(layer, to, message)
            if not lost:
                lost.append(message["number"])
                raise TimeoutError("Timeout reading from redis")

        monkeypatch.setattr(process_mail, "_post", post)
        for n in range(3):
            process_mail.send(sender, channel, {"type": "hex.deliver", "n": n})
            await asyncio.sleep(0.05)
        await eventually(lambda: len(heard) >= 3)
        await asyncio.sleep(0.2)  # the second copy would have come by now
        await sender.flush()
        assert lost
        return heard

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_the_layers_redis_sockets_are_reset_when_closed_so_no_command_runs_late(redis_url):
    """A timed-out command closed gracefully stays in the kernel and reaches
    Redis when a partition heals (``layers._AbortOnClose``)."""
    async def scenario() -> tuple[int, int]:
        layer, _ = two_processes(redis_url)
        redis = layer.connection(0)
        await redis.ping()
        connection = await redis.connection_pool.get_connection()
        try:
            sock = connection._writer.transport.get_extra_info("socket")
            return struct.unpack("ii", sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
        finally:
            await redis.connection_pool.release(connection)
            await layer.flush()

    assert asyncio.run(scenario()) == (1, 0)


def test_a_batch_is_written_in_one_round_trip_as_channels_redis_would_write_it(redis_url):
    async def scenario() -> None:
        sender, receiver = two_processes(redis_url)
        channel = await receiver.new_channel()
        commands: list[str] = []
        redis = sender.connection(sender.consistent_hash(channel))
        real_execute = redis.execute_command

        async def counted(*args, **kwargs):
            commands.append(str(args[0]))
            return await real_execute(*args, **kwargs)

        redis.execute_command = counted
        await process_mail.send_twice(sender, channel, {"type": "hex.deliver", "n": 1})
        assert commands == ["EVALSHA"] or commands == ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]
        # channels-redis' own receive reads it: same key, encoding and channel.
        assert await asyncio.wait_for(receiver.receive(channel), 5) == {"type": "hex.deliver", "n": 1}
        await sender.flush()
        await receiver.flush()

    asyncio.run(scenario())


def test_a_full_channel_refuses_the_batch_as_channels_redis_does(redis_url):
    async def scenario() -> None:
        sender, receiver = two_processes(redis_url)
        sender.capacity = 3
        channel = await receiver.new_channel()
        for n in range(3):
            await process_mail._post(sender, channel, {"type": "hex.deliver", "n": n})
        with pytest.raises(ChannelFull):
            await process_mail._post(sender, channel, {"type": "hex.deliver", "n": 3})
        assert [await receiver.receive(channel) for _ in range(3)] == [
            {"type": "hex.deliver", "n": n} for n in range(3)]
        await sender.flush()
        await receiver.flush()

    asyncio.run(scenario())


@pytest.mark.parametrize("layer_class", [RedisChannelLayer, ArenaRedisChannelLayer], ids=["stock", "arena"])
def test_a_burst_larger_than_the_redis_pool_waits_for_connections_instead_of_failing(redis_url, layer_class):
    """Hundreds of players leaving at once each change a group and send to
    it. channels-redis' stock pool refuses the calls past its size ("Too many
    connections") and their events are lost; the arena's layer queues them."""
    async def scenario() -> list[BaseException | None]:
        layer = layer_class(hosts=[{"address": redis_url, "max_connections": 3}],
                            prefix=f"hexarena-test-{uuid.uuid4().hex[:8]}")
        channels = [await layer.new_channel() for _ in range(60)]

        async def leave(channel: str) -> None:
            await layer.group_add("slots", channel)
            await layer.group_send("slots", {"type": "slot.changed"})
            await layer.group_discard("slots", channel)

        outcome = await asyncio.gather(*(leave(channel) for channel in channels), return_exceptions=True)
        await layer.flush()
        return outcome

    outcome = asyncio.run(scenario())
    failures = [result for result in outcome if result is not None]
    if layer_class is RedisChannelLayer:
        assert failures and all("Too many connections" in str(failure) for failure in failures)
    else:
        assert failures == []


def test_new_redis_connections_do_not_read_package_metadata_on_the_event_loop(redis_url, monkeypatch):
    """The pool grows while the load runs. redis-py, left to itself, reads
    its own version from the installed package's metadata on disk for each
    new connection (``CLIENT SETINFO``), stalling the event loop; the
    arena's layer hands every connection one ``DriverInfo`` made up front."""
    layer = ArenaRedisChannelLayer(hosts=[{"address": redis_url, "max_connections": 8}],
                                   prefix=f"hexarena-test-{uuid.uuid4().hex[:8]}")

    def no_disk(name: str) -> str:
        raise AssertionError(f"read the metadata of {name} while opening a connection")

    async def scenario() -> list[int]:
        connection = layer.connection(0)  # the pool, with its DriverInfo, exists before the load
        monkeypatch.setattr("redis.utils.metadata.version", no_disk)
        # Eight commands at once: eight new connections, each introduced to Redis.
        counts = await asyncio.gather(*(connection.zcount(f"{layer.prefix}:none:{n}", 0, "+inf") for n in range(8)))
        pool = connection.connection_pool
        opened = len(pool._available_connections) + len(pool._in_use_connections)
        await layer.flush()
        return [*counts, opened]

    *counts, opened = asyncio.run(scenario())
    assert counts == [0] * 8
    assert opened == 8


def test_batches_out_of_order_are_both_routed_and_only_a_copy_is_dropped():
    """Redis orders a process's mail by the senders' wall clock: a clock that
    stepped back can put a later batch first. Both are new; only a second
    copy of either is not."""
    heard: list[int] = []
    sender = f"sender-{uuid.uuid4().hex[:8]}"

    def batch(number: int) -> dict:
        return {"type": process_mail.BATCH, "sender": sender, "number": number, "__asgi_channel__": "p!batch",
                "events": [["p!c", {"type": "hex.deliver", "n": number}]]}

    for number in (2, 1, 2, 3, 1):
        process_mail._route_message(batch(number), lambda to, message: heard.append(message["n"]))
    assert heard == [2, 1, 3]


def test_a_quiet_receiver_with_a_short_network_timeout_waits_without_failing(redis_url):
    """``HEX_REDIS_NETWORK_TIMEOUT`` sets the layer's socket timeout; a
    blocking read waits only half of it, so a receiver with nothing to read
    never takes its own wait for a Redis gone silent. (With channels-redis'
    5 s blocking read and a 2 s timeout, it would report a failure, and end
    every connection it serves, every 2 s of quiet.)"""
    prefix = f"hexarena-test-{uuid.uuid4().hex[:8]}"
    sender, receiver = (ArenaRedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": 2}], prefix=prefix)
                        for _ in range(2))
    assert receiver.brpop_timeout == 1

    async def scenario() -> tuple[list[Exception], list[dict]]:
        failures: list[Exception] = []
        heard: list[dict] = []
        channel = await receiver.new_channel()
        process_mail.ensure_receiving(receiver, lambda to, message: heard.append(message), failures.append)
        await asyncio.sleep(4.5)  # more than two socket timeouts of quiet
        quiet_failures = list(failures)
        process_mail.send(sender, channel, {"type": "hex.deliver", "n": 1})
        await eventually(lambda: heard)
        for layer in (sender, receiver):
            await layer.flush()
        return quiet_failures, heard

    quiet_failures, heard = asyncio.run(scenario())
    assert quiet_failures == []
    assert [message["n"] for message in heard] == [1]
