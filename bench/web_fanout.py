"""Fan-out cost per recipient: WebSocket (web adapter) next to line protocol, in process.

One user says a line in a room of N others; the time per recipient is the
broadcast's time divided by N, best of several runs.  Web recipients go
through the whole output path: the adapter's deliver, the Guard's send
queue and the adapter's sink, under Twisted's own WebSocket wire protocol
(as WebSocketResource builds it on an upgrade) over an in-memory TCP
transport; line recipients through their own path into the same kind of
transport.

    .venv/bin/python bench/web_fanout.py [N] [runs]
"""

from __future__ import annotations

import gc
import sys
import time

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web._websocket_impl import _WebSocketWireProtocol, serverBootstrap
from wsproto.connection import Connection, ConnectionType

from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.protocols.web.protocol import WebChatProtocol


def hub() -> ChatFactory:
    return ChatFactory(Settings(max_per_ip=0, connect_rate=0, flood_rate=0,
                                register_timeout=0, max_clients=0, max_backlog=0),
                       clock=Clock())


def address(n: int) -> IPv4Address:
    return IPv4Address("TCP", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 1000 + n % 50000)


def room(kind: str, n: int) -> tuple[ChatFactory, object, list[StringTransport]]:
    chat = hub()
    transports = []
    for i in range(n + 1):
        under = StringTransport(peerAddress=address(i))
        if kind == "web":
            # What WebSocketResource does on an upgrade: Twisted's wire
            # protocol, with wsproto's connection, over the TCP transport.
            protocol = WebChatProtocol(chat, under)
            _WebSocketWireProtocol(Connection(ConnectionType.SERVER), serverBootstrap,
                                   protocol).makeConnection(under)
            protocol.negotiationFinished()
            protocol.textMessageReceived(f'{{"type": "register", "name": "u{i}"}}')
        else:
            protocol = chat.buildProtocol(under.getPeer())
            protocol.makeConnection(under)
            protocol.dataReceived(f"#u{i}\n".encode())
        transports.append(under)
        if i == 0:
            speaker = protocol
    for under in transports:
        under.clear()
    return chat, speaker, transports[1:]


def per_recipient(kind: str, n: int, runs: int) -> float:
    chat, speaker, transports = room(kind, n)
    best = float("inf")
    text = "a typical chat line of some forty-odd characters"
    for _ in range(runs):
        gc.disable()
        start = time.perf_counter()
        chat.say(speaker, chat.default_room.name, text)
        elapsed = time.perf_counter() - start
        gc.enable()
        best = min(best, elapsed)
        for under in transports:
            under.clear()
    assert all(not under.value() for under in transports)
    return best / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    for kind in ("line", "web"):
        print(f"{kind:5} {per_recipient(kind, n, runs) * 1e9:8.0f} ns per recipient "
              f"(room of {n}, best of {runs})")


if __name__ == "__main__":
    main()
