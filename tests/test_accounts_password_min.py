"""The minimum password length is an operator's option (issue 18):
C{--account-password-min N}, 1 to 64, 6 by default, checked by the account
rules wherever a new password is chosen (registering, changing it)."""

from __future__ import annotations

import pytest
from test_accounts import Server
from test_history import parse

from chatsvc.accounts import kdf
from chatsvc.service import tap

pytestmark = pytest.mark.usefixtures("cheap_hashes")


def test_the_default_is_six_characters() -> None:
    assert parse("--data-dir", "none")["password_min"] == kdf.MIN_PASSWORD == 6
    server = Server()
    assert server.rules.password_min == 6
    alice = server.user("alice")
    assert server.ask(alice, "/register five5") == [
        "! unusable password: password too short: at least 6 characters"]
    assert server.ask(alice, "/register sixsix") == ["* registered alice"]


def test_the_option_reaches_the_account_rules(tmp_path) -> None:
    options = parse("--data-dir", str(tmp_path), "--account-password-min", "12")
    root = tap.makeService(options)
    hub = root.hub  # type: ignore[attr-defined]
    try:
        assert hub.accounts is not None and hub.accounts.password_min == 12
    finally:
        hub.accounts.store.history.connection.close()


def test_a_lower_minimum_accepts_a_one_character_password() -> None:
    server = Server(password_min=1)
    alice = server.user("alice")
    assert server.ask(alice, "/register x") == ["* registered alice"]
    assert server.ask(alice, "/password x y") == ["* password changed"]


def test_a_higher_minimum_refuses_registering_and_changing_to_a_short_one() -> None:
    server = Server(password_min=10)
    alice = server.user("alice")
    assert server.ask(alice, "/register sesame-1") == [
        "! unusable password: password too short: at least 10 characters"]
    assert server.ask(alice, "/register sesame-1234") == ["* registered alice"]
    assert server.ask(alice, "/password sesame-1234 short-one") == [
        "! unusable password: password too short: at least 10 characters"]
    assert server.ask(alice, "/password sesame-1234 long-enough-1") == ["* password changed"]


def test_the_limit_is_per_hub_not_a_module_global() -> None:
    strict, lenient = Server(password_min=20), Server(password_min=1)
    assert kdf.MIN_PASSWORD == 6
    assert strict.ask(strict.user("alice"), "/register abc")[0].startswith("! unusable")
    assert lenient.ask(lenient.user("alice"), "/register abc") == ["* registered alice"]


@pytest.mark.parametrize("value", ["0", "65", "-1", "six", "2.5"])
def test_a_bad_minimum_is_one_line(value: str) -> None:
    with pytest.raises(tap.StartupFailure) as caught:
        parse("--data-dir", "none", "--account-password-min", value)
    text = str(caught.value.code)
    assert "--account-password-min" in text and "\n" not in text
