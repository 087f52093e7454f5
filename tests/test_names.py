"""Name rules: IRC-compatible ASCII nicknames, unique ignoring case."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatsvc.hub.names import (
    SERVICE_NAMES,
    BadName,
    check_name,
    check_room_name,
    fold,
    is_service_name,
)


@pytest.mark.parametrize(
    "name", ["a", "alice", "Bob_2", "[x]", "{y}", "a-b", "x\\y", "^_^", "|pipe|", "A" * 32]
)
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name, why",
    [
        ("", "1 to 32"),
        ("A" * 33, "longer than 32"),
        ("1abc", "digit"),
        ("-abc", "digit or '-'"),
        ("al ice", "' ' not allowed"),
        ("al:ice", "':' not allowed"),
        ("ålice", "not allowed"),
        ("аlice", "not allowed"),  # Cyrillic а: a look-alike, refused by the ASCII rule
        ("al\x00ice", "not allowed"),
    ],
)
def test_invalid_names_say_why(name, why):
    with pytest.raises(BadName, match=why):
        check_name(name)


def test_fold_is_ascii_case_only():
    assert fold("AliCE[]") == "alice[]"
    assert fold("Ä") == "Ä"


@pytest.mark.parametrize("room", ["#chat", "#Rust-lang", "#" + "x" * 50, "#ü"])
def test_valid_room_names(room):
    assert check_room_name(room) == room


@pytest.mark.parametrize(
    "room", ["chat", "#", "#" + "x" * 51, "#a b", "#a,b", "#a:b", "#a\x07"]
)
def test_invalid_room_names(room):
    with pytest.raises(BadName):
        check_room_name(room)


@given(st.text(max_size=40))
def test_check_name_accepts_or_explains(text):
    try:
        assert check_name(text) == text
    except BadName as why:
        assert str(why)


# -- look-alike room names (issue 13, item 10) --------------------------------


@pytest.mark.parametrize("room", [
    "#чат", "#日本語", "#café", "#αβγ", "#مرحبا", "#python日本", "#हिन्दी", "#русский-2024",
    "#été", "#☕☕",
])
def test_room_names_in_one_script_are_valid(room):
    assert check_room_name(room) == room


@pytest.mark.parametrize("room, why", [
    ("#chat\u200b", "U+200B ZERO WIDTH SPACE not allowed in a room name: an invisible "
                    "formatting character"),
    ("#\u202etahc", "U+202E RIGHT-TO-LEFT OVERRIDE not allowed in a room name: a "
                    "bidirectional control, which reorders the text around it"),
    ("#\u0441hat", "mixes Cyrillic and Latin letters, which look alike (U+0441 CYRILLIC "
                   "SMALL LETTER ES, U+0068 LATIN SMALL LETTER H)"),
    ("#\uff43\uff48\uff41\uff54", "not in Unicode normal form NFKC, so another name looks "
                                  "the same: use #chat"),
    ("#a\u00a0b", "U+00A0 NO-BREAK SPACE not allowed in a room name: a space"),
    ("#a\u2029b", "U+2029 PARAGRAPH SEPARATOR not allowed in a room name: a line or "
                   "paragraph separator"),
    ("#a\U000f0000", "U+F0000 not allowed in a room name: a private-use character"),
    ("#a\U0001fffe", "U+1FFFE not allowed in a room name: not a character in Unicode"),
    ("#a\ufe0e", "U+FE0E VARIATION SELECTOR-15 not allowed in a room name: an invisible"),
    ("#\u03b1a", "mixes Greek and Latin letters"),
    ("#\u0430\u03b1", "mixes Cyrillic and Greek letters"),
])
def test_look_alike_room_names_say_why(room, why):
    with pytest.raises(BadName) as refusal:
        check_room_name(room)
    assert str(refusal.value).startswith(why)


def test_no_normal_form_is_suggested_when_it_is_not_a_valid_name():
    # U+FF1A FULLWIDTH COLON is ':' in NFKC, and ':' is not allowed.
    with pytest.raises(BadName) as refusal:
        check_room_name("#a\uff1ab")
    assert str(refusal.value) == "not in Unicode normal form NFKC, so another name looks the same"


@given(st.text(st.characters(codec="utf-8"), max_size=12))
def test_an_accepted_room_name_has_no_look_alike_twin(body):
    import unicodedata

    room = "#" + body
    try:
        check_room_name(room)
    except BadName as why:
        assert str(why).isprintable()   # never echoes an invisible character
        return
    assert unicodedata.is_normalized("NFKC", body)
    for char in body:
        assert unicodedata.category(char)[0] not in "CZ"
    # Some letters have no name in this Python's database (U+17000 TANGUT
    # IDEOGRAPH-17000 on 3.11): no name, no script of the three.
    scripts = {unicodedata.name(c, "?").split()[0] for c in body if c.isalpha()}
    assert len(scripts & {"LATIN", "CYRILLIC", "GREEK"}) <= 1


# -- reserved service names (issue 13, item 11) -------------------------------


@pytest.mark.parametrize("name", [*SERVICE_NAMES, "nickserv", "CHANSERV", "global"])
def test_service_names_are_reserved(name):
    assert is_service_name(name)
    with pytest.raises(BadName, match=f"{name} is reserved for network services"):
        check_name(name)


@pytest.mark.parametrize("name", ["Nick", "NickServ_", "Serv", "Globals", "ChanServ2"])
def test_names_like_services_are_not_reserved(name):
    assert not is_service_name(name)
    assert check_name(name) == name
