"""Turning untrusted bytes from a client into text that is safe to relay.

Every adapter runs received text through here, so the rule "nobody can drive
another user's terminal" holds whatever protocol the sender used.
"""

from __future__ import annotations

import re

# Characters that reorder or break the text around them, which a terminal or
# a client renders however the sender likes: the bidirectional embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069: the "Trojan Source"
# set, which can show "gro.evil" as "live.org" or run a message backwards
# over its sender's name), the deprecated format controls next to them
# (U+206A-U+206F) and the line and paragraph separators (U+2028, U+2029),
# which some clients and terminals show as a line break.  Kept: the marks
# U+200E, U+200F and U+061C, which only say which way a neutral character
# such as a full stop goes, and which Hebrew and Arabic text needs; ZWJ and
# ZWNJ (U+200D, U+200C), which emoji sequences and Persian and Indic text
# need; zero-width spaces, which Thai and Khmer use.  None of the removed
# characters is printable (str.isprintable), so each function's fast path
# below stays exact.
_REORDERING = "\u2028\u2029\u202a-\u202e\u2066-\u206f"

# C0 controls except TAB, DEL and the C1 range.  Removing ESC (and C1's CSI,
# U+009B) is what makes ANSI escape sequences inert.
_CONTROLS = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_REORDERING}]")

_IAC = 255
_SB, _SE = 250, 240
_WILL_WONT_DO_DONT = range(251, 255)


def strip_telnet(line: bytes) -> bytes:
    """Remove telnet IAC sequences (option negotiation, subnegotiation).

    Telnet clients send these unprompted; they are not text.  ``IAC IAC`` is
    an escaped 0xFF byte and is kept as one byte.
    """
    if b"\xff" not in line:
        return line
    out = bytearray()
    i, n = 0, len(line)
    while i < n:
        byte = line[i]
        if byte != _IAC:
            out.append(byte)
            i += 1
            continue
        command = line[i + 1] if i + 1 < n else None
        if command == _IAC:
            out.append(_IAC)
            i += 2
        elif command in _WILL_WONT_DO_DONT:
            i += 3
        elif command == _SB:
            end = line.find(bytes((_IAC, _SE)), i + 2)
            i = n if end < 0 else end + 2
        else:
            i += 2
    return bytes(out)


_WILL, _WONT, _DO, _DONT = 251, 252, 253, 254


def telnet_refusals(data: bytes) -> tuple[bytes, bytes]:
    """Our answers to the telnet options requested or offered in C{data}.

    We implement no option, so every C{DO} gets C{WONT} and every C{WILL}
    gets C{DONT} (RFC 854).  Answering matters: after Ctrl-C, telnet sends
    C{IAC IP IAC DO TIMING-MARK} and discards everything the server sends
    until that C{DO} is answered.  Returns the answer and the unfinished
    sequence at the end of C{data}, to put before the next chunk.
    """
    answers = bytearray()
    i, n = 0, len(data)
    while (i := data.find(b"\xff", i)) >= 0:
        if i + 1 >= n:
            return bytes(answers), data[i:]
        command = data[i + 1]
        if command in (_WILL, _DO):
            if i + 2 >= n:
                return bytes(answers), data[i:]
            answers += bytes((_IAC, _DONT if command == _WILL else _WONT, data[i + 2]))
            i += 3
        elif command in (_WONT, _DONT):
            i += 3
        else:  # IAC IAC (a data byte), or a two-byte command
            i += 2
    return bytes(answers), b""


def decode(line: bytes) -> str:
    """Decode a received line as UTF-8, replacing invalid bytes with U+FFFD."""
    return line.decode("utf-8", "replace")


def sanitize(text: str) -> str:
    """Remove control characters so relayed text cannot drive a terminal,
    and the characters that reorder or break a line (see L{_REORDERING})."""
    # Printable text has none (controls are never printable); the check is
    # much cheaper than the regex, and it runs for every line received.
    return text if text.isprintable() else _CONTROLS.sub("", text)


# IRC's formatting codes: bold, colour (with its digits), hex colour,
# reset, monospace, reverse, italic, strikethrough, underline.  IRC users
# expect them to pass between each other; nobody else can render them.
_IRC_COLOUR = r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
# C0 controls except TAB and the formatting codes above, DEL and C1.
_CONTROLS_BUT_FORMATTING = re.compile(
    f"[\x00\x01\x05-\x08\x0a-\x0e\x10\x12-\x15\x17-\x1c\x7f-\x9f{_REORDERING}]"
)
_FORMATTING_AND_CONTROLS = re.compile(
    f"{_IRC_COLOUR}|[\x00-\x08\x0a-\x1f\x7f-\x9f{_REORDERING}]"
)


def sanitize_irc(text: str) -> str:
    """Remove control characters except IRC's formatting codes, and the
    characters that reorder or break a line (as L{sanitize}).

    For text that an IRC user sends: other IRC users get its bold and
    colours; L{plain} removes them for everyone else.
    """
    return text if text.isprintable() else _CONTROLS_BUT_FORMATTING.sub("", text)


def sanitize_ctcp(text: str) -> str:
    """A CTCP request or reply (C{\\x01...}) made as safe as any other text.

    Its body gets L{sanitize_irc}, as every message does: without it,
    C{PRIVMSG victim :\\x01PING 1\\r:evil!evil@host PRIVMSG victim :...}
    reached the victim with its bare CR, which HexChat and mIRC take for a
    line end (showing a line from anyone the sender names), and a NUL or an
    escape sequence reached their terminal.  The body loses any C{\\x01} of
    its own and gets the delimiters back, closing one the sender left open.
    """
    body = text[1:-1] if len(text) > 1 and text.endswith("\x01") else text[1:]
    return f"\x01{sanitize_irc(body)}\x01"


def plain(text: str) -> str:
    """Remove IRC formatting codes (colour digits too), every control and
    the characters that reorder or break a line (as L{sanitize})."""
    # Every formatting code is a control character: printable text has none.
    return text if text.isprintable() else _FORMATTING_AND_CONTROLS.sub("", text)


_BREAKS = str.maketrans("", "", "\r\n\x00")


def has_breaks(text: str) -> bool:
    """Whether C{text} holds a CR, LF or NUL: what no line we send may hold.

    Three C{in} tests: 37 ns for a typical message line, the cheapest check
    we found (a regular expression's search takes 230 ns).  Hot paths inline
    it.
    """
    return "\r" in text or "\n" in text or "\x00" in text


def unbroken(text: str) -> str:
    """C{text} without its CRs, LFs and NULs.

    The encoders' last guard (L{chatsvc.protocols.irc.wire.encode},
    L{chatsvc.protocols.line.wire.line_bytes}): received text is sanitised long
    before, but a CR or LF that reached the wire in any field (a nick or a
    token echoed back, a reason) would end the line early for the client
    (HexChat and mIRC end one at a bare CR) and let the sender forge the
    next one.
    """
    return text.translate(_BREAKS)


def clean_line(line: bytes) -> str:
    """The full inbound pipeline for one line-protocol line.

    Hot spot, the input parser (docs/performance.rst, step 18): what
    L{strip_telnet}, L{decode} and L{sanitize} do, inline, since it runs for
    every line every client sends.
    """
    if b"\xff" in line:
        line = strip_telnet(line)
    text = line.decode("utf-8", "replace")
    return text if text.isprintable() else _CONTROLS.sub("", text)
