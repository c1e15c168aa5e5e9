"""The load generator's minimal WebSocket client (``bench/lean_ws.py``)
against the ``websockets`` library's server on loopback: the handshake, text
both ways at every length encoding, fragments, pings, and both closings."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import lean_ws  # noqa: E402


def test_masking_is_a_bytewise_xor_with_the_repeated_key():
    key = b"\x01\x80\xff\x37"
    for length in (0, 1, 3, 4, 5, 125, 126, 70_000):
        payload = os.urandom(length)
        expected = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
        assert lean_ws.mask(payload, key) == expected


async def _with_server(handler, scenario, process_request=None) -> None:
    async with serve(handler, "127.0.0.1", 0, process_request=process_request, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        await asyncio.wait_for(scenario(f"ws://127.0.0.1:{port}/ws/echo?x=1"), 10)


def test_text_of_every_length_goes_both_ways_in_order():
    seen_paths = []

    async def echo(ws):
        seen_paths.append(ws.request.path)
        async for message in ws:
            await ws.send(message)

    async def scenario(url):
        async with await lean_ws.connect(url) as ws:
            texts = ["", "é", "x" * 125, "y" * 126, "z" * 65_535, "w" * 70_000, '{"type":"move"}']
            for text in texts:
                await ws.send(text)
            assert [await ws.recv() for _ in texts] == texts

    asyncio.run(_with_server(echo, scenario))
    assert seen_paths == ["/ws/echo?x=1"]


def test_fragments_are_joined_and_pings_answered():
    pong_heard = []

    async def handler(ws):
        await ws.send(["frag", "mented"])  # one message in three frames (the last one empty)
        pong_heard.append(await asyncio.wait_for(await ws.ping(b"hi"), 5))
        await ws.send("after the ping")
        await ws.wait_closed()

    async def scenario(url):
        async with await lean_ws.connect(url) as ws:
            assert await ws.recv() == "fragmented"
            assert await ws.recv() == "after the ping"

    asyncio.run(_with_server(handler, scenario))
    assert len(pong_heard) == 1


def test_a_close_from_the_server_ends_recv_with_its_code_after_the_messages_before_it():
    async def handler(ws):
        await ws.send("last words")
        await ws.close(1008, "policy")

    async def scenario(url):
        ws = await lean_ws.connect(url)
        assert await ws.recv() == "last words"
        with pytest.raises(lean_ws.ConnectionClosedError) as closed:
            await ws.recv()
        assert closed.value.code == 1008
        with pytest.raises(lean_ws.ConnectionClosedError):
            await ws.send("too late")

    asyncio.run(_with_server(handler, scenario))


def test_a_refused_handshake_is_an_error_not_a_connection():
    def refuse(connection, request):
        return Response(403, "Forbidden", Headers([("Content-Length", "0")]), b"")

    async def handler(ws):  # never reached
        await ws.close()

    async def scenario(url):
        with pytest.raises(lean_ws.ProtocolError, match="403"):
            await lean_ws.connect(url)

    asyncio.run(_with_server(handler, scenario, process_request=refuse))


def test_closing_from_the_client_completes_the_closing_handshake():
    codes = []

    async def handler(ws):
        await ws.wait_closed()
        codes.append(ws.close_code)

    async def scenario(url):
        ws = await lean_ws.connect(url)
        await ws.close()
        await asyncio.sleep(0.2)

    asyncio.run(_with_server(handler, scenario))
    assert codes == [1000]
