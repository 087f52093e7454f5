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

It is also where output is made cheap, because every adapter writes through
it.  A chat server's work is fan-out: one line in, N lines out.  Handing each
line to C{transport.write} costs, per recipient and per reactor turn, a
C{startWriting} (an C{epoll_ctl} to watch for writability), a trip through
the reactor when the socket turns writable, the C{send}, and a
C{stopWriting} (another C{epoll_ctl}).  Instead, for plain TCP (and UNIX)
connections, L{SendQueue} collects what one reactor turn produces for its
connection and, at the end of the turn, sends it straight to the socket in
one C{send} when Twisted holds nothing unsent for it; only what the socket
does not take goes through C{transport.write}, which keeps Twisted's own
buffering, ordering and producer calls intact.  docs/performance.rst has the
measured effect.
"""

from __future__ import annotations

from collections.abc import Callable
from weakref import WeakKeyDictionary

from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime, ITransport
from twisted.logger import Logger
from zope.interface import implementer

_log = Logger()

#: A backlog this many times the limit is too slow at once, grace or not.
HARD_FACTOR = 4

#: Output gathered within one reactor turn is sent at once when it reaches
#: this size, so it never grows past what Twisted's own buffer would hold.
TURN_LIMIT = FileDescriptor.bufferSize


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

    # Slots keep one connection's queue in one small block: smaller (every
    # connection has one) and fewer cache lines touched per recipient.
    __slots__ = (
        "_transport", "_limit", "_on_overflow", "_clock", "_grace", "_timer",
        "_held", "held_bytes", "_paused", "_closed", "_registered",
        "_overflowed", "_close_requested", "_turn", "_pending", "_pending_bytes",
    )

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
        # Lists, not deques: an empty deque is 600 bytes of every idle
        # connection, and these are empty almost always.
        self._held: list[bytes] = []
        self.held_bytes = 0
        self._paused = False
        self._closed = False
        self._registered = True
        self._overflowed = False
        self._close_requested = False
        self._turn = _TurnFlush.of(transport)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        transport.registerProducer(self, True)
        _no_delay(transport)

    def write(self, data: bytes) -> None:
        """Send C{data}, or hold it while the transport is paused."""
        pending = self._pending
        if pending:
            # More output this turn: gathered only while neither closed nor
            # paused, and only flush() (which empties it first) can pause us.
            pending.append(data)
            self._pending_bytes += len(data)
            if self._pending_bytes >= TURN_LIMIT:
                self.flush()
        elif self._closed:
            return
        elif self._paused:
            self._hold(data)
        elif self._turn is None:
            self._transport.write(data)
        else:
            self._turn.add(self)
            pending.append(data)
            self._pending_bytes = len(data)
            if self._pending_bytes >= TURN_LIMIT:
                self.flush()

    def flush(self) -> None:
        """Send what this reactor turn produced: straight to an idle socket."""
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self._pending_bytes = 0
        if self._paused:
            self._hold(data)
            return
        transport = self._transport
        # Straight to the socket only when Twisted holds nothing unsent for
        # it, or the bytes would overtake Twisted's; dataBuffer and
        # _tempDataLen are the buffers FileDescriptor.doWrite checks itself
        # (tests/test_sendq.py checks them against a real connection).
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

    def _hold(self, data: bytes) -> None:
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
        sent = 0
        for data in held:
            if self._paused:
                break
            sent += 1
            self.held_bytes -= len(data)
            self._transport.write(data)
        del held[:sent]
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
            # At most one of the two has data: output is held only while
            # paused, and a turn's output is only gathered while not.
            for data in (*self._pending, *self._held):
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
        self._pending.clear()
        self._pending_bytes = 0


class _TurnFlush:
    """The send queues with output waiting for the end of this reactor turn.

    One per reactor: the first queue to gather output in a turn schedules a
    single C{callLater(0)}, which runs once the reactor has handled every
    event of the turn, and flushes them all.
    """

    _of_reactor: WeakKeyDictionary[IReactorTime, _TurnFlush] = WeakKeyDictionary()

    def __init__(self, reactor: IReactorTime) -> None:
        self._reactor = reactor
        self._queues: list[SendQueue] = []

    @classmethod
    def of(cls, transport: ITransport) -> _TurnFlush | None:
        """The batch for C{transport}'s reactor, or C{None} to write through.

        Only a plain socket transport can be written to directly: a TLS
        connection must encrypt (Twisted's TLS transport gathers a turn's
        small writes into one record itself), and an in-memory transport
        (tests) shows writes at once.
        """
        if not isinstance(transport, FileDescriptor) or getattr(transport, "TLS", False):
            return None
        if not hasattr(transport, "_tempDataLen"):
            return None  # a Twisted whose buffers flush() does not know
        reactor = transport.reactor
        batch = cls._of_reactor.get(reactor)
        if batch is None:
            batch = cls._of_reactor[reactor] = cls(reactor)
        return batch

    def add(self, queue: SendQueue) -> None:
        if not self._queues:
            self._reactor.callLater(0, self._flush)
        self._queues.append(queue)

    def _flush(self) -> None:
        queues, self._queues = self._queues, []
        for queue in queues:
            try:
                queue.flush()
            except Exception:
                # One connection's failure must not hold up everyone else's
                # output (nor leave it stranded: its queue was taken off the
                # batch, and only a write to an empty queue puts it back).
                _log.failure("sending a turn's output")


def _no_delay(transport: ITransport) -> None:
    """Turn off Nagle's algorithm: a chat line should leave now, not later.

    L{SendQueue} already gathers a turn's output into one write, so Nagle
    could only add delay: a line written while an earlier one is still
    unacknowledged would wait for the peer's delayed ACK (up to 40 ms).
    TLS transports pass this on to their TCP connection.
    """
    set_no_delay = getattr(transport, "setTcpNoDelay", None)
    if set_no_delay is not None:
        try:
            set_no_delay(True)
        except OSError:
            pass  # already closed: connectionLost follows
