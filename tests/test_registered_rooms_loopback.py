"""Registered rooms through a real ``twistd chat`` and a data directory: a restart
keeps accounts, a registered room's topic, key, ban and operator accounts,
and its history; the real store thread does the writes."""

from __future__ import annotations

import pytest
from support import SocketUser, twistd_server
from test_accounts_loopback import next_line
from test_history_loopback import lines_until

from chatsvc.protocols.line.wire import HISTORY_END

TOPIC = "x'); DROP TABLE registered_room; -- \" %_ ?"


@pytest.mark.integration
def test_a_restart_keeps_accounts_registered_rooms_and_history(tmp_path) -> None:
    data = tmp_path / "data"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with twistd_server(first, "--data-dir", str(data)) as (port, _):
        bob = SocketUser(port, "bob")
        bob.send("/register sesame-2")
        bob.expect("* registered bob")
        bob.close()
        alice = SocketUser(port, "alice")
        alice.send("/register sesame-1")
        alice.expect("* registered alice")
        alice.send("/join #rust")
        alice.expect("* you joined #rust (1 here)")
        alice.send("/register #rust")
        alice.expect("* registered #rust")
        alice.send(f"/topic {TOPIC}")
        alice.expect(f"* alice sets the topic of #rust: {TOPIC}")
        alice.send("/mode +k sesame")
        alice.expect("* alice sets +k sesame on #rust")
        # Said in a keyed room: kept for this room only (its creation time,
        # which the registration keeps across the restart).
        alice.send("said before the restart")
        alice.send("/ban spammer!*@*")
        alice.expect("* alice sets +b spammer!*@* on #rust")
        alice.send("/amode #rust +o bob")
        alice.expect("* bob is an operator of #rust by account")
        alice.close()
        # Everyone has left: the registered room is still there.
        carol = SocketUser(port, "carol")
        carol.send("/rooms")
        carol.expect(f"* rooms (2): #chat (1), #rust (0) {TOPIC}")
        carol.close()
    assert "alice registered #rust for alice" in (first / "server.log").read_text()
    with twistd_server(second, "--data-dir", str(data)) as (port, _):
        guest = SocketUser(port, "guest")
        guest.send("/rooms")
        guest.expect(f"* rooms (2): #chat (1), #rust (0) {TOPIC}")
        guest.send("/join #rust")
        guest.expect("! bad key for #rust")  # the key is enforced
        guest.send("/join #rust sesame")
        lines = lines_until(guest, f"* topic of #rust: {TOPIC}")
        assert lines[-2] == "* you joined #rust (1 here)"
        spammer = SocketUser(port, "spammer")
        spammer.send("/join #rust sesame")
        spammer.expect("! you are banned from #rust")  # the ban is enforced
        spammer.close()
        founder = SocketUser(port)
        founder.send("/login alice sesame-1")
        founder.expect("* logged in as alice")
        founder.send("/join #rust")  # no key: the founder passes it, and is made operator
        lines = lines_until(founder, "* ChanServ gives operator status to alice in #rust")
        assert lines[-2] == f"* topic of #rust: {TOPIC}"
        history = lines_until(founder, HISTORY_END)  # and the history is there
        assert history[-2].endswith("<alice> said before the restart"), history
        guest.expect("* ChanServ gives operator status to alice in #rust")
        founder.send("/roominfo")
        info = next_line(founder)
        assert info.startswith("* #rust is registered to alice (for ")
        assert info.endswith("); operator accounts: bob")
        impostor = SocketUser(port, "bob")  # the name without the account: nothing
        impostor.send("/join #rust sesame")
        impostor.expect("* you joined #rust (3 here)")
        founder.send("/who")
        founder.expect("* in #rust (3): @alice, bob, guest")
        for user in (guest, founder, impostor):
            user.close()
