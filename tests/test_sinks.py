"""The sinks' assumptions about Twisted, checked on real connections.

L{StreamSink} is the one place in chatsvc that reads Twisted's private
buffer attributes (docs/performance.rst, steps 1 and 10).  If a Twisted
upgrade renames or changes them, these tests say so by name, instead of the
server quietly falling back to the slower path, or worse, reordering output.
"""

from __future__ import annotations

import inspect

import pytest
import pytest_twisted
from twisted.internet import defer, protocol, reactor, task
from twisted.internet.abstract import FileDescriptor
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs

import twisted
from chatsvc.conn import sinks
from chatsvc.conn.sinks import StreamSink


def _moved(what: str) -> str:
    return (f"Twisted {twisted.__version__}: {what}. chatsvc.conn.sinks.StreamSink sends "
            "a turn's output straight to the socket only while Twisted holds nothing "
            "unsent for it; update StreamSink (and STREAM_INTERNALS) for this Twisted, "
            "or the fast path is off (turn_reactor() returns None).")


def test_file_descriptor_do_write_still_reads_the_buffers_the_sink_reads():
    source = inspect.getsource(FileDescriptor.doWrite)
    for name in ("dataBuffer", "offset", "_tempDataBuffer", "_tempDataLen"):
        assert f"self.{name}" in source, _moved(
            f"FileDescriptor.doWrite no longer uses {name!r}")
    write = inspect.getsource(FileDescriptor.write)
    assert "self._tempDataBuffer.append" in write and "self._tempDataLen +=" in write, \
        _moved("FileDescriptor.write no longer appends to _tempDataBuffer/_tempDataLen")


async def connected_pair():
    """A real loopback TCP connection: (server transport, client protocol, received, port)."""
    server_side: defer.Deferred = defer.Deferred()
    received = bytearray()

    class Server(protocol.Protocol):
        def connectionMade(self):
            server_side.callback(self.transport)

    class Client(protocol.Protocol):
        def dataReceived(self, data):
            received.extend(data)

    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Server), interface="127.0.0.1")
    client = await protocol.ClientCreator(reactor, Client).connectTCP(
        "127.0.0.1", port.getHost().port)
    transport = await server_side
    return transport, client, received, port


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_a_tcp_connection_has_the_internals_and_they_mean_what_the_sink_assumes():
    transport, client, received, port = await connected_pair()
    try:
        for name in sinks.STREAM_INTERNALS + ("connected", "disconnecting", "reactor"):
            assert hasattr(transport, name), _moved(
                f"{type(transport).__qualname__} has no attribute {name!r}")
        sink = StreamSink(transport)
        assert sink.turn_reactor() is reactor, _moved("the fast path turned itself off")
        # Idle: nothing unsent, and the sink may send to the socket itself.
        assert not transport.dataBuffer and transport._tempDataLen == 0, _moved(
            "an idle connection's dataBuffer/_tempDataLen are not empty")
        assert sink.unsent() == 0
        sink.send_turn(b"direct\r\n")
        assert sink.unsent() == 0 and transport not in reactor.getWriters(), _moved(
            "a send to an idle socket left data in Twisted's buffers")
        # Fill the kernel's buffers, then a write: Twisted must hold it in
        # _tempDataLen until doWrite moves it into dataBuffer.
        client.transport.pauseProducing()
        chunk = b"x" * 65536
        while True:
            try:
                if transport.socket.send(chunk) < len(chunk):
                    break
            except BlockingIOError:
                break
        sent_before = transport.dataBuffer, transport._tempDataLen
        transport.write(b"behind\r\n")
        assert sent_before == (b"", 0) and transport._tempDataLen == len(b"behind\r\n"), _moved(
            "FileDescriptor.write did not count a write in _tempDataLen")
        assert sink.unsent() == len(b"behind\r\n")
        # Twisted's doWrite consults them: while it holds data, send_turn
        # must go behind it (through transport.write), never straight out.
        sink.send_turn(b"after\r\n")
        assert sink.unsent() == len(b"behind\r\nafter\r\n"), _moved(
            "send_turn overtook bytes Twisted held")
        client.transport.resumeProducing()
        for _ in range(500):
            if received.endswith(b"behind\r\nafter\r\n"):
                break
            await task.deferLater(reactor, 0.01, lambda: None)
        assert received.endswith(b"behind\r\nafter\r\n")
        assert received.startswith(b"direct\r\n")
        assert sink.unsent() == 0, _moved(
            "a drained connection still shows dataBuffer - offset + _tempDataLen > 0")
        assert not transport.dataBuffer and transport.offset == 0
    finally:
        client.transport.loseConnection()
        transport.loseConnection()
        await port.stopListening()


def test_in_memory_and_tls_like_transports_write_through():
    memory = StreamSink(StringTransport())
    assert memory.turn_reactor() is None and memory.unsent() == 0

    class TLSLike(FileDescriptor):
        TLS = True

    assert StreamSink(TLSLike(reactor)).turn_reactor() is None


def test_a_twisted_without_the_internals_gets_correct_output_and_a_warning(monkeypatch):
    monkeypatch.setattr(sinks, "_warned", False)

    class Moved(FileDescriptor):
        def __init__(self, reactor):
            super().__init__(reactor)
            self.socket = object()
            del self._tempDataLen  # as if Twisted had renamed it

    transport = Moved(reactor)
    with capturedLogs() as events:
        assert StreamSink(transport).turn_reactor() is None
        assert StreamSink(transport).unsent() == 0
        assert StreamSink(transport).turn_reactor() is None
    warnings = [e for e in events if e.get("log_level") == LogLevel.warn]
    assert len(warnings) == 1
    assert warnings[0]["missing"] == "_tempDataLen"
    assert warnings[0]["version"] == twisted.__version__
