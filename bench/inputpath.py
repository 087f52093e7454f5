"""The input path in memory: lines per second through an adapter's dataReceived.

Two registered users of a hub on a fake clock and in-memory transports; one
sends 8 lines per read (as ``python -m bench``'s senders write them) and the
other receives.  Each figure is the best of ``--repeat`` rounds, so that a
busy machine costs as little as it can; compare runs made one right after the
other (docs/performance.rst, steps 11, 12 and 15, are about this path)::

    python -m bench.inputpath
    python -m bench.inputpath --repeat 40 --reads 2000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.protocols.irc.protocol import IRCServer

PER_READ = 8

#: (name, what the sender sends, one line with its terminator).
CASES = (
    ("line private", "line", b"@bob:hello there, how are you\r\n"),
    ("line room", "line", b"hello there, how are you\r\n"),
    ("line blank", "line", b"\r\n"),
    ("irc private", "irc", b"PRIVMSG bob :hello there, how are you\r\n"),
    ("irc room", "irc", b"PRIVMSG #chat :hello there, how are you\r\n"),
)


def _connect(build: Callable[[Any], Any], number: int,
             hello: bytes) -> tuple[Protocol, StringTransport]:
    address = IPv4Address("TCP", f"127.0.0.{number}", 1000 + number)
    protocol = build(address)
    assert protocol is not None
    transport = StringTransport(peerAddress=address)
    protocol.makeConnection(transport)
    protocol.dataReceived(hello)
    transport.clear()
    return protocol, transport


def pair(wire: str) -> tuple[Protocol, StringTransport, StringTransport]:
    """A sender and its receiver, registered, flood control off."""
    # A Clock provides IReactorTime, which mypy cannot see through zope.
    hub = ChatFactory(Settings(flood_rate=0), clock=cast(IReactorTime, Clock()))
    if wire == "line":
        build: Callable[[Any], Any] = hub.buildProtocol
        hello = [b"#%s\r\n" % name for name in (b"alice", b"bob")]
    else:
        build = IRCServer(hub).factory().buildProtocol
        hello = [b"NICK %s\r\nUSER %s 0 * :x\r\nJOIN #chat\r\n" % (name, name)
                 for name in (b"alice", b"bob")]
    sender, sent = _connect(build, 1, hello[0])
    _receiver, received = _connect(build, 2, hello[1])
    return sender, sent, received


def lines_per_second(wire: str, line: bytes, reads: int, repeat: int) -> float:
    sender, sent, received = pair(wire)
    data = line * PER_READ
    feed = sender.dataReceived
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(reads):
            feed(data)
            if i & 63 == 0:
                sent.clear()
                received.clear()
        best = min(best, time.perf_counter() - start)
    return reads * PER_READ / best


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inputpath", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=4000, help="reads per round")
    parser.add_argument("--repeat", type=int, default=25, help="rounds; the best counts")
    args = parser.parse_args(argv)
    for name, wire, line in CASES:
        rate = lines_per_second(wire, line, args.reads, args.repeat)
        print(f"{name:14s} {rate:12,.0f} lines/s  {1e6 / rate:6.3f} µs/line")


if __name__ == "__main__":
    main()
