"""Where a connection's output goes, under the backlog policy.

L{chatsvc.conn.sendq.SendQueue} decides I{when} output is sent and who is
too slow: it bounds the backlog, drops a client past C{--max-backlog} after
a grace period, gathers one reactor turn's output and registers as the
transport's streaming producer.  A L{Sink} is the other half, I{how} output
reaches one kind of transport: write a chunk (or a whole message), send a
turn's gathered bytes, register the producer, close.  Keeping the two apart
lets each transport bring its own sink without copying the policy:

  - L{StreamSink}: a Twisted byte-stream transport (TCP, UNIX, TLS,
    in-memory).  Over plain TCP and UNIX sockets it is the output fast path
    of docs/performance.rst (steps 1, 2 and 10), and it is the only code in
    chatsvc that reads Twisted's private buffer attributes.
  - L{MessageSink}: a transport of whole messages, such as Twisted's
    C{twisted.web.websocket} transport (C{sendTextMessage}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import IPushProducer, IReactorTime, ITransport
from twisted.logger import Logger

import twisted

#: The attributes of L{FileDescriptor} that L{StreamSink} reads (the first
#: four) or relies on (C{socket}) to send straight to an idle socket; the
#: test in tests/test_sinks.py checks a real connection against them.
STREAM_INTERNALS = ("dataBuffer", "offset", "_tempDataBuffer", "_tempDataLen", "socket")

_log = Logger()
_warned = False


class Sink(Protocol):
    """What the backlog policy needs of a transport.

    Output reaches the transport only through L{write} (one chunk, or one
    whole message) and L{send_turn}; while the transport's own buffer is
    full it calls the producer's C{pauseProducing}, and the policy holds
    the rest.
    """

    def turn_reactor(self) -> IReactorTime | None:
        """The reactor to gather one turn's output on, or C{None} to write through.

        Gathering joins a turn's chunks into one, so only a byte stream
        may return a reactor.
        """

    def send_turn(self, data: bytes) -> None:
        """Send one reactor turn's gathered output, joined into C{data}.

        Called only when L{turn_reactor} returned a reactor.
        """

    def write(self, data: bytes) -> None:
        """Send C{data} (one chunk of a stream, one whole message) through the transport."""

    def unsent(self) -> int:
        """Bytes the transport has accepted and not yet sent (0 when it cannot tell)."""

    def register(self, producer: IPushProducer) -> None:
        """Register C{producer} as the transport's streaming producer."""

    def unregister(self) -> None:
        """Unregister the producer; a transport does not close while one is registered."""

    def close(self) -> None:
        """Close once what the transport holds is sent."""

    def abort(self) -> None:
        """Close now, discarding what the transport holds."""


class StreamSink:
    """A Twisted byte-stream transport, with the fast path for plain sockets.

    For a plain TCP or UNIX connection, L{send_turn} hands a reactor turn's
    output straight to the socket in one C{send} when Twisted holds nothing
    unsent for it, skipping C{startWriting}/C{doWrite}/C{stopWriting} (two
    C{epoll_ctl} calls and a trip through the reactor per recipient): see
    docs/performance.rst steps 1 and 10.  What the socket does not take
    goes through C{transport.write}, which keeps Twisted's own buffering,
    ordering and producer calls intact.  TLS and in-memory transports get no
    reactor from L{turn_reactor} and are written through.
    """

    __slots__ = ("_transport",)

    def __init__(self, transport: ITransport) -> None:
        self._transport = transport
        _no_delay(transport)

    def turn_reactor(self) -> IReactorTime | None:
        """The connection's reactor if it is a plain socket we may send to directly.

        A TLS connection must encrypt (Twisted's TLS transport gathers a
        turn's small writes into one record itself), and an in-memory
        transport (tests) shows writes at once.
        """
        transport = self._transport
        if not isinstance(transport, FileDescriptor) or getattr(transport, "TLS", False):
            return None
        missing = [name for name in STREAM_INTERNALS if not hasattr(transport, name)]
        if missing:
            # A Twisted whose buffers send_turn() does not know: correct but
            # slower output, so say so once (tests/test_sinks.py fails too).
            global _warned
            if not _warned:
                _warned = True
                _log.warn("Twisted {version}'s {kind} has no {missing}: sending through "
                          "transport.write, without the fast path of docs/performance.rst",
                          version=twisted.__version__, kind=type(transport).__qualname__,
                          missing=", ".join(missing))
            return None
        return IReactorTime(transport.reactor)

    def send_turn(self, data: bytes) -> None:
        """Send a turn's output: straight to an idle socket, else through Twisted."""
        transport = self._transport
        # Straight to the socket only when Twisted holds nothing unsent for
        # it, or the bytes would overtake Twisted's; dataBuffer and
        # _tempDataLen are the buffers FileDescriptor.doWrite checks itself
        # (tests/test_sinks.py checks them against a real connection).
        if (
            not transport.dataBuffer  # type: ignore[attr-defined]
            and not transport._tempDataLen  # type: ignore[attr-defined]
            and transport.connected  # type: ignore[attr-defined]
            and not transport.disconnecting  # type: ignore[attr-defined]
        ):
            try:
                sent = transport.socket.send(data)  # type: ignore[attr-defined]
            except OSError:
                # Full (EAGAIN) or broken: either way Twisted's to deal with,
                # when it writes the data below.
                sent = 0
            if sent == len(data):
                return
            if sent:
                data = data[sent:]
        transport.write(data)

    def write(self, data: bytes) -> None:
        """Write through Twisted's buffering."""
        self._transport.write(data)

    def unsent(self) -> int:
        """What Twisted holds for the socket; 0 for a transport that is not one."""
        transport = self._transport
        if not isinstance(transport, FileDescriptor) or getattr(transport, "TLS", False):
            return 0
        try:
            held: int = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        except AttributeError:  # a Twisted that moved them: turn_reactor() warned
            return 0
        return held

    def register(self, producer: IPushProducer) -> None:
        self._transport.registerProducer(producer, True)  # type: ignore[attr-defined]

    def unregister(self) -> None:
        self._transport.unregisterProducer()  # type: ignore[attr-defined]

    def close(self) -> None:
        self._transport.loseConnection()

    def abort(self) -> None:
        self._transport.abortConnection()  # type: ignore[attr-defined]


class MessageTransport(Protocol):
    """A transport of whole messages: the shape of Twisted's C{WebSocketTransport}."""

    def sendTextMessage(self, text: str) -> None: ...

    def sendBytesMessage(self, data: bytes) -> None: ...

    def loseConnection(self) -> None: ...

    def attachProducer(self, producer: IPushProducer) -> None: ...

    def detachProducer(self) -> None: ...


class MessageSink:
    """A transport of whole messages: each L{write} is one message, never joined.

    A message transport gets the same backlog policy as the line and IRC
    adapters through this sink: C{Guard(hub, participant,
    request.transport, handle, sink=MessageSink(websocket, abort=...,
    unsent=...))}.  A WebSocket sits on a TCP connection, so its producer
    registration reaches that connection's buffer and "too slow" means what
    it means over TCP.  (The web adapter writes frames it made itself on
    the TCP connection instead, and comes here only when Twisted's
    WebSocket transport is not what it expects: C{chatsvc.protocols.web.sink}.)

    Output is written through at once: a turn's messages cannot be joined
    into one, and the WebSocket layer frames each itself.

    @param transport: the message transport.
    @param text: send text messages (the bytes written are UTF-8) rather
        than bytes messages.
    @param abort: closes the underlying connection at once; a WebSocket
        transport has only a graceful close, which waits for a reader that
        may never read.  Without it, L{abort} closes gracefully.
    @param unsent: bytes the underlying connection holds unsent, if known.
    """

    __slots__ = ("_transport", "_text", "_abort", "_unsent")

    def __init__(
        self,
        transport: MessageTransport,
        *,
        text: bool = True,
        abort: Callable[[], object] | None = None,
        unsent: Callable[[], int] | None = None,
    ) -> None:
        self._transport = transport
        self._text = text
        self._abort = abort
        self._unsent = unsent

    def turn_reactor(self) -> IReactorTime | None:
        return None

    def send_turn(self, data: bytes) -> None:
        raise TypeError("a message sink's output is never gathered into one chunk")

    def write(self, data: bytes) -> None:
        """Send C{data} as one message."""
        if self._text:
            self._transport.sendTextMessage(data.decode("utf-8"))
        else:
            self._transport.sendBytesMessage(data)

    def unsent(self) -> int:
        return 0 if self._unsent is None else self._unsent()

    def register(self, producer: IPushProducer) -> None:
        self._transport.attachProducer(producer)

    def unregister(self) -> None:
        self._transport.detachProducer()

    def close(self) -> None:
        self._transport.loseConnection()

    def abort(self) -> None:
        if self._abort is None:
            self._transport.loseConnection()
        else:
            self._abort()


def _no_delay(transport: ITransport) -> None:
    """Turn off Nagle's algorithm: a chat line should leave now, not later.

    L{chatsvc.conn.sendq.SendQueue} already gathers a turn's output into one
    write, so Nagle could only add delay: a line written while an earlier
    one is still unacknowledged would wait for the peer's delayed ACK (up to
    40 ms); docs/performance.rst step 2.  TLS transports pass this on to
    their TCP connection.
    """
    set_no_delay = getattr(transport, "setTcpNoDelay", None)
    if set_no_delay is not None:
        try:
            set_no_delay(True)
        except OSError:
            pass  # already closed: connectionLost follows
