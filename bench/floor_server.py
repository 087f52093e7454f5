"""The floor: the least a Twisted server speaking chatsvc's line protocol can do.

It answers ``#name`` with ``* you are name``, relays ``@name:text`` as
``*sender* text`` and anything else (except ``/commands``, which it ignores)
as ``<sender> text`` to everyone, and writes through chatsvc's own
L{SendQueue} (one send per connection per reactor turn).  It has no rules
at all: no flood gate, no text cleaning or name folding, no rooms, no
events, no backlog limit worth the name.  Its cost in the benchmark is what
Twisted and chatsvc's output path cost by themselves; the difference to
chatsvc is what chatsvc's rules and layers cost (docs/performance.rst).

With C{--inline} it sends each line to the socket at once instead, the way
a C server's tight loop does (what the socket does not take goes to
C{transport.write}): the floor for latency at low rates, and what gathering
a turn's output saves at high ones.

Usage: python bench/floor_server.py PORT [--inline]
"""

from __future__ import annotations

import sys

from twisted.internet import endpoints, protocol, reactor

from chatsvc.conn.sendq import SendQueue
from chatsvc.conn.sinks import StreamSink

_users: dict[bytes, Relay] = {}


class InlineOutput:
    """Send at once: one send per line, no gathering, no backlog limit.

    What L{SendQueue} has its sink do once per turn (L{StreamSink.send_turn}),
    done for every line, and nothing else: a subclass of L{SendQueue}
    flushing after each write would carry the turn machinery along and no
    longer be the floor.
    """

    def __init__(self, transport: object) -> None:
        self.write = StreamSink(transport).send_turn  # type: ignore[arg-type]


class Relay(protocol.Protocol):
    name = b""
    inline = False

    def connectionMade(self) -> None:
        if self.inline:
            self.queue: SendQueue | InlineOutput = InlineOutput(self.transport)
        else:
            self.queue = SendQueue(StreamSink(self.transport), 0, lambda: None)
        self.buffer = b""

    def dataReceived(self, data: bytes) -> None:
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            line = line.rstrip(b"\r")
            if line[:1] == b"#":
                self.name = line[1:]
                _users[self.name] = self
                self.queue.write(b"* you are " + self.name + b"\r\n")
            elif line[:1] == b"@":
                target, _, text = line[1:].partition(b":")
                peer = _users.get(target)
                if peer is not None:
                    peer.queue.write(b"*" + self.name + b"* " + text + b"\r\n")
            elif self.name and line[:1] != b"/":
                out = b"<" + self.name + b"> " + line + b"\r\n"
                for peer in _users.values():
                    if peer is not self:
                        peer.queue.write(out)

    def connectionLost(self, reason: object = None) -> None:
        if _users.get(self.name) is self:
            del _users[self.name]


def main(port: int, inline: bool = False) -> None:
    Relay.inline = inline
    endpoint = endpoints.TCP4ServerEndpoint(reactor, port, backlog=1024, interface="127.0.0.1")
    endpoint.listen(protocol.Factory.forProtocol(Relay))
    reactor.run()


if __name__ == "__main__":
    main(int(sys.argv[1]), "--inline" in sys.argv[2:])
