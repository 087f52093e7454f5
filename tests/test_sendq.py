"""The bounded outbound queue: a reader that stops reading is dropped."""

from twisted.internet.testing import StringTransport

from chatsvc.sendq import SendQueue


def make(limit=100):
    transport = StringTransport()
    overflows = []
    queue = SendQueue(transport, limit, lambda: overflows.append(True))
    return transport, queue, overflows


def test_registers_as_streaming_producer():
    transport, queue, _ = make()
    assert transport.producer is queue and transport.streaming


def test_writes_pass_through_while_not_paused():
    transport, queue, _ = make()
    queue.write(b"a")
    queue.write(b"b")
    assert transport.value() == b"ab"


def test_paused_output_is_held_then_sent_in_order():
    transport, queue, overflows = make()
    queue.pauseProducing()
    queue.write(b"one ")
    queue.pauseProducing()  # Twisted repeats this on every write while full
    queue.write(b"two")
    assert transport.value() == b"" and queue.held_bytes == 7
    queue.resumeProducing()
    assert transport.value() == b"one two" and queue.held_bytes == 0
    assert overflows == []


def test_overflow_calls_back_once_and_stops_holding():
    transport, queue, overflows = make(limit=10)
    queue.pauseProducing()
    queue.write(b"x" * 10)
    assert overflows == []
    queue.write(b"y")
    assert overflows == [True] and queue.held_bytes == 0
    queue.write(b"z" * 100)
    assert overflows == [True] and queue.held_bytes == 0


def test_zero_limit_means_unbounded():
    _, queue, overflows = make(limit=0)
    queue.pauseProducing()
    for _ in range(100):
        queue.write(b"x" * 1000)
    assert overflows == [] and queue.held_bytes == 100_000


def test_close_flushes_held_output_and_unregisters():
    transport, queue, _ = make()
    queue.pauseProducing()
    queue.write(b"bye")
    queue.close()
    assert transport.value() == b"bye"
    assert transport.producer is None and transport.disconnecting
    queue.write(b"late")
    assert transport.value() == b"bye"


def test_abort_discards_held_output():
    transport, queue, _ = make()
    queue.pauseProducing()
    queue.write(b"never")
    queue.close(abort=True)
    # StringTransport.abortConnection records the abort as .disconnected
    assert transport.value() == b"" and transport.disconnected
