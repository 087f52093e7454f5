"""Client certificates over real TLS on loopback, from Python's own ssl module.

The listeners ask for a certificate without requiring one: its SHA-256
fingerprint reaches the user's record (the line protocol's /certfp, WHOIS
276), NickServ's CERT ADD gives it to an account and SASL EXTERNAL then logs
in with it; a client without a certificate connects as before.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import socket
import ssl
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from chatsvc.service.tap import Options, makeService

pytestmark = pytest.mark.integration

TIMEOUT = 10.0


def client_certificate(directory: Path) -> tuple[Path, Path, str]:
    """A self-signed client certificate (what `openssl req -x509` makes), its
    key and its SHA-256 fingerprint."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jilles")])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "client.pem", directory / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return cert_path, key_path, fingerprint


@pytest.fixture
def server(certs, tmp_path):
    """Line over TLS and IRC over TLS, with accounts."""
    options = Options()
    options.parseOptions([
        "--port", "none", "--name", "chat.test", "--data-dir", str(tmp_path / "data"),
        "--tls-port", "tcp:0:interface=127.0.0.1",
        "--irc-tls-port", "tcp:0:interface=127.0.0.1",
        "--tls-cert", str(certs.cert), "--tls-key", str(certs.key),
    ])
    root = makeService(options)
    root.startService()
    ports = []
    for service in root:
        if hasattr(service, "whenListening"):
            ports.append(pytest_twisted.blockon(service.whenListening()).getHost().port)
    line, irc = ports
    yield {"line": line, "irc": irc}
    pytest_twisted.blockon(root.stopService())


class Client:
    """A blocking TLS client (run in a thread): lines in, lines out."""

    def __init__(self, port: int, ca: Path, cert: tuple[Path, Path] | None) -> None:
        context = ssl.create_default_context(cafile=str(ca))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.buffer = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall(b"".join(line.encode() + b"\r\n" for line in lines))

    def until(self, needle: str, limit: int = 200) -> list[str]:
        """The lines up to the first one holding C{needle} (bounded)."""
        seen: list[str] = []
        for _ in range(limit):
            while b"\n" not in self.buffer:
                data = self.sock.recv(65536)
                if not data:
                    raise AssertionError(f"closed before {needle!r}: {seen}")
                self.buffer += data
            line, self.buffer = self.buffer.split(b"\n", 1)
            seen.append(line.decode().rstrip("\r"))
            if needle in seen[-1]:
                return seen
        raise AssertionError(f"no {needle!r} in {seen}")

    def close(self) -> None:
        self.sock.close()


def irc_session(port: int, ca: Path, cert: tuple[Path, Path], fingerprint: str) -> list[str]:
    """Register an account over IRC, CERT ADD, WHOIS; then log in again by EXTERNAL."""
    first = Client(port, ca, cert)
    first.send("NICK jilles", "USER j 0 * :J")
    first.until(" 001 ")
    first.send("PRIVMSG NickServ :REGISTER sesame-123")
    first.until(" 900 ")
    first.send("PRIVMSG NickServ :CERT ADD")
    added = first.until("added to your account")[-1]
    first.send("WHOIS jilles")
    whois = first.until(" 318 ")
    first.send("QUIT")
    first.close()
    second = Client(port, ca, cert)
    second.send("CAP LS 302", "CAP REQ :sasl", "NICK other", "USER o 0 * :O",
                "AUTHENTICATE EXTERNAL")
    second.until("AUTHENTICATE +")
    second.send("AUTHENTICATE +")
    sasl = second.until(" 903 ")
    second.send("CAP END")
    second.until(" 001 ")
    second.close()
    return [added, *whois, *sasl]


def line_session(port: int, ca: Path, cert: tuple[Path, Path] | None) -> str:
    client = Client(port, ca, cert)
    client.until("welcome")
    client.send("#visitor", "/certfp")
    answer = client.until("certificate")[-1]
    client.close()
    return answer


@pytest_twisted.ensureDeferred
async def test_certificate_fingerprint_cert_add_and_sasl_external(server, certs,
                                                                 tmp_path) -> None:
    cert, key, fingerprint = client_certificate(tmp_path)
    lines = await deferToThread(irc_session, server["irc"], certs.ca, (cert, key), fingerprint)
    assert lines[0].endswith(f"Certificate {fingerprint} added to your account")
    assert f":chat.test 276 jilles jilles :has client certificate fingerprint {fingerprint}" \
        in lines
    assert any(" 671 jilles jilles " in line for line in lines)
    assert any(line.startswith(":chat.test 900 * ") and " jilles :You are now logged in" in line
               for line in lines)
    assert lines[-1] == ":chat.test 903 * :SASL authentication successful"


@pytest_twisted.ensureDeferred
async def test_line_tls_with_and_without_a_certificate(server, certs, tmp_path) -> None:
    cert, key, fingerprint = client_certificate(tmp_path)
    shown = await deferToThread(line_session, server["line"], certs.ca, (cert, key))
    assert shown == f"* your certificate: {fingerprint}"
    none = await deferToThread(line_session, server["line"], certs.ca, None)
    assert none == "* you showed no TLS client certificate"


@pytest_twisted.ensureDeferred
async def test_an_ssl_endpoint_string_asks_too(certs, tmp_path) -> None:
    """An C{ssl:} string's context is Twisted's, which asks for nothing: the
    connection asks (L{chatsvc.conn.certificates.ask_for_certificate})."""
    options = Options()
    options.parseOptions([
        "--port", "none", "--data-dir", "none",
        "--tls-port", f"ssl:0:interface=127.0.0.1:privateKey={certs.key}:certKey={certs.cert}",
    ])
    root = makeService(options)
    root.startService()
    try:
        [service] = [s for s in root if hasattr(s, "whenListening")]
        port = (await service.whenListening()).getHost().port
        cert, key, fingerprint = client_certificate(tmp_path)
        for _ in range(2):  # the second connection's context has a session id context
            shown = await deferToThread(line_session, port, certs.ca, (cert, key))
            assert shown == f"* your certificate: {fingerprint}"
    finally:
        await root.stopService()


def web_session(port: int, ca: Path, cert: tuple[Path, Path], name: str) -> ssl.SSLSocket:
    """A WebSocket client over TLS showing C{cert}: registers C{name}, and its
    socket is returned open (the caller closes it)."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request, TextMessage

    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock = context.wrap_socket(raw, server_hostname="localhost")
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host=f"127.0.0.1:{port}", target="/ws", extra_headers=[
        (b"origin", f"https://127.0.0.1:{port}".encode())])))
    for _ in range(50):
        ws.receive_data(sock.recv(65536))
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                sock.sendall(ws.send(TextMessage(
                    json.dumps({"type": "register", "name": name}))))
            elif isinstance(event, TextMessage) and json.loads(event.data)["type"] == \
                    "registered":
                return sock
    sock.close()
    raise AssertionError("never registered over the WebSocket")


def oper_whois(port: int, ca: Path, name: str) -> str:
    client = Client(port, ca, None)
    client.until("welcome")
    client.send("#operator", "/oper boss boss-password", f"/whois {name}")
    answer = client.until(f"* {name}: ")[-1]
    client.close()
    return answer


@pytest_twisted.ensureDeferred
async def test_the_web_listener_records_the_certificate_too(certs, tmp_path) -> None:
    options = Options()
    options.parseOptions([
        "--port", "none", "--data-dir", "none", "--oper", "boss:boss-password",
        "--tls-port", "tcp:0:interface=127.0.0.1",
        "--web-tls-port", "tcp:0:interface=127.0.0.1",
        "--tls-cert", str(certs.cert), "--tls-key", str(certs.key),
    ])
    root = makeService(options)
    root.startService()
    try:
        line, web = [(await s.whenListening()).getHost().port
                     for s in root if hasattr(s, "whenListening")]
        cert, key, fingerprint = client_certificate(tmp_path)
        sock = await deferToThread(web_session, web, certs.ca, (cert, key), "webby")
        try:
            shown = await deferToThread(oper_whois, line, certs.ca, "webby")
        finally:
            sock.close()
        assert f"certificate {fingerprint}" in shown and "web over TLS" in shown
    finally:
        await root.stopService()
