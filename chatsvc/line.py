"""The line protocol adapter: telnet and netcat friendly chat.

Client to server, one UTF-8 line each (``\\n`` or ``\\r\\n``)::

    #name           register; later, rename (also /nick name)
    @name:text      private message (also "@name text")
    /who /help /me action /quit [reason]
    /say text       room message, whatever it starts with
    //text          room message starting with '/'
    anything else   room message

Server to client: see L{chatsvc.lineformat}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.errors import ChatError, EmptyMessage
from chatsvc.events import Error, Event, Notice, Who
from chatsvc.framing import TOO_LONG, LineBuffer
from chatsvc.guard import Guard
from chatsvc.lineformat import line_bytes
from chatsvc.text import clean_line

if TYPE_CHECKING:
    from chatsvc.factory import ChatFactory

HELP = (
    "commands:",
    "  #name           register, or change your name (also /nick name)",
    "  @name:text      private message to name (also @name text)",
    "  /who            who is online",
    "  /me action      an action line: * you action",
    "  /quit [reason]  leave",
    "  /say text       say text, even if it starts with # @ or /",
    "  //text          say text that starts with /",
    "  anything else   say it to the room",
)


class LineChatProtocol(Protocol):
    """One line-protocol connection: parse lines into hub calls, render events."""

    log = Logger()

    def __init__(self, hub: ChatFactory) -> None:
        self.hub = hub
        self.name: str | None = None
        self.host = "?"
        self._lines = LineBuffer(hub.settings.max_line)
        self._guard: Guard | None = None
        self._commands: dict[str, Callable[[str], None]] = {
            "who": self._cmd_who,
            "help": self._cmd_help,
            "me": self._cmd_me,
            "quit": self._cmd_quit,
            "nick": self._cmd_nick,
            "say": self._cmd_say,
        }

    # -- connection lifecycle -----------------------------------------------

    def connectionMade(self) -> None:
        self.host = getattr(self.transport.getPeer(), "host", "?")
        self._guard = Guard(self.hub, self, self.transport, self._line)
        if not self._guard.start():
            return
        self.log.info("connection from {host}", host=self.host)
        self.deliver(Notice(
            f"welcome to {self.hub.settings.server_name}! "
            "register with #yourname; /help lists commands"
        ))

    def connectionLost(self, reason: Failure = None) -> None:
        guard = self._guard
        if guard is not None:
            attached = guard.attached
            guard.lost()
            if attached:
                self.log.info("{host} disconnected ({why})", host=self.host,
                              why=guard.reason)

    def disconnect(self, reason: str) -> None:
        """Close this connection on the server's initiative, saying why.

        The user sees C{* reason} as the last line (C{* server shutting
        down}); the others see it leave with that reason.
        """
        guard = self._guard
        if guard is None or guard.closing:
            return
        self.deliver(Notice(reason))
        guard.close(reason)

    # -- output --------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        if self._guard is not None:
            self._guard.write(line_bytes(event))

    # -- input ---------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        guard = self._guard
        if guard is None:
            return
        # Every line counts against the flood gate, blank and over-long too.
        for line in self._lines.feed(data):
            guard.received(line)

    def _line(self, line: bytes | object) -> None:
        if line is TOO_LONG:
            self.deliver(Error("line too long"))
        else:
            self.lineReceived(line)  # type: ignore[arg-type]

    def lineReceived(self, raw: bytes) -> None:
        """Handle one complete line; refusals become C{! ...} replies."""
        text = clean_line(raw)
        if not text.strip():
            return
        try:
            self._dispatch(text)
        except ChatError as refusal:
            self.deliver(Error(str(refusal)))

    def _dispatch(self, text: str) -> None:
        first = text[0]
        if first == "#":
            self.hub.register(self, text[1:].strip())
        elif first == "@":
            self._private(text[1:])
        elif text.startswith("//"):
            self.hub.say(self, None, text[1:])
        elif first == "/":
            command, _, argument = text[1:].partition(" ")
            handler = self._commands.get(command.lower())
            if handler is None:
                raise ChatError(f"unknown command: /{command}")
            handler(argument.strip())
        else:
            self.hub.say(self, None, text)

    def _private(self, rest: str) -> None:
        colon, space = rest.find(":"), rest.find(" ")
        cut = min(i for i in (colon, space, len(rest)) if i >= 0)
        target, body = rest[:cut], rest[cut + 1:].strip()
        if not target:
            raise ChatError("say who: @name:text")
        if not body:
            raise EmptyMessage()
        self.hub.whisper(self, target, body)

    # -- commands ------------------------------------------------------------

    def _cmd_who(self, argument: str) -> None:
        room, names = self.hub.who(None)
        self.deliver(Who(room, tuple(names)))

    def _cmd_help(self, argument: str) -> None:
        for line in HELP:
            self.deliver(Notice(line))

    def _cmd_me(self, argument: str) -> None:
        self.hub.say(self, None, argument, action=True)

    def _cmd_say(self, argument: str) -> None:
        self.hub.say(self, None, argument)

    def _cmd_nick(self, argument: str) -> None:
        self.hub.register(self, argument)

    def _cmd_quit(self, argument: str) -> None:
        self.deliver(Notice("bye"))
        if self._guard is not None:
            self._guard.close(argument or "quit")
