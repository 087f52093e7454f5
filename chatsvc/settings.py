"""Server settings shared by the hub and every adapter."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Settings:
    """What an operator configures; the defaults are the documented ones."""

    server_name: str = "chatsvc"
    room: str = "#chat"
    max_line: int = 4096
    max_clients: int = 10_000
    max_backlog: int = 1024 * 1024
    motd: list[str] = field(default_factory=list)
    #: Server operator accounts for ``/oper``: name -> password.
    opers: dict[str, str] = field(default_factory=dict)
    #: Most rooms one user may be in at once (IRC's CHANLIMIT).
    max_rooms: int = 50
