"""Server settings shared by the hub and every adapter."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Settings:
    """What an operator configures; the defaults are the documented ones."""

    server_name: str = "chatsvc"
    #: The default room: where line users land on registering and return
    #: to with C{/part}.  C{None} runs with no default room (C{--room none}):
    #: every room is one somebody joined, as on an IRC-only server.
    room: str | None = "#chat"
    max_line: int = 4096
    max_clients: int = 10_000
    max_backlog: int = 1024 * 1024
    #: Flood gate (see L{chatsvc.conn.limits.FloodGate}): lines per second after a
    #: burst, and how many lines may wait before the client is "flooding".
    flood_rate: float = 2.0
    flood_burst: int = 10
    flood_queue: int = 50
    max_per_ip: int = 16
    #: New connections one address may open per C{connect_window} seconds
    #: (L{chatsvc.conn.limits.ConnectThrottle}); 0 turns the throttle off.
    connect_rate: int = 32
    connect_window: float = 600.0
    #: IP addresses or networks that C{max_per_ip} and C{connect_rate} do
    #: not apply to.
    per_ip_exempt: list[str] = field(default_factory=list)
    #: Seconds a connection may stay unregistered; 0 means forever.
    register_timeout: float = 60.0
    motd: list[str] = field(default_factory=list)
    #: Server operator accounts for ``/oper``: name -> password.
    opers: dict[str, str] = field(default_factory=dict)
    #: Most rooms one user may be in at once (IRC's CHANLIMIT).
    max_rooms: int = 50
    #: A server password every client must give before registering (line:
    #: /pass, IRC: PASS); None for none.
    password: str | None = None
    # IRC liveness: PING a client silent this long (seconds; 0: never), then
    # drop it if it stays silent for the timeout.
    irc_ping_interval: float = 90.0
    irc_ping_timeout: float = 90.0
    # WebSocket liveness, the same for the web listener: a WebSocket ping
    # after this much silence (0: never), then the timeout to answer it.
    web_ping_interval: float = 60.0
    web_ping_timeout: float = 60.0
    #: Networks of the reverse proxies whose X-Forwarded-For the web
    #: listener believes (chatsvc/protocols/web/proxy.py).
    web_trusted_proxies: list[str] = field(default_factory=list)
