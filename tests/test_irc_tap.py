"""The IRC options of ``twistd chat`` and an IRC-over-TLS listener end to end."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import defer, endpoints, protocol, reactor, ssl, task

from chatsvc.service.tap import Options, StartupFailure, makeService


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", *args])
    return options


def test_irc_is_off_by_default() -> None:
    assert parse()["irc_listeners"] == []


def test_a_server_name_with_spaces_is_for_line_users_only() -> None:
    assert parse("--name", "My Chat")["settings"].server_name == "My Chat"
    assert parse("--irc-port", "6667", "--name", "chat.example.org")[
        "settings"].server_name == "chat.example.org"


def test_irc_options() -> None:
    options = parse("--irc-port", "6667", "--password", "pw", "--irc-ping-interval", "30",
                    "--irc-ping-timeout", "20")
    [(option, _endpoint)] = options["irc_listeners"]
    assert option == "--irc-port"
    settings = options["settings"]
    assert (settings.password, settings.irc_ping_interval, settings.irc_ping_timeout) == (
        "pw", 30, 20)
    service = makeService(options)
    assert len(list(service)) == 2


@pytest.mark.parametrize(("args", "message"), [
    (("--irc-tls-port", "6697"), "--irc-tls-port needs --tls-cert"),
    (("--irc-port", "nonsense:1"), "--irc-port 'nonsense:1'"),
    (("--irc-ping-interval", "soon"), "--irc-ping-interval 'soon': not a whole number"),
    (("--irc-ping-timeout", "0"), "--irc-ping-timeout '0': must be at least 1"),
    (("--tls-cert", "x.pem"), "--tls-cert/--tls-key need --tls-port or --irc-tls-port"),
    # The server name prefixes every IRC line: a space would break them all.
    (("--irc-port", "6667", "--name", "My Chat"),
     "--name 'My Chat': not usable as an IRC server name (it prefixes every IRC line: "
     "no spaces or control characters, not empty, not starting with ':')"),
    (("--irc-port", "6667", "--name", ":chat"), "--name ':chat': not usable"),
    (("--irc-port", "6667", "--name", ""), "--name '': not usable"),
    (("--irc-port", "6667", "--name", "chat\u2003server"), "not usable as an IRC server name"),
    (("--name", "chat\x07"), "--name 'chat\\x07': no control characters"),
])
def test_bad_irc_options(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(StartupFailure) as failure:
        parse(*args)
    assert message in str(failure.value)


def _certificate(directory: Path) -> tuple[Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path = directory / "server.pem"
    path.write_bytes(cert_pem + key_pem)
    return path, cert_pem


class Collector(protocol.Protocol):
    def __init__(self) -> None:
        self.data = b""

    def dataReceived(self, data: bytes) -> None:
        self.data += data


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_irc_over_tls(tmp_path: Path) -> None:
    pem, cert_pem = _certificate(tmp_path)
    options = parse("--irc-tls-port", "tcp:0:interface=127.0.0.1", "--tls-cert", str(pem))
    service = makeService(options)
    service.startService()
    try:
        irc_service = [s for s in service if s.option == "--irc-tls-port"][0]
        port = await irc_service._waitingForPort
        creator = ssl.optionsForClientTLS(
            "localhost", trustRoot=ssl.Certificate.loadPEM(cert_pem))
        endpoint = endpoints.wrapClientTLS(creator, endpoints.TCP4ClientEndpoint(
            reactor, "127.0.0.1", port.getHost().port, timeout=5))
        client = await endpoints.connectProtocol(endpoint, Collector())
        client.transport.write(b"NICK alice\r\nUSER a 0 * :A\r\nWHOIS alice\r\n")
        for _ in range(500):
            if b" 318 " in client.data:
                break
            await task.deferLater(reactor, 0.02, lambda: None)
        assert b":chatsvc 001 alice " in client.data
        assert b":chatsvc 671 alice alice :is using a secure connection" in client.data
        client.transport.loseConnection()
    finally:
        await defer.maybeDeferred(service.stopService)
