"""Line splitting with bounded memory and no lost lines."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.testing import StringTransport
from twisted.protocols.basic import LineReceiver

from chatsvc.conn.framing import TOO_LONG, BoundedLineReceiver, LineBuffer


def test_lf_and_crlf_lines():
    buffer = LineBuffer(100)
    assert buffer.feed(b"one\ntwo\r\nthr") == [b"one", b"two"]
    assert buffer.feed(b"ee\r") == []
    assert buffer.feed(b"\n") == [b"three"]


def test_lone_cr_is_not_a_terminator():
    assert LineBuffer(100).feed(b"a\rb\n") == [b"a\rb"]


def test_over_long_complete_line_keeps_the_lines_behind_it():
    buffer = LineBuffer(10)
    assert buffer.feed(b"x" * 11 + b"\nok\n") == [TOO_LONG, b"ok"]


def test_exactly_max_length_is_accepted():
    assert LineBuffer(10).feed(b"x" * 10 + b"\r\n") == [b"x" * 10]


def test_unterminated_stream_is_reported_once_and_not_buffered():
    buffer = LineBuffer(10)
    assert buffer.feed(b"y" * 50) == [TOO_LONG]
    for _ in range(1000):
        assert buffer.feed(b"y" * 1000) == []
        assert buffer.pending <= 11
    assert buffer.feed(b"yyy\nnext\n") == [b"next"]


def test_clear_returns_and_forgets_the_unfinished_line():
    buffer = LineBuffer(10)
    assert buffer.feed(b"one\ntw") == [b"one"]
    assert buffer.clear() == b"tw"
    assert buffer.pending == 0
    assert buffer.feed(b"o\n") == [b"o"]


@given(st.lists(st.binary(max_size=30), max_size=20), st.integers(1, 40), st.data())
def test_any_chunking_gives_the_same_lines(lines, limit, data):
    stream = b"".join(line.replace(b"\n", b"") + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    buffer = LineBuffer(limit)
    got = [line for chunk in chunks for line in buffer.feed(chunk)]
    expected = []
    for line in lines:
        line = line.replace(b"\n", b"")
        if line.endswith(b"\r"):
            line = line[:-1]
        expected.append(TOO_LONG if len(line) > limit else line)
    assert got == expected
    assert buffer.pending == 0


class Recorder(BoundedLineReceiver):
    """A plain BoundedLineReceiver that records what it is handed."""

    def __init__(self, max_length: int) -> None:
        super().__init__(max_length)
        self.got: list[bytes | str] = []

    def lineReceived(self, line: bytes) -> None:
        self.got.append(line)
        if line == b"bye":
            self.transport.loseConnection()

    def lineLengthExceeded(self, line: bytes) -> None:
        self.got.append("too long")


def recorder(max_length: int = 10) -> Recorder:
    protocol = Recorder(max_length)
    protocol.makeConnection(StringTransport())
    return protocol


def test_a_bounded_line_receiver_is_a_line_receiver():
    protocol = recorder(10)
    assert isinstance(protocol, LineReceiver)
    assert protocol.MAX_LENGTH == 10
    assert protocol.delimiter == b"\n"


def test_over_long_line_is_refused_alone_and_the_connection_stays():
    protocol = recorder(10)
    protocol.dataReceived(b"one\r\n" + b"x" * 11 + b"\ntwo\n" + b"y" * 30 + b"\nthree\n")
    assert protocol.got == [b"one", "too long", b"two", "too long", b"three"]
    assert not protocol.transport.disconnecting


def test_unterminated_stream_is_refused_once_and_bounded():
    protocol = recorder(10)
    for _ in range(100):
        protocol.dataReceived(b"z" * 1000)
        assert protocol._lines.pending <= 11
    protocol.dataReceived(b"\nok\n")
    assert protocol.got == ["too long", b"ok"]


def test_max_length_is_the_splitters_limit():
    protocol = recorder(10)
    protocol.MAX_LENGTH = 3
    protocol.dataReceived(b"abc\nabcd\n")
    assert protocol.got == [b"abc", "too long"]


def test_lines_after_the_transport_starts_disconnecting_are_not_handled():
    protocol = recorder(10)
    protocol.dataReceived(b"a\nbye\nb\n")
    assert protocol.got == [b"a", b"bye"]


def test_send_line_ends_with_crlf():
    protocol = recorder(10)
    protocol.sendLine(b"hello")
    assert protocol.transport.value() == b"hello\r\n"


def test_clear_line_buffer_returns_the_unfinished_line():
    protocol = recorder(10)
    protocol.dataReceived(b"a\npart")
    assert protocol.clearLineBuffer() == b"part"
    protocol.dataReceived(b"ial\n")
    assert protocol.got == [b"a", b"ial"]


def test_there_is_no_raw_mode():
    with pytest.raises(NotImplementedError):
        recorder(10).setRawMode()


def test_the_default_refusal_only_drops_the_line():
    class Lines(BoundedLineReceiver):
        def __init__(self) -> None:
            super().__init__(5)
            self.got: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.got.append(line)

    protocol = Lines()
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(b"x" * 6 + b"\nok\n")
    assert protocol.got == [b"ok"]
    assert not protocol.transport.disconnecting


def test_why_we_split_ourselves_stock_line_receiver_loses_the_lines_behind():
    # If a Twisted upgrade makes this fail, BoundedLineReceiver.dataReceived
    # may no longer be needed (see its docstring).
    class Stock(LineReceiver):
        delimiter = b"\n"
        MAX_LENGTH = 10

        def __init__(self) -> None:
            self.got: list[bytes | str] = []

        def lineReceived(self, line: bytes) -> None:
            self.got.append(line)

        def lineLengthExceeded(self, line: bytes) -> None:
            self.got.append("too long")  # refuse, do not disconnect

    stock = Stock()
    stock.makeConnection(StringTransport())
    stock.dataReceived(b"x" * 11 + b"\nok\n")
    assert stock.got == ["too long"]  # "ok" is gone
    ours = recorder(10)
    ours.dataReceived(b"x" * 11 + b"\nok\n")
    assert ours.got == ["too long", b"ok"]
