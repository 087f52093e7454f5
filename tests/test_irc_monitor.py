"""IRCv3 MONITOR (issue 15): told when names come and go, whatever protocol uses them.

The watch lists are the hub's (L{chatsvc.hub.watch.Watches}), bounded per
connection; the hub emits L{chatsvc.events.Presence} on registration,
rename and departure, and the IRC adapter shows it as 730/731.
"""

from __future__ import annotations

import pytest
from support import IRCUser, Net, Recorder, numerics

from chatsvc.events import Presence
from chatsvc.hub.watch import MAX_WATCHED, Watches
from chatsvc.protocols.irc.isupport import tokens


@pytest.fixture
def net() -> Net:
    return Net()


def test_monitor_is_advertised_with_its_limit(net: Net) -> None:
    assert f"MONITOR={MAX_WATCHED}" in tokens(net.hub.settings)
    alice = net.irc_user("alice", channels="")
    assert any(f" MONITOR={MAX_WATCHED} " in line for line in alice.ask("VERSION"))


def test_adding_tells_the_status_at_once(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    net.irc_user("bob", channels="")
    assert alice.ask("MONITOR + bob,baz") == [
        ":chatsvc 730 alice :bob!~bob@192.0.2.1", ":chatsvc 731 alice :baz"]


def test_users_of_every_protocol_come_online_and_go_offline(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    alice.ask("MONITOR + bob,carol,dave")
    bob = net.irc_user("bob", channels="")
    assert alice.read() == [":chatsvc 730 alice :bob!~bob@192.0.2.1"]
    carol = net.line_user("carol")  # the line protocol: no channel shared with alice
    assert alice.read() == [":chatsvc 730 alice :carol!carol@198.51.100.7"]
    net.web_user("dave")
    assert alice.read() == [":chatsvc 730 alice :dave!dave@203.0.113.9"]
    bob.send("QUIT :bye")
    bob.drop()
    assert alice.read() == [":chatsvc 731 alice :bob"]
    carol.drop()
    assert alice.read() == [":chatsvc 731 alice :carol"]


def test_renames_give_up_one_name_and_take_another(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    alice.ask("MONITOR + qux")
    baz = net.irc_user("baz", channels="")
    assert alice.read() == []
    baz.send("NICK qux")
    assert alice.read() == [":chatsvc 730 alice :qux!~baz@192.0.2.1"]
    baz.send("NICK QUX")  # a change of case is the same name
    assert alice.read() == []
    baz.send("NICK bazbat")
    assert alice.read() == [":chatsvc 731 alice :QUX"]
    line = net.line_user("lina")
    line.send("#qux")
    assert alice.read() == [":chatsvc 730 alice :qux!qux@198.51.100.7"]


def test_remove_clear_list_and_status(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    assert alice.ask("MONITOR L") == [":chatsvc 733 alice :End of MONITOR list"]
    alice.ask("MONITOR + qux,bazbat,Zed")
    net.irc_user("zed", channels="")
    alice.read()
    assert alice.ask("MONITOR L") == [":chatsvc 732 alice :qux,bazbat,Zed",
                                      ":chatsvc 733 alice :End of MONITOR list"]
    assert alice.ask("MONITOR S") == [":chatsvc 730 alice :zed!~zed@192.0.2.1",
                                      ":chatsvc 731 alice :qux,bazbat"]
    assert alice.ask("MONITOR - QUX") == []
    assert alice.ask("MONITOR L")[0] == ":chatsvc 732 alice :bazbat,Zed"
    assert alice.ask("MONITOR C") == []
    assert alice.ask("MONITOR L") == [":chatsvc 733 alice :End of MONITOR list"]
    net.irc_user("bazbat", channels="")
    assert alice.read() == []


def test_masks_are_refused_and_never_watched(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    replies = alice.ask("MONITOR + :*!username@localhost,*!*@*,a b")
    assert numerics(replies) == ["432"]  # once, however many: no amplification
    assert replies[0].startswith(":chatsvc 432 alice *!username@localhost ")
    net.irc_user("username", channels="")
    assert alice.read() == []
    assert alice.ask("MONITOR L") == [":chatsvc 733 alice :End of MONITOR list"]


def test_the_list_is_bounded_per_connection(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    names = [f"n{i}" for i in range(MAX_WATCHED + 3)]
    replies = alice.ask("MONITOR + " + ",".join(names[:60]), "MONITOR + " + ",".join(names[60:]))
    assert numerics(replies).count("734") == 1
    [full] = [line for line in replies if " 734 " in line]
    assert full == (f":chatsvc 734 alice {MAX_WATCHED} n100,n101,n102 "
                    ":Monitor list is full.")
    assert all(len(line.encode()) <= 510 for line in replies)
    offline = ",".join(line.partition(" :")[2] for line in replies if " 731 " in line)
    assert offline.split(",") == names[:MAX_WATCHED]
    assert len(net.hub.watches) == MAX_WATCHED
    # Watching one already watched is no new entry, even when full.
    assert numerics(alice.ask("MONITOR + N5")) == ["731"]


def test_a_watchers_list_goes_with_its_connection(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    alice.ask("MONITOR + bob")
    assert net.hub.watches.watchers("BOB") == {alice.protocol}
    alice.drop()
    assert len(net.hub.watches) == 0 and not net.hub.watches.watchers("bob")
    net.irc_user("bob", channels="")  # nobody to tell, and nothing written to a closed one


def test_two_watchers_one_stops(net: Net) -> None:
    foo = net.irc_user("foo", channels="")
    bar = net.irc_user("bar", channels="")
    foo.ask("MONITOR + qux")
    bar.ask("MONITOR + qux")
    assert bar.ask("MONITOR - qux") == []
    net.irc_user("qux", channels="")
    assert numerics(foo.read()) == ["730"]
    assert bar.read() == []


def test_presence_leaves_the_hub_through_the_delivery_seam(net: Net) -> None:
    hub = net.hub
    watcher = Recorder()
    hub.attach(watcher, watcher.address)
    hub.register(watcher, "watcher")
    hub.watches.add(watcher, ["bob"])
    bob = net.line_user("bob")
    [seen] = [e for e in watcher.events if isinstance(e, Presence)]
    assert (seen.name, seen.online, seen.mask) == ("bob", True, "bob!bob@198.51.100.7")
    assert seen.id is not None
    bob.drop()
    assert [e.online for e in watcher.events if isinstance(e, Presence)] == [True, False]


def test_the_server_holds_a_bounded_number_of_entries_in_all(net: Net) -> None:
    net.hub.watches.total_limit = 150  # MAX_TOTAL_WATCHED, scaled down
    first, second = net.irc_user("first", channels=""), net.irc_user("second", channels="")
    first.ask("MONITOR + " + ",".join(f"a{i}" for i in range(100)))
    replies = second.ask("MONITOR + " + ",".join(f"b{i}" for i in range(60)))
    assert f":chatsvc 734 second {MAX_WATCHED} b50,b51,b52,b53,b54,b55,b56,b57,b58,b59 " \
        ":Monitor list is full." in replies
    assert len(net.hub.watches) == 150
    first.drop()  # room again once a list goes
    assert numerics(second.ask("MONITOR + b59")) == ["731"]
    assert len(net.hub.watches) == 51


def test_the_registry_alone() -> None:
    watches = Watches(limit=2)
    a, b = object(), object()
    added = watches.add(a, ["Bob", "bob", "c!d@e", "carol", "dave"])  # type: ignore[arg-type]
    assert (added.added, added.invalid, added.over_limit) == (
        ["Bob", "bob", "carol"], ["c!d@e"], ["dave"])
    watches.add(b, ["BOB"])  # type: ignore[arg-type]
    assert watches.watchers("bob") == {a, b} and len(watches) == 3
    watches.remove(a, ["BOB", "nobody"])  # type: ignore[arg-type]
    assert watches.watchers("bob") == {b}
    watches.add(a, ["bob"])  # type: ignore[arg-type]
    watches.clear(b)  # type: ignore[arg-type]
    assert watches.watchers("bob") == {a}
    watches.remove(a, ["bob"])  # type: ignore[arg-type]
    watches.add(b, ["BOB"])  # type: ignore[arg-type]
    assert watches.watched_by(a) == ["carol"]  # type: ignore[arg-type]
    watches.clear(b)  # type: ignore[arg-type]
    assert not watches.watchers("bob") and len(watches) == 1


# -- extended-monitor -------------------------------------------------------------

def _watcher(net: Net, caps: str) -> IRCUser:
    watcher = net.irc_user("foo", channels="")
    if caps:
        watcher.ask(f"CAP REQ :{caps}")
    watcher.ask("MONITOR + bar")
    return watcher


@pytest.mark.parametrize("protocol", ["irc", "line"])
def test_extended_monitor_shows_the_away_of_those_watched(net: Net, protocol: str) -> None:
    watcher = _watcher(net, "extended-monitor away-notify")
    if protocol == "irc":
        bar = net.irc_user("bar", channels="")
        away, back = "AWAY :afk", "AWAY"
        mask = "bar!~bar@192.0.2.1"
    else:
        bar = net.line_user("bar")
        away, back = "/away afk", "/back"
        mask = "bar!bar@198.51.100.7"
    assert watcher.read() == [f":chatsvc 730 foo :{mask}"]
    bar.send(away)
    assert watcher.read() == [f":{mask} AWAY :afk"]
    bar.send(back)
    assert watcher.read() == [f":{mask} AWAY"]


@pytest.mark.parametrize("caps", ["", "away-notify", "extended-monitor"])
def test_without_both_caps_a_watcher_sees_no_away(net: Net, caps: str) -> None:
    watcher = _watcher(net, caps)
    bar = net.irc_user("bar", channels="")
    watcher.read()
    bar.send("AWAY :afk")
    assert watcher.read() == []


def test_extended_monitor_shows_setname_and_never_twice(net: Net) -> None:
    watcher = _watcher(net, "extended-monitor setname")
    bar = net.irc_user("bar", channels="")
    watcher.read()
    bar.send("SETNAME :new name")
    assert watcher.read() == [":bar!~bar@192.0.2.1 SETNAME :new name"]
    # Sharing a room: seen once, as a room mate.
    watcher.send("JOIN #r")
    bar.send("JOIN #r")
    watcher.read()
    bar.send("SETNAME :newer")
    assert watcher.read() == [":bar!~bar@192.0.2.1 SETNAME :newer"]


def test_setname_of_someone_watched_needs_extended_monitor(net: Net) -> None:
    watcher = _watcher(net, "setname")
    bar = net.irc_user("bar", channels="")
    watcher.read()
    bar.send("SETNAME :new name")
    assert watcher.read() == []
