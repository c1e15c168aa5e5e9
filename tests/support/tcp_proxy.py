"""A TCP proxy a test can cut, to make a service unreachable for a while
without stopping the machine's shared instance of it.

It relays 127.0.0.1:<port> to a target on its own asyncio loop in a daemon
thread. ``cut()`` resets every relayed connection and stops listening, so
new connections are refused at once (no hang: a client sees an error right
away); ``restore()`` listens on the same port again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading

from tests.support.live import free_port


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int, port: int | None = None,
                 listen_socket: socket.socket | None = None) -> None:
        """Listens on 127.0.0.1:``port`` (a free one by default), or on
        ``listen_socket``, which a ``cut()`` closes for good."""
        self.target = (target_host, target_port)
        self.listen_socket = listen_socket
        self.port = listen_socket.getsockname()[1] if listen_socket is not None else port or free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"proxy-{self.port}", daemon=True)
        self.server: asyncio.AbstractServer | None = None
        self.transports: set[asyncio.Transport] = set()
        self.connections = 0  # accepted since start, for tests to see traffic went through

    def _run(self, coro) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def start(self) -> CuttableProxy:
        self.thread.start()
        self._run(self._listen())
        return self

    def cut(self) -> None:
        """Reset the relayed connections and refuse new ones."""
        self._run(self._cut())

    def restore(self) -> None:
        self._run(self._listen())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._cut())
            # Relays whose far end went silent (a partition) would never end by themselves.
            self._run(self._cancel_relays())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _cancel_relays(self) -> None:
        relays = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    async def _listen(self) -> None:
        if self.listen_socket is not None:
            self.server = await asyncio.start_server(self._relay, sock=self.listen_socket)
        else:
            self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for transport in list(self.transports):
            _reset(transport)
        self.transports.clear()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            target_reader, target_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_writer.transport)
            return
        pair = (client_writer.transport, target_writer.transport)
        self.transports.update(pair)
        try:
            await asyncio.gather(_pipe(client_reader, target_writer), _pipe(target_reader, client_writer))
        except asyncio.CancelledError:
            # Ended by ``close``. Not re-raised: Python 3.11's stream server
            # logs an error for every cancelled client task.
            pass
        finally:
            for transport in pair:
                self.transports.discard(transport)
                transport.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close with a TCP reset, like a network failure or a crashed server."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
