"""The twistd plugin: ``twistd -n chat --port 12345``.

Only the IServiceMaker lives here; twisted/plugins must stay a namespace
directory (no __init__.py) for twistd to find it.
"""

from twisted.application.service import ServiceMaker

chat = ServiceMaker(
    "chatsvc",
    "chatsvc.service.tap",
    "Multi-protocol chat server: line protocol and IRC, over TCP and TLS",
    "chat",
)
