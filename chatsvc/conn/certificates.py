"""A TLS client's certificate: asked for, never required, known by its fingerprint.

Accounts may be reached with a client certificate instead of a password
(SASL EXTERNAL, NickServ's CERT, the line protocol's C{/certfp}), the way
ergo and the other IRC servers do "certfp": the certificate is nearly always
self-signed, so nothing is verified against a CA.  What identifies the
client is the SHA-256 of the DER certificate, in lowercase hex; the TLS
handshake itself proves the client holds the certificate's private key.

A listener asks for a certificate (OpenSSL's C{VERIFY_PEER} without
C{VERIFY_FAIL_IF_NO_PEER_CERT}) and accepts whatever is offered, or none:
a client without one connects as before.  L{chatsvc.service.tls.ServerTLS}
asks on its context; L{ask_for_certificate} asks on one connection whose
context came from elsewhere (an C{ssl:} or C{tls:} endpoint string), before
its handshake.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import hashes
from OpenSSL import SSL

#: What OpenSSL is told: ask for a certificate, only in the first handshake,
#: and do not fail without one.
VERIFY_MODE = SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE

#: The session id context of a listener asking for certificates: OpenSSL
#: refuses to resume a session of a context that asks for certificates and
#: has none (C{session id context uninitialized}), which would fail a
#: reconnecting client's handshake.
SESSION_ID_CONTEXT = b"chatsvc"

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def accept_any(connection: SSL.Connection, certificate: object, error: int, depth: int,
               ok: int) -> bool:
    """OpenSSL's verify callback: any certificate, self-signed or expired.

    The certificate is not trusted for what it says, only recognised by its
    fingerprint, which an account must have been given beforehand.
    """
    return True


def ask_on_context(context: SSL.Context) -> None:
    """Make every connection of C{context} ask its client for a certificate."""
    context.set_session_id(SESSION_ID_CONTEXT)
    context.set_verify(VERIFY_MODE, accept_any)


def _connection(transport: object) -> SSL.Connection | None:
    get_handle = getattr(transport, "getHandle", None)
    handle = get_handle() if get_handle is not None else None
    return handle if isinstance(handle, SSL.Connection) else None


def ask_for_certificate(transport: object) -> None:
    """Ask the client of this TLS C{transport} for a certificate, before its handshake.

    For a context that does not ask (an C{ssl:}/C{tls:} endpoint string's,
    Twisted's C{CertificateOptions}, which has a session id context of its
    own, so resuming a session still works): this connection asks.  Nothing
    for a transport that is not TLS, or whose context asks already.
    """
    connection = _connection(transport)
    if connection is None or connection.get_context().get_verify_mode() & SSL.VERIFY_PEER:
        return
    connection.set_verify(VERIFY_MODE, accept_any)


def fingerprint_of(transport: object) -> str | None:
    """The SHA-256 fingerprint (lowercase hex) of the client's certificate,
    once the handshake is done; C{None} without TLS or a certificate."""
    connection = _connection(transport)
    if connection is None:
        return None
    certificate = connection.get_peer_certificate(as_cryptography=True)
    return None if certificate is None else certificate.fingerprint(hashes.SHA256()).hex()


def normalize(text: str) -> str | None:
    """A fingerprint as typed (any case, with or without colons) in our form,
    or C{None} if it is not one (64 hex digits)."""
    candidate = text.strip().replace(":", "").lower()
    return candidate if _FINGERPRINT.fullmatch(candidate) else None


__all__ = ["accept_any", "ask_for_certificate", "ask_on_context",
           "fingerprint_of", "normalize"]
