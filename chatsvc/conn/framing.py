"""Splitting a byte stream into lines with a hard bound on memory.

Twisted's C{LineReceiver} disconnects on an over-long line and, when the long
line is already complete in its buffer, throws away the lines queued behind
it.  A chat server must instead reject that one line and carry on, and must
never buffer more than one line's worth of an unterminated stream.
"""

from __future__ import annotations

from typing import Final


class _TooLong:
    """Marker yielded in place of a line that exceeded the limit."""

    def __repr__(self) -> str:
        return "TOO_LONG"


TOO_LONG: Final = _TooLong()


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
            # The usual case: no line here can be too long, so the lines are
            # one C-level split (0.04 µs a line instead of 0.19 for the loop
            # below); telnet and IRC clients end lines with CRLF.
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
