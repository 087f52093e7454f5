"""Real sockets on 127.0.0.1: plain and TLS users chatting in one room."""

from __future__ import annotations

import pytest
import pytest_twisted
from OpenSSL import SSL
from support import WireClient
from twisted.internet import endpoints, reactor, ssl
from twisted.internet.interfaces import IOpenSSLContextFactory
from zope.interface import implementer

from chatsvc.service.tap import Options, makeService

pytestmark = pytest.mark.integration


@pytest.fixture
def server(certs):
    """A running chat service with a plain and a TLS listener on loopback."""
    options = Options()
    options.parseOptions([
        "--port", "tcp:0:interface=127.0.0.1",
        "--tls-port", "tcp:0:interface=127.0.0.1",
        "--tls-cert", str(certs.cert), "--tls-key", str(certs.key),
        "--max-line", "100",
    ])
    root = makeService(options)
    root.startService()
    plain, tls = list(root)
    ports = {
        "plain": pytest_twisted.blockon(plain.whenListening()).getHost().port,
        "tls": pytest_twisted.blockon(tls.whenListening()).getHost().port,
    }
    yield ports
    pytest_twisted.blockon(root.stopService())


def plain_endpoint(port):
    return endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5)


def tls_endpoint(port, certs, hostname="localhost"):
    trust = ssl.Certificate.loadPEM(certs.ca.read_bytes())
    options = ssl.optionsForClientTLS(hostname, trustRoot=trust)
    return endpoints.wrapClientTLS(options, plain_endpoint(port))


async def user(endpoint, name):
    client = await WireClient().connect(endpoint)
    return await client.register(name)


@pytest_twisted.ensureDeferred
async def test_plain_and_tls_users_share_the_room(server, certs):
    alice = await user(plain_endpoint(server["plain"]), "alice")
    bob = await user(tls_endpoint(server["tls"], certs), "bob")
    assert await alice.expect() == "* bob joined"
    carol = await user(plain_endpoint(server["plain"]), "carol")
    assert await alice.expect() == "* carol joined"
    assert await bob.expect() == "* carol joined"

    bob.send("hello from TLS")
    assert await alice.expect() == "<bob> hello from TLS"
    assert await carol.expect() == "<bob> hello from TLS"

    alice.send("@bob:secret")
    assert await bob.expect() == "*alice* secret"
    bob.send("@alice psst back")
    assert await alice.expect() == "*bob* psst back"

    carol.send("/who")
    assert await carol.expect() == "* in #chat (3): alice, bob, carol"

    carol.send("#caroline")
    assert await carol.expect() == "* you are caroline"
    assert await alice.expect() == "* carol is now caroline"
    assert await bob.expect() == "* carol is now caroline"

    alice.send("@nobody:hi")
    assert await alice.expect() == "! no such user: nobody"

    # Invalid UTF-8, an over-long line, then a normal line: all survive.
    bob.send(b"caf\xc3( \xfe\xfe\n" + b"x" * 500 + b"\nstill fine\n")
    assert await bob.expect() == "! line too long (limit 100 bytes)"
    assert await alice.expect() == "<bob> caf\ufffd( \ufffd\ufffd"
    assert await alice.expect() == "<bob> still fine"

    # A disconnect in the middle of a line.
    carol.send(b"half a li")
    carol.protocol.transport.loseConnection()
    await carol.closed
    assert await alice.expect() == "* caroline left (connection lost)"
    assert await bob.expect() == "* caroline left (connection lost)"

    alice.send("/quit bye all")
    assert await alice.expect() == "* bye"
    await alice.closed
    assert await bob.expect() == "* alice left (bye all)"
    bob.protocol.transport.loseConnection()
    await bob.closed


@pytest_twisted.ensureDeferred
async def test_tls_client_checking_another_hostname_is_refused(server, certs):
    from service_identity import VerificationError

    client = WireClient()
    await client.connect(tls_endpoint(server["tls"], certs, hostname="evil.example"))
    await client.closed
    assert client.reason.check(VerificationError)
    assert client.lines.pending == []


@pytest_twisted.ensureDeferred
async def test_tls_below_1_2_is_refused(server):
    @implementer(IOpenSSLContextFactory)
    class TLS11Only:
        """A client context that offers nothing newer than TLS 1.1."""

        def getContext(self):
            context = SSL.Context(SSL.TLS_METHOD)
            context.set_max_proto_version(SSL.TLS1_1_VERSION)
            context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
            return context

    client = WireClient()
    endpoint = endpoints.SSL4ClientEndpoint(reactor, "127.0.0.1", server["tls"], TLS11Only())
    await client.connect(endpoint)
    client.send("#old")
    await client.closed
    assert client.reason.check(SSL.Error)
    assert "protocol version" in str(client.reason.value)
    assert client.lines.pending == []
