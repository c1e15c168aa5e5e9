"""A network path a test can partition: packets dropped, no reset, no refusal.

``CuttableProxy`` makes a service unreachable the polite way: connections
reset, new ones refused, so a client notices at once. A real partition is
quieter: packets vanish and the peer looks alive until a timeout says
otherwise. This module builds such a path on one machine, with no packet
filter (this machine's kernel has neither netem nor iptables):

- a network namespace joined to this one by a veth pair, 198.18.<n>.1 here and
  198.18.<n>.2 there;
- a ``CuttableProxy`` whose listening socket is created inside the namespace
  (by a thread that enters it with ``setns``; a socket stays in the namespace
  it was made in) and whose connections to the target are made here;
- ``partition()`` adds a blackhole route for 198.18.<n>.2, so every packet this
  side sends on that path, retransmissions included, is dropped without an
  error (``one_way``: the namespace's route back instead, so only the answers
  are lost); ``heal()`` removes it.

Needs root and iproute2's ``ip``; ``available()`` says whether both are here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
import threading
import uuid

from tests.support.tcp_proxy import CuttableProxy

_CLONE_NEWNET = 0x40000000


def available() -> str | None:
    """Why a partition cannot be built here, or None if it can."""
    if os.geteuid() != 0:
        return "partitioning a network path needs root (network namespaces and routes)"
    if shutil.which("ip") is None:
        return "partitioning a network path needs iproute2's ip"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class PartitionedPath:
    """A path to ``target`` through a namespace; ``address`` is where to connect."""

    def __init__(self, target_host: str, target_port: int) -> None:
        tag = uuid.uuid4().hex[:6]
        self.namespace = f"hexpart-{tag}"
        self.link = f"hxp{tag}"  # interface names have at most 15 characters
        # RFC 2544's range for network tests: no real network the machine uses.
        subnet = int(tag, 16) % 256
        self.here, self.there = f"198.18.{subnet}.1", f"198.18.{subnet}.2"
        self.target = (target_host, target_port)
        self.proxy: CuttableProxy | None = None
        self.partitioned = False
        self.one_way = False

    def start(self) -> PartitionedPath:
        _ip("netns", "add", self.namespace)
        try:
            _ip("link", "add", self.link, "type", "veth", "peer", "name", f"{self.link}b")
            _ip("link", "set", f"{self.link}b", "netns", self.namespace)
            _ip("addr", "add", f"{self.here}/30", "dev", self.link)
            _ip("link", "set", self.link, "up")
            _ip("netns", "exec", self.namespace, "ip", "addr", "add", f"{self.there}/30", "dev", f"{self.link}b")
            _ip("netns", "exec", self.namespace, "ip", "link", "set", f"{self.link}b", "up")
            self.proxy = CuttableProxy(*self.target, listen_socket=self._socket_there()).start()
        except BaseException:
            self.close()
            raise
        return self

    @property
    def address(self) -> tuple[str, int]:
        assert self.proxy is not None
        return self.there, self.proxy.port

    def partition(self, one_way: bool = False) -> None:
        """From now on, drop every packet sent to the proxy: no error, no
        reset. ``one_way``: drop only what the proxy sends back, so requests
        still arrive and are carried out, but no answer comes."""
        self._routes("add", one_way)
        self.partitioned = True
        self.one_way = one_way

    def heal(self) -> None:
        self._routes("del", self.one_way)
        self.partitioned = False

    def _routes(self, action: str, one_way: bool) -> None:
        if one_way:
            _ip("netns", "exec", self.namespace, "ip", "route", action, "blackhole", f"{self.here}/32")
        else:
            _ip("route", action, "blackhole", f"{self.there}/32")

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        if self.partitioned:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.heal()
        for args in (("link", "del", self.link), ("netns", "del", self.namespace)):
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip(*args)

    def _socket_there(self) -> socket.socket:
        """A listening socket inside the namespace, made by a thread that enters it."""
        made: list[socket.socket | BaseException] = []

        def make() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(f"/run/netns/{self.namespace}", os.O_RDONLY)
                try:
                    if libc.setns(fd, _CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns into the test namespace failed")
                finally:
                    os.close(fd)
                listener = socket.socket()
                listener.bind((self.there, 0))
                listener.listen(64)
                made.append(listener)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                made.append(exc)

        # The thread ends inside the namespace; only its socket is kept.
        thread = threading.Thread(target=make, name=f"enter-{self.namespace}")
        thread.start()
        thread.join()
        if isinstance(made[0], BaseException):
            raise made[0]
        return made[0]
