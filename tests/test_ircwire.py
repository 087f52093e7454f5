"""IRC grammar helpers: parsing, building, splitting, decoding, masks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatsvc.hub.text import plain, sanitize_irc
from chatsvc.protocols.irc import wire


def test_parse() -> None:
    assert wire.parse("privmsg #chat :hello world") == wire.Message(
        "PRIVMSG", ["#chat", "hello world"])
    assert wire.parse("@time=x;a :nick!u@h  JOIN   #a,#b  k1") == wire.Message(
        "JOIN", ["#a,#b", "k1"])
    assert wire.parse("JOIN :") == wire.Message("JOIN", [""])
    assert wire.parse("USER a 0 * :") == wire.Message("USER", ["a", "0", "*", ""])
    assert wire.parse("QUIT") == wire.Message("QUIT", [])
    assert wire.parse("") is None
    assert wire.parse("   ") is None
    assert wire.parse(":prefix-only") is None
    assert wire.parse("@tags-only") is None


def _parse_model(line: str) -> wire.Message | None:
    """The grammar as first written, step by step: what parse() must agree with."""
    rest = line.lstrip(" ")
    if rest.startswith("@"):
        rest = rest.partition(" ")[2].lstrip(" ")
    if rest.startswith(":"):
        rest = rest.partition(" ")[2].lstrip(" ")
    trailing = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    elif rest.startswith(":"):
        rest, trailing = "", rest[1:]
    words = rest.split()
    if not words:
        return None
    return wire.Message(words[0].upper(), words[1:] + ([] if trailing is None else [trailing]))


@given(st.lists(st.sampled_from(["@", ":", " ", "  ", "\t", "a", "PONG", "x:y", "é"]),
                max_size=12).map("".join) | st.text(max_size=40))
def test_parse_agrees_with_the_plain_grammar(line: str) -> None:
    message = wire.parse(line)
    assert message == _parse_model(line)
    assert message is None or type(message) is wire.Message


def test_build() -> None:
    assert wire.build("srv", "001", "al", "Welcome home") == ":srv 001 al :Welcome home"
    assert wire.build("srv", "221", "al", "+i") == ":srv 221 al +i"
    assert wire.build("srv", "303", "al", "bob", text=True) == ":srv 303 al :bob"
    assert wire.build(None, "PING", "") == "PING :"
    assert wire.build(None, "X", ":colon") == "X ::colon"


def test_encode_guards_512_bytes_at_a_character_boundary() -> None:
    data = wire.encode("é" * 400)
    assert len(data) <= 512 and data.endswith(b"\r\n")
    data[:-2].decode("utf-8")


def test_decode_falls_back_to_latin1() -> None:
    assert wire.decode("naïve".encode()) == "naïve"
    assert wire.decode(b"caf\xe9") == "café"


def test_split_keeps_a_trailing_space() -> None:
    # Found by hypothesis: the space at the split point was the last byte and
    # was dropped as if it were a separator.
    assert wire.split_text("0000 ", 4) == ["0000", " "]


@given(st.text(min_size=0, max_size=3000), st.integers(min_value=4, max_value=600))
def test_split_text_never_loses_or_cuts(text: str, budget: int) -> None:
    pieces = wire.split_text(text, budget)
    assert all(len(p.encode("utf-8")) <= budget for p in pieces)
    if len(text.encode("utf-8")) <= budget:
        assert pieces == [text]
    # Pieces split at a space drop only that space.
    rebuilt = pieces[0]
    rest = text[len(pieces[0]):]
    for piece in pieces[1:]:
        if rest.startswith(" ") and rest[1:].startswith(piece):
            rest = rest[1:]
        assert rest.startswith(piece)
        rebuilt += piece
        rest = rest[len(piece):]
    assert rest == ""


_WORD = st.text(st.characters(blacklist_characters=" \r\n\x00", blacklist_categories=("Cs",)),
                min_size=1, max_size=60)


@given(st.lists(_WORD, max_size=200), st.integers(min_value=1, max_value=500))
def test_pack_words_keeps_every_word_whole_and_in_order(words: list[str], budget: int) -> None:
    packed = wire.pack_words(words, budget)
    assert [word for line in packed for word in line.split(" ")] == words
    # Over budget only when a single word is.
    assert all(len(line.encode("utf-8")) <= budget or " " not in line for line in packed)
    # As few lines as fit: the next line's first word would not have fitted.
    for line, following in zip(packed, packed[1:], strict=False):
        first = following.split(" ")[0]
        assert len(f"{line} {first}".encode()) > budget


@given(st.text(min_size=1, max_size=2000).filter(lambda t: "\r" not in t and "\n" not in t))
def test_fit_lines_are_at_most_512_bytes(text: str) -> None:
    lines = wire.fit("nick!~user@2001:db8::1", "PRIVMSG", ("#channel",), text,
                     ("\x01ACTION ", "\x01"))
    for line in lines:
        assert len(wire.encode(line)) <= 512
        assert wire.encode(line) == (line + "\r\n").encode("utf-8")


def test_ctcp() -> None:
    assert wire.ctcp("\x01ACTION waves\x01") == ("ACTION", "waves")
    assert wire.ctcp("\x01version\x01") == ("VERSION", "")
    assert wire.ctcp("\x01ACTION unterminated") == ("ACTION", "unterminated")
    assert wire.ctcp("plain") is None


def test_irc_host() -> None:
    assert wire.irc_host("::1") == "0::1"
    assert wire.irc_host("192.0.2.1") == "192.0.2.1"


def test_irc_formatting_kept_for_irc_and_removed_for_others() -> None:
    text = "\x02b\x02 \x0304,12c\x03 \x1dI\x1d \x1fu\x1f \x16r\x16 \x0f\x1b[2J\x00\x07\x9b"
    assert sanitize_irc(text) == "\x02b\x02 \x0304,12c\x03 \x1dI\x1d \x1fu\x1f \x16r\x16 \x0f[2J"
    assert plain(text) == "b c I u r [2J"
    assert plain("\x04ff0000,00ff00hex") == "hex"


@given(st.text(max_size=700), st.booleans(), st.booleans(),
       st.sampled_from(["#chat", "bob", "a" * 30]))
def test_one_line_messages_render_as_fit_would(text: str, action: bool, notice: bool,
                                               target: str) -> None:
    """The one-line fast path of a message's rendering matches fit()'s general one."""
    from chatsvc.events import PrivateMessage
    from chatsvc.protocols.irc.render import ACTION, irc_bytes

    event = PrivateMessage("alice", target, text, action, mask="alice!~alice@192.0.2.1",
                           notice=notice)
    lines = wire.fit(event.mask, "NOTICE" if notice else "PRIVMSG", (target,), text,
                     ACTION if action else ("", ""))
    assert irc_bytes(event) == b"".join(map(wire.encode, lines))
