"""Client addresses: one spelling for each, from the moment a client connects.

A dual-stack listener (``[::]`` with C{IPV6_V6ONLY} off, as the shipped
systemd socket unit has it) reports an IPv4 client as C{::ffff:192.0.2.1}.
If that spelling reached the hub, a ban on C{*!*@192.0.2.*} would never
match the client, and WHOIS would show an address nobody typed.  So every
adapter takes its peer's host from L{peer_host}, and masks are normalised
with L{canonical_address} too.
"""

from __future__ import annotations

import ipaddress

UNKNOWN_HOST = "?"


def canonical_address(host: str) -> str:
    """The one spelling of an IP address that chatsvc shows, stores and matches.

    An IPv4-mapped IPv6 address is its IPv4 address; any other IPv6 address
    is in compressed form (C{::1}, also for IRC's C{0::1} and for
    C{0:0:0:0:0:0:0:1}), with its zone kept.  Text that is not an IP address
    (a hostname, a mask with wildcards, C{?}) is returned unchanged.
    """
    if not host or not (":" in host or host[0].isdigit()):
        return host
    address, percent, zone = host.partition("%")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return host
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed) + percent + zone


def peer_host(transport: object) -> str:
    """The canonical host of a connection's peer (L{UNKNOWN_HOST} for a UNIX socket)."""
    get_peer = getattr(transport, "getPeer", None)
    host = getattr(get_peer(), "host", None) if get_peer is not None else None
    return canonical_address(host) if isinstance(host, str) and host else UNKNOWN_HOST
