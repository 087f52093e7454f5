"""Accounts from the client side: C{chatsvc.client.connect(account_password=...)}
logs in while connecting, and C{chat --account} takes the password from a
file, the environment or a prompt, never the command line."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from chatsvc.accounts.rules import AccountRules
from chatsvc.accounts.store import AccountStore
from chatsvc.client import ClientError, WrongPassword
from chatsvc.console import account_password, failure_message, parse_arguments
from chatsvc.events import PrivateMessage
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.store.sqlite import HistoryStore, migrate
from chatsvc.testing import ChatHarness

pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def chat() -> ChatHarness:
    clock = Clock()
    clock.advance(1_700_000_000)
    hub = ChatFactory(Settings(connect_rate=0, max_per_ip=0, flood_rate=0), clock=clock)
    connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    migrate(connection)

    def synchronous(function: Any, *args: Any) -> Any:
        return maybeDeferred(function, *args)

    history = HistoryStore(connection, clock, run=synchronous)
    AccountRules(hub, AccountStore(history), hasher=synchronous)
    harness = ChatHarness(hub=hub, clock=clock)
    alice = harness.join("alice")
    alice.send_line("/register sesame-1")
    harness.pump()
    harness.wait(alice.close())
    return harness


def test_connect_logs_in_and_takes_the_accounts_name(chat: ChatHarness) -> None:
    session = chat.wait(chat.connect("ALICE", account_password="sesame-1"))
    assert (session.name, session.account) == ("alice", "alice")
    assert chat.hub.user_named("alice").record.account == "alice"  # type: ignore[union-attr]


def test_the_messages_kept_come_as_delayed_private_messages(chat: ChatHarness) -> None:
    bob = chat.join("bob")
    bob.whisper("alice", "while you were out")
    chat.pump()
    session = chat.wait(chat.connect("alice", account_password="sesame-1"))
    kept = chat.wait(session.next_event(PrivateMessage, timeout=5))
    assert (kept.sender, kept.text, kept.delayed) == ("bob", "while you were out", True)
    assert kept.time == 1_700_000_000 - 20  # to the minute, as the line shows it


def test_a_wrong_account_password_is_wrong_password(chat: ChatHarness) -> None:
    with pytest.raises(WrongPassword, match="wrong password"):
        chat.wait(chat.connect("alice", account_password="sesame-2"))
    with pytest.raises(WrongPassword):  # and the same for no such account
        chat.wait(chat.connect("nobody", account_password="sesame-2"))


@pytest.mark.parametrize("bad", ["two words", "", "line\nbreak"])
def test_an_account_password_is_one_word(chat: ChatHarness, bad: str) -> None:
    with pytest.raises(ClientError, match="one word"):
        chat.wait(chat.connect("alice", account_password=bad))


# -- chat --account -----------------------------------------------------------------


def test_chat_account_is_the_name() -> None:
    args = parse_arguments(["localhost", "--account", "alice", "--name", "other"])
    assert (args.name, args.account) == ("alice", "alice")


def _args(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"account": "alice", "account_password_file": None,
                                 "password": None, **values})


def test_the_account_password_comes_from_a_file_then_the_environment_then_a_prompt(
        tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-the-file\nignored\n")
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return "typed-in"

    environment = {"CHAT_ACCOUNT_PASSWORD": "from-the-env"}
    assert account_password(_args(account_password_file=str(secret)), environment,
                            ask) == "from-the-file"
    assert account_password(_args(), environment, ask) == "from-the-env"
    assert account_password(_args(), {}, ask) == "typed-in"
    assert asked == ["password for alice: "]
    assert account_password(_args(account=None), environment, ask) is None


def test_an_unreadable_password_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"^chat: --account-password-file .*missing: No such"):
        account_password(_args(account_password_file=str(tmp_path / "missing")), {})


def test_a_wrong_account_password_names_the_account() -> None:
    error = WrongPassword("wrong password", "wrong-password")
    assert failure_message(error, _args(tls=False, cafile=None, target="h:1")) == (
        "chat: wrong password for the account alice")
