"""chatsvc.client over real TLS on loopback: verified, or refused with a reason."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints

from chatsvc.client import ClientError, ConnectFailed, TLSVerificationFailed, connect
from chatsvc.events import RoomMessage
from chatsvc.hub.factory import ChatFactory
from chatsvc.service.tls import ServerTLS

pytestmark = pytest.mark.integration


def _self_signed(directory: Path, hostname: str) -> tuple[Path, Path]:
    """A self-signed certificate for C{hostname} (what `openssl req -x509` makes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "self.pem", directory / "self.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


async def _listen(cert: Path, key: Path):
    from twisted.internet import reactor

    tcp = endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
    return await endpoints.wrapServerTLS(ServerTLS(str(cert), str(key)), tcp).listen(
        ChatFactory())


@pytest.fixture
def tls_port(certs):
    port = pytest_twisted.blockon(defer.ensureDeferred(_listen(certs.cert, certs.key)))
    yield port.getHost().port
    pytest_twisted.blockon(port.stopListening())


@pytest_twisted.ensureDeferred
async def test_verified_tls_by_name_and_by_address(tls_port, certs) -> None:
    from twisted.internet import reactor

    alice = await connect(reactor, f"tls:localhost:{tls_port}", "alice",
                          cafile=str(certs.ca), timeout=10)
    bob = await connect(reactor, f"127.0.0.1:{tls_port}", "bob", tls=True,
                        cafile=str(certs.ca), timeout=10)
    alice.say("secret")
    event = await bob.next_event(kind=RoomMessage, timeout=10)
    assert (event.sender, event.text) == ("alice", "secret")
    await alice.quit()
    await bob.quit()


@pytest_twisted.ensureDeferred
async def test_wrong_host_name_is_refused(tls_port, certs) -> None:
    from twisted.internet import reactor

    with pytest.raises(TLSVerificationFailed, match="not valid for evil.example"):
        await connect(reactor, f"tls:127.0.0.1:{tls_port}", "alice",
                      cafile=str(certs.ca), hostname="evil.example", timeout=10)


@pytest_twisted.ensureDeferred
async def test_untrusted_certificate_is_refused(tls_port) -> None:
    from twisted.internet import reactor

    # The system's roots do not include the test CA.
    with pytest.raises(TLSVerificationFailed, match="not trusted"):
        await connect(reactor, f"tls:localhost:{tls_port}", "alice", timeout=10)


@pytest_twisted.ensureDeferred
async def test_self_signed_certificate_trusted_with_cafile(tmp_path) -> None:
    from twisted.internet import reactor

    cert, key = _self_signed(tmp_path, "localhost")
    port = await _listen(cert, key)
    try:
        target = f"localhost:{port.getHost().port}"
        session = await connect(reactor, target, "alice", tls=True, cafile=str(cert),
                                timeout=10)
        assert session.names == ["alice"]
        await session.quit()
        other, _ = _self_signed(tmp_path / "..", "localhost")
        with pytest.raises(TLSVerificationFailed, match="not trusted"):
            await connect(reactor, target, "bob", tls=True, cafile=str(other), timeout=10)
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_unusable_cafile_is_a_clear_error(tmp_path) -> None:
    from twisted.internet import reactor

    with pytest.raises(ClientError, match="--cafile .*missing.pem: No such file"):
        await connect(reactor, "tls:localhost:1", "alice", cafile=str(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ClientError, match="no PEM certificate"):
        await connect(reactor, "tls:localhost:1", "alice", cafile=str(junk))


@pytest_twisted.ensureDeferred
async def test_tls_to_a_plain_port_is_no_certificate_problem(certs) -> None:
    """A handshake that fails for another reason is ConnectFailed, not a verification failure."""
    from twisted.internet import reactor

    plain = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        ChatFactory())
    try:
        with pytest.raises(ConnectFailed, match="TLS handshake failed") as caught:
            await connect(reactor, f"localhost:{plain.getHost().port}", "alice", tls=True,
                          cafile=str(certs.ca), timeout=10)
        assert not isinstance(caught.value, TLSVerificationFailed)
    finally:
        await plain.stopListening()


@pytest_twisted.ensureDeferred
async def test_failures_say_what_to_do(tls_port, certs) -> None:
    """A name mismatch suggests --servername (no VerificationError repr); TLS to a
    plain port says the port does not speak TLS."""
    from twisted.internet import reactor

    with pytest.raises(TLSVerificationFailed) as caught:
        await connect(reactor, f"tls:127.0.0.1:{tls_port}", "alice", hostname="127.0.0.2",
                      cafile=str(certs.ca), timeout=10)
    assert str(caught.value) == (
        "TLS: the server's certificate is not valid for 127.0.0.2 (it is for another name "
        "or address): connect by a name the certificate carries, or give one with "
        "--servername")
    plain = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        ChatFactory())
    try:
        with pytest.raises(ConnectFailed) as refused:
            await connect(reactor, f"localhost:{plain.getHost().port}", "alice", tls=True,
                          cafile=str(certs.ca), timeout=10)
        assert str(refused.value).endswith(": that port does not speak TLS; try without --tls")
    finally:
        await plain.stopListening()
