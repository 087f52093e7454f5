"""A bounded outbound queue per connection: backpressure as a feature.

Twisted buffers writes without limit, so one client that stops reading would
otherwise grow the server's memory forever.  L{SendQueue} registers itself as
a streaming producer on the transport: while the transport's own buffer is
over its C{bufferSize} (64 KiB), Twisted calls C{pauseProducing}, and we hold
further output here, counted.  Past C{limit} bytes the client is too slow and
is dropped; nobody else waits for it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.internet.interfaces import IPushProducer, ITransport
from zope.interface import implementer


@implementer(IPushProducer)
class SendQueue:
    """Write to C{transport}, holding at most C{limit} bytes while it is full.

    @param limit: bytes held beyond the transport's own buffer before
        C{on_overflow} is called; 0 means no limit.
    @param on_overflow: called once, when the backlog passes C{limit}.
    """

    def __init__(
        self, transport: ITransport, limit: int, on_overflow: Callable[[], None]
    ) -> None:
        self._transport = transport
        self._limit = limit
        self._on_overflow = on_overflow
        self._held: deque[bytes] = deque()
        self.held_bytes = 0
        self._paused = False
        self._closed = False
        self._registered = True
        self._overflowed = False
        self._close_requested = False
        transport.registerProducer(self, True)

    def write(self, data: bytes) -> None:
        """Send C{data}, or hold it while the transport is paused."""
        if self._closed:
            return
        if not self._paused:
            self._transport.write(data)
            return
        self._held.append(data)
        self.held_bytes += len(data)
        if self._limit and self.held_bytes > self._limit:
            self._drop_held()
            self._closed = True
            self._overflowed = True
            self._on_overflow()

    def pauseProducing(self) -> None:
        # Called on every write while the transport is over its buffer size,
        # not only the first time: it must stay idempotent.
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        held = self._held
        while held and not self._paused:
            data = held.popleft()
            self.held_bytes -= len(data)
            self._transport.write(data)

    def stopProducing(self) -> None:
        self._closed = True
        self._drop_held()

    def close(self, abort: bool = False) -> None:
        """Send what is held, then close; C{abort} discards it instead.

        The producer is unregistered first because Twisted does not close a
        connection while a producer is still registered.  Closing a queue
        that overflowed always aborts: its peer is not reading, so a graceful
        close would wait for it forever.
        """
        transport = self._transport
        if self._overflowed:
            abort = True
        if not abort and not self._closed:
            for data in self._held:
                transport.write(data)
        self._closed = True
        self._drop_held()
        if self._registered:
            self._registered = False
            transport.unregisterProducer()
        if abort:
            transport.abortConnection()
        elif not self._close_requested:
            transport.loseConnection()
        self._close_requested = True

    def _drop_held(self) -> None:
        self._held.clear()
        self.held_bytes = 0
