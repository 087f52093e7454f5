"""Whose address a web connection is: the peer's, or the one a trusted proxy forwarded.

Behind a reverse proxy every browser connects from the proxy's address, so
the per-address limits would count all of them as one user and every
user's host would be the proxy's.  The proxy says who its client was in
C{X-Forwarded-For}; anyone can send that header, so it is believed only
from the networks of C{--web-trusted-proxy}, and then only as far as those
networks reach: each proxy appends the address it received the request
from, so the list is read from the right, skipping the hops that are
trusted proxies themselves, and the first address that is not one is the
client.  Everything left of it was written by the client (or by proxies
nobody vouches for) and is ignored.  A hop that is not an IP address stops
the walk there: the client is the last trusted proxy seen.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from chatsvc.hub.hosts import canonical_address

#: Hops of C{X-Forwarded-For} looked at, at most: a chain of proxies is
#: short, and a header of thousands of hops must not cost thousands of parses.
MAX_HOPS = 32

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> _Address | None:
    """One hop as an address: C{192.0.2.1}, C{2001:db8::1}, C{[2001:db8::1]:443}, C{1.2.3.4:80}."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The networks whose C{X-Forwarded-For} is believed (C{--web-trusted-proxy}).

    @param networks: addresses or networks (C{127.0.0.1/32}, C{::1},
        C{10.0.0.0/8}); already checked by the options.
    """

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(network.strip(), strict=False) for network in networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: _Address) -> bool:
        return any(address.version == network.version and address in network
                   for network in self.networks)

    def client_host(self, peer: str, forwarded: Sequence[str | bytes]) -> str:
        """The client's host: C{peer}'s, or the one its trusted proxies forwarded.

        @param peer: the connection's peer host (canonical, L{peer_host}).
        @param forwarded: the request's C{X-Forwarded-For} values, in order.
        """
        if not self.networks or not forwarded:
            return peer
        address = _address(peer)
        if address is None or not self.trusts(address):
            return peer
        hops: list[str] = []
        for value in forwarded:
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            hops.extend(text.split(","))
        client = address
        for hop in reversed(hops[-MAX_HOPS:]):
            found = _address(hop)
            if found is None:
                break  # not an address: nothing left of it can be believed
            client = found
            if not self.trusts(found):
                break
        return canonical_address(str(client))
