"""The web listener's site, in memory: the page, its assets, the headers, the origin check.

Raw HTTP/1.1 into the site's own protocol over a L{StringTransport}, as a
browser would send it; the response is read back as bytes.
"""

from __future__ import annotations

import base64

import pytest
from support import Net, peer_address
from twisted.internet.testing import StringTransport

from chatsvc.protocols.web.site import STATIC, OriginPolicy, canonical_origin, web_site

UPGRADE = {
    "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
}


def get(site, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One GET; the status, the headers (lowercased names) and the body."""
    transport = StringTransport(peerAddress=peer_address("127.0.0.1"))
    channel = site.buildProtocol(transport.getPeer())
    channel.makeConnection(transport)
    lines = [f"GET {path} HTTP/1.1", "Host: chat.example:8080"]
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
