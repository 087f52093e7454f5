"""chatsvc.client against a real hub: in memory (chatsvc.testing) and on loopback."""

from __future__ import annotations

import socket

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure

from chatsvc.client import (
    BadName,
    ChatClientProtocol,
    ClientError,
    ConnectFailed,
    ConnectionClosed,
    EventTimeout,
    NameTaken,
    ServerFull,
    Session,
    WrongProtocol,
    client_endpoint,
    connect,
)
from chatsvc.events import (
    Error,
    Joined,
    Left,
    Notice,
    PrivateMessage,
    Renamed,
    RoomMessage,
    Topic,
)
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.testing import ChatHarness


@pytest.fixture
def chat() -> ChatHarness:
    return ChatHarness(Settings(motd=["be nice"]))


def test_connect_registers_and_knows_who_is_there(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    assert (alice.name, alice.registered) == ("alice", True)
    assert bob.names == ["alice", "bob"]
    assert chat.wait(alice.next_event(kind=Joined)) == Joined("", "bob")
    assert alice.names == ["alice", "bob"]
    # The welcome and the MOTD are kept apart from the events.
    texts = [getattr(e, "text", None) for e in bob.greeting]
    assert texts[-2:] == ["be nice", "you are in #chat with 1 other: alice"]
    assert list(bob.inbox) == []


def test_name_taken_and_bad_name_are_exceptions(chat: ChatHarness) -> None:
    chat.join("alice")
    with pytest.raises(NameTaken, match="name taken: ALICE"):
        chat.join("ALICE")
    with pytest.raises(BadName, match="must not start with a digit"):
        chat.join("2pac")
    # Each refused client was disconnected and forgotten by the hub.
    chat.pump()
    assert len(chat.hub.connections) == 1


def test_server_full() -> None:
    chat = ChatHarness(Settings(max_clients=1))
    chat.join("alice")
    with pytest.raises(ServerFull):
        chat.join("bob")


def test_an_irc_server_is_recognised_at_once(chat: ChatHarness) -> None:
    """Its replies say what it is: no waiting for the registration deadline."""
    connecting = connect(chat.clock, chat.irc_endpoint, "alice", timeout=30)
    chat.pump()  # no clock: it must fail on the IRC server's first answer
    failures: list[Failure] = []
    connecting.addErrback(failures.append)
    assert [f.type for f in failures] == [WrongProtocol]
    assert str(failures[0].value) == (
        "that is an IRC server: use an IRC client, or the line-protocol port")
    chat.pump()
    assert not chat.hub.connections


@pytest.mark.parametrize("line, irc", [
    (":irc.example 451 * :You have not registered", True),
    (":irc.example NOTICE * :*** Looking up your hostname", True),
    ("NOTICE AUTH :*** Checking Ident", True),
    ("ERROR :Closing Link: 127.0.0.1 (Registration timed out)", True),
    ("PING :12345", True),
    ("* welcome to chatsvc! register with #yourname; /help lists commands", False),
    ("* NOTICE this", False),
    (":-) hello", False),
])
def test_irc_lines_are_told_from_line_protocol_ones(line: str, irc: bool) -> None:
    session = Session(Clock(), "alice")
    session._registration.addErrback(lambda failure: None)
    session._received(session.parser.parse(line))
    assert (session._refusal is not None) is irc


def test_say_is_verbatim_whatever_it_starts_with(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    sent = ["hello", "#not-a-rename", "@bob: not private", "/who is that", "//x"]
    for text in sent:
        alice.say(text)
    got = [chat.wait(bob.next_event(kind=RoomMessage)).text for _ in sent]
    assert got == sent
    assert alice.name == "alice"


def test_multi_line_text_is_one_message_per_line(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    alice.say("one\n\ntwo\r\nthree")
    chat.pump()
    assert [e.text for e in bob.inbox if isinstance(e, RoomMessage)] == ["one", "two", "three"]
    with pytest.raises(ValueError):
        alice.send_line("/who\n#mallory")
    with pytest.raises(ValueError):
        alice.rename("a\nb")
    with pytest.raises(ValueError, match="not a name to whisper to"):
        alice.whisper("bob: hi", "text")
    with pytest.raises(ClientError, match="must be one line"):
        chat.join("eve\n/quit")


def test_whisper_me_and_private_action(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    alice.whisper("bob", "psst")
    alice.me("waves")
    assert chat.wait(bob.next_event(kind=PrivateMessage)) == PrivateMessage(
        "alice", "bob", "psst")
    assert chat.wait(bob.next_event(kind=RoomMessage)) == RoomMessage(
        "", "alice", "waves", action=True)
    alice.whisper("nobody", "hello?")
    assert chat.wait(alice.next_event(kind=Error)).text == "no such user: nobody"


def test_rename_and_who(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    assert chat.wait(bob.rename("robert")) == "robert"
    assert bob.name == "robert"
    assert chat.wait(alice.next_event(kind=Renamed)) == Renamed("bob", "robert")
    assert alice.names == ["alice", "robert"]
    with pytest.raises(NameTaken):
        chat.wait(bob.rename("Alice"))
    assert bob.name == "robert"
    assert chat.wait(alice.who()) == ["alice", "robert"]


def test_greeting_holds_the_default_rooms_topic(chat: ChatHarness) -> None:
    chat.hub.default_room.topic = "Welcome!"
    alice = chat.join("alice")
    assert alice.greeting[-2:] == [Topic("#chat", "Welcome!"),
                                   Notice("you are in #chat alone for now")]
    assert list(alice.inbox) == []


def test_connect_when_the_default_room_refuses(chat: ChatHarness) -> None:
    """Registered but in no room: connect succeeds and the greeting says why."""
    chat.hub.default_room.invite_only = True
    alice = chat.join("alice")
    assert alice.names == ["alice"]
    assert alice.greeting[-2:] == [
        Error("#chat is invite-only"),
        Notice("you are in no room: /join #room to enter one (private messages still work)"),
    ]
    with pytest.raises(ClientError, match="you are in no room"):
        chat.wait(alice.who())
    alice.send_line("/join #elsewhere")
    assert chat.wait(alice.who()) == ["alice"]


def test_next_event_match_keeps_the_rest_in_the_inbox(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    for text in ("one", "two", "three"):
        alice.say(text)
    chat.pump()
    two = chat.wait(bob.next_event(kind=RoomMessage, match=lambda e: e.text == "two"))
    assert two.text == "two"
    assert [e.text for e in bob.inbox] == ["one", "three"]
    assert chat.wait(bob.next_event()).text == "one"


def test_next_event_answers_from_the_past_unless_fresh(chat: ChatHarness) -> None:
    """The trap issue 14 met: a plain wait is answered by a Joined from long
    ago, left in the inbox; C{fresh=True} waits for what comes after the call."""
    alice = chat.join("alice")
    chat.join("bob")
    chat.pump()
    chat.advance(300)
    assert chat.wait(alice.next_event(kind=Joined)).name == "bob"  # from 300 s ago

    chat.join("carol")
    chat.pump()
    waiting = alice.next_event(kind=Joined, fresh=True)
    chat.pump()
    assert not waiting.called  # carol's Joined was already in the inbox
    chat.join("dave")
    assert chat.wait(waiting).name == "dave"
    # The inbox was skipped, not emptied.
    assert [e.name for e in alice.inbox if isinstance(e, Joined)] == ["carol"]


def test_next_event_times_out_on_the_session_clock(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    d = alice.next_event(kind=PrivateMessage, timeout=5)
    chat.clock.advance(4.9)
    assert not d.called
    chat.clock.advance(0.2)
    with pytest.raises(EventTimeout, match="no PrivateMessage within 5 seconds"):
        chat.wait(d)
    # A timed-out wait claims nothing later.
    chat.join("bob").whisper("alice", "late")
    chat.pump()
    assert [type(e) for e in alice.inbox] == [Joined, PrivateMessage]


def test_cancelled_wait_claims_nothing(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    d = bob.next_event(kind=RoomMessage)
    d.cancel()
    d.addErrback(lambda f: f.trap(defer.CancelledError))
    alice.say("hi")
    chat.pump()
    assert [e.text for e in bob.inbox] == ["hi"]


def test_on_event_callbacks_plain_and_async(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    seen: list[str] = []
    replies: list[str] = []

    def broken(event: object) -> None:
        raise RuntimeError("bot bug")

    async def echo(event: object) -> None:
        if isinstance(event, RoomMessage):
            replies.append(event.text)
            bob.say("echo: " + event.text)

    bob.on_event(broken)
    unsubscribe = bob.on_event(lambda e: seen.append(type(e).__name__))
    bob.on_event(echo)
    with capturedLogs() as logged:
        alice.say("ping")
        assert chat.wait(alice.next_event(kind=RoomMessage)).text == "echo: ping"
    assert seen == ["RoomMessage"] and replies == ["ping"]
    assert any(e.get("log_failure") for e in logged), "the broken callback is logged"
    unsubscribe()
    alice.say("again")
    chat.pump()
    assert seen == ["RoomMessage"]


def test_quit_tells_the_others_and_closes(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    assert chat.wait(bob.quit("off to bed")) == "closed"
    assert chat.wait(alice.next_event(kind=Left)) == Left(None, "bob", "off to bed")
    assert alice.names == ["alice"]
    with pytest.raises(ConnectionClosed):
        bob.say("still here?")
    with pytest.raises(ConnectionClosed):
        chat.wait(bob.next_event(kind=RoomMessage))


def test_server_going_away_fails_pending_waits(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    waiting = alice.next_event(kind=RoomMessage)
    who = alice.who()
    closed = alice.when_closed()
    chat.hub.users["alice"].disconnect("kicked")
    assert chat.wait(closed) == "the server closed the connection"
    with pytest.raises(ConnectionClosed, match="the server closed the connection"):
        chat.wait(waiting)
    with pytest.raises(ConnectionClosed):
        chat.wait(who)


def test_over_long_server_line_is_skipped(chat: ChatHarness) -> None:
    session = Session(Clock(), "alice")
    protocol = ChatClientProtocol(session)
    session.registered = True
    session._greeting_open = False
    with capturedLogs():
        protocol.dataReceived(b"x" * 70_000 + b"\r\n! after\r\n")
    assert list(session.inbox) == [Error("after")]


def test_connect_gives_up_after_timeout() -> None:
    class Nowhere:
        def connect(self, factory: object) -> Deferred[Protocol]:
            return Deferred()

    clock = Clock()
    d = connect(clock, Nowhere(), "alice", timeout=10)
    clock.advance(10)
    failure = d.result
    d.addErrback(lambda f: None)
    assert failure.check(ConnectFailed)
    assert "no connection within 10 seconds" in str(failure.value)


def test_connect_gives_up_on_a_silent_server() -> None:
    silent = ChatHarness(hub=ChatFactory())
    silent.hub.buildProtocol = lambda addr: Protocol()  # accepts, never answers
    d = silent.connect("alice", timeout=5)
    with pytest.raises(ConnectFailed, match="no answer to registration within 5 seconds"):
        silent.wait(d)


def test_client_endpoint_strings() -> None:
    from twisted.internet import reactor

    with pytest.raises(ValueError, match="host:port"):
        client_endpoint(reactor, "localhost")
    with pytest.raises(ValueError, match="host:port"):
        client_endpoint(reactor, "localhost:99999")
    assert client_endpoint(reactor, "[::1]:12345")._hostBytes == b"::1"
    assert client_endpoint(reactor, "tcp:example.org:12345")._port == 12345


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_connection_refused_on_loopback() -> None:
    from twisted.internet import reactor

    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectFailed, match="refused"):
        await connect(reactor, f"127.0.0.1:{port}", "alice", timeout=5)


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_two_clients_over_real_loopback() -> None:
    from twisted.internet import endpoints, reactor

    listening = await endpoints.TCP4ServerEndpoint(
        reactor, 0, interface="127.0.0.1").listen(ChatFactory())
    try:
        target = f"127.0.0.1:{listening.getHost().port}"
        alice = await connect(reactor, target, "alice", timeout=5)
        bob = await connect(reactor, target, "bob", timeout=5)
        alice.say("over the wire")
        event = await bob.next_event(kind=RoomMessage, timeout=5)
        assert (event.sender, event.text) == ("alice", "over the wire")
        await alice.quit()
        assert (await bob.next_event(kind=Left, timeout=5)).name == "alice"
        await bob.quit()
    finally:
        await listening.stopListening()


def test_entering_a_room_refreshes_who_is_there(chat: ChatHarness) -> None:
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    alice.send_line("/join #rust")
    bob.send_line("/join #rust")
    chat.pump()
    assert (alice.parser.room, alice.names, bob.names) == (
        "#rust", ["alice", "bob"], ["alice", "bob"])
    assert carol.names == ["carol"]
    bob.me("waves")
    assert chat.wait(alice.next_event(kind=RoomMessage)) == RoomMessage(
        "#rust", "bob", "waves", action=True)
