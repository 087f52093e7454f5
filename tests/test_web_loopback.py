"""A real `twistd chat --web-port`: the headers, the origin check, and Twisted's
own WebSocket client chatting with a netcat-style line user."""

from __future__ import annotations

import base64
import http.client
import json
import re

import pytest
import pytest_twisted
from support import WAIT, SocketUser, twistd_server
from twisted.internet import reactor, task
from twisted.web.websocket import WebSocketClientEndpoint

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


def handshake(port: int, origin: str | None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
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
