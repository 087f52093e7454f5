"""History privacy (issue 18): the room mode +x (no history) on the line
protocol and IRC, and what users are told the server and each room keep."""

from __future__ import annotations

from test_history import History, result_of

from chatsvc.store.retention import Retention

DAY = 86400.0


def stored(history: History, room: str) -> list[str]:
    reading = history.store.latest(room, 100)
    history.worker.run()
    return [m.text for m in result_of(reading)]


def in_rust(history: History):  # type: ignore[no-untyped-def]
    """alice (operator of #rust, which she made) and bob, both in #rust."""
    alice, bob = history.user("alice"), history.user("bob")
    alice.send("/join #rust")
    bob.send("/join #rust")
    history.settle()
    alice.read(), bob.read()
    return alice, bob


def test_an_operator_turns_history_off_and_nothing_is_kept_or_shown() -> None:
    history = History()
    alice, bob = in_rust(history)
    alice.send("kept")
    alice.send("/mode +x")
    alice.send("not kept", "/me is not kept either")
    history.settle()
    assert "* alice sets +x on #rust" in bob.read()
    assert stored(history, "#rust") == ["kept"]
    alice.send("/mode")
    assert alice.read()[-1] == ("* modes of #rust: +ntx (no messages from outside, only "
                                "operators set the topic, no history kept)")
    carol = history.user("carol")
    carol.read()
    carol.send("/join #rust")
    history.settle()
    lines = carol.read()
    assert "* #rust keeps no history (mode +x)" in lines
    assert not any(line.startswith("* history of") for line in lines)
    carol.send("/history", "/history #rust 5")
    history.settle()
    assert carol.read() == ["* #rust keeps no history (mode +x)"] * 2


def test_turning_it_back_on_keeps_new_messages_and_shows_the_old() -> None:
    history = History()
    alice, bob = in_rust(history)
    alice.send("before", "/mode +x", "during", "/mode -x", "after")
    history.settle()
    assert stored(history, "#rust") == ["before", "after"]
    bob.read()
    bob.send("/history")
    history.settle()
    assert bob.read() == ["* history of #rust (2)", "[22:13] <alice> before",
                          "[22:13] <alice> after", "* end of history"]


def test_only_the_rooms_operators_may_turn_it_off() -> None:
    history = History()
    alice, bob = in_rust(history)
    bob.send("/mode +x")
    assert bob.read() == ["! you are not an operator of #rust"]
    bob.send("said")
    history.settle()
    assert stored(history, "#rust") == ["said"]


def test_irc_operators_set_it_with_mode_and_see_it_in_the_mode_list() -> None:
    history = History()
    net = history.net
    irc = net.irc_user("dave", channels="#den")
    line = history.user("erin")
    line.send("/join #den")
    history.settle()
    irc.read(), line.read()
    irc.send("MODE #den +x")
    assert irc.read() == [":dave!~dave@192.0.2.1 MODE #den +x"]
    assert line.read() == ["* dave sets +x on #den"]
    irc.send("MODE #den")
    assert irc.read()[0].endswith(" 324 dave #den +ntx")
    irc.send("PRIVMSG #den :off the record")
    line.send("me too")
    history.settle()
    assert stored(history, "#den") == []
    irc.send("MODE #den -x")
    irc.send("PRIVMSG #den :on the record")
    history.settle()
    assert stored(history, "#den") == ["on the record"]


def test_the_isupport_lists_the_mode() -> None:
    from chatsvc.hub.modes import CHANMODES

    assert CHANMODES.split(",")[3] == "imnstx"


def test_joining_says_how_long_the_room_keeps_history() -> None:
    history = History()
    history.delivery.retention = Retention(30 * DAY)
    alice = history.user("alice")
    assert alice.read()[-1] == "* #chat keeps history for 30 days"
    alice.send("/join #rust")
    history.settle()
    assert "* #rust keeps history for 30 days" in alice.read()
    history.delivery.retention = Retention(None, 500)
    alice.send("/part")
    history.settle()
    assert "* #chat keeps its last 500 messages" in alice.read()


def test_connecting_says_what_the_server_keeps() -> None:
    history = History()
    history.delivery.retention = Retention(30 * DAY)
    user = history.net.line_user()
    welcome, keeps = user.read()
    assert welcome.startswith("* welcome to ")
    assert keeps == ("* this server keeps room messages for 30 days and private messages "
                     "between logged-in accounts (not guests'); a room set +x keeps none")
    history.delivery.retention = Retention(None, 200)
    user = history.net.line_user()
    assert user.read()[1] == ("* this server keeps room messages (each room's last 200) "
                              "and private messages between logged-in accounts (not "
                              "guests'); a room set +x keeps none")
    history.delivery.retention = Retention()
    user = history.net.line_user()
    assert user.read()[1] == ("* this server keeps room messages and private messages "
                              "between logged-in accounts (not guests'); a room set +x "
                              "keeps none")


def test_a_server_without_history_says_nothing_of_it() -> None:
    from support import Net

    net = Net()
    user = net.line_user()
    (welcome,) = user.read()
    user.send("#alice")
    assert not any("keeps" in line for line in user.read())
