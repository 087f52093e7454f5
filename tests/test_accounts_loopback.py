"""Accounts through a real ``twistd chat``: an account and a message kept for it
survive a restart, and the real thread pool and store thread do the work."""

from __future__ import annotations

import pytest
from support import SocketUser, twistd_server
from test_history_loopback import lines_until

HOSTILE = "x');DROP/**/TABLE/**/account;--"  # a password is one word


@pytest.mark.integration
def test_an_account_and_its_offline_message_survive_a_restart(tmp_path) -> None:
    data = tmp_path / "data"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with twistd_server(first, "--data-dir", str(data)) as (port, _):
        bob = SocketUser(port, "bob")
        bob.send(f"/register {HOSTILE}")
        bob.expect("* registered bob")
        bob.close()
        alice = SocketUser(port, "alice")
        alice.send(f"@bob:{HOSTILE} while you were out")
        alice.expect("* bob is offline: your message will be delivered when they log in")
        alice.send("/account bob")  # answered after the message was handed to the store
        alice.expect("* bob is a registered account")
        alice.close()
    log = (first / "server.log").read_text()
    assert "bob registered from 127.0.0.1" in log
    assert HOSTILE not in log  # neither the password nor the message text is logged
    with twistd_server(second, "--data-dir", str(data)) as (port, _):
        guest = SocketUser(port)
        guest.send("#bob")
        guest.expect("! bob is registered: /login bob PASSWORD within 60 seconds "
                     "or you will be renamed")
        guest.close()
        again = SocketUser(port)
        again.send("/login bob wrong-password")
        again.expect("! wrong password")
        again.send(f"/login bob {HOSTILE}")
        lines = lines_until(again, "* 1 message while you were away")
        assert "* logged in as bob" in lines
        [kept] = lines_until(again, next_line(again))
        assert kept.endswith(f"] *alice* {HOSTILE} while you were out")
        again.close()


def next_line(user: SocketUser) -> str:
    """The next whole line C{user} receives (read with L{lines_until})."""
    user.sock.settimeout(10)
    while b"\n" not in user.buffer:
        data = user.sock.recv(65536)
        if not data:
            raise AssertionError("closed")
        user.buffer += data
    return user.buffer.split(b"\n", 1)[0].decode().rstrip("\r")
