"""Server-side TLS from PEM files, with TLS 1.2 as the floor.

We build the OpenSSL context from the files directly rather than through
C{ssl:} endpoint strings so that (a) a certificate chain in one PEM file just
works, (b) errors name the file and the problem in one line, and (c) the
context can be swapped at run time for certificate rotation: every new
connection asks L{ServerTLS} for the current context.  Every context asks
the client for a certificate, requires none and verifies none
(L{chatsvc.conn.certificates}): its fingerprint is how accounts recognise
it (SASL EXTERNAL, C{CERT ADD}, C{/certfp}).
"""

from __future__ import annotations

import os
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from zope.interface import implementer

from chatsvc.conn.certificates import ask_on_context


class TLSConfigError(Exception):
    """The certificate or key cannot be used; C{str()} says which and why."""


def _openssl_reason(error: SSL.Error) -> str:
    reasons = [entry[-1] for entry in error.args[0] if entry and entry[-1]] if error.args else []
    return ", ".join(reasons) or "not a usable PEM file"


_PEM_BLOCK = re.compile(rb"-----BEGIN ([^-]+)-----.*?-----END \1-----", re.DOTALL)


def _holds_private_key(path: str) -> bool:
    """Whether the PEM file at C{path} has a private key block in it (the
    certificate was read from it already, so it is readable)."""
    try:
        with open(path, "rb") as pem:
            return any(b"PRIVATE KEY" in match[1] for match in _PEM_BLOCK.finditer(pem.read()))
    except OSError:
        return True  # let OpenSSL say what is wrong with it


@implementer(IOpenSSLServerConnectionCreator)
class ServerTLS:
    """An OpenSSL server context loaded from C{cert_path} (and C{key_path}).

    C{cert_path} holds the certificate chain, leaf first, and the private key
    unless C{key_path} names a separate key file.
    """

    def __init__(self, cert_path: str, key_path: str | None = None) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self._context = self._load()

    def _load(self) -> SSL.Context:
        for option, path in (("--tls-cert", self.cert_path), ("--tls-key", self.key_path)):
            if path is not None and not os.access(path, os.R_OK):
                why = "no such file" if not os.path.exists(path) else "not readable"
                raise TLSConfigError(f"{option} {path}: {why}")
            if path is not None and os.path.isdir(path):
                raise TLSConfigError(f"{option} {path}: a directory, not a PEM file")
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE)
        ask_on_context(context)
        try:
            context.use_certificate_chain_file(self.cert_path)
        except SSL.Error as error:
            raise TLSConfigError(
                f"--tls-cert {self.cert_path}: no usable certificate ({_openssl_reason(error)})"
            ) from None
        key_path = self.key_path or self.cert_path
        option = "--tls-key" if self.key_path else "--tls-cert"
        if self.key_path is None and not _holds_private_key(self.cert_path):
            raise TLSConfigError(
                f"--tls-cert {self.cert_path}: holds no private key; give the key file "
                "with --tls-key (or append the key to this file)")
        try:
            context.use_privatekey_file(key_path)
            context.check_privatekey()
        except SSL.Error as error:
            raise TLSConfigError(
                f"{option} {key_path}: no private key matching the certificate "
                f"({_openssl_reason(error)})"
            ) from None
        return context

    def reload(self) -> None:
        """Re-read the files; on error keep serving the old context and raise."""
        self._context = self._load()

    def getContext(self) -> SSL.Context:
        """The current context (the old-style context-factory interface)."""
        return self._context

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        return SSL.Connection(self._context, None)


def _public(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pem_directory(path: str) -> None:
    """Check the directory of a Twisted C{tls:} endpoint before Twisted reads it.

    Twisted 26.10's loader (C{twisted.protocols._sni}) serves nothing, silently,
    from a missing directory or one without a certificate and its key; and it
    loops forever following the issuer of a self-signed certificate that has
    no key there (a root CA) back to itself.  It reads every C{*.pem} file
    under C{path}; so do we.
    """
    if not os.path.isdir(path):
        raise TLSConfigError(
            f"{path!r} is not a directory of PEM files (the form is tls:DIRECTORY:port=N)")
    certificates: list[tuple[str, x509.Certificate]] = []
    keys: set[bytes] = set()
    for directory, _, names in os.walk(path):
        for name in sorted(names):
            file = os.path.join(directory, name)
            if not name.endswith(".pem") or not os.path.isfile(file):
                continue
            try:
                with open(file, "rb") as pem:
                    data = pem.read()
                for match in _PEM_BLOCK.finditer(data):
                    if b"CERTIFICATE" in match[1]:
                        certificates.append((file, x509.load_pem_x509_certificate(match[0])))
                    else:
                        key = serialization.load_pem_private_key(match[0], None)
                        keys.add(_public(key.public_key()))
            except OSError as error:
                raise TLSConfigError(f"{file}: {error.strerror or error}") from None
            except (ValueError, TypeError) as error:
                raise TLSConfigError(f"{file}: not a usable PEM file ({error})") from None
    if not any(_public(cert.public_key()) in keys for _, cert in certificates):
        raise TLSConfigError(f"no certificate with its private key in {path}")
    for file, cert in certificates:
        if cert.issuer == cert.subject and _public(cert.public_key()) not in keys:
            raise TLSConfigError(
                f"{file} holds a self-signed (root) certificate, which Twisted's tls: "
                "endpoint cannot use: leave the root out of the directory")
