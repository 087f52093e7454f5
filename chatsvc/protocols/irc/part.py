"""What the parts of the IRC adapter mixed into its protocol may use of it.

L{chatsvc.protocols.irc.protocol.IRCChatProtocol} is built from mixins, one
module each (channels, users, monitor): each is written against
L{ProtocolPart}, the attributes and methods the protocol provides, declared
once here for the type checker (nothing here exists at run time but the
class).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from chatsvc.hub.participant import RecordBacked

if TYPE_CHECKING:
    from chatsvc.events import Event
    from chatsvc.hub.factory import ChatFactory
    from chatsvc.hub.users import User


class ProtocolPart(RecordBacked):
    """One part of the IRC protocol; the connection is a hub participant."""

    hub: ChatFactory
    record: User
    protocol_name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    server: Any
    deliver: Callable[[Event], None]
    disconnect: Callable[[str], None]
    _reply: Callable[..., None]
    _notice: Callable[[str], None]
    _write: Callable[[bytes], None]
    _write_line: Callable[..., None]
    _bulk_allowed: Callable[[str], bool]
    #: The IRCv3 capabilities this client enabled (CAP REQ).
    _caps: frozenset[str]
    if TYPE_CHECKING:  # provided by the protocol, as read-only properties
        @property
        def _me(self) -> str: ...

        @property
        def _source(self) -> str: ...


__all__ = ["ProtocolPart"]
