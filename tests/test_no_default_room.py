"""A server with no default room (C{--room none}): what line and IRC users see.

With a default room, every existing test keeps its assertions (its empty
default room is listed, with 0 users: it exists and can be joined).  Without
one, a fresh server has no rooms at all, line users register into no room,
C{/part} and a kick leave them there, and IRC's LIST and LUSERS count only
the rooms somebody made.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest
from support import WAIT, LineUser, Net, SocketUser, make_hub, registered, twistd_server

from chatsvc.hub.errors import NoRoom, NotRegistered
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.service.tap import Options

NO_ROOM = "* you are in no room: /join #room to enter one (private messages still work)"


# -- the hub ---------------------------------------------------------------------


def test_a_fresh_hub_without_a_default_room_has_no_rooms():
    hub = make_hub(room=None)
    assert hub.default_room is None
    assert hub.rooms == {}
    assert hub.stats().rooms == 0


def test_saying_to_no_room_named_needs_a_default_room():
    hub = make_hub(room=None)
    (alice,) = registered(hub, "alice")
    with pytest.raises(NoRoom):
        hub.say(alice.protocol, None, "hello")


def test_the_last_member_leaving_takes_any_room_away():
    hub = make_hub(room=None)
    (alice,) = registered(hub, "alice")
    alice.send("/join #rust")
    assert list(hub.rooms) == ["#rust"]
    alice.send("/part")
    assert hub.rooms == {}


# -- line users --------------------------------------------------------------------


def test_a_line_user_registers_into_no_room_and_is_told_how_to_join_one():
    hub = make_hub(room=None)
    user = LineUser(hub)
    user.read()
    user.send("#alice")
    assert user.read() == ["* you are alice", NO_ROOM]
    user.send("hello?", "/who", "/topic")
    assert user.read() == [f"! {NoRoom.TEXT}"] * 3
    user.send("/rooms")
    assert user.read() == ["* rooms (0): "]
    user.send("/join #rust")
    assert user.read() == ["* you joined #rust (1 here)"]


def test_notices_name_every_room_when_there_is_no_default():
    hub = make_hub(room=None)
    alice, bob = registered(hub, "alice", "bob")
    alice.send("/join #rust")
    bob.send("/join #rust")
    assert alice.read() == ["* you joined #rust (1 here)", "* bob joined #rust"]
    bob.send("/join #go")
    assert alice.read() == ["* bob left #rust for #go"]
    bob.send("/join #rust")
    assert alice.read() == ["* bob joined #rust from #go"]


def test_part_leaves_for_no_room():
    hub = make_hub(room=None)
    alice, bob = registered(hub, "alice", "bob")
    for user in (alice, bob):
        user.send("/join #rust")
        user.read()
    alice.read()
    bob.send("/part lunch")
    assert bob.read() == ["* you left #rust (lunch)", NO_ROOM]
    assert alice.read() == ["* bob left #rust (lunch)"]
    bob.send("/part")
    assert bob.read() == [f"! {NoRoom.TEXT}"]
    bob.send("@alice:still here")
    assert alice.read() == ["*bob* still here"]


def test_a_kicked_line_user_goes_to_no_room():
    hub = make_hub(room=None)
    alice, bob = registered(hub, "alice", "bob")
    alice.send("/join #rust")
    bob.send("/join #rust")
    alice.read()
    bob.read()
    alice.send("/kick bob spam")
    assert bob.read() == ["* you were kicked from #rust by alice (spam)", NO_ROOM]
    assert hub.rooms_of(bob.protocol) == []


def test_who_before_registering_needs_a_name_without_a_default_room():
    hub = make_hub(room=None)
    user = LineUser(hub)
    user.read()
    user.send("/who")
    assert user.read() == [f"! {NotRegistered()}"]


def _help(hub: ChatFactory) -> list[str]:
    user = LineUser(hub)
    user.read()
    user.send("/help")
    return user.read()


def test_help_says_where_part_takes_you():
    with_room, without = _help(make_hub()), _help(make_hub(room=None))
    assert "*   /part [reason]     leave your room for the default room" in with_room
    assert "*   /part [reason]     leave your room (for no room: /join another)" in without
    assert [line for line in with_room if "/part" not in line] == [
        line for line in without if "/part" not in line]


# -- IRC users ---------------------------------------------------------------------


def test_irc_list_and_lusers_on_a_fresh_server_without_a_default_room():
    net = Net(room=None)
    alice = net.irc_user("alice", channels="")
    assert alice.ask("LIST") == [":chatsvc 321 alice Channel :Users  Name",
                                 ":chatsvc 323 alice :End of /LIST"]
    assert ":chatsvc 254 alice 0 :channels formed" in alice.ask("LUSERS")
    alice.send("JOIN #rust")
    assert alice.ask("LIST") == [":chatsvc 321 alice Channel :Users  Name",
                                 ":chatsvc 322 alice #rust 1 :[+nt]",
                                 ":chatsvc 323 alice :End of /LIST"]
    assert ":chatsvc 254 alice 1 :channels formed" in alice.ask("LUSERS")
    alice.send("PART #rust")
    assert ":chatsvc 254 alice 0 :channels formed" in alice.ask("LUSERS")


def test_irc_list_with_a_default_room_lists_it_as_it_is():
    """An empty default room exists (anyone may join it): listed with 0 users."""
    net = Net()
    alice = net.irc_user("alice", channels="")
    assert ":chatsvc 322 alice #chat 0 :[+nt]" in alice.ask("LIST")
    assert ":chatsvc 254 alice 1 :channels formed" in alice.ask("LUSERS")


def test_line_and_irc_users_meet_in_a_room_one_of_them_made():
    net = Net(room=None)
    bob = net.line_user("bob")
    alice = net.irc_user("alice", channels="#rust")
    bob.send("/join #rust")
    assert bob.read() == ["* you joined #rust (2 here)"]
    assert alice.read() == [":bob!bob@198.51.100.7 JOIN #rust"]
    bob.send("hi")
    assert alice.read() == [":bob!bob@198.51.100.7 PRIVMSG #rust :hi"]
    alice.send("PRIVMSG #rust :hello bob")
    assert bob.read() == ["<alice> hello bob"]


# -- configuration ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["none", "NONE", "off", ""])
def test_room_none_means_no_default_room(value):
    options = Options()
    options.parseOptions(["--room", value])
    assert options["settings"].room is None


def test_room_none_in_the_config_file(tmp_path: Path):
    config = tmp_path / "chat.toml"
    config.write_text('room = "none"\n')
    options = Options()
    options.parseOptions(["--config", str(config)])
    assert options["settings"].room is None


def test_the_default_is_still_chat():
    options = Options()
    options.parseOptions([])
    assert options["settings"].room == "#chat" == Settings().room


# -- a real server -----------------------------------------------------------------


def _irc_ask(sock: socket.socket, lines: bytes) -> list[str]:
    """Send IRC C{lines} and a PING; the lines received up to its PONG (bounded by WAIT)."""
    sock.sendall(lines + b"PING :done\r\n")
    data = b""
    deadline = time.monotonic() + WAIT
    while not data.endswith(b":done\r\n") and time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    assert data.endswith(b":done\r\n"), data
    return data.decode().split("\r\n")[:-2]


@pytest.mark.integration
def test_twistd_with_room_none(tmp_path: Path):
    with twistd_server(tmp_path, "--room", "none",
                       "--irc-port", "tcp:0:interface=127.0.0.1") as (port, _server):
        log = (tmp_path / "server.log").read_text()
        found = re.search(r"\] IRC on \S+:(\d+)$", log, re.MULTILINE)
        assert found, log
        line = SocketUser(port, "bob")
        line.expect(NO_ROOM)
        line.send("/rooms")
        line.expect("* rooms (0): ")
        with socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=WAIT) as irc:
            _irc_ask(irc, b"NICK alice\r\nUSER alice 0 * :Alice\r\n")
            replies = _irc_ask(irc, b"LIST\r\nLUSERS\r\n")
            assert [r.split(" ")[1] for r in replies][:2] == ["321", "323"]
            assert any(r.endswith(" 254 alice 0 :channels formed") for r in replies), replies
            line.send("/join #rust")
            line.expect("* you joined #rust (1 here)")
            replies = _irc_ask(irc, b"LIST\r\n")
            assert [r.split(" ", 1)[1] for r in replies] == [
                "321 alice Channel :Users  Name", "322 alice #rust 1 :[+nt]",
                "323 alice :End of /LIST"]
        line.close()
