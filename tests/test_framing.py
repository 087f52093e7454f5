"""Line splitting with bounded memory and no lost lines."""

from hypothesis import given
from hypothesis import strategies as st

from chatsvc.conn.framing import TOO_LONG, LineBuffer


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
