"""chatsvc.testing: the in-memory harness itself."""

from __future__ import annotations

import pytest
from twisted.internet import protocol
from twisted.words.protocols import irc

from chatsvc.client import BadName, ConnectionClosed, NameTaken, Session, WrongPassword
from chatsvc.events import Joined, Left, PrivateMessage, RoomMessage
from chatsvc.hub.settings import Settings
from chatsvc.testing import ChatHarness, IRCLine, NoLine, StillWaiting


def test_many_clients_share_one_hub() -> None:
    chat = ChatHarness()
    sessions = [chat.join(f"user{i}") for i in range(20)]
    assert sorted(chat.hub.users) == sorted(f"user{i}" for i in range(20))
    sessions[0].say("hello all")
    chat.pump()
    for session in sessions[1:]:
        assert [e.text for e in session.inbox if isinstance(e, RoomMessage)] == ["hello all"]


def test_wait_raises_when_nothing_comes() -> None:
    chat = ChatHarness()
    alice = chat.join("alice")
    before = chat.clock.seconds()
    with pytest.raises(StillWaiting, match="nothing after 3 fake seconds"):
        chat.wait(alice.next_event(kind=RoomMessage), timeout=3)
    assert chat.clock.seconds() - before == pytest.approx(3, abs=0.2)
    # The abandoned wait claims nothing.
    chat.join("bob").say("hi")
    chat.pump()
    assert [type(e) for e in alice.inbox] == [Joined, RoomMessage]


def test_run_drives_a_coroutine_with_fake_time() -> None:
    chat = ChatHarness()

    async def scenario() -> list[str]:
        alice: Session = await chat.connect("alice")
        bob: Session = await chat.connect("bob")
        await alice.next_event(kind=Joined)
        bob.say("one")
        first = await alice.next_event(kind=RoomMessage, timeout=1)
        await bob.quit("done")
        left = await alice.next_event(kind=Left, timeout=1)
        return [first.text, left.reason]

    assert chat.run(scenario()) == ["one", "done"]
    assert chat.pumps and all(not p.clientIO.disconnected for p in chat.pumps)


def test_advance_moves_the_clock_for_timeouts() -> None:
    chat = ChatHarness()
    alice = chat.join("alice")
    d = alice.next_event(kind=RoomMessage, timeout=30)
    chat.advance(29)
    assert not d.called
    chat.advance(1)
    d.addErrback(lambda f: f.type.__name__)
    assert d.result == "EventTimeout"


def test_the_hub_runs_on_the_fake_clock_too() -> None:
    """Flood control, deadlines and timestamps are the hub's: fake time for them too.

    A bot that says more than the flood burst must still be heard, with no
    reactor running: its later lines wait for the harness's clock.
    """
    chat = ChatHarness()
    alice, bob = chat.join("alice"), chat.join("bob")
    for i in range(25):  # well past the burst (10): the rest wait for fake time
        alice.say(f"line {i}")
    heard = [chat.wait(bob.next_event(kind=RoomMessage), timeout=30).text for _ in range(25)]
    assert heard == [f"line {i}" for i in range(25)]
    assert chat.hub.clock is chat.clock


# -- IRC ------------------------------------------------------------------------


class EchoBot(irc.IRCClient):
    """A bot as IRC bot authors write them: Twisted's IRCClient, callbacks."""

    nickname = "echobot"

    def __init__(self) -> None:
        self.pongs: list[str] = []

    def signedOn(self) -> None:
        self.join("#chat")

    def privmsg(self, user: str, channel: str, message: str) -> None:
        nick = user.partition("!")[0]
        self.msg(nick if channel == self.nickname else channel, f"{nick} said: {message}")

    def irc_PONG(self, prefix: str, params: list[str]) -> None:
        self.pongs.append(params[-1])


def test_line_and_irc_users_in_one_room_hear_each_other() -> None:
    chat = ChatHarness()
    alice = chat.join("alice")
    bob = chat.irc_client("bob", channels=["#chat"])
    assert list(bob.inbox) == []  # the welcome and the join burst are claimed
    assert [line.command for line in bob.received[:2]] == ["001", "002"]
    joined = chat.wait(alice.next_event(kind=Joined))
    assert joined.name == "bob"
    assert sorted(chat.hub.users) == ["alice", "bob"]

    alice.say("hello bob")
    line = bob.expect("PRIVMSG")
    assert (line.nick, line.params, line.text) == ("alice", ("#chat", "hello bob"), "hello bob")
    assert str(line) == line.raw and line.raw.startswith(":alice!")

    bob.privmsg("#chat", "hello alice")
    event = chat.wait(alice.next_event(kind=RoomMessage))
    assert (event.sender, event.text) == ("bob", "hello alice")

    bob.privmsg("alice", "psst")
    whisper = chat.wait(alice.next_event(kind=PrivateMessage))
    assert (whisper.sender, whisper.text) == ("bob", "psst")
    alice.whisper("bob", "yes?")
    assert bob.expect("PRIVMSG", match=lambda line: line.params[0] == "bob").text == "yes?"

    assert chat.wait(bob.quit("bye")) and bob.closed
    assert chat.wait(alice.next_event(kind=Left)).name == "bob"


def test_two_irc_clients_and_raw_lines() -> None:
    chat = ChatHarness()
    carol = chat.irc_client("carol", user="cz", realname="Carol Z", host="192.0.2.7")
    dave = chat.irc_client("dave")
    carol.join("#side")
    assert carol.expect("JOIN").params == ("#side",)
    dave.send("JOIN #side")
    assert carol.expect("JOIN").prefix.startswith("dave!")
    dave.send("WHOIS carol")
    whois = dave.expect("311")
    assert whois.params[1:4] == ("carol", "~cz", "192.0.2.7") and whois.text == "Carol Z"
    dave.notice("#side", "heads up")
    assert carol.expect("NOTICE").text == "heads up"
    # An empty inbox plus a predicate: the first line that matches, the rest stay.
    dave.privmsg("#side", "one")
    dave.privmsg("#side", "two")
    assert carol.expect(match=lambda line: line.text == "two").text == "two"
    assert carol.expect("PRIVMSG").text == "one"


def test_irc_registration_refusals_raise_the_client_errors() -> None:
    chat = ChatHarness(Settings(password="sesame"))
    with pytest.raises(WrongPassword):
        chat.irc_client("erin", password="wrong")
    erin = chat.irc_client("erin", password="sesame")
    with pytest.raises(NameTaken):
        chat.irc_client("ERIN", password="sesame")
    with pytest.raises(BadName):
        chat.irc_client("9lives", password="sesame")
    chat.pump()
    assert sorted(chat.hub.users) == ["erin"] and len(chat.hub.connections) == 1
    assert not erin.closed


def test_irc_bounded_wait_fails_clearly_when_nothing_comes() -> None:
    chat = ChatHarness()
    bob = chat.irc_client("bob", channels=["#chat"])
    chat.join("alice").say("not it")
    before = chat.clock.seconds()
    came = r"\[':alice!alice@\? JOIN #chat', ':alice!alice@\? PRIVMSG #chat :not it'\]"
    with pytest.raises(NoLine, match=r"bob: no NOTICE within 3 fake seconds; unclaimed: " + came):
        bob.expect("NOTICE", timeout=3)
    assert chat.clock.seconds() - before == pytest.approx(3, abs=0.2)
    def quiet(line: IRCLine) -> bool:
        return False

    with pytest.raises(NoLine, match="no line matching quiet within 2"):
        bob.expect(match=quiet, timeout=2)
    # The abandoned waits claim nothing; the line is still there.
    assert bob.expect("PRIVMSG").text == "not it"
    # A wait in an async scenario fails the same way, on the same clock.
    d = bob.next_line("KICK", timeout=5)
    chat.advance(5)
    assert isinstance(d.result.value, NoLine)
    d.addErrback(lambda failure: None)


def test_irc_wait_ends_when_the_connection_does() -> None:
    chat = ChatHarness()
    bob = chat.irc_client("bob")
    waiting = bob.next_line("PRIVMSG")
    bob.send("QUIT :gone")
    with pytest.raises(ConnectionClosed, match="bob: connection closed"):
        chat.wait(waiting)
    assert bob.expect("ERROR").text.startswith("Closing link")
    with pytest.raises(ConnectionClosed):
        chat.wait(bob.next_line("PRIVMSG"))


def test_an_ircclient_bot_answers_a_line_user() -> None:
    chat = ChatHarness()
    bot = chat.connect_irc(EchoBot())
    chat.pump()
    assert "echobot" in chat.hub.users and chat.hub.rooms["#chat"]
    alice = chat.join("alice")
    alice.say("hi bot")
    reply = chat.wait(alice.next_event(kind=RoomMessage))
    assert (reply.sender, reply.text) == ("echobot", "alice said: hi bot")
    alice.whisper("echobot", "secret")
    reply = chat.wait(alice.next_event(kind=PrivateMessage))
    assert (reply.sender, reply.text) == ("echobot", "alice said: secret")
    # IRC users hear it too, in the same room.
    bob = chat.irc_client("bob", channels=["#chat"])
    bob.privmsg("#chat", "me too")
    assert bob.expect("PRIVMSG", match=lambda line: line.nick == "echobot").text == (
        "bob said: me too")
    assert chat.wait(alice.next_event(kind=RoomMessage)).text == "me too"
    assert bot.nickname == "echobot"


def test_an_ircclient_bot_connects_itself_through_the_irc_endpoint() -> None:
    chat = ChatHarness()
    factory = protocol.Factory.forProtocol(EchoBot)
    bot = chat.wait(chat.irc_endpoint.connect(factory))
    chat.pump()
    assert isinstance(bot, EchoBot) and "echobot" in chat.hub.users


def test_an_ircclient_bots_keepalive_runs_on_the_harness_clock() -> None:
    """Twisted's IRCClient PINGs on the global reactor; the harness moves it to its clock."""
    chat = ChatHarness()
    bot = EchoBot()
    bot.heartbeatInterval = 30
    chat.connect_irc(bot)
    chat.advance(29)
    assert bot.pongs == []
    chat.advance(1)
    assert bot.pongs == ["chatsvc"]
    for _ in range(120):  # it answers the server's PINGs itself: an hour idle, still here
        chat.advance(30)
    assert "echobot" in chat.hub.users and len(bot.pongs) == 121


def test_connect_irc_refuses_a_line_rate_it_cannot_honour() -> None:
    chat = ChatHarness()
    bot = EchoBot()
    bot.lineRate = 1
    with pytest.raises(ValueError, match="EchoBot.lineRate is 1: .* set lineRate = None"):
        chat.connect_irc(bot)
    assert not chat.pumps


def test_irc_in_an_async_scenario() -> None:
    chat = ChatHarness()

    async def scenario() -> list[str]:
        alice: Session = await chat.connect("alice")
        bob = await chat.irc_register("bob", channels=["#chat"])
        await alice.next_event(kind=Joined, timeout=1)
        alice.me("waves")
        action = await bob.next_line("PRIVMSG", timeout=1)
        bob.part("#chat", "later")
        left = await alice.next_event(kind=Left, timeout=1)
        return [action.text, left.reason]

    assert chat.run(scenario()) == ["\x01ACTION waves\x01", "later"]


def test_the_module_docstring_example_runs() -> None:
    import textwrap

    import chatsvc.testing

    doc = chatsvc.testing.__doc__ or ""
    after = doc.split("::\n\n", 1)[1].splitlines()
    end = next(i for i, line in enumerate(after) if line and not line.startswith("    "))
    block = textwrap.dedent("\n".join(after[:end]))
    namespace: dict[str, object] = {}
    exec(compile(block, "chatsvc/testing.py", "exec"), namespace)
    assert "ChatHarness" in block and "irc_client" in block
    namespace["test_hello"]()  # type: ignore[operator]
