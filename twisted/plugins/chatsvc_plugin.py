"""The twistd plugin: ``twistd -n chat``.

Only the IServiceMaker lives here; twisted/plugins must stay a namespace
directory (no __init__.py) for twistd to find it.  Like Twisted's own
C{ServiceMaker} it imports chatsvc only when C{twistd chat} is run, not
whenever twistd lists its plugins; unlike it, the service it makes has its
ports bound already (L{chatsvc.service.tap.makeListeningService}), so that
failing to listen is reported before twistd forks or takes over stderr.
"""

from typing import Any

from twisted.application.service import IService, IServiceMaker
from twisted.plugin import IPlugin
from zope.interface import implementer


@implementer(IPlugin, IServiceMaker)
class ChatServiceMaker:
    name = "chatsvc"
    tapname = "chat"
    description = "Multi-protocol chat server: line protocol and IRC, over TCP and TLS"

    @property
    def options(self) -> Any:
        from chatsvc.service.tap import Options

        return Options

    def makeService(self, options: Any) -> IService:
        from chatsvc.service.tap import makeListeningService

        return makeListeningService(options)


chat = ChatServiceMaker()
