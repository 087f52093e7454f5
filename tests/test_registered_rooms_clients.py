"""A real IRC client (irssi, in tmux) registers a channel with ChanServ on a real
``twistd chat`` with a data directory, and is made its operator by ChanServ
when it comes back; a line user sees the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import SocketUser, twistd_server
from test_irc_clients import _irssi, free_port, wait_for

pytestmark = pytest.mark.integration


@pytest.mark.skipif(shutil.which("irssi") is None or shutil.which("tmux") is None,
                    reason="irssi and tmux are not installed (.ci/run installs them)")
def test_irssi_registers_a_channel_with_chanserv(tmp_path: Path) -> None:
    irc_port = free_port()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    with twistd_server(server_dir, "--data-dir", str(tmp_path / "data"), "--name", "testnet",
                       "--irc-port", f"tcp:{irc_port}:interface=127.0.0.1") as (port, _):
        irssi = _irssi(tmp_path, irc_port, "alice")
        bob = None
        try:
            wait_for(lambda: irssi.shows("Welcome to the testnet IRC network"),
                     "irssi to register")
            irssi.keys("/msg NickServ REGISTER sesame-1")
            wait_for(lambda: irssi.shows("You are now logged in as alice"),
                     "NickServ to register alice")
            irssi.keys("/join #rust")
            wait_for(lambda: irssi.shows("has joined #rust"), "irssi in #rust")
            # Without a query window, irssi shows a service's NOTICE in its status window.
            irssi.keys("/quote PRIVMSG ChanServ :REGISTER #rust")
            irssi.keys("/window 1")
            wait_for(lambda: irssi.shows("#rust is registered to you"),
                     "ChanServ to register #rust")
            bob = SocketUser(port, "bob")
            bob.send("/join #rust")
            bob.expect("* you joined #rust (2 here)")
            irssi.keys("/part #rust")
            bob.expect("* alice left #rust")
            irssi.keys("/join #rust")
            wait_for(lambda: irssi.shows("mode/#rust [+o alice] by ChanServ"),
                     "irssi to show ChanServ's +o")
            bob.expect("* ChanServ gives operator status to alice in #rust")
            irssi.keys("/window 1")
            irssi.keys("/whois ChanServ")
            wait_for(lambda: irssi.shows(": network service"), "WHOIS ChanServ as a service")
        except AssertionError:
            print(irssi.screen())
            raise
        finally:
            irssi.kill()
            if bob is not None:
                bob.close()
