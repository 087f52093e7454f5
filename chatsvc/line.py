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
from chatsvc.lineformat import line_bytes
from chatsvc.sendq import SendQueue
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
        self._sendq: SendQueue | None = None
        self._attached = False
        self._closing = False
        self._leave_reason = "connection lost"
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
        self._sendq = SendQueue(
            self.transport, self.hub.settings.max_backlog, self._too_slow
        )
        if not self.hub.attach(self):
            self.deliver(Error("server shutting down" if self.hub.closing else "server full"))
            self._close()
            return
        self._attached = True
        self.log.info("connection from {host}", host=self.host)
        self.deliver(Notice(
            f"welcome to {self.hub.settings.server_name}! "
            "register with #yourname; /help lists commands"
        ))

    def connectionLost(self, reason: Failure = None) -> None:
        if self._attached:
            self._attached = False
            self.hub.detach(self, self._leave_reason)
            self.log.info("{host} disconnected ({why})", host=self.host,
                          why=self._leave_reason)

    def disconnect(self, reason: str) -> None:
        """Close this connection on the server's initiative, saying why.

        The user sees C{* reason} as the last line (C{* server shutting
        down}); the others see it leave with that reason.
        """
        if self._closing:
            return
        self._leave_reason = reason
        self.deliver(Notice(reason))
        self._close()

    def _too_slow(self) -> None:
        self._leave_reason = "too slow"
        self.log.warn("{host} ({name}) dropped: outbound backlog full",
                      host=self.host, name=self.name)
        self._close(abort=True)

    def _close(self, abort: bool = False) -> None:
        self._closing = True
        if self._sendq is not None:
            self._sendq.close(abort=abort)

    # -- output --------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        if self._sendq is not None:
            self._sendq.write(line_bytes(event))

    # -- input ---------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            if self._closing:
                return
            if line is TOO_LONG:
                self.deliver(Error("line too long"))
            else:
                self.lineReceived(line)

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
        self._leave_reason = argument or "quit"
        self.deliver(Notice("bye"))
        self._close()
