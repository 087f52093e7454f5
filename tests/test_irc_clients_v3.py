"""irssi and weechat with IRCv3 (issues 15 and 18): the capabilities they
negotiate, SASL PLAIN with an account made by ``chatsvc-admin account
create``, history played back with server-time, and (weechat) a line
user's account shown through extended-join and account-notify, read from
their screen and logs as a person would.

The server's data directory is prepared before it starts: the accounts by
the installed ``chatsvc-admin`` (the password on its standard input), a
room's history by the store's own API, said on 3 February 2021 at 04:05
UTC.  A client that shows 04:05 beside those lines took the time from
their ``@time`` tag, not from when they arrived.  The harness (tmux, the
weechat FIFO, bounded waits, every process ended) is tests/test_irc_clients.py's.
"""

from __future__ import annotations

import calendar
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import twistd_server
from test_irc_clients import LineUser, Tmux, WeeChat, _irssi, _irssi_listed, wait_for
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from chatsvc.events import RoomMessage
from chatsvc.protocols.irc.channels import CAPABILITIES
from chatsvc.store.sqlite import HistoryStore, open_database, prepare_directory

pytestmark = pytest.mark.integration

needs_irssi = pytest.mark.skipif(
    shutil.which("irssi") is None or shutil.which("tmux") is None,
    reason="irssi and tmux are not installed (.ci/run installs them)")
needs_weechat = pytest.mark.skipif(
    shutil.which("weechat-headless") is None,
    reason="weechat-headless is not installed (.ci/run installs it)")

#: When the stored history was said: a time no test runs at, in a year gone.
SAID = calendar.timegm((2021, 2, 3, 4, 5, 6))
ROOM = "#archive"
#: The accounts made before the server starts, one per client.
PASSWORDS = {"dana": "dana-irssi-pass", "erin": "erin-weechat-pass"}
#: What both clients ask for and we offer (irssi 1.4 and weechat 3.8 both do).
BOTH_ASK = ("account-notify", "away-notify", "chghost", "extended-join", "invite-notify",
            "multi-prefix", "sasl", "server-time", "setname")


def prepare(data: Path) -> None:
    """A data directory with the accounts and #archive's history of 2021."""
    store = HistoryStore(open_database(prepare_directory(str(data))), Clock(),
                         run=lambda function, *args: maybeDeferred(function, *args))
    store.record(RoomMessage(ROOM, "oldtimer", "said on 3 February 2021", stamp=(SAID, 1)))
    store.record(RoomMessage(ROOM, "oldtimer", "waves from 2021", action=True,
                             stamp=(SAID + 24, 2)))
    store.stop()
    admin = Path(sys.executable).with_name("chatsvc-admin")
    for name, password in PASSWORDS.items():
        made = subprocess.run([str(admin), "--data-dir", str(data), "account", "create",
                               "--password-file", "-", name], input=password + "\n",
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0 and made.stdout == f"create {name}: done\n", made


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """A C{twistd chat} on the prepared data directory: (line port, IRC port)."""
    directory = tmp_path_factory.mktemp("v3")
    prepare(directory / "data")
    with twistd_server(directory, "--data-dir", str(directory / "data"), "--name", "testnet",
                       "--irc-port", "tcp:0:interface=127.0.0.1") as (line_port, _):
        log = (directory / "server.log").read_text()
        found = re.search(r"\] IRC on \S+:(\d+)$", log, re.MULTILINE)
        assert found, log
        yield line_port, int(found.group(1))


def _listed(log: str, label: str) -> list[str]:
    """The words weechat logs after C{label} (its first such line)."""
    line = next((line for line in log.splitlines() if label in line), "")
    return line.split(label, 1)[1].split() if line else []


@needs_irssi
def test_irssi_negotiates_logs_in_with_sasl_and_shows_history_at_its_time(
        server: tuple[int, int], tmp_path: Path) -> None:
    line_port, irc_port = server
    # show_server_time is irssi's setting for showing a message's own time.
    irssi: Tmux = _irssi(tmp_path, irc_port, "dana", connect=False,
                         settings='"fe-text" = { show_server_time = "yes"; };')
    liam = None
    try:
        wait_for(lambda: irssi.shows("Irssi v"), "irssi to start")
        # A wrong password first: irssi says why and hangs up (its default).
        irssi.keys("/network add -sasl_mechanism PLAIN -sasl_username dana "
                   "-sasl_password not-her-password testnet")
        irssi.keys(f"/server add -network testnet -notls 127.0.0.1 {irc_port}")
        irssi.keys("/connect testnet")
        wait_for(lambda: irssi.shows("Cannot authenticate via SASL (SASL authentication "
                                     "failed: wrong password)"), "irssi to be refused")
        wait_for(lambda: irssi.shows("Connection lost to 127.0.0.1"), "irssi to hang up")
        irssi.keys("/clear")  # the next connection's lines all fit on the screen
        irssi.keys(f"/network modify -sasl_password {PASSWORDS['dana']} testnet")
        irssi.keys("/connect testnet")
        wait_for(lambda: irssi.shows("Welcome to the testnet IRC network"), "irssi to register")
        # SASL: the 900 line, then irssi's own word for 903.
        assert irssi.shows("You are now logged in as dana"), irssi.screen()
        assert irssi.shows("SASL authentication succeeded"), irssi.screen()
        # CAP: its status window lists what we offer, asks for, and gets.
        screen = irssi.screen()
        supported = _irssi_listed(screen, "Capabilities supported:")
        requested = _irssi_listed(screen, "Capabilities requested:")
        acknowledged = _irssi_listed(screen, "Capabilities acknowledged:")
        assert set(CAPABILITIES) <= set(supported), supported
        assert any(cap.startswith("sasl=") and "PLAIN" in cap for cap in supported), supported
        for cap in BOTH_ASK:
            assert cap in requested, (cap, requested)
        assert sorted(acknowledged) == sorted(requested)  # everything it asks for, it gets
        # The server's WHOIS says the account (330), which irssi shows.
        irssi.keys("/whois dana")
        wait_for(lambda: re.search(r"account\s+: dana", irssi.screen()), "the account in WHOIS")

        # History: the lines of 2021 at their time, live lines at today's.
        irssi.keys(f"/join {ROOM}")
        wait_for(lambda: irssi.shows("said on 3 February 2021"), "irssi to show the replay")
        lines = irssi.screen().splitlines()
        said = next(line for line in lines if "< oldtimer> said on 3 February 2021" in line)
        waved = next(line for line in lines if "* oldtimer waves from 2021" in line)
        assert said.startswith("Wed  3 Feb 04:05 "), said  # irssi's format for another day
        assert waved.startswith("Wed  3 Feb 04:05 "), waved
        liam = LineUser(line_port, "liam")
        liam.say(f"/join {ROOM}")
        liam.say("said just now")
        wait_for(lambda: irssi.shows("said just now"), "irssi to show a live line")
        live = next(line for line in irssi.screen().splitlines() if "said just now" in line)
        assert re.match(r"\d\d:\d\d < liam> said just now$", live), live
    except (AssertionError, StopIteration):
        print(irssi.screen())
        raise
    finally:
        irssi.kill()
        if liam is not None:
            liam.close()


@needs_weechat
def test_weechat_negotiates_logs_in_with_sasl_gets_its_messages_and_history(
        server: tuple[int, int], tmp_path: Path) -> None:
    line_port, irc_port = server
    # A private message to the account while nobody is logged in to it.
    liam = LineUser(line_port, "liam2")
    liam.say("@erin:sent while you were out")
    wait_for(lambda: liam.saw("* erin is offline: your message will be delivered when they "
                              "log in"), "the message to be kept for erin")
    weechat = WeeChat(tmp_path / "weechat", irc_port, "erin",
                      sasl=("erin", PASSWORDS["erin"]), paced=False)
    server_buffer, archive = "irc.server.chatsvc", f"irc.chatsvc.{ROOM}"
    mona = LineUser(line_port, "mona")
    try:
        wait_for(lambda: "Welcome to the testnet IRC network" in weechat.log(server_buffer),
                 "weechat to register")
        log = weechat.log(server_buffer)
        assert "You are now logged in as erin" in log and "SASL authentication successful" in log
        supported = _listed(log, "client capability, server supports:")
        requested = _listed(log, "client capability, requesting:")
        enabled = _listed(log, "client capability, enabled:")
        assert set(CAPABILITIES) <= set(supported), supported
        for cap in (*BOTH_ASK, "cap-notify", "message-tags", "userhost-in-names"):
            assert cap in requested, (cap, requested)
        assert sorted(enabled) == sorted(requested)
        # /cap lists what is enabled now, from the server's CAP LIST.
        weechat.command(server_buffer, "/cap")
        wait_for(lambda: _listed(weechat.log(server_buffer),
                                 "client capability, currently enabled:"), "weechat's /cap")
        assert sorted(_listed(weechat.log(server_buffer),
                              "client capability, currently enabled:")) == sorted(enabled)
        weechat.command(server_buffer, "/whois erin")
        wait_for(lambda: "[erin] is logged in as erin" in weechat.log(server_buffer),
                 "the account in WHOIS")
        # The kept message, once, in its query buffer.
        wait_for(lambda: "liam2\tsent while you were out" in weechat.log("irc.chatsvc.liam2"),
                 "the message kept for erin")
        assert weechat.log("irc.chatsvc.liam2").count("sent while you were out") == 1
        assert "1 message while you were away" in weechat.log(server_buffer)

        # History: weechat dates each replayed line by its @time.
        weechat.command(server_buffer, f"/join {ROOM}")
        wait_for(lambda: "waves from 2021" in weechat.log(archive), "the replay")
        replay = weechat.log(archive).splitlines()
        assert "2021-02-03 04:05:06\toldtimer\tsaid on 3 February 2021" in replay, replay
        assert "2021-02-03 04:05:30\t *\toldtimer waves from 2021" in replay, replay
        # account-notify, cross-protocol: a line user in the room makes an
        # account (logged in to it) and logs out; weechat says both.
        mona.say(f"/join {ROOM}")
        wait_for(lambda: "mona (mona) (mona@127.0.0.1) has joined" in weechat.log(archive),
                 "mona's join, with her real name (extended-join)")
        mona.say("/register mona-pass-1")
        wait_for(lambda: "mona has identified as mona" in weechat.log(archive), "ACCOUNT mona")
        mona.say("/logout")
        wait_for(lambda: "mona has unidentified" in weechat.log(archive), "ACCOUNT *")
    finally:
        weechat.stop()
        liam.close()
        mona.close()
