"""The web listener's site, in memory: the page, its assets, the headers, the origin check.

Raw HTTP/1.1 into the site's own protocol over a L{StringTransport}, as a
browser would send it; the response is read back as bytes.
"""

from __future__ import annotations

import base64
import json

import pytest
from support import Net, WebUser, peer_address
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import StringTransport
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, Message, TextMessage
from zope.interface import implementer

from chatsvc.protocols.web.protocol import PARTIAL_BUFFERS
from chatsvc.protocols.web.sink import WSPROTO_CONNECTION, FrameSink
from chatsvc.protocols.web.site import STATIC, OriginPolicy, canonical_origin, web_site
from chatsvc.service import tap

UPGRADE = {
    "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
}


@implementer(ISSLTransport)
class SecureStringTransport(StringTransport):
    """An in-memory transport that says it is TLS, as Twisted's TLS transport does."""

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


def get(site, path: str, secure: bool = False, method: str = "GET",
        **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One GET (or C{method}; over TLS if C{secure}); the status, the headers
    (lowercased names), the body."""
    kind = SecureStringTransport if secure else StringTransport
    transport = kind(peerAddress=peer_address("127.0.0.1"))
    channel = site.buildProtocol(transport.getPeer())
    channel.makeConnection(transport)
    lines = [f"{method} {path} HTTP/1.1", "Host: chat.example:8080"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())
    head, _, body = transport.value().partition(b"\r\n\r\n")
    status, *fields = head.decode().split("\r\n")
    parsed = {}
    for field in fields:
        name, _, value = field.partition(": ")
        parsed[name.lower()] = value
    channel.connectionLost(None)
    return int(status.split()[1]), parsed, body


@pytest.fixture
def site():
    return web_site(Net().hub)


def assert_secure(headers: dict[str, str]) -> None:
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert "http" not in csp  # no third-party host
    assert headers["x-content-type-options"] == "nosniff"


def test_head_is_get_without_the_body_and_logs_no_warning(site) -> None:
    from twisted.logger import globalLogPublisher

    seen: list[dict] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        for path in ("/", "/healthz", "/static/chat.js"):
            status, headers, body = get(site, path)
            head_status, head_headers, head_body = get(site, path, method="HEAD")
            assert (head_status, head_body) == (status, b"")
            assert head_headers["content-length"] == str(len(body))
            assert head_headers["content-type"] == headers["content-type"]
            assert_secure(head_headers)
    finally:
        globalLogPublisher.removeObserver(seen.append)
    assert not [event for event in seen if "eat it" in event.get("log_format", "")]


def test_the_page_is_served_with_the_security_headers(site) -> None:
    status, headers, body = get(site, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert_secure(headers)
    assert b'<script type="module" src="/static/chat.js">' in body
    assert b"<script>" not in body and b"style=" not in body  # nothing inline for the CSP


@pytest.mark.parametrize("path, kind", [("/static/chat.js", "text/javascript"),
                                        ("/static/chat.css", "text/css")])
def test_assets_and_their_types(site, path, kind) -> None:
    status, headers, body = get(site, path)
    assert status == 200 and headers["content-type"].startswith(kind)
    assert_secure(headers)
    assert body == (STATIC / path.rsplit("/", 1)[1]).read_bytes()


@pytest.mark.parametrize("path", ["/static/", "/nothing", "/static/../chatsvc.py"])
def test_no_listing_and_not_found_keep_the_headers(site, path) -> None:
    status, headers, _ = get(site, path)
    assert status == 404
    assert_secure(headers)


def test_healthz(site) -> None:
    assert get(site, "/healthz")[::2] == (200, b"ok\n")


def test_the_page_never_puts_text_into_html() -> None:
    script = (STATIC / "chat.js").read_text()
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert risky not in script


def test_a_page_from_another_origin_cannot_open_the_websocket(site) -> None:
    status, headers, body = get(site, "/ws", Origin="https://evil.example", **UPGRADE)
    assert (status, body) == (403, b"origin not allowed\n")
    assert_secure(headers)
    status, headers, _ = get(site, "/ws", Origin="http://chat.example:8080", **UPGRADE)
    assert status == 101 and headers["upgrade"].lower() == "websocket"


def test_over_tls_the_pages_own_origin_is_https(site) -> None:
    assert get(site, "/ws", True, Origin="https://chat.example:8080", **UPGRADE)[0] == 101
    assert get(site, "/ws", True, Origin="http://chat.example:8080", **UPGRADE)[0] == 403


def test_the_origin_allow_list() -> None:
    site = web_site(Net().hub, ["https://chat.example.org"])
    assert get(site, "/ws", Origin="https://chat.example.org", **UPGRADE)[0] == 101
    assert get(site, "/ws", Origin="http://chat.example:8080", **UPGRADE)[0] == 403


def test_canonical_origins() -> None:
    assert canonical_origin("HTTPS://Chat.Example.org:443") == "https://chat.example.org"
    assert canonical_origin("http://[::1]:8080") == "http://[::1]:8080"
    for bad in ("null", "ftp://x", "https://x/path", "https://u@x", "http://x:99999"):
        assert canonical_origin(bad) is None
    assert OriginPolicy().allowed == frozenset()


class Browser:
    """A WebSocket client through the real site's upgrade, in memory, framing with wsproto."""

    def __init__(self, net: Net) -> None:
        self.net = net
        self.transport = StringTransport(peerAddress=peer_address("127.0.0.1"))
        self.channel = web_site(net.hub).buildProtocol(self.transport.getPeer())
        self.channel.makeConnection(self.transport)
        lines = ["GET /ws HTTP/1.1", "Host: chat.example:8080"]
        lines += [f"{name}: {value}" for name, value in UPGRADE.items()]
        self.channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())
        head, _, rest = self.transport.value().partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        self.transport.clear()
        self.ws = Connection(ConnectionType.CLIENT)
        self.ws.receive_data(rest)
        self.pending = list(self.ws.events())

    def send_bytes(self, data: bytes) -> None:
        self.channel.dataReceived(data)

    def frame(self, text: str, finished: bool = True) -> bytes:
        return self.ws.send(Message(data=text, message_finished=finished))

    def events(self) -> list:
        self.ws.receive_data(self.transport.value())
        self.transport.clear()
        got, self.pending = self.pending + list(self.ws.events()), []
        return got

    def messages(self) -> list[dict]:
        return [json.loads(e.data) for e in self.events() if isinstance(e, TextMessage)]


def test_a_whole_chat_through_the_real_upgrade() -> None:
    net = Net()
    line = net.line_user("bob")
    browser = Browser(net)
    assert browser.messages()[0]["type"] == "welcome"
    browser.send_bytes(browser.frame('{"type": "register", "name": "alice"}'))
    registered = browser.messages()[0]
    assert (registered["type"], registered["name"]) == ("registered", "alice")
    browser.send_bytes(browser.frame('{"type": "say", "room": "#chat", "text": "hi"}'))
    assert "<alice> hi" in line.read()
    assert browser.messages()[0]["self"] is True
    line.send("hello alice")
    [said] = browser.messages()
    assert (said["from"], said["text"]) == ("bob", "hello alice")


def test_a_message_that_keeps_growing_is_closed_with_1009() -> None:
    net = Net(max_line=1000)
    line = net.line_user("bob")
    browser = Browser(net)
    browser.events()
    browser.send_bytes(browser.frame('{"type": "register", "name": "alice"}'))
    browser.events()
    browser.send_bytes(browser.frame('{"type": "say", "room": "#chat", "text": "', False))
    for _ in range(3):  # three reads of 400 characters: never a whole message
        assert not browser.transport.disconnecting
        browser.send_bytes(browser.frame("x" * 400, False))
    last = browser.frame("y" * 400, True)  # (framed before the client reads the close)
    closes = [e for e in browser.events() if isinstance(e, CloseConnection)]
    assert [c.code for c in closes] == [1009]
    assert browser.transport.disconnecting
    browser.send_bytes(last)  # ignored once closing
    browser.channel.connectionLost(None)
    assert any("alice" in text and "message too big" in text for text in line.read())


def test_a_whole_oversized_message_is_refused_and_the_connection_lives() -> None:
    net = Net(max_line=1000)
    browser = Browser(net)
    browser.events()
    browser.send_bytes(browser.frame("x" * 1500))
    [error] = browser.messages()
    assert error["code"] == "line-too-long" and not browser.transport.disconnecting


def test_between_the_peers_close_and_the_end_nothing_raises() -> None:
    # Twisted answers a close frame at once; the connection is gone only on
    # the next reactor turn, and wsproto refuses to send in between.
    net = Net()
    line = net.line_user("bob")
    browser = Browser(net)
    browser.send_bytes(browser.frame('{"type": "register", "name": "alice"}'))
    browser.send_bytes(browser.ws.send(CloseConnection(code=1000)))
    line.send("a broadcast reaches alice now")  # must not raise inside the hub
    net.hub.user_named("alice").disconnect("server shutting down")
    assert browser.transport.disconnecting


def options(*argv: str) -> tap.Options:
    parsed = tap.Options()
    parsed.parseOptions(list(argv))
    return parsed


def test_web_options_on_the_command_line_and_in_the_config_file(tmp_path) -> None:
    parsed = options("--web-port", "tcp:0:interface=127.0.0.1",
                     "--web-origin", "HTTPS://Chat.Example.org,http://localhost:8080")
    assert [option for option, _ in parsed["web_listeners"]] == ["--web-port"]
    assert parsed["web-origin"] == ["https://chat.example.org", "http://localhost:8080"]
    config = tmp_path / "chat.toml"
    config.write_text('web-port = "tcp:0:interface=127.0.0.1"\n'
                      'web-origin = ["https://a.example", "https://b.example"]\n')
    assert options("--config", str(config))["web-origin"] == [
        "https://a.example", "https://b.example"]
    assert options()["web_listeners"] == []  # off by default
    only_web = options("--port", "none", "--web-port", "tcp:0:interface=127.0.0.1")
    assert only_web["listeners"] == [] and only_web["web_listeners"]


@pytest.mark.parametrize("argv, message", [
    (["--web-port", "8080", "--web-origin", "chat.example.org"],
     "--web-origin 'chat.example.org': expected scheme://host[:port]"),
    (["--web-origin", "https://chat.example.org"], "--web-origin needs --web-port"),
    (["--web-port", "tcp:nope"], "--web-port"),
])
def test_bad_web_options_are_one_line(argv, message) -> None:
    with pytest.raises(tap.StartupFailure) as caught:
        options(*argv)
    text = str(caught.value.code)
    assert message in text and "\n" not in text


def test_the_service_serves_the_site_on_the_web_port() -> None:
    root = tap.makeService(options("--web-port", "tcp:0:interface=127.0.0.1"))
    [web] = [child for child in root if getattr(child, "option", None) == "--web-port"]
    assert web.what == "web" and web.factory.resource.children[b"ws"].origins.allowed == set()


def test_twisteds_websocket_internals_the_adapter_relies_on_are_there() -> None:
    # The frames sink (sink.frames_of) and the bound on a message still
    # arriving (protocol.PARTIAL_BUFFERS) read Twisted's wire protocol:
    # a Twisted that moved them makes this fail (the adapter only warns).
    web = WebUser(Net().hub)
    wire = web.protocol.websocket
    assert isinstance(getattr(wire, WSPROTO_CONNECTION), Connection)
    assert all(hasattr(wire, name) for name in PARTIAL_BUFFERS)
    assert isinstance(web.protocol.sink, FrameSink)


def test_web_tls_port_uses_the_tls_certificate_options(certs) -> None:
    parsed = options("--web-tls-port", "tcp:0:interface=127.0.0.1",
                     "--tls-cert", str(certs.cert), "--tls-key", str(certs.key))
    assert [option for option, _ in parsed["web_listeners"]] == ["--web-tls-port"]
    assert parsed["tls"] is not None  # the one ServerTLS every TLS listener shares
    root = tap.makeService(parsed)
    [web] = [child for child in root if getattr(child, "option", None) == "--web-tls-port"]
    assert web.what == "web over TLS"
    both = options("--web-port", "tcp:0:interface=127.0.0.1", "--web-tls-port", "8443",
                   "--tls-cert", str(certs.combined))
    assert [option for option, _ in both["web_listeners"]] == ["--web-port", "--web-tls-port"]


@pytest.mark.parametrize("argv, message", [
    (["--web-tls-port", "8443"], "--web-tls-port needs --tls-cert"),
    (["--web-tls-port", "8443", "--tls-cert", "/nonexistent/cert.pem"], "/nonexistent/cert.pem"),
])
def test_bad_web_tls_options_are_one_line(argv, message) -> None:
    with pytest.raises(tap.StartupFailure) as caught:
        options(*argv)
    text = str(caught.value.code)
    assert message in text and "\n" not in text
