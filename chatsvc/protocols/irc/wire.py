"""IRC message grammar: parsing what clients send, building what we send.

Twisted's C{irc.parsemsg} does not know IRCv3 message tags and raises on a
line that is only a prefix, so we parse here (it is a dozen lines).  Lines
we send are at most 512 bytes with the CRLF, the limit every client assumes;
text that does not fit is split into several lines (L{split_text}), never
cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from chatsvc.hub.text import has_breaks, sanitize, unbroken

MAX_LINE_BYTES = 512
"""The most a server sends in one line, CRLF included (RFC 1459 2.3)."""

BODY_BYTES = MAX_LINE_BYTES - 2
"""The most a line may hold before its CRLF."""

# Numerics in use today (https://modern.ircdocs.horse) that Twisted's table
# of RFC 1459/2812 constants lacks.
RPL_LOCALUSERS = "265"
RPL_GLOBALUSERS = "266"
RPL_CREATIONTIME = "329"
RPL_WHOISACCOUNT = "330"
RPL_TOPICWHOTIME = "333"
RPL_WHOISSECURE = "671"
RPL_WHOISCERTFP = "276"  # the TLS client certificate's fingerprint (ergo, InspIRCd)
RPL_HELPSTART = "704"
RPL_HELPTXT = "705"
RPL_ENDOFHELP = "706"
ERR_UNKNOWNERROR = "400"
ERR_INVALIDCAPCMD = "410"
ERR_INPUTTOOLONG = "417"
RPL_WHOISBOT = "335"
ERR_BADCHANNAME = "479"
ERR_HELPNOTFOUND = "524"
ERR_INVALIDMODEPARAM = "696"


class Message(NamedTuple):
    """A parsed client line: the command (upper case) and its parameters.

    A named tuple rather than a frozen dataclass: one is built for every
    line an IRC client sends, and it is four times cheaper to make.
    """

    command: str
    params: list[str]


def decode(raw: bytes) -> str:
    """Decode one received line: UTF-8, or latin-1 when it is not UTF-8.

    Decoding per line (never per read) is what keeps a character that TCP
    split across two reads intact; the latin-1 fallback is what older IRC
    clients still send, and it cannot fail.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_new_message = tuple.__new__

#: The most tag data (between the ``@`` and the space) a client may send, and
#: a server add (IRCv3 message-tags): over it, the line is refused with 417.
MAX_CLIENT_TAG_BYTES = 4094
#: The most tag data of a line we send, server and client tags together.
MAX_TAG_BYTES = 8191

#: A client-only tag's key, the only tags relayed: C{+}, an optional vendor
#: (a host name) and C{/}, then letters, digits and hyphens.  Any other key
#: (with a character that would need escaping in a key, which has none) is
#: dropped, never relayed.
_CLIENT_TAG_KEY = re.compile(r"\+(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?/)?[A-Za-z0-9-]+\Z")

_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPES = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r",
                          "\n": "\\n", "\x00": None})


class Tagged(NamedTuple):
    """A parsed line with more to it: its tags (unescaped), and whether it
    was not UTF-8 (read as latin-1, L{decode}).

    What the flood gate hands on for a line starting with ``@`` or not in
    UTF-8; the others stay a bare L{Message}, so that tags cost nothing to
    the clients that send none.
    """

    message: Message
    tags: dict[str, str]
    latin1: bool = False


def tag_data_length(line: bytes) -> int:
    """How many bytes of tag data (between ``@`` and the first space) C{line} has."""
    if line[:1] != b"@":
        return 0
    space = line.find(b" ")
    return (len(line) if space < 0 else space) - 1


def unescape_tag_value(value: str) -> str:
    """A tag value as the client meant it (IRCv3 message-tags escaping).

    ``\\:`` is ``;``, ``\\s`` a space, ``\\\\`` a backslash, ``\\r`` and
    ``\\n`` CR and LF; a backslash before any other character is dropped,
    and a lone one at the end too.
    """
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            out.append(_UNESCAPES.get(escaped, escaped))
        else:
            out.append(char)
    return "".join(out)


def escape_tag_value(value: str) -> str:
    """C{value} escaped for a tag: no ``;``, space, CR, LF or NUL left in it."""
    return value.translate(_ESCAPES)


def parse_tags(line: str) -> dict[str, str]:
    """The tags of a line starting with ``@``, values unescaped (the last of
    a repeated key wins); C{{}} for a line without any."""
    if line[:1] != "@":
        return {}
    tags: dict[str, str] = {}
    for item in line[1:].partition(" ")[0].split(";"):
        key, _, value = item.partition("=")
        if key:
            tags[key] = unescape_tag_value(value)
    return tags


def client_tags(tags: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The client-only tags (C{+key}) of C{tags} that may be relayed, in order.

    Their values are user text, relayed to clients that may show them (a
    reaction's emoji): control characters (CR, LF, escape sequences...) and
    the characters that reorder a line are removed, as from any message
    (L{chatsvc.hub.text.sanitize}).
    """
    return tuple((key, sanitize(value)) for key, value in tags.items()
                 if key[:1] == "+" and _CLIENT_TAG_KEY.match(key))


def tag_section(tags: Iterable[tuple[str, str]]) -> bytes:
    """``@k=v;k2 `` for C{tags} (a value of C{""} is written bare), with the
    values escaped; C{b""} for no tags.  Goes before a line L{encode} made:
    tags do not count in its 512 bytes."""
    items = [key if not value else f"{key}={escape_tag_value(value)}"
             for key, value in tags]
    if not items:
        return b""
    return ("@" + ";".join(items) + " ").encode("utf-8")


def add_tags(line: bytes, section: bytes) -> bytes:
    """C{line} (an encoded line, maybe with tags already) with the tags of
    C{section} (from L{tag_section}) put first."""
    if not section:
        return line
    if line[:1] == b"@":
        return section[:-1] + b";" + line[1:]
    return section + line


def parse(line: str) -> Message | None:
    """Parse one line (without CRLF); C{None} for a line with no command.

    Hot spot, the IRC input path (docs/performance.rst, step 15).

    Tags (``@a=b``) and a source prefix (``:nick``) from a client are
    ignored: a client cannot speak for anyone else.
    """
    rest = line.lstrip(" ")
    if rest[:1] == "@":
        rest = rest.partition(" ")[2].lstrip(" ")
    if rest[:1] == ":":
        rest = rest.partition(" ")[2].lstrip(" ")
    head, colon, trailing = rest.partition(" :")
    if not colon and head[:1] == ":":
        head, colon, trailing = "", ":", head[1:]
    words = head.split()
    if not words:
        return None
    params = words[1:]
    if colon:
        params.append(trailing)
    # tuple.__new__ skips the named tuple's Python-level __new__: this runs
    # for every line an IRC client sends (0.73 -> 0.52 us with partition).
    return _new_message(Message, (words[0].upper(), params))


def build(source: str | None, command: str, *params: str, text: bool = False) -> str:
    """One line (without CRLF) from its parts.

    The last parameter gets the ``:`` that lets it hold spaces when it needs
    one, or always when C{text} says it is free text (as servers write it);
    middle parameters must be single words.  A CR, LF or NUL in any part is
    left for L{encode} to remove: every line goes through it.
    """
    parts = [f":{source}", command] if source else [command]
    if params:
        parts.extend(params[:-1])
        last = params[-1]
        if text or not last or " " in last or last.startswith(":"):
            last = ":" + last
        parts.append(last)
    return " ".join(parts)


def middle(param: str) -> str:
    """C{param} if it can be a middle parameter, else C{*}.

    A middle parameter is one word: empty, with a space or starting with
    C{:} it would vanish, split, or swallow the parameters after it.  Replies
    echo what a client sent (a nick, a channel, a mode argument), and a
    client can send any text as its trailing parameter; C{*} is what IRC
    servers put in its place.
    """
    if not param or " " in param or param[0] == ":":
        return "*"
    return param


def middles(params: tuple[str, ...]) -> tuple[str, ...]:
    """C{params} with every parameter but the last through L{middle}."""
    if len(params) < 2:
        return params
    *head, last = params
    return (*map(middle, head), last)


def encode(line: str) -> bytes:
    """Encode a line for the wire with its CRLF, at most 512 bytes.

    Anything that could be longer is split before it gets here; this final
    guard keeps the promise of the 512-byte limit by trimming at a character
    boundary (a longer line would be cut, or rejected, by the client anyway).

    It also keeps the line one line: a CR, LF or NUL inside it is removed,
    whatever part of the line it came in (text, a nick or channel echoed in a
    numeric, a PING token).  Clients end a line at a bare CR (HexChat, mIRC)
    or LF, so one would let a client's bytes forge a whole line from any
    source; NUL ends a C string.  Received text is sanitised before it gets
    here (L{chatsvc.hub.text}); this is the defence in depth that holds when a
    path forgets to.  Removed rather than refused: raising here would stop a
    fan-out loop half way, so that the other recipients lost the line too.
    Removed rather than replaced by a space: a space inside a middle
    parameter would shift the parameters after it.  Not logged: a client
    could otherwise write one log line per line it sends.
    """
    if "\r" in line or "\n" in line or "\x00" in line:  # has_breaks(), inline
        line = unbroken(line)
    data = line.encode("utf-8")
    if len(data) > BODY_BYTES:
        data = _trim(data, BODY_BYTES)
    return data + b"\r\n"


def truncate(text: str, limit: int) -> str:
    """C{text} cut to at most C{limit} UTF-8 bytes, at a character boundary
    (for limits IRC counts in bytes, such as TOPICLEN)."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else _trim(data, limit).decode("utf-8")


def _trim(data: bytes, limit: int) -> bytes:
    cut = limit
    while cut > 0 and data[cut] & 0xC0 == 0x80:  # inside a UTF-8 sequence
        cut -= 1
    return data[:cut]


def split_text(text: str, budget: int) -> list[str]:
    """Split C{text} into pieces of at most C{budget} UTF-8 bytes each.

    Pieces end at a space where there is one in the second half of the
    piece (the space itself is dropped), otherwise at a character boundary:
    all the text arrives, none of it cut mid-character.
    """
    data = text.encode("utf-8")
    if len(data) <= budget:
        return [text]
    budget = max(budget, 4)  # room for the longest UTF-8 character
    pieces: list[str] = []
    start, end = 0, len(data)
    while end - start > budget:
        cut = start + budget
        while data[cut] & 0xC0 == 0x80:
            cut -= 1
        space = data.rfind(b" ", start + budget // 2, cut + 1)
        # Break at a space only when text follows it: a trailing space is
        # content, and dropping it as a separator would lose it.
        if start < space < end - 1:
            pieces.append(data[start:space].decode("utf-8"))
            start = space + 1
        else:
            pieces.append(data[start:cut].decode("utf-8"))
            start = cut
    if start < end:
        pieces.append(data[start:].decode("utf-8"))
    return pieces


def pack_words(words: Iterable[str], budget: int) -> list[str]:
    """Words joined by spaces into as few strings of at most C{budget} UTF-8
    bytes as they fit in: how a list (NAMES, a WHOIS's channels) too long for
    one line goes over several, with no word cut."""
    packed: list[str] = []
    line: list[str] = []
    used = 0
    for word in words:
        cost = len(word.encode("utf-8")) + (1 if line else 0)
        if line and used + cost > budget:
            packed.append(" ".join(line))
            line, used, cost = [], 0, cost - 1
        line.append(word)
        used += cost
    if line:
        packed.append(" ".join(line))
    return packed


def fit(source: str, command: str, params: tuple[str, ...], text: str,
        wrap: tuple[str, str] = ("", "")) -> list[str]:
    """Lines ``:source command params... :text``, the text split to fit.

    C{wrap} goes around every piece of the text (CTCP ACTION's delimiters),
    so each line is complete on its own.  CRs, LFs and NULs are removed
    before the text is measured, so each piece fills its line.
    """
    if has_breaks(text):
        text = unbroken(text)
    head = build(source, command, *params, "")
    before, after = wrap
    overhead = len(head.encode("utf-8")) + len((before + after).encode("utf-8"))
    return [head + before + piece + after
            for piece in split_text(text, BODY_BYTES - overhead)]


def ctcp(text: str) -> tuple[str, str] | None:
    """C{(COMMAND, argument)} when C{text} is a CTCP request, else C{None}."""
    if len(text) < 2 or not text.startswith("\x01"):
        return None
    body = text[1:-1] if text.endswith("\x01") else text[1:]
    command, _, argument = body.partition(" ")
    return command.upper(), argument


def irc_host(host: str) -> str:
    """A host usable as a middle parameter: ``::1`` would read as trailing.

    ``0::1`` is how IRC servers write it; a ban on ``*!*@0::1`` matches, as
    masks are normalised back to ``::1`` (L{chatsvc.hub.masks.normalize_mask}).
    """
    return "0" + host if host.startswith(":") else host
