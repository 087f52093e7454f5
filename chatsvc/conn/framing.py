"""Splitting a byte stream into lines with a hard bound on memory.

Twisted's C{LineReceiver} disconnects on an over-long line and, when the long
line is already complete in its buffer, throws away the lines queued behind
it.  A chat server must instead reject that one line and carry on, and must
never buffer more than one line's worth of an unterminated stream.
L{LineBuffer} is the splitter that does so; L{BoundedLineReceiver} is
C{LineReceiver} with that splitter behind it, for the protocol adapters.
"""

from __future__ import annotations

import enum
from typing import Final, NoReturn

from twisted.protocols.basic import LineReceiver


class _TooLong(enum.Enum):
    """Marker yielded in place of a line that exceeded the limit.

    A one-member enum rather than a bare object, so that a type checker
    narrows C{line is TOO_LONG} and knows what is left is a line.
    """

    TOO_LONG = "TOO_LONG"

    def __repr__(self) -> str:
        return "TOO_LONG"


TOO_LONG: Final = _TooLong.TOO_LONG


class LineBuffer:
    """Accumulate bytes and hand back complete lines.

    Lines end with ``\\n``; a trailing ``\\r`` is removed so both netcat
    (``\\n``) and telnet/IRC (``\\r\\n``) clients work.  A line longer than
    C{max_length} bytes (not counting the terminator) is reported once as
    L{TOO_LONG} and its bytes are discarded up to the next newline.
    """

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._buffer = b""
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | _TooLong]:
        """Add received bytes; return the lines (or L{TOO_LONG}) they complete."""
        buffer = self._buffer + data if self._buffer else data
        limit = self.max_length
        if len(buffer) <= limit and not self._discarding:
            # Hot spot, the input parser (docs/performance.rst, step 11): no
            # line here can be too long, so the lines are one C-level split
            # rather than the loop below; telnet and IRC clients end lines
            # with CRLF.
            lines: list[bytes | _TooLong] = buffer.split(b"\n")  # type: ignore[assignment]
            self._buffer = lines.pop()  # type: ignore[assignment]
            if b"\r" in buffer:
                lines = [line[:-1] if line[-1:] == b"\r" else line  # type: ignore[index]
                         for line in lines]
            return lines
        lines = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            else:
                stop = end - 1 if end > start and buffer[end - 1] == 13 else end
                if stop - start > limit:
                    lines.append(TOO_LONG)
                else:
                    lines.append(buffer[start:stop])
            start = end + 1
        rest = buffer[start:]
        # Allow one byte beyond the limit for a '\r' whose '\n' is in flight.
        if len(rest) > limit + 1:
            if not self._discarding:
                lines.append(TOO_LONG)
                self._discarding = True
            rest = b""
        self._buffer = rest
        return lines

    @property
    def pending(self) -> int:
        """Bytes held for a line that has not ended yet."""
        return len(self._buffer)

    def clear(self) -> bytes:
        """Forget the bytes held for an unfinished line, and return them."""
        held, self._buffer = self._buffer, b""
        return held


class BoundedLineReceiver(LineReceiver):
    """A C{LineReceiver} for clients we do not trust, split by L{LineBuffer}.

    What changes from C{LineReceiver}, and why:

      - An over-long line is refused alone: L{lineLengthExceeded} is called
        once per over-long line and the connection stays open, where
        C{LineReceiver}'s drops the connection.  Overriding that alone
        would not do: C{LineReceiver.dataReceived} hands it the rest of the
        buffer and keeps nothing, so the lines behind a long line that is
        complete in one read were lost.  Hence our own L{dataReceived}.
        The long line's bytes are discarded as they arrive, so at most about
        L{MAX_LENGTH} bytes of an unterminated stream are ever held; hence
        L{lineLengthExceeded} gets C{b""}, not the line.
      - Lines end with C{b"\\n"} (L{delimiter}) and a C{b"\\r"} before it is
        removed: netcat sends LF, telnet and IRC clients CRLF.  A lone
        C{b"\\r"} stays part of the line.  L{sendLine} ends lines with CRLF.
      - L{MAX_LENGTH} is the splitter's own limit, given per connection to
        L{__init__} (the adapters pass C{--max-line}).
      - There is no raw mode: L{setRawMode} raises.  And a read's lines are
        all handed on: C{pauseProducing} pauses the transport, but does not
        stop part way through a read (the chat adapters' flood gate is what
        holds lines back).

    Subclasses implement C{lineReceived(line)} and L{lineLengthExceeded};
    the chat adapters also override L{dataReceived}, to pass every line
    through their flood gate before it is handled.
    """

    delimiter = b"\n"
    #: What L{sendLine} ends a line with: CRLF, what telnet and IRC expect.
    line_end = b"\r\n"

    def __init__(self, max_length: int = LineReceiver.MAX_LENGTH) -> None:
        self._lines = LineBuffer(max_length)

    @property
    def MAX_LENGTH(self) -> int:  # noqa: N802 (LineReceiver's name)
        """The longest line accepted, in bytes, not counting its terminator."""
        return self._lines.max_length

    @MAX_LENGTH.setter
    def MAX_LENGTH(self, value: int) -> None:  # noqa: N802
        self._lines.max_length = value

    def dataReceived(self, data: bytes) -> None:
        """Split C{data} into lines: each goes to C{lineReceived}, in order.

        An over-long line goes to L{lineLengthExceeded} in its place, and the
        lines after it still follow.  Stops early once the transport is
        disconnecting, as C{LineReceiver} does.
        """
        for line in self._lines.feed(data):
            if line is TOO_LONG:
                self.lineLengthExceeded(b"")
            else:
                self.lineReceived(line)
            if getattr(self.transport, "disconnecting", False):
                return

    def lineReceived(self, line: bytes) -> None:
        """Override to handle one complete line (without its line end)."""
        raise NotImplementedError

    def lineLengthExceeded(self, line: bytes) -> None:
        """An over-long line was dropped; override to tell the client.

        Unlike C{LineReceiver}'s, this does not disconnect, and the lines
        after the long one are still received.  C{line} is C{b""}: the long
        line's bytes were discarded as they came in.
        """

    def sendLine(self, line: bytes) -> None:
        """Send C{line}, ended with L{line_end}."""
        assert self.transport is not None
        self.transport.write(line + self.line_end)

    def clearLineBuffer(self) -> bytes:
        """Forget the unfinished line held so far, and return its bytes."""
        return self._lines.clear()

    def setRawMode(self) -> NoReturn:
        """Not supported: a chat connection is lines from start to end."""
        raise NotImplementedError(f"{type(self).__name__} has no raw mode")
