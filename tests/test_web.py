"""The WebSocket adapter's JSON protocol, in memory, with line and IRC users.

L{support.WebUser} is a WebSocket client over L{support.MessageTransport}:
the same calls Twisted's WebSocket layer makes, on a real hub, beside real
line and IRC adapters.
"""

from __future__ import annotations

import json
import re

import pytest
from support import MessageTransport, Net, peer_address
from twisted.internet.testing import StringTransport
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, Pong, TextMessage

from chatsvc.conn.guard import SLOW_GRACE
from chatsvc.events import utc_time
from chatsvc.protocols.web import protocol as web_protocol
from chatsvc.protocols.web.protocol import PING_INTERVAL, PING_TIMEOUT, WebChatProtocol
from chatsvc.protocols.web.sink import FrameSink, MessageFrames
from chatsvc.protocols.web.wire import frame, parse, payload_of

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def net() -> Net:
    return Net()


def kinds(messages):
    return [m["type"] for m in messages]


def test_the_first_message_is_the_welcome_with_the_limits() -> None:
    net = Net(server_name="example", max_line=2048)
    web = net.web_user()
    [welcome] = web.read()
    assert welcome["type"] == "welcome" and welcome["server"] == "example"
    assert welcome["limits"]["max_frame"] == 2048 and welcome["password"] is False


def test_registering_joins_the_default_room_and_the_others_see_it(net: Net) -> None:
    line = net.line_user("bob")
    irc = net.irc_user("carol")
    web = net.web_user()
    answers = web.ask(type="register", name="alice", ref="r1")
    assert {"type": "registered", "name": "alice", "ref": "r1"} == {
        k: v for k, v in answers[0].items() if k not in ("id", "time")}
    joined = next(m for m in answers if m["type"] == "joined")
    assert (joined["room"], joined["self"], joined["count"]) == ("#chat", True, 3)
    assert "* alice joined" in " ".join(line.read())
    assert any(" JOIN " in reply and "alice" in reply for reply in irc.read())
    assert net.hub.user_named("alice").record.protocol == "web"


def test_a_web_message_reaches_line_and_irc_users_and_theirs_reach_it(net: Net) -> None:
    line = net.line_user("bob")
    irc = net.irc_user("carol")
    web = net.web_user("alice")
    echo = web.ask(type="say", room="#CHAT", text="hello <b>all</b>", ref=7)
    assert echo == [{"type": "message", "room": "#chat", "from": "alice",
                     "text": "hello <b>all</b>", "action": False, "notice": False,
                     "self": True, "time": echo[0]["time"], "ref": 7}]
    assert "<alice> hello <b>all</b>" in line.read()
    assert any(reply.endswith("PRIVMSG #chat :hello <b>all</b>") for reply in irc.read())
    line.send("hi alice")
    irc.send("PRIVMSG #chat :hi from irc", "PRIVMSG #chat :\x01ACTION waves\x01")
    said = web.read()
    assert [(m["from"], m["text"], m["action"]) for m in said] == [
        ("bob", "hi alice", False), ("carol", "hi from irc", False), ("carol", "waves", True)]
    assert all(m["type"] == "message" and m["room"] == "#chat" for m in said)
    assert all(RFC3339.match(m["time"]) and len(m["id"]) == 24 for m in said)
    assert said[0]["time"] == utc_time(net.clock.seconds())


def test_me_is_an_action_for_everyone(net: Net) -> None:
    line = net.line_user("bob")
    web = net.web_user("alice")
    web.send(type="me", room="#chat", text="waves")
    assert "* alice waves" in line.read()


def test_private_messages_both_ways(net: Net) -> None:
    line = net.line_user("bob")
    irc = net.irc_user("carol")
    web = net.web_user("alice")
    echo = web.ask(type="whisper", to="BOB", text="psst")
    assert (echo[0]["type"], echo[0]["to"], echo[0]["self"]) == ("private", "bob", True)
    assert any("psst" in reply and "alice" in reply for reply in line.read())
    web.ask(type="whisper", to="carol", text="hi carol")
    assert any(reply.endswith("PRIVMSG carol :hi carol") for reply in irc.read())
    line.send("@alice:back at you")
    irc.send("PRIVMSG alice :and me")
    got = web.read()
    assert [(m["type"], m["from"], m["to"], m["text"]) for m in got] == [
        ("private", "bob", "alice", "back at you"), ("private", "carol", "alice", "and me")]
    assert all(m["id"] and RFC3339.match(m["time"]) for m in got)


def test_join_part_topic_and_who_across_protocols(net: Net) -> None:
    irc = net.irc_user("carol", channels="#rust,#chat")
    web = net.web_user("alice")
    answers = web.ask(type="join", room="#rust", ref="j")
    joined = next(m for m in answers if m["type"] == "joined")
    assert (joined["room"], joined["self"], joined["ref"]) == ("#rust", True, "j")
    assert any(reply.endswith("JOIN #rust") and "alice" in reply for reply in irc.read())
    irc.send("TOPIC #rust :all about rust")
    [topic] = web.read()
    assert (topic["type"], topic["room"], topic["topic"], topic["by"]) == (
        "topic", "#rust", "all about rust", "carol")
    [members] = web.ask(type="who", room="#rust", ref=3)
    assert (members["type"], members["names"], members["operators"], members["ref"]) == (
        "members", ["alice", "carol"], ["carol"], 3)
    irc.send("PART #rust :bye")
    [left] = web.read()
    assert (left["type"], left["room"], left["name"], left["reason"]) == (
        "left", "#rust", "carol", "bye")
    [exited] = web.ask(type="part", room="#rust")
    assert (exited["type"], exited["room"], exited["self"]) == ("left", "#rust", True)
    irc.send("NICK caroline")
    [renamed] = web.read()
    assert (renamed["type"], renamed["from"], renamed["to"]) == ("renamed", "carol", "caroline")


def test_refusals_carry_the_hubs_codes_and_the_ref(net: Net) -> None:
    net.line_user("bob")
    web = net.web_user()
    [error] = web.ask(type="say", room="#chat", text="hi", ref="a")
    assert (error["type"], error["code"], error["ref"]) == ("error", "not-registered", "a")
    [error] = web.ask(type="register", name="bob", ref="b")
    assert (error["code"], error["ref"]) == ("name-taken", "b")
    [error] = web.ask(type="register", name="a b")
    assert error["code"] == "bad-name" and "ref" not in error
    web.ask(type="register", name="alice")
    assert web.ask(type="whisper", to="nobody", text="x")[0]["code"] == "no-such-user"
    assert web.ask(type="part", room="#nowhere")[0]["code"] == "no-such-room"
    assert web.ask(type="say", room="#chat", text="   ")[0]["code"] == "empty-message"


@pytest.mark.parametrize("message, code", [
    ("{not json", "usage"),
    ("[1, 2]", "usage"),
    ('{"type": "dance"}', "unknown-command"),
    ('{"name": "x"}', "usage"),
    ('{"type": "say", "room": "#chat", "text": 5}', "usage"),
    ('{"type": "whisper", "to": null, "text": "x"}', "usage"),
    ('{"type": "ping", "ref": {"a": 1}}', "usage"),
])
def test_malformed_messages_get_an_error_and_everyone_carries_on(net, message, code) -> None:
    line = net.line_user("bob")
    web = net.web_user("alice")
    web.protocol.textMessageReceived(message)
    [error] = web.read()
    assert (error["type"], error["code"]) == ("error", code)
    web.send(type="say", room="#chat", text="still here")
    assert "<alice> still here" in line.read()
    assert not web.closed


def test_an_error_echoes_the_ref_of_a_wrong_request(net: Net) -> None:
    web = net.web_user("alice")
    [error] = web.ask(type="dance", ref="x1")
    assert (error["code"], error["ref"]) == ("unknown-command", "x1")


def test_binary_and_oversized_messages_are_refused_alone() -> None:
    net = Net(max_line=100)
    line = net.line_user("bob")
    web = net.web_user("alice")
    web.protocol.bytesMessageReceived(b"\x00\x01")
    assert web.read()[0]["code"] == "usage"
    web.send(type="say", room="#chat", text="é" * 60)  # 60 characters, 120 bytes
    [error] = web.read()
    assert error["code"] == "line-too-long" and "100" in error["text"]
    assert not any("é" in text for text in line.read())
    assert web.ask(type="ping", ref=1) == [{"type": "pong", "ref": 1}]


def test_text_is_sanitised_before_the_hub_relays_it(net: Net) -> None:
    line = net.line_user("bob")
    web = net.web_user("alice")
    web.send(type="say", room="#chat", text="one\r\ntwo\x1b[2J\u202e")
    assert "<alice> onetwo[2J" in line.read()


def test_a_broadcast_is_rendered_once_for_every_web_recipient(net, monkeypatch) -> None:
    users = [net.web_user(name) for name in ("w1", "w2", "w3")]
    line = net.line_user("bob")
    calls = []
    real = web_protocol.framed
    monkeypatch.setattr(web_protocol, "framed", lambda event: calls.append(event) or real(event))
    for user in users:
        user.receive()
    line.send("to all of you")
    assert len(calls) == 1
    frames = [user.under.value() for user in users]  # the very bytes on each connection
    assert frames[0] == frames[1] == frames[2]
    for user in users:
        user.receive()
    received = [user.messages[-1] for user in users]
    assert json.loads(received[0])["text"] == "to all of you"


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_frame_is_what_wsproto_would_send(size: int) -> None:
    payload = ("é" * size).encode()[:size]
    payload = payload[:len(payload.decode("utf-8", "ignore").encode())]
    server = Connection(ConnectionType.SERVER)
    assert frame(payload) == server.send(TextMessage(payload.decode()))
    assert payload_of(frame(payload)) == payload


def test_a_frame_from_the_cache_is_written_on_the_tcp_connection(net: Net) -> None:
    web = net.web_user("alice")
    line = net.line_user("bob")
    web.receive()
    line.send("straight to the socket")
    data = web.under.value()
    assert data == frame(payload_of(data))  # one whole frame, unmasked, in one write
    assert json.loads(payload_of(data))["text"] == "straight to the socket"
    assert isinstance(web.protocol.sink, FrameSink)


def test_without_twisteds_wsproto_connection_messages_still_go_out(net: Net) -> None:
    # The fallback of sink.frames_of: a WebSocket transport that is not
    # Twisted's (or negotiated an extension) gets each message through it.
    under = StringTransport(peerAddress=peer_address("203.0.113.9"))
    ws = MessageTransport(under)
    web = WebChatProtocol(net.hub, under)
    web.negotiationStarted(ws)
    web.negotiationFinished()
    assert isinstance(web.sink, MessageFrames)
    web.textMessageReceived('{"type": "register", "name": "alice"}')
    net.line_user("bob").send("hello")
    assert json.loads(ws.messages[0])["type"] == "welcome"
    assert json.loads(ws.messages[-1])["text"] == "hello"
    net.hub.user_named("alice").disconnect("bye")
    assert ws.close_code == 1000 and json.loads(ws.messages[-1])["type"] == "closing"


def test_a_web_client_that_stops_reading_is_dropped_and_nobody_waits() -> None:
    net = Net(max_backlog=1000)
    line = net.line_user("bob")
    reader = net.web_user("reader")
    stuck = net.web_user("stuck")
    stuck.under.producer.pauseProducing()  # its TCP buffer is full: the browser reads nothing
    for n in range(50):
        line.send(f"line {n} " + "x" * 40)
    assert len([m for m in reader.read() if m["type"] == "message"]) == 50
    net.clock.advance(SLOW_GRACE)
    assert stuck.under.disconnected  # cut off at once, not waiting for a close handshake
    stuck.drop()
    assert net.hub.user_named("stuck") is None
    assert any("stuck" in text and "too slow" in text for text in line.read())
    left = [m for m in reader.read() if m["type"] == "left"]
    assert (left[0]["name"], left[0]["room"], left[0]["reason"]) == ("stuck", None, "too slow")


def test_the_backlog_policy_replaces_the_http_channels_producer(net: Net) -> None:
    # Twisted's HTTPChannel stays registered on the TCP connection after the
    # upgrade: the adapter must take its place (found by the loopback test).
    under = StringTransport(peerAddress=peer_address("203.0.113.9"))
    channel = object()
    under.registerProducer(channel, True)
    web = WebChatProtocol(net.hub, under)
    web.negotiationStarted(MessageTransport(under))
    web.negotiationFinished()
    assert under.producer is not channel and under.producer is not None
    assert under.streaming


def test_the_flood_gate_counts_messages() -> None:
    net = Net(flood_rate=1, flood_burst=2, flood_queue=2)
    line = net.line_user("bob")
    web = net.web_user("alice")
    for n in range(6):
        web.send(type="say", room="#chat", text=f"spam {n}")
    assert web.read()[-1]["code"] == "flooding"
    assert web.under.disconnecting
    assert "<alice> spam 0" in line.read()


def test_per_address_limit_and_registration_deadline() -> None:
    net = Net(max_per_ip=1, register_timeout=30)
    first = net.web_user(host="203.0.113.50")
    second = net.web_user(host="203.0.113.50")
    [error] = second.read()
    assert (error["type"], error["code"]) == ("error", "too-many-connections")
    assert second.closed
    net.clock.advance(30)
    assert first.closed and net.hub.stats().unregistered <= 1


def test_a_silent_client_is_pinged_then_dropped(net: Net) -> None:
    line = net.line_user("bob")
    web = net.web_user("alice")
    pings = web.pings
    net.clock.advance(PING_INTERVAL - 1)
    web.send(type="ping")  # any message counts as alive
    net.clock.advance(PING_INTERVAL - 1)
    web.receive()
    assert pings == []
    net.clock.advance(1)
    web.receive()
    assert pings == [b"chatsvc"]  # a WebSocket ping frame, on the wire
    web.send_raw(Pong(b"chatsvc"))
    net.clock.advance(PING_TIMEOUT)
    web.receive()
    assert not web.closed and len(pings) == 2
    net.clock.advance(PING_TIMEOUT)
    assert web.under.disconnected
    web.drop()
    assert any("ping timeout" in text for text in line.read())


def test_the_ping_interval_and_timeout_are_settings() -> None:
    net = Net(web_ping_interval=5, web_ping_timeout=2)
    web = net.web_user("alice")
    net.clock.advance(5)
    web.receive()
    assert web.pings == [b"chatsvc"]
    web.send(type="say", room="#chat", text="any message counts as an answer")
    net.clock.advance(4.9)
    assert not web.closed
    net.clock.advance(0.1)
    net.clock.advance(2)
    assert web.under.disconnected
    never = Net(web_ping_interval=0).web_user("bob")
    never.protocol.hub.clock.advance(3600)
    never.receive()
    assert never.pings == [] and not never.closed


def test_a_ping_timer_after_the_peers_close_does_not_raise() -> None:
    net = Net(web_ping_interval=5)
    web = net.web_user("alice")
    web.send_raw(CloseConnection(code=1000))
    net.clock.advance(5)  # wsproto refuses the ping: nothing raises into the reactor
    web.drop()
    assert net.hub.user_named("alice") is None


def test_the_server_says_why_it_closes(net: Net) -> None:
    web = net.web_user("alice")
    net.hub.user_named("alice").disconnect("server shutting down")
    assert web.read()[-1] == {"type": "closing", "reason": "server shutting down"}
    assert web.under.disconnecting


def test_a_password_server_wants_pass_first() -> None:
    net = Net(password="s3cret")
    web = net.web_user()
    assert web.read()[0]["password"] is True
    assert web.ask(type="register", name="alice")[0]["code"] == "password-required"
    assert web.ask(type="pass", password="s3cret", ref=1) == [{"type": "ok", "ref": 1}]
    assert web.ask(type="register", name="alice")[0]["type"] == "registered"


def test_rfc3339_and_parse() -> None:
    assert utc_time(1_700_000_000.25) == "2023-11-14T22:13:20.250Z"
    request = parse('{"type": "join", "room": "#a\\u0007b", "ref": "x"}')
    assert (request.type, request.fields, request.ref) == (
        "join", {"room": "#ab", "key": None}, "x")


def test_every_event_the_hub_emits_has_its_own_json_type() -> None:
    """No event falls back to a notice with its Python repr (a new event needs a body)."""
    from chatsvc import events
    from chatsvc.protocols.web.wire import _BODIES

    every = {value for value in vars(events).values()
             if isinstance(value, type) and issubclass(value, events.Event)
             and value is not events.Event}
    assert every <= set(_BODIES)


def test_away_changes_reach_web_users(net: Net) -> None:
    web = net.web_user("webby")
    line = net.line_user("liner")
    web.read()
    line.send("/away lunch")
    (away,) = web.read()
    assert (away["type"], away["name"], away["away"]) == ("away", "liner", "lunch")
    assert len(away["id"]) == 24 and RFC3339.match(away["time"])
    line.send("/back")
    assert [(m["type"], m["away"]) for m in web.read()] == [("away", None)]


def test_nothing_is_written_after_the_close_frame(net: Net) -> None:
    # Twisted answers the peer's close at once and the connection goes on
    # the next reactor turn: a broadcast in between must not add a frame.
    line = net.line_user("bob")
    web = net.web_user("alice")
    web.receive()
    web.send_raw(CloseConnection(code=1000))
    answer = web.under.value()
    assert answer == Connection(ConnectionType.SERVER).send(CloseConnection(code=1000))
    line.send("too late for alice")
    net.hub.user_named("alice").disconnect("server shutting down")
    assert web.under.value() == answer  # (wsproto, the client, reads nothing after it)
    web.drop()
    assert net.hub.user_named("alice") is None


def test_a_graceful_close_sends_the_close_frame_after_the_output(net: Net) -> None:
    web = net.web_user("alice")
    net.hub.user_named("alice").disconnect("server shutting down")
    web.receive()
    assert web.read()[-1] == {"type": "closing", "reason": "server shutting down"}
    assert web.close_codes == [1000] and web.under.disconnecting
