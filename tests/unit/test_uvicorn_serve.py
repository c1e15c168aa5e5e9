"""``hexsite.uvicorn_serve``: how many waiting connections one pass of the
event loop accepts."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvloop

from hexsite.cli import bind_listener
from hexsite.uvicorn_serve import ACCEPTORS, acceptor_sockets, main

WAITING = 2 * ACCEPTORS


def _passes_to_accept_all(sockets: list[socket.socket], waiting: int) -> int:
    """Serve ``sockets`` on uvloop and count the loop passes it takes to
    accept ``waiting`` connections already in the kernel's queue."""

    async def run() -> int:
        loop = asyncio.get_running_loop()
        accepted = 0

        class Counting(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                nonlocal accepted
                accepted += 1

        servers = [await loop.create_server(Counting, sock=sock) for sock in sockets]
        passes = 0
        while accepted < waiting and passes < 10 * waiting:
            await asyncio.sleep(0)  # back to the loop: one pass, I/O polled without waiting
            passes += 1
        for server in servers:
            server.close()
        assert accepted == waiting
        return passes

    return uvloop.run(run())


@pytest.fixture
def queued():
    """A listening socket with ``WAITING`` connections the kernel has
    completed and nobody has accepted yet."""
    listener = bind_listener("127.0.0.1", 0)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(WAITING)]
    yield listener
    for client in clients:
        client.close()
    listener.close()


def test_each_loop_pass_accepts_a_connection_per_acceptor(queued):
    # libuv takes one connection per pass and listening descriptor; a pass
    # under load lasts tens of milliseconds, so with one descriptor a burst of
    # new players waited seconds in the kernel's queue.
    passes = _passes_to_accept_all(acceptor_sockets(queued), WAITING)
    assert passes <= WAITING // ACCEPTORS + 2


def test_one_descriptor_accepts_one_connection_per_pass(queued):
    """Why the acceptors exist: if uvloop ever accepts a whole queue at once,
    this fails and ``hexsite.uvicorn_serve`` can serve on the socket alone."""
    assert _passes_to_accept_all([queued], WAITING) >= WAITING - 2


def test_the_acceptors_share_one_socket_so_a_second_server_cannot_bind_the_port():
    listener = bind_listener("127.0.0.1", 0)
    acceptors = acceptor_sockets(listener)
    try:
        assert len(acceptors) == ACCEPTORS
        assert {sock.getsockname() for sock in acceptors} == {listener.getsockname()}
        with pytest.raises(OSError):
            bind_listener(*listener.getsockname())
    finally:
        for sock in acceptors:
            sock.close()


def test_a_port_in_use_is_a_clear_error_before_uvicorn_starts(capsys):
    listener = bind_listener("127.0.0.1", 0)
    try:
        host, port = listener.getsockname()
        assert main(["--host", host, "--port", str(port)]) == 1
    finally:
        listener.close()
    assert f"cannot listen on {host}:{port}: Address already in use" in capsys.readouterr().err
