"""An in-memory message transport for tests: the shape of Twisted's WebSocketTransport.

Each message is recorded whole in C{messages} and its bytes go to an
underlying L{StringTransport}, and the producer is registered on that
transport, as Twisted's WebSocket transport does on its TCP connection: so
the backlog policy meets the same pause and resume calls as over a stream.
"""

from __future__ import annotations

from twisted.internet.interfaces import IPushProducer
from twisted.internet.testing import StringTransport


class MessageTransport:
    def __init__(self, under: StringTransport | None = None) -> None:
        self.under = StringTransport() if under is None else under
        self.messages: list[str | bytes] = []

    def sendTextMessage(self, text: str) -> None:
        self.messages.append(text)
        self.under.write(text.encode())

    def sendBytesMessage(self, data: bytes) -> None:
        self.messages.append(data)
        self.under.write(data)

    def loseConnection(self) -> None:
        self.under.loseConnection()

    def attachProducer(self, producer: IPushProducer) -> None:
        self.under.registerProducer(producer, True)

    def detachProducer(self) -> None:
        self.under.unregisterProducer()
