"""Name rules: IRC-compatible ASCII nicknames, unique ignoring case."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatsvc.names import BadName, check_name, check_room_name, fold


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
