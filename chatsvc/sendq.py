"""A bounded outbound queue per connection: backpressure as a feature.

Twisted buffers writes without limit, so one client that stops reading would
otherwise grow the server's memory forever.  L{SendQueue} registers itself as
a streaming producer on the transport: while the transport's own buffer is
over its C{bufferSize} (64 KiB), Twisted calls C{pauseProducing}, and we hold
further output here, counted.  A client whose backlog stays over C{limit}
bytes for C{grace} seconds, or ever reaches C{HARD_FACTOR} times it, is too
slow and is dropped; nobody else waits for it.

Why a grace period: Twisted writes to the socket only when the reactor next
finds it writable, so everything one reactor turn fans out to a client (say
25 people each pasting ten long lines at once) lands in its buffers before a
single byte is sent.  A backlog over the limit at that instant says nothing
about the reader; one that is still over it seconds later does.  The hard
cap keeps memory bounded meanwhile.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime, ITransport
from zope.interface import implementer

#: A backlog this many times the limit is too slow at once, grace or not.
HARD_FACTOR = 4


@implementer(IPushProducer)
class SendQueue:
    """Write to C{transport}, holding a bounded backlog while it is full.

    @param limit: bytes held beyond the transport's own buffer that a client
        may not stay over for C{grace} seconds; 0 means no limit.
    @param on_overflow: called once, when the client is too slow.
    @param clock: runs the grace period; needed when C{grace} is not 0.
    @param grace: seconds a backlog may stay over C{limit}; 0 drops the
        client as soon as it passes C{limit}.
    """

    def __init__(
        self,
        transport: ITransport,
        limit: int,
        on_overflow: Callable[[], None],
        clock: IReactorTime | None = None,
        grace: float = 0.0,
    ) -> None:
        if grace and clock is None:
            raise ValueError("a grace period needs a clock")
        self._transport = transport
        self._limit = limit
        self._on_overflow = on_overflow
        self._clock = clock
        self._grace = grace
        self._timer: IDelayedCall | None = None
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
        limit = self._limit
        if not limit or self.held_bytes <= limit:
            return
        if not self._grace or self.held_bytes > limit * HARD_FACTOR:
            self._overflow()
        elif self._timer is None:
            assert self._clock is not None
            self._timer = self._clock.callLater(self._grace, self._check)

    def _check(self) -> None:
        self._timer = None
        if not self._closed and self.held_bytes > self._limit:
            self._overflow()

    def _overflow(self) -> None:
        self._drop_held()
        self._closed = True
        self._overflowed = True
        self._cancel_timer()
        self._on_overflow()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

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
        if self.held_bytes <= self._limit:
            self._cancel_timer()  # it caught up within its grace period

    def stopProducing(self) -> None:
        self._closed = True
        self._drop_held()
        self._cancel_timer()

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
        self._cancel_timer()
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
