"""--web-trusted-proxy: whose X-Forwarded-For the web listener believes, in memory."""

from __future__ import annotations

import pytest
from support import Net

from chatsvc.protocols.web.proxy import MAX_HOPS, TrustedProxies
from chatsvc.service import tap

PROXIES = TrustedProxies(["127.0.0.1/32", "::1/128", "10.0.0.0/8"])


@pytest.mark.parametrize("peer, forwarded, host", [
    # Not from a trusted proxy: the header is anyone's words, ignored.
    ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),
    # From the proxy: the address it received the request from.
    ("127.0.0.1", ["203.0.113.1"], "203.0.113.1"),
    ("::1", ["2001:db8::1"], "2001:db8::1"),
    # The right-most hop that is not a trusted proxy; what the client wrote
    # on the left (a forged address) is ignored.
    ("127.0.0.1", ["6.6.6.6, 203.0.113.1, 10.1.2.3"], "203.0.113.1"),
    ("127.0.0.1", ["6.6.6.6", "203.0.113.1", "10.1.2.3"], "203.0.113.1"),  # several headers
    # Ports and brackets, as some proxies write them; mapped IPv4 as IPv4.
    ("127.0.0.1", ["[2001:db8::2]:443"], "2001:db8::2"),
    ("127.0.0.1", ["203.0.113.1:5555"], "203.0.113.1"),
    ("127.0.0.1", ["::ffff:203.0.113.9"], "203.0.113.9"),
    # Garbage stops the walk: the last trusted hop is the client.
    ("127.0.0.1", ["203.0.113.1, <script>, 10.1.2.3"], "10.1.2.3"),
    ("127.0.0.1", ["unknown"], "127.0.0.1"),
    ("127.0.0.1", [""], "127.0.0.1"),
    ("127.0.0.1", [], "127.0.0.1"),
    # Every hop a trusted proxy: the left-most of them.
    ("127.0.0.1", ["10.0.0.9, 10.0.0.8"], "10.0.0.9"),
    (b"127.0.0.1".decode(), [b"203.0.113.1"], "203.0.113.1"),  # raw header bytes
])
def test_the_client_is_the_right_most_untrusted_hop(peer, forwarded, host) -> None:
    assert PROXIES.client_host(peer, forwarded) == host


def test_no_trusted_proxy_believes_nobody() -> None:
    assert not TrustedProxies()
    assert TrustedProxies().client_host("127.0.0.1", ["203.0.113.1"]) == "127.0.0.1"


def test_a_huge_header_costs_a_bounded_walk() -> None:
    forwarded = [", ".join(["10.0.0.1"] * 100_000) + ", 10.0.0.2"]
    assert PROXIES.client_host("127.0.0.1", forwarded) == "10.0.0.1"
    spoofed = ["203.0.113.66, " + ", ".join(["10.0.0.1"] * (MAX_HOPS + 5))]
    assert PROXIES.client_host("127.0.0.1", spoofed) == "10.0.0.1"


def test_the_forwarded_address_is_the_users_host_and_counts_per_address() -> None:
    net = Net(web_trusted_proxies=["127.0.0.1/32"], max_per_ip=1)
    line = net.line_user("bob")
    alice = net.web_user(host="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.1"})
    alice.ask(type="register", name="alice")
    assert net.hub.user_named("alice").record.host == "203.0.113.1"
    line.send("/whois alice")
    assert any("203.0.113.1" in text for text in line.read())
    # Another browser behind the same proxy is another address...
    carol = net.web_user(host="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.2"})
    assert carol.read()[0]["type"] == "welcome" and not carol.closed
    # ...and the same browser twice is one address, over --max-per-ip.
    again = net.web_user(host="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.1"})
    [error] = again.read()
    assert error["code"] == "too-many-connections" and again.closed


def test_from_an_untrusted_peer_the_header_is_ignored() -> None:
    net = Net(web_trusted_proxies=["127.0.0.1/32"])
    mallory = net.web_user(host="198.51.100.66", headers={"X-Forwarded-For": "127.0.0.1"})
    mallory.ask(type="register", name="mallory")
    assert net.hub.user_named("mallory").record.host == "198.51.100.66"
    plain = Net().web_user("dave", host="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.1"})
    assert plain.protocol.record.host == "127.0.0.1"  # no --web-trusted-proxy: nobody


def test_the_option() -> None:
    parsed = tap.Options()
    parsed.parseOptions(["--web-port", "8080", "--web-trusted-proxy", "127.0.0.1/32,::1/128",
                         "--web-trusted-proxy", "10.0.0.0/8"])
    assert parsed["settings"].web_trusted_proxies == ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]
    for argv, message in [(["--web-port", "8080", "--web-trusted-proxy", "nope"],
                           "--web-trusted-proxy: "),
                          (["--web-trusted-proxy", "::1"], "--web-trusted-proxy needs --web-port")]:
        with pytest.raises(tap.StartupFailure) as caught:
            tap.Options().parseOptions(argv)
        assert message in str(caught.value.code) and "\n" not in str(caught.value.code)
