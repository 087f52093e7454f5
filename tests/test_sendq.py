"""The bounded outbound queue: a reader that stops reading is dropped.

The policy tests run over both sinks: a byte stream and a message transport
(what a WebSocket will use) meet the same bound, drop and close.
"""

import errno
import socket
import sys

import pytest
import pytest_twisted
from support import MessageTransport
from twisted.internet import defer, protocol, reactor, task
from twisted.internet.abstract import FileDescriptor
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs

from chatsvc.conn import sendq
from chatsvc.conn.sendq import SendQueue
from chatsvc.conn.sinks import MessageSink, StreamSink

SINKS = ["stream", "message"]


def make(limit=100, sink="stream"):
    """A queue over an in-memory transport: C{transport} shows what was sent.

    With C{sink="message"} the queue writes whole messages to a
    L{MessageTransport}, whose bytes (and producer) go to C{transport}.
    """
    transport = StringTransport()
    overflows = []
    if sink == "stream":
        out = StreamSink(transport)
    else:
        out = MessageSink(MessageTransport(transport), abort=transport.abortConnection)
    queue = SendQueue(out, limit, lambda: overflows.append(True))
    return transport, queue, overflows


@pytest.fixture(params=SINKS)
def sink(request):
    return request.param


def test_registers_as_streaming_producer(sink):
    transport, queue, _ = make(sink=sink)
    assert transport.producer is queue and transport.streaming


def test_writes_pass_through_while_not_paused(sink):
    transport, queue, _ = make(sink=sink)
    queue.write(b"a")
    queue.write(b"b")
    assert transport.value() == b"ab"


def test_paused_output_is_held_then_sent_in_order(sink):
    transport, queue, overflows = make(sink=sink)
    queue.pauseProducing()
    queue.write(b"one ")
    queue.pauseProducing()  # Twisted repeats this on every write while full
    queue.write(b"two")
    assert transport.value() == b"" and queue.held_bytes == 7
    queue.resumeProducing()
    assert transport.value() == b"one two" and queue.held_bytes == 0
    assert overflows == []


def test_overflow_calls_back_once_and_stops_holding(sink):
    transport, queue, overflows = make(limit=10, sink=sink)
    queue.pauseProducing()
    queue.write(b"x" * 10)
    assert overflows == []
    queue.write(b"y")
    assert overflows == [True] and queue.held_bytes == 0
    queue.write(b"z" * 100)
    assert overflows == [True] and queue.held_bytes == 0


def test_zero_limit_means_unbounded(sink):
    _, queue, overflows = make(limit=0, sink=sink)
    queue.pauseProducing()
    for _ in range(100):
        queue.write(b"x" * 1000)
    assert overflows == [] and queue.held_bytes == 100_000


def test_close_flushes_held_output_and_unregisters(sink):
    transport, queue, _ = make(sink=sink)
    queue.pauseProducing()
    queue.write(b"bye")
    queue.close()
    assert transport.value() == b"bye"
    assert transport.producer is None and transport.disconnecting
    queue.write(b"late")
    assert transport.value() == b"bye"


def test_abort_discards_held_output(sink):
    transport, queue, _ = make(sink=sink)
    queue.pauseProducing()
    queue.write(b"never")
    queue.close(abort=True)
    # StringTransport.abortConnection records the abort as .disconnected
    assert transport.value() == b"" and transport.disconnected


# -- one send per connection per reactor turn, straight to an idle socket ----


class KernelLike:
    """A socket whose kernel buffer takes at most C{room} more bytes."""

    def __init__(self, room):
        self.room = room
        self.sends: list[bytes] = []

    def send(self, data):
        if not self.room:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        taken = bytes(data[: self.room])
        self.room -= len(taken)
        self.sends.append(taken)
        return len(taken)


class SocketLike(FileDescriptor):
    """A socket transport: StreamSink sends to C{socket}, Twisted through writeSomeData."""

    def __init__(self, reactor, room=10**9):
        super().__init__(reactor)
        self.connected = 1
        self.socket = KernelLike(room)

    @property
    def sends(self) -> list[bytes]:
        return self.socket.sends

    def writeSomeData(self, data):
        try:
            return self.socket.send(data)
        except BlockingIOError:
            return 0

    def received(self):
        return b"".join(self.sends)


def make_socket_queue(room=10**9, limit=100):
    clock = MemoryReactorClock()
    transport = SocketLike(clock, room)
    overflows = []
    queue = SendQueue(StreamSink(transport), limit, lambda: overflows.append(True))
    return clock, transport, queue, overflows


def test_a_turn_of_output_goes_out_in_one_send_at_its_end():
    clock, transport, queue, _ = make_socket_queue()
    for line in (b"one\r\n", b"two\r\n", b"three\r\n"):
        queue.write(line)
    assert transport.sends == []  # nothing before the turn ends
    clock.advance(0)
    assert transport.sends == [b"one\r\ntwo\r\nthree\r\n"]
    assert not clock.getWriters()  # never registered for writability
    queue.write(b"four\r\n")
    clock.advance(0)
    assert transport.sends[-1] == b"four\r\n"


def test_one_scheduled_flush_serves_every_queue_of_the_reactor():
    clock = MemoryReactorClock()
    transports = [SocketLike(clock) for _ in range(3)]
    queues = [SendQueue(StreamSink(t), 0, lambda: None) for t in transports]
    for queue in queues:
        queue.write(b"hello\r\n")
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(0)
    assert [t.sends for t in transports] == [[b"hello\r\n"]] * 3


def test_what_the_socket_does_not_take_is_left_to_twisted_in_order():
    clock, transport, queue, _ = make_socket_queue(room=4)
    queue.write(b"abcdef")
    clock.advance(0)
    assert transport.sends == [b"abcd"]
    assert transport in clock.getWriters()  # Twisted now waits for writability
    queue.write(b"gh")
    clock.advance(0)
    # Twisted still holds "ef": the new output must queue behind it.
    assert transport.sends == [b"abcd"]
    transport.socket.room = 100
    transport.doWrite()
    assert transport.received() == b"abcdefgh"
    assert transport not in clock.getWriters()


def test_a_socket_error_is_left_to_twisted():
    clock, transport, queue, _ = make_socket_queue()

    def reset(data):
        raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")

    transport.socket.send = reset
    queue.write(b"lost\r\n")
    clock.advance(0)
    # Twisted holds the bytes and meets the error itself when it writes them
    # (then closes the connection, as for any write error).
    assert transport in clock.getWriters()
    assert transport._tempDataLen == len(b"lost\r\n")


def test_a_large_turn_is_sent_without_waiting_for_its_end():
    clock, transport, queue, _ = make_socket_queue()
    queue.write(b"x" * (sendq.TURN_LIMIT - 1))
    assert transport.sends == []
    queue.write(b"y")
    assert len(transport.received()) == sendq.TURN_LIMIT
    clock.advance(0)
    assert len(transport.received()) == sendq.TURN_LIMIT


def test_backpressure_still_holds_and_counts_output():
    clock, transport, queue, overflows = make_socket_queue(room=0, limit=10)
    queue.write(b"x" * (FileDescriptor.bufferSize + 1))
    clock.advance(0)  # the socket takes nothing; Twisted's buffer overfills
    assert queue.held_bytes == 0
    queue.write(b"held")
    clock.advance(0)
    assert queue.held_bytes == 4 and overflows == []
    queue.write(b"too much")
    clock.advance(0)
    assert overflows == [True]


def test_close_sends_the_turn_first_and_abort_drops_it():
    clock, transport, queue, _ = make_socket_queue()
    queue.write(b"bye\r\n")
    queue.close()
    assert transport.disconnecting
    clock.advance(0)
    transport.doWrite()
    assert transport.received() == b"bye\r\n"

    clock, transport, queue, _ = make_socket_queue()
    queue.write(b"never")
    queue.stopProducing()
    clock.advance(0)
    assert transport.sends == []


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_order_and_completeness_over_a_real_connection():
    """Big and small writes, a reader that lags: every byte, in order.

    This also pins down what L{StreamSink.send_turn} reads of Twisted's buffers: a
    Twisted that renamed them would make this test fail, not reorder output.
    """
    def line(i):
        return b"%d %s\r\n" % (i, b"x" * (i * 37 % 3000))

    sent: list[bytes] = []
    server_side: defer.Deferred = defer.Deferred()
    received = bytearray()

    class Writer(protocol.Protocol):
        def connectionMade(self):
            server_side.callback(self)

    class Reader(protocol.Protocol):
        def dataReceived(self, data):
            received.extend(data)

    factory = protocol.Factory.forProtocol(Writer)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        client = await protocol.ClientCreator(reactor, Reader).connectTCP(
            "127.0.0.1", port.getHost().port)
        writer = await server_side
        transport = writer.transport
        queue = SendQueue(StreamSink(transport), 0, lambda: None)
        assert queue._turn is not None
        assert transport.getHandle().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        client.transport.pauseProducing()  # the reader lags for a while
        # Until the kernel's buffers are full and Twisted holds the rest.
        while not transport.dataBuffer and not transport._tempDataLen:
            for _ in range(100):
                sent.append(line(len(sent)))
                queue.write(sent[-1])
            queue.flush()
            assert len(sent) < 100_000
        for _ in range(1000):  # these must queue behind what Twisted holds
            sent.append(line(len(sent)))
            queue.write(sent[-1])
        await deferLater(0.05)
        client.transport.resumeProducing()
        for _ in range(2000):
            sent.append(line(len(sent)))
            queue.write(sent[-1])
            if len(sent) % 300 == 0:
                await deferLater(0)
        total = sum(map(len, sent))
        for _ in range(1000):
            if len(received) >= total:
                break
            await deferLater(0.01)
        assert bytes(received) == b"".join(sent)
        client.transport.loseConnection()
        queue.close()
    finally:
        await port.stopListening()


def deferLater(seconds):
    return task.deferLater(reactor, seconds, lambda: None)


def test_one_failing_connection_does_not_hold_up_the_others():
    clock = MemoryReactorClock()
    good, bad, later = (SocketLike(clock) for _ in range(3))
    queues = [SendQueue(StreamSink(t), 0, lambda: None) for t in (good, bad, later)]

    def broken(data):
        raise RuntimeError("boom")

    bad.socket.send = broken
    for queue in queues:
        queue.write(b"hello\r\n")
    with capturedLogs() as events:
        clock.advance(0)
    assert good.sends == later.sends == [b"hello\r\n"]
    assert [e["log_failure"].type for e in events if "log_failure" in e] == [RuntimeError]
    queues[1].write(b"again\r\n")  # the failed queue is not stranded
    assert len(clock.getDelayedCalls()) == 1


# -- the message sink: whole messages, the same policy ------------------------


def make_message_queue(limit=100, **sink_options):
    ws = MessageTransport()
    overflows = []
    queue = SendQueue(MessageSink(ws, **sink_options), limit, lambda: overflows.append(True))
    return ws, queue, overflows


def test_each_write_is_one_message_even_after_a_pause():
    ws, queue, _ = make_message_queue()
    queue.write('{"say": "é"}'.encode())
    queue.write(b'{"say": "two"}')
    queue.pauseProducing()
    queue.write(b'{"held": 1}')
    queue.write(b'{"held": 2}')
    assert ws.messages == ['{"say": "é"}', '{"say": "two"}']
    queue.resumeProducing()
    assert ws.messages == ['{"say": "é"}', '{"say": "two"}', '{"held": 1}', '{"held": 2}']
    assert queue._turn is None  # messages are never gathered into one chunk


def test_bytes_messages_and_overflow_by_the_same_rule():
    ws, queue, overflows = make_message_queue(limit=10, text=False)
    queue.write(b"\x00\xff")
    assert ws.messages == [b"\x00\xff"]
    queue.pauseProducing()
    queue.write(b"x" * 10)
    assert overflows == []
    queue.write(b"y")
    assert overflows == [True] and queue.held_bytes == 0


def test_message_sink_abort_without_a_hard_close_closes_gracefully():
    ws, queue, _ = make_message_queue()
    queue.pauseProducing()
    queue.write(b"never")
    queue.close(abort=True)
    assert ws.messages == [] and ws.under.disconnecting
    assert ws.under.producer is None


def test_message_sink_cannot_be_handed_a_joined_turn():
    with pytest.raises(TypeError):
        MessageSink(MessageTransport()).send_turn(b"one\r\ntwo\r\n")


def test_backlog_counts_held_and_what_the_transport_holds(sink):
    _, queue, _ = make(limit=0, sink=sink)
    queue.pauseProducing()
    queue.write(b"abc")
    assert queue.backlog == 3
    ws, queue, _ = make_message_queue(unsent=lambda: 40)
    queue.pauseProducing()
    queue.write(b"abc")
    assert queue.backlog == 43


def test_backlog_of_a_socket_includes_what_twisted_holds():
    clock, transport, queue, _ = make_socket_queue(room=4)
    queue.write(b"abcdef")
    assert queue.backlog == 6  # gathered for the end of the turn
    clock.advance(0)
    assert queue.backlog == 2  # the socket took four; Twisted holds two
    transport.socket.room = 100
    transport.doWrite()
    assert queue.backlog == 0


def chatsvc_calls(run):
    """The Python functions of chatsvc.conn that C{run()} calls, in order."""
    calls = []

    def profile(frame, event, arg):
        if event == "call" and "/chatsvc/conn/" in frame.f_code.co_filename:
            calls.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls


def test_the_socket_path_costs_no_call_beyond_write_and_one_send_per_turn():
    # docs/performance.rst, steps 3 and 10: per recipient, the write alone;
    # per connection and turn, the flush loop calls the sink's send once.
    clock, transport, queue, _ = make_socket_queue()
    other = SendQueue(StreamSink(SocketLike(clock)), 0, lambda: None)
    # The first write of the turn also schedules the turn's one flush.
    assert chatsvc_calls(lambda: queue.write(b"one\r\n")) == ["write", "schedule"]
    assert chatsvc_calls(lambda: queue.write(b"two\r\n")) == ["write"]
    assert chatsvc_calls(lambda: other.write(b"one\r\n")) == ["write"]
    assert chatsvc_calls(lambda: clock.advance(0)) == ["_flush", "send_turn", "send_turn"]
    assert transport.sends == [b"one\r\ntwo\r\n"]


# -- what the queues count for metrics (chatsvc.hub.counts, chatsvc.metrics) ----------


def test_a_reactor_counts_what_its_gathered_turns_send():
    clock = MemoryReactorClock()
    transport = SocketLike(clock)
    counts = sendq.OutputCounts()
    queue = SendQueue(StreamSink(transport), 0, lambda: None, counts=counts)
    other = SendQueue(StreamSink(SocketLike(clock)), 0, lambda: None, counts=counts)
    queue.write(b"one\r\n")
    queue.write(b"two\r\n")
    other.write(b"three\r\n")
    assert sendq.gathered_bytes(clock) == 0  # gathered, not sent yet
    clock.advance(0)
    assert sendq.gathered_bytes(clock) == 10 + 7
    queue.write(b"x" * sendq.TURN_LIMIT)  # a full turn goes at once
    assert sendq.gathered_bytes(clock) == 17 + sendq.TURN_LIMIT
    assert len(transport.received()) == 10 + sendq.TURN_LIMIT
    assert counts.sent == 0  # counted per reactor, not per queue
    assert sendq.gathered_bytes(MemoryReactorClock()) == 0


def test_counts_held_bytes_until_sent_or_dropped(sink):
    counts = sendq.OutputCounts()
    transport = StringTransport()
    if sink == "stream":
        out = StreamSink(transport)
    else:
        out = MessageSink(MessageTransport(transport), abort=transport.abortConnection)
    queue = SendQueue(out, 10, lambda: None, counts=counts)
    queue.write(b"sent")
    queue.pauseProducing()
    queue.write(b"held")
    assert (counts.sent, counts.held) == (4, 4)
    queue.resumeProducing()
    assert (counts.sent, counts.held) == (8, 0)
    queue.pauseProducing()
    queue.write(b"at close")
    queue.close()  # a graceful close sends what is held
    assert (counts.sent, counts.held) == (16, 0)

    stuck = SendQueue(out, 10, lambda: None, counts=counts)
    stuck.pauseProducing()
    stuck.write(b"x" * 50)  # past four times the limit: dropped, and so is what it held
    assert (counts.sent, counts.held) == (16, 0)
    assert len(transport.value()) == counts.sent
