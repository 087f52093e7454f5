"""History on IRC (issue 18): the replay after a JOIN, with and without
server-time, in its place before live messages."""

from __future__ import annotations

import pytest
from test_history import NOW, History

from chatsvc.events import utc_time
from chatsvc.protocols.irc import history as irc_history
from chatsvc.store.retention import Retention
from chatsvc.store.sqlite import StoredMessage

DAY = 86400.0


def talk(history: History, *lines: str) -> None:
    """alice, a line user in #chat, says C{lines}; they are stored."""
    alice = history.user("alice")
    alice.send(*lines)
    history.settle()


def irc(history: History, nick: str, caps: str = ""):  # type: ignore[no-untyped-def]
    user = history.net.irc_user(nick, channels="")
    if caps:
        assert user.ask(f"CAP REQ :{caps}") == [f":chatsvc CAP {nick} ACK :{caps}"]
    user.read()
    return user


def after_names(lines: list[str]) -> list[str]:
    return lines[next(i for i, line in enumerate(lines) if " 366 " in line) + 1:]


def test_a_join_replays_the_last_messages_with_their_time_in_the_text() -> None:
    history = History(replay=2)
    talk(history, "one", "two", "/me waves")
    bob = irc(history, "bob")
    bob.send("JOIN #chat")
    history.settle()
    lines = bob.read()
    assert lines[0] == ":bob!~bob@192.0.2.1 JOIN #chat"
    assert after_names(lines) == [
        ":chatsvc NOTICE bob :#chat keeps history",
        ":alice PRIVMSG #chat :[22:13] two",
        ":alice PRIVMSG #chat :\x01ACTION [22:13] waves\x01",
    ]


def test_with_server_time_the_replay_carries_the_original_time() -> None:
    history = History()
    alice = history.user("alice")
    history.net.clock.advance(0.25)
    said = history.net.clock.seconds()
    alice.send("stamped")
    history.settle()
    history.net.clock.advance(3600)
    bob = irc(history, "bob", "server-time")
    bob.send("JOIN #chat")
    history.settle()
    assert after_names(bob.read())[1:] == [
        f"@time={utc_time(said)} :alice PRIVMSG #chat :stamped"]


def test_another_days_message_carries_its_date() -> None:
    when = NOW - 2 * DAY
    lines = irc_history.replay_lines(
        "#chat", [StoredMessage("0", "#chat", when, "alice", "old")], False, NOW)
    assert lines == b":alice PRIVMSG #chat :[2023-11-12 22:13] old\r\n"


def test_live_messages_during_the_read_come_after_the_replay() -> None:
    history = History()
    alice = history.user("alice")
    alice.send("before")
    history.settle()
    bob = irc(history, "bob")
    bob.send("JOIN #chat")  # the read is queued, not run
    alice.send("during", "/me nods")
    burst = bob.read()
    assert after_names(burst) == []
    history.settle()
    assert bob.read() == [
        ":chatsvc NOTICE bob :#chat keeps history",
        ":alice PRIVMSG #chat :[22:13] before",
        ":alice!alice@198.51.100.7 PRIVMSG #chat :during",
        ":alice!alice@198.51.100.7 PRIVMSG #chat :\x01ACTION nods\x01",
    ]


def test_two_joins_at_once_each_replay_follows_its_own_names() -> None:
    history = History()
    alice = history.user("alice")
    alice.send("in chat", "/join #rust", "in rust")
    history.settle()
    bob = irc(history, "bob")
    bob.send("JOIN #chat,#rust")
    history.settle()
    shown = [line for line in bob.read() if " JOIN " in line or "PRIVMSG" in line]
    assert shown == [
        ":bob!~bob@192.0.2.1 JOIN #chat", ":alice PRIVMSG #chat :[22:13] in chat",
        ":bob!~bob@192.0.2.1 JOIN #rust", ":alice PRIVMSG #rust :[22:13] in rust",
    ]


def test_a_room_without_history_replays_nothing_and_says_so() -> None:
    history = History()
    alice = history.user("alice")
    alice.send("/join #quiet", "/mode +x", "unrecorded")
    history.settle()
    bob = irc(history, "bob")
    bob.send("JOIN #quiet")
    history.settle()
    assert after_names(bob.read()) == [
        ":chatsvc NOTICE bob :#quiet keeps no history (mode +x)"]


def test_the_notice_says_how_long() -> None:
    history = History()
    history.delivery.retention = Retention(30 * DAY)
    talk(history, "said")
    bob = irc(history, "bob")
    bob.send("JOIN #chat")
    history.settle()
    assert after_names(bob.read())[0] == ":chatsvc NOTICE bob :#chat keeps history for 30 days"


def test_a_room_with_nothing_kept_yet_adds_nothing_to_the_join_burst() -> None:
    # Clients and scripts parse the burst (JOIN #a,#b expects JOIN #b next);
    # the NOTICE at connection said what every room keeps.
    history = History()
    bob = irc(history, "bob")
    bob.send("JOIN #empty,#other")
    history.settle()
    lines = bob.read()
    assert [line for line in lines if " 353 " not in line and " 366 " not in line] == [
        ":bob!~bob@192.0.2.1 JOIN #empty", ":bob!~bob@192.0.2.1 JOIN #other"]


def test_commands_sent_during_the_read_are_answered_after_the_replay() -> None:
    # The replay is part of the JOIN's answer: a MODE or PING sent right
    # after it must not be answered first (irctest's modeis and ban tests).
    history = History()
    talk(history, "before")
    bob = irc(history, "bob")
    bob.send("JOIN #chat", "MODE #chat", "PING sync")  # the read is queued, not run
    assert not [line for line in bob.read() if " 324 " in line or " PONG " in line]
    history.settle()
    lines = bob.read()
    replayed = lines.index(":alice PRIVMSG #chat :[22:13] before")
    assert " 324 bob #chat " in lines[replayed + 1]
    assert lines[-1].endswith("PONG chatsvc :sync")


def test_replay_zero_still_tells_but_replays_nothing() -> None:
    history = History(replay=0)
    talk(history, "said")
    bob = irc(history, "bob")
    bob.send("JOIN #chat")
    history.settle()
    assert after_names(bob.read()) == [":chatsvc NOTICE bob :#chat keeps history"]


def test_stored_text_never_breaks_the_wire() -> None:
    hostile = [
        StoredMessage("0", "#chat", NOW, "alice", "one\r\nQUIT :bye\x00 two"),
        StoredMessage("1", "#chat", NOW, "evil guy!x@y", "spoofed"),
        StoredMessage("2", "#chat", NOW, ":alice", "colon"),
        StoredMessage("3", "#chat", NOW, "bob", "x" * 2000, notice=True),
    ]
    data = irc_history.replay_lines("#chat", hostile, True, NOW)
    lines = data.split(b"\r\n")[:-1]
    assert all(len(line) <= 512 + len(f"@time={utc_time(NOW)} ") for line in lines)
    assert lines[0] == f"@time={utc_time(NOW)} :alice PRIVMSG #chat :oneQUIT :bye two".encode()
    assert lines[1].endswith(b" :* PRIVMSG #chat :spoofed")
    assert lines[2].endswith(b" :* PRIVMSG #chat :colon")
    assert all(b" NOTICE #chat :" in line for line in lines[3:]) and len(lines) > 5
    assert b"".join(line.split(b" :", 2)[-1] for line in lines[3:]) == b"x" * 2000


def test_a_busy_room_stops_holding_and_the_replay_follows(monkeypatch) -> None:
    monkeypatch.setattr(irc_history, "HOLD_LIMIT", 3)
    history = History()
    alice = history.user("alice")
    alice.send("before")
    history.settle()
    bob = irc(history, "bob")
    bob.send("JOIN #chat")
    bob.read()
    alice.send("l1", "l2", "l3")
    assert bob.read() == []  # held, up to HOLD_LIMIT
    alice.send("l4")  # one more: they all go out
    assert [line.rsplit(":", 1)[1] for line in bob.read()] == ["l1", "l2", "l3", "l4"]
    alice.send("l5")  # no longer held
    assert [line.rsplit(":", 1)[1] for line in bob.read()] == ["l5"]
    history.settle()
    assert bob.read() == [":chatsvc NOTICE bob :#chat keeps history",
                          ":alice PRIVMSG #chat :[22:13] before"]


def test_a_server_without_history_joins_as_before() -> None:
    from support import Net

    net = Net()
    bob = net.irc_user("bob", channels="")
    bob.read()
    bob.send("JOIN #chat")
    assert " 366 " in bob.read()[-1]


@pytest.mark.parametrize(("when", "shown"), [(NOW, "22:13"), (NOW - DAY, "2023-11-13 22:13")])
def test_stamp(when: float, shown: str) -> None:
    assert irc_history.stamp(when, NOW) == shown


def test_the_welcome_ends_with_what_the_server_keeps() -> None:
    history = History()
    history.delivery.retention = Retention(30 * DAY)
    user = history.net.irc_user()
    user.send("NICK carol", "USER carol 0 * :Carol")
    burst = user.read()
    motd_end = next(i for i, line in enumerate(burst) if " 422 " in line or " 376 " in line)
    assert burst[motd_end + 1:] == [
        ":chatsvc NOTICE carol :this server keeps room messages for 30 days and private "
        "messages between logged-in accounts (not guests'); a room set +x keeps none"]


def test_without_history_the_welcome_is_as_before() -> None:
    from support import Net

    user = Net().irc_user()
    user.send("NICK carol", "USER carol 0 * :Carol")
    assert " 422 " in user.read()[-1]


def test_commands_wait_behind_the_replays_of_a_multi_room_join() -> None:
    # Each room's replay holds the next; the lines sent meanwhile are
    # handled once the last one is shown, not lost between them.
    history = History()
    alice = history.user("alice")
    alice.send("/join #a", "in a", "/join #b", "in b")
    history.settle()
    bob = irc(history, "bob")
    bob.send("JOIN #a,#b", "PING sync")
    history.settle()
    lines = bob.read()
    assert lines[-1].endswith("PONG chatsvc :sync")
    assert lines.index(":alice PRIVMSG #b :[22:13] in b") < len(lines) - 1
    assert not bob.protocol._guard.input_held


def test_a_stalled_store_holds_the_client_for_seconds_not_for_ever() -> None:
    history = History()
    talk(history, "before")
    bob = irc(history, "bob")
    bob.send("JOIN #chat", "PING sync")  # the read is queued, and the store stalls
    assert not any("PONG" in line for line in bob.read())
    history.net.hub.clock.advance(irc_history.HOLD_SECONDS)
    assert bob.read()[-1].endswith("PONG chatsvc :sync")
    history.settle()  # the replay follows when it comes
    assert bob.read()[-1] == ":alice PRIVMSG #chat :[22:13] before"
