"""Sanitising: nobody can drive another user's terminal, nothing crashes."""

from hypothesis import given
from hypothesis import strategies as st

from chatsvc.hub import names, text
from chatsvc.hub.text import clean_line, decode, sanitize, strip_telnet


def test_controls_and_escape_sequences_are_removed():
    assert sanitize("hi \x1b[31mred\x1b[0m\x07\x00\x7f\x9b") == "hi [31mred[0m"


def test_tab_and_unicode_are_kept():
    assert sanitize("a\tb héllo 😀") == "a\tb héllo 😀"


def test_invalid_utf8_is_replaced():
    assert decode(b"caf\xc3(") == "caf\ufffd("
    assert decode(b"\xc3") == "\ufffd"


def test_telnet_negotiation_is_stripped():
    # IAC DO ECHO, IAC WILL NAWS, a subnegotiation, then text; IAC IAC is a 0xFF byte.
    line = b"\xff\xfd\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0hi\xff\xff"
    assert strip_telnet(line) == b"hi\xff"
    assert strip_telnet(b"\xff\xf4") == b""  # IAC IP
    assert strip_telnet(b"trailing\xff") == b"trailing"


def test_clean_line_pipeline():
    assert clean_line(b"\xff\xfb\x01he\x1bllo \xc3\xa9\r") == "hello é"


@given(st.binary(max_size=300))
def test_any_bytes_give_printable_safe_text(data):
    text = clean_line(data)
    assert isinstance(text, str)
    assert not any(ord(c) < 32 and c != "\t" for c in text)
    assert not any(0x7F <= ord(c) <= 0x9F for c in text)


# The fast paths (skip the regex for printable text, str.lower() for ASCII
# names) must give exactly what the full rules give, for any text at all.


_ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=("Cs",)))


@given(_ANY_TEXT)
def test_sanitize_fast_path_agrees_with_the_rule(value):
    assert sanitize(value) == text._CONTROLS.sub("", value)


@given(_ANY_TEXT)
def test_plain_fast_path_agrees_with_the_rule(value):
    assert text.plain(value) == text._FORMATTING_AND_CONTROLS.sub("", value)


@given(_ANY_TEXT)
def test_fold_fast_path_agrees_with_the_rule(value):
    assert names.fold(value) == value.translate(names._ASCII_LOWER)


_TELNETISH = st.binary(max_size=60).map(lambda b: b.replace(b"\x00", b"\xff"))


@given(_TELNETISH, st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_telnet_refusals_do_not_depend_on_how_tcp_splits_the_bytes(data, cuts):
    whole, tail = text.telnet_refusals(data)
    assert len(tail) <= 2 and data.endswith(tail)
    answers, carried = b"", b""
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    for start, end in zip(points, points[1:], strict=False):
        answer, carried = text.telnet_refusals(carried + data[start:end])
        answers += answer
    assert (answers, carried) == (whole, tail)
    assert len(whole) % 3 == 0 and all(
        whole[i] == 255 and whole[i + 1] in (252, 254) for i in range(0, len(whole), 3))


@given(_ANY_TEXT)
def test_sanitize_irc_fast_path_agrees_with_the_rule(value):
    assert text.sanitize_irc(value) == text._CONTROLS_BUT_FORMATTING.sub("", value)


# -- characters that reorder or break a line (issue 13, item 10) -------------

REORDERING = [*"\u202a\u202b\u202c\u202d\u202e", *"\u2066\u2067\u2068\u2069",
              *"\u206a\u206b\u206c\u206d\u206e\u206f", "\u2028", "\u2029"]
KEPT = ["\u200c", "\u200d", "\u200e", "\u200f", "\u061c", "\u200b", "\u00a0"]


def test_reordering_characters_are_removed_everywhere():
    hostile = "gro.\u202elive\u202c \u2066x\u2069 a\u2028b\u2029c"
    for sanitise in (sanitize, text.sanitize_irc, text.plain):
        assert sanitise(hostile) == "gro.live x abc"


def test_joiners_and_marks_are_kept():
    # ZWJ joins emoji sequences, ZWNJ shapes Persian; the marks fix neutral
    # characters in Hebrew and Arabic.
    for value in ("\U0001f469\u200d\U0001f4bb", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
                  "\u05e9\u05dc\u05d5\u05dd!\u200f", *KEPT):
        for sanitise in (sanitize, text.sanitize_irc, text.plain):
            assert sanitise(value) == value


def test_the_fast_path_stays_exact():
    # Each function returns printable text unchanged; that is only right if
    # nothing its regex removes is printable.
    for char in REORDERING:
        assert not char.isprintable()
        assert text._CONTROLS.match(char)
        assert text._CONTROLS_BUT_FORMATTING.match(char)
        assert text._FORMATTING_AND_CONTROLS.match(char)


@given(_ANY_TEXT)
def test_nothing_removed_is_printable(value):
    for pattern in (text._CONTROLS, text._CONTROLS_BUT_FORMATTING, text._FORMATTING_AND_CONTROLS):
        assert all(not match.group()[0].isprintable() for match in pattern.finditer(value))


# -- CTCP (issue 13, item 3) ---------------------------------------------------


def test_ctcp_body_is_sanitised_between_its_delimiters():
    assert text.sanitize_ctcp("\x01PING 1\r:evil PRIVMSG v :x\x01") == (
        "\x01PING 1:evil PRIVMSG v :x\x01")
    assert text.sanitize_ctcp("\x01VERSION x\x00y\r\x1b[2J\x01") == "\x01VERSION xy[2J\x01"
    assert text.sanitize_ctcp("\x01VERSION") == "\x01VERSION\x01"
    assert text.sanitize_ctcp("\x01") == "\x01\x01"
    assert text.sanitize_ctcp("\x01PING \x02b\x02\x01") == "\x01PING \x02b\x02\x01"


@given(_ANY_TEXT)
def test_sanitize_ctcp_gives_one_request_of_safe_text(value):
    safe = text.sanitize_ctcp("\x01" + value)
    assert safe.startswith("\x01") and safe.endswith("\x01") and len(safe) >= 2
    body = safe[1:-1]
    assert body == text.sanitize_irc(body)
    assert not any(c in body for c in "\x00\x01\r\n\x1b\u202e\u2028")


# -- the encoders' last guard ----------------------------------------------------


@given(_ANY_TEXT)
def test_unbroken_removes_only_line_ends_and_nul(value):
    result = text.unbroken(value)
    assert not text.has_breaks(result)
    assert result == "".join(c for c in value if c not in "\r\n\x00")
    assert text.has_breaks(value) == (result != value)
