"""Password hashes: scrypt from the standard library, parameters kept with each hash.

Why scrypt (C{hashlib.scrypt}) rather than argon2-cffi: it is memory-hard
too (each hash needs C{128 * r * n} bytes, 16 MiB here, which is what makes
a GPU or ASIC guesser expensive), it is in every CPython built on OpenSSL
1.1+, and so it adds no dependency to a server that otherwise needs none.
Argon2id is the newer recommendation, but at equal memory cost the two are
close for an online service whose guessing is throttled anyway (see
L{chatsvc.accounts.throttle}).

A hash is one ASCII string, C{scrypt$n$r$p$salt$key} (salt and key in
unpadded base64): the parameters travel with it, so raising L{N} later
leaves old hashes readable (and L{needs_rehash} says which to renew at the
next login).  Checking compares in constant time (C{hmac.compare_digest}).

Both functions are CPU-bound (tens of milliseconds: docs/user/accounts.rst
has the figure): the hub never calls them on the reactor thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

#: scrypt's cost: 2**14 iterations of 8-block mixes, one lane: 16 MiB and
#: about 50 ms a hash on one core of a 2020s server.
N = 2 ** 14
R = 8
P = 1
#: Bytes of salt, and of the derived key.
SALT_BYTES = 16
KEY_BYTES = 32
#: What OpenSSL may allocate for one hash (its default, 32 MiB, is just over
#: what N=2**14 needs; room for hashes made with a larger N).
MAX_MEMORY = 256 * 1024 * 1024

#: Passwords are at least this many characters and at most this many bytes
#: (UTF-8): a longer one is refused before any hashing, so 100 KiB of
#: "password" costs nothing.  1024 bytes: a passphrase or a generated
#: token, sent by SASL PLAIN in three 400-byte chunks (irctest sends 592).
#: L{MIN_PASSWORD} is the default of C{--account-password-min}, which may be
#: anything from L{MIN_PASSWORD_LOWEST} to L{MIN_PASSWORD_HIGHEST}.
MIN_PASSWORD = 6
MIN_PASSWORD_LOWEST = 1
MIN_PASSWORD_HIGHEST = 64
MAX_PASSWORD_BYTES = 1024

_PREFIX = "scrypt"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=MAX_MEMORY, dklen=KEY_BYTES)


def hash_password(password: str, *, n: int | None = None, r: int | None = None,
                  p: int | None = None) -> str:
    """A new salted hash of C{password}, with its parameters (blocking: off the reactor).

    The parameters default to L{N}, L{R} and L{P} as they are when called.
    """
    n, r, p = n or N, r or R, p or P
    salt = os.urandom(SALT_BYTES)
    key = _derive(password, salt, n, r, p)
    return f"{_PREFIX}${n}${r}${p}${_b64(salt)}${_b64(key)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _PREFIX:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        return n, r, p, _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None


def verify_password(password: str, encoded: str) -> bool:
    """Whether C{password} is the one C{encoded} was made from (blocking: off the reactor).

    A malformed hash is never a match.  The comparison takes the same time
    however much of the key matched.
    """
    parsed = _parse(encoded)
    if parsed is None:
        return False
    n, r, p, salt, key = parsed
    try:
        candidate = _derive(password, salt, n, r, p)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(candidate, key)


def needs_rehash(encoded: str) -> bool:
    """Whether C{encoded} was made with other parameters than today's (renew it)."""
    parsed = _parse(encoded)
    return parsed is None or parsed[:3] != (N, R, P)


_dummy: list[str] = []


def dummy_hash() -> str:
    """A hash of a password nobody knows, checked when the account asked for
    does not exist: an unknown name costs the same work as a wrong password.
    Made on first use (off the reactor, like every hash)."""
    if not _dummy:
        _dummy.append(hash_password(_b64(os.urandom(18))))
    return _dummy[0]


def check_password_form(password: str, minimum: int = MIN_PASSWORD) -> str | None:
    """Why C{password} cannot be an account's password (too short, too long), or C{None}.

    C{minimum} is the fewest characters (the server's C{--account-password-min},
    which the account rules pass).
    """
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        return f"password too long: at most {MAX_PASSWORD_BYTES} bytes"
    if len(password) < minimum:
        return f"password too short: at least {minimum} characters"
    if any(not c.isprintable() or c.isspace() for c in password):
        return "password must be one word of printable characters"
    return None


__all__ = ["MAX_PASSWORD_BYTES", "MIN_PASSWORD", "MIN_PASSWORD_HIGHEST", "MIN_PASSWORD_LOWEST",
           "N", "P", "R",
           "check_password_form", "dummy_hash", "hash_password", "needs_rehash", "verify_password"]
