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
it.  A chat server's work is fan-out: one line in, N lines out.  For a sink
that gathers (L{chatsvc.conn.sinks.StreamSink} over a plain socket), the
queue collects what one reactor turn produces for its connection and hands
it to the sink once, at the end of the turn: one C{send} instead of a
C{startWriting}, a trip through the reactor and a C{stopWriting} per line.
docs/performance.rst (steps 1 and 10) has the measured effect.

How output reaches the transport (a byte stream, whole WebSocket messages)
is the sink's business (L{chatsvc.conn.sinks}); this module is the policy,
the same for every transport.
"""

from __future__ import annotations

from collections.abc import Callable
from weakref import WeakKeyDictionary

from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from chatsvc.conn.sinks import Sink

_log = Logger()

#: A backlog this many times the limit is too slow at once, grace or not.
HARD_FACTOR = 4

#: Output gathered within one reactor turn is sent at once when it reaches
#: this size, so it never grows past what Twisted's own buffer would hold.
TURN_LIMIT = FileDescriptor.bufferSize


class OutputCounts:
    """Bytes a group of send queues handed to their transports, and bytes they hold.

    The hub keeps one (L{chatsvc.hub.counts.Counts.output}) for the queues
    of its connections, so metrics can read bytes out and the backlog at
    scrape time without a call per write.  The counts are plain integer
    additions: once per write where output is written through (TLS,
    WebSocket), and on the slow paths (held while paused, resumed, sent at
    close, dropped).  Output gathered per reactor turn (plain sockets, the
    fan-out's path) is counted per turn instead, by the reactor's batch
    (L{gathered_bytes}).

    @ivar sent: bytes handed to transports since the start, but gathered turns.
    @ivar held: bytes held now by queues whose transport is full (beyond
        Twisted's own buffer): what C{--max-backlog} bounds, per connection.
    """

    __slots__ = ("sent", "held")

    def __init__(self) -> None:
        self.sent = 0
        self.held = 0


#: Where the queues nobody counts for add up (tests, the benchmark's floor).
UNCOUNTED = OutputCounts()


@implementer(IPushProducer)
class SendQueue:
    """Write to C{sink}, holding a bounded backlog while its transport is full.

    @param sink: where the output goes (L{chatsvc.conn.sinks}).
    @param limit: bytes held beyond the transport's own buffer that a client
        may not stay over for C{grace} seconds; 0 means no limit.
    @param on_overflow: called once, when the client is too slow.
    @param clock: runs the grace period; needed when C{grace} is not 0.
    @param grace: seconds a backlog may stay over C{limit}; 0 drops the
        client as soon as it passes C{limit}.
    @param counts: where this queue adds the bytes it sends and holds.
    """

    # Slots keep one connection's queue in one small block: smaller (every
    # connection has one) and fewer cache lines touched per recipient.
    __slots__ = (
        "_sink", "_limit", "_on_overflow", "_clock", "_grace", "_timer",
        "_held", "held_bytes", "_paused", "_closed", "_registered",
        "_overflowed", "_close_requested", "_turn", "_pending", "_pending_bytes",
        "_counts",
    )

    def __init__(
        self,
        sink: Sink,
        limit: int,
        on_overflow: Callable[[], None],
        clock: IReactorTime | None = None,
        grace: float = 0.0,
        counts: OutputCounts = UNCOUNTED,
    ) -> None:
        if grace and clock is None:
            raise ValueError("a grace period needs a clock")
        self._sink = sink
        self._limit = limit
        self._on_overflow = on_overflow
        self._clock = clock
        self._grace = grace
        self._timer: IDelayedCall | None = None
        # Output held while paused: made when first needed, since even an
        # empty list is 56 bytes of every idle connection (a deque, 600; idle
        # memory, docs/performance.rst step 5).
        self._held: list[bytes] | None = None
        self.held_bytes = 0
        self._paused = False
        self._closed = False
        self._registered = True
        self._overflowed = False
        self._close_requested = False
        self._turn = _TurnFlush.of(sink)
        #: This turn's gathered output, and its size: the size means
        #: something only while the list holds output (a turn's first write
        #: sets it; the end of the turn leaves it, see _TurnFlush._flush).
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._counts = counts
        sink.register(self)

    def write(self, data: bytes) -> None:
        """Send C{data}, or hold it while the transport is paused."""
        # Hot spot, the send path (docs/performance.rst, step 10): once per
        # recipient of every message, so the common case (more output this
        # turn) is tested first.
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
            self._counts.sent += len(data)
            self._sink.write(data)
        else:
            # The first output this turn: join the turn's batch here rather
            # than through a method, one call fewer per recipient per turn
            # (docs/performance.rst, step 10).
            queues = self._turn._queues
            if not queues:
                self._turn.schedule()
            queues.append(self)
            pending.append(data)
            self._pending_bytes = len(data)
            if self._pending_bytes >= TURN_LIMIT:
                self.flush()

    def flush(self) -> None:
        """Hand the sink what this reactor turn produced, or hold it while paused.

        L{_TurnFlush._flush} does the same inline, for every queue at the
        end of a turn.
        """
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if self._paused:
            self._pending_bytes = 0
            self._hold(data)
        else:
            # Only gathered output is ever pending: counted per reactor, as
            # _TurnFlush._flush counts it.
            turn = self._turn
            if turn is not None:
                turn.sent += self._pending_bytes
            self._pending_bytes = 0
            self._sink.send_turn(data)

    @property
    def backlog(self) -> int:
        """Bytes written and not yet sent: held here, gathered, or in the transport."""
        gathered = self._pending_bytes if self._pending else 0
        return self.held_bytes + gathered + self._sink.unsent()

    def _hold(self, data: bytes) -> None:
        if self._held is None:
            self._held = []
        self._held.append(data)
        self.held_bytes += len(data)
        self._counts.held += len(data)
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
        held = self._held or []
        sent = sent_bytes = 0
        for data in held:
            if self._paused:
                break
            sent += 1
            sent_bytes += len(data)
            self.held_bytes -= len(data)
            self._sink.write(data)
        del held[:sent]
        counts = self._counts
        counts.held -= sent_bytes
        counts.sent += sent_bytes
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
        sink = self._sink
        if self._overflowed:
            abort = True
        if not abort and not self._closed:
            # At most one of the two has data: output is held only while
            # paused, and a turn's output is only gathered while not.
            for data in (*self._pending, *(self._held or ())):
                self._counts.sent += len(data)
                sink.write(data)
        self._closed = True
        self._drop_held()
        self._cancel_timer()
        if self._registered:
            self._registered = False
            sink.unregister()
        if abort:
            sink.abort()
        elif not self._close_requested:
            sink.close()
        self._close_requested = True

    def _drop_held(self) -> None:
        self._counts.held -= self.held_bytes
        self._held = None
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
        #: Bytes of gathered output handed to sinks (see L{gathered_bytes}).
        self.sent = 0

    @classmethod
    def of(cls, sink: Sink) -> _TurnFlush | None:
        """The batch for C{sink}'s reactor, or C{None} if it writes through."""
        reactor = sink.turn_reactor()
        if reactor is None:
            return None
        batch = cls._of_reactor.get(reactor)
        if batch is None:
            batch = cls._of_reactor[reactor] = cls(reactor)
        return batch

    def schedule(self) -> None:
        """Flush at the end of this turn: called for the turn's first queue."""
        self._reactor.callLater(0, self._flush)

    def _flush(self) -> None:
        queues, self._queues = self._queues, []
        # What the turn sent, added up here and counted once per turn: each
        # queue already knows its bytes (_pending_bytes), so counting costs
        # a local addition per connection (in place of resetting it), no call.
        sent = 0
        for queue in queues:
            try:
                # SendQueue.flush, inline: one call fewer per recipient per
                # turn, so the sink's send costs what the send inside the
                # queue cost (docs/performance.rst, step 10).
                pending = queue._pending
                if not pending:
                    continue
                data = pending[0] if len(pending) == 1 else b"".join(pending)
                pending.clear()
                # _pending_bytes is left as it is: it counts only while
                # _pending holds something, and the turn's first write sets it.
                if queue._paused:
                    queue._hold(data)
                else:
                    sent += queue._pending_bytes
                    queue._sink.send_turn(data)
            except Exception:
                # One connection's failure must not hold up everyone else's
                # output (nor leave it stranded: its queue was taken off the
                # batch, and only a write to an empty queue puts it back).
                _log.failure("sending a turn's output")
        self.sent += sent


def gathered_bytes(reactor: IReactorTime) -> int:
    """Bytes sent through C{reactor}'s gathered turns (plain sockets) so far.

    The gathered path, one C{send} per connection per reactor turn, is the
    fan-out's (docs/performance.rst, step 10), so its bytes are added up
    per turn and per reactor rather than per connection into each queue's
    L{OutputCounts}: every hub of a process runs on the one reactor, so
    the process's bytes out are this plus what its hubs' counts hold
    (L{chatsvc.metrics.collector}).
    """
    batch = _TurnFlush._of_reactor.get(reactor)
    return 0 if batch is None else batch.sent
