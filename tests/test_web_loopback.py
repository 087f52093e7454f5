"""A real `twistd chat --web-port`: the headers, the origin check, and Twisted's
own WebSocket client chatting with a netcat-style line user."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
import time

import pytest
import pytest_twisted
from support import WAIT, SocketUser, twistd_server
from twisted.internet import reactor, task, threads
from twisted.internet.ssl import Certificate
from twisted.web.client import BrowserLikePolicyForHTTPS
from twisted.web.websocket import WebSocketClientEndpoint
from wsproto.connection import Connection, ConnectionType
from wsproto.events import Ping, TextMessage

pytestmark = pytest.mark.integration


class Client:
    """A WebSocket client protocol that keeps every JSON object it receives."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.transport = None
        self.closed = False

    def negotiationStarted(self, transport) -> None:
        self.transport = transport

    def negotiationFinished(self) -> None:
        pass

    def textMessageReceived(self, message: str) -> None:
        self.received.append(json.loads(message))

    def bytesMessageReceived(self, data: bytes) -> None:
        self.received.append({"type": "binary?"})

    def pongReceived(self, payload: bytes) -> None:
        pass

    def connectionLost(self, reason) -> None:
        self.closed = True

    def send(self, **body) -> None:
        self.transport.sendTextMessage(json.dumps(body))

    async def next(self, /, **wanted) -> dict:
        """The first object received with these fields; bounded wait."""
        for _ in range(int(WAIT / 0.02)):
            for message in self.received:
                if all(message.get(k) == v for k, v in wanted.items()):
                    self.received.remove(message)
                    return message
            await task.deferLater(reactor, 0.02)
        raise AssertionError(f"never received {wanted}: {self.received}")


class Factory:
    def __init__(self) -> None:
        self.client = Client()

    def buildProtocol(self, url: str) -> Client:
        return self.client


def handshake(port: int, origin: str | None, tls: ssl.SSLContext | None = None) -> int:
    connection = (http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT) if tls is None
                  else http.client.HTTPSConnection("127.0.0.1", port, timeout=WAIT, context=tls))
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode()}
    if origin is not None:
        headers["Origin"] = origin
    connection.request("GET", "/ws", headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


@pytest_twisted.ensureDeferred
async def test_a_browser_protocol_user_chats_with_a_line_user(tmp_path) -> None:
    with twistd_server(tmp_path, "--web-port", "tcp:0:interface=127.0.0.1",
                       "--max-per-ip", "0", listener="web") as (web_port, _):
        log = (tmp_path / "server.log").read_text()
        line_port = int(re.search(r"\] line protocol on \S+:(\d+)$", log, re.M).group(1))

        page = http.client.HTTPConnection("127.0.0.1", web_port, timeout=WAIT)
        page.request("GET", "/")
        response = page.getresponse()
        body = response.read()
        assert response.status == 200 and b"/static/chat.js" in body
        csp = response.getheader("Content-Security-Policy")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        page.request("GET", "/healthz")
        assert page.getresponse().read() == b"ok\n"
        page.close()

        assert handshake(web_port, "https://evil.example") == 403
        assert handshake(web_port, f"http://127.0.0.1:{web_port}") == 101

        factory = Factory()
        endpoint = WebSocketClientEndpoint.new(reactor, f"ws://127.0.0.1:{web_port}/ws")
        alice = await endpoint.connect(factory)
        welcome = await alice.next(type="welcome")
        assert welcome["server"] == "chatsvc"
        alice.send(type="register", name="alice", ref=1)
        await alice.next(type="registered", name="alice", ref=1)

        bob = SocketUser(line_port, "bob")
        joined = await alice.next(type="joined", name="bob")
        assert joined["room"] == "#chat"
        alice.send(type="say", room="#chat", text="hi bob <img src=x onerror=alert(1)>")
        await alice.next(type="message", self=True)
        bob.expect("<alice> hi bob <img src=x onerror=alert(1)>")
        bob.send("hi alice")
        said = await alice.next(type="message", **{"from": "bob"})
        assert said["text"] == "hi alice" and said["id"] and said["time"].endswith("Z")
        bob.send("@alice:psst")
        private = await alice.next(type="private")
        assert (private["from"], private["text"]) == ("bob", "psst")
        alice.send(type="whisper", to="bob", text="back")
        await alice.next(type="private", self=True)
        bob.expect("*alice* back")
        # The reactor must run to send the close (bob's reads block it).
        alice.transport.loseConnection()
        for _ in range(int(WAIT / 0.02)):
            if alice.closed:
                break
            await task.deferLater(reactor, 0.02)
        assert alice.closed
        bob.expect("* alice left (connection lost)")
        bob.sock.close()


class RawSocket:
    """A WebSocket client on a blocking socket that answers nothing, not even a ping."""

    def __init__(self, port: int, headers: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        key = base64.b64encode(b"0123456789abcdef").decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
                           f"{headers}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        self.ws = Connection(ConnectionType.CLIENT)
        self.events: list = []
        self.ws.receive_data(rest)
        self.events += self.ws.events()

    def send(self, **body) -> None:
        self.sock.sendall(self.ws.send(TextMessage(json.dumps(body))))

    def read_until_closed(self) -> None:
        """Everything the server sends, until it closes the connection (bounded)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""  # the server aborted the connection
            if not data:
                return
            self.ws.receive_data(data)
            self.events += self.ws.events()
        raise AssertionError(f"still open after {WAIT} s: {self.events}")


@pytest_twisted.ensureDeferred
async def test_a_client_that_answers_no_ping_is_dropped_and_a_browser_like_one_stays(
        tmp_path) -> None:
    with twistd_server(tmp_path, "--web-port", "tcp:0:interface=127.0.0.1",
                       "--web-ping-interval", "1", "--web-ping-timeout", "1",
                       "--max-per-ip", "0", listener="web") as (web_port, _):
        factory = Factory()
        alice = await WebSocketClientEndpoint.new(
            reactor, f"ws://127.0.0.1:{web_port}/ws").connect(factory)
        alice.send(type="register", name="alice")
        await alice.next(type="registered", name="alice")
        stuck = RawSocket(web_port)
        stuck.send(type="register", name="stuck")
        await alice.next(type="joined", name="stuck")
        started = time.monotonic()
        # Read in a thread: the reactor must run for alice to answer her pings.
        await threads.deferToThread(stuck.read_until_closed)
        assert 1.5 < time.monotonic() - started < WAIT
        assert any(isinstance(event, Ping) for event in stuck.events)  # pinged, never answered
        left = await alice.next(type="left", name="stuck")
        assert left["reason"] == "ping timeout"
        assert not alice.closed  # Twisted's client answers pings itself, as browsers do
        alice.send(type="ping", ref="still")
        await alice.next(type="pong", ref="still")
        stuck.sock.close()
        alice.transport.loseConnection()


@pytest_twisted.ensureDeferred
async def test_the_site_over_https_and_wss(tmp_path, certs) -> None:
    with twistd_server(tmp_path, "--web-tls-port", "tcp:0:interface=127.0.0.1",
                       "--tls-cert", str(certs.cert), "--tls-key", str(certs.key),
                       "--max-per-ip", "0", listener="web over TLS") as (port, _):
        trusted = ssl.create_default_context(cafile=str(certs.ca))
        page = http.client.HTTPSConnection("127.0.0.1", port, timeout=WAIT, context=trusted)
        page.request("GET", "/")
        response = page.getresponse()
        assert response.status == 200 and b"/static/chat.js" in response.read()
        assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
        page.close()
        assert handshake(port, f"https://127.0.0.1:{port}", trusted) == 101
        assert handshake(port, f"http://127.0.0.1:{port}", trusted) == 403

        policy = BrowserLikePolicyForHTTPS(
            trustRoot=Certificate.loadPEM(certs.ca.read_bytes()))
        factory = Factory()
        alice = await WebSocketClientEndpoint.new(
            reactor, f"wss://127.0.0.1:{port}/ws", tlsPolicy=policy).connect(factory)
        await alice.next(type="welcome")
        alice.send(type="register", name="alice", ref=1)
        registered = await alice.next(type="registered", ref=1)
        assert registered["name"] == "alice"
        alice.send(type="say", room="#chat", text="over wss", ref=2)
        echo = await alice.next(type="message", ref=2)
        assert echo["text"] == "over wss"
        alice.transport.loseConnection()
        for _ in range(int(WAIT / 0.02)):
            if alice.closed:
                break
            await task.deferLater(reactor, 0.02)
        assert alice.closed


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_users(tmp_path) -> None:
    with twistd_server(tmp_path, "--web-port", "tcp:0:interface=127.0.0.1",
                       "--web-trusted-proxy", "127.0.0.1/32", "--max-per-ip", "1",
                       listener="web") as (port, _):
        log = tmp_path / "server.log"
        line_port = int(re.search(r"\] line protocol on \S+:(\d+)$", log.read_text(),
                                  re.M).group(1))
        bob = SocketUser(line_port, "bob")
        first = RawSocket(port, "X-Forwarded-For: 192.0.2.99, 203.0.113.77\r\n")
        # Both from 127.0.0.1 with --max-per-ip 1: admitted as two addresses.
        second = RawSocket(port, "X-Forwarded-For: 203.0.113.78\r\n")
        # One after the other: two connections' requests may be read in
        # either order, and bob's expect skips the lines it does not want.
        first.send(type="register", name="proxied")
        bob.expect("* proxied joined")
        second.send(type="register", name="other")
        bob.expect("* other joined")
        text = log.read_text()
        assert "web connection from 203.0.113.77" in text
        assert "web connection from 203.0.113.78" in text
        assert "192.0.2.99" not in text
        for user in (first, second):
            user.sock.close()
        bob.sock.close()


@pytest_twisted.ensureDeferred
async def test_history_over_the_web_with_the_real_store(tmp_path) -> None:
    data = tmp_path / "data"
    with twistd_server(tmp_path, "--web-port", "tcp:0:interface=127.0.0.1",
                       "--data-dir", str(data), "--history-replay", "2",
                       "--max-per-ip", "0", listener="web") as (web_port, _):
        log = (tmp_path / "server.log").read_text()
        line_port = int(re.search(r"\] line protocol on \S+:(\d+)$", log, re.M).group(1))
        bob = SocketUser(line_port, "bob")
        for text in ("first", "second <img src=x>", "third"):
            bob.send(text)
        bob.send("/history 1")  # answered after the writes before it: they are stored
        bob.expect("* end of history")
        factory = Factory()
        alice = await WebSocketClientEndpoint.new(
            reactor, f"ws://127.0.0.1:{web_port}/ws").connect(factory)
        alice.send(type="register", name="alice")
        await alice.next(type="joined", self=True)
        replayed = [await alice.next(type="message", history=True) for _ in range(2)]
        assert [m["text"] for m in replayed] == ["second <img src=x>", "third"]
        assert all(m["from"] == "bob" and len(m["id"]) == 24 for m in replayed)
        alice.send(type="history", target="#chat", limit=5, before=replayed[0]["id"], ref="h")
        page = await alice.next(type="history", ref="h")
        assert [m["text"] for m in page["messages"]] == ["first"]
        bob.send("live")
        live = await alice.next(type="message", text="live")
        assert "history" not in live
        alice.transport.loseConnection()
        bob.sock.close()
