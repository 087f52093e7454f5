"""Room history for IRC clients (issue 18): what is kept, and the replay after a JOIN.

After the welcome burst (001 to the MOTD) a client is told, in a server
NOTICE, what the server keeps.  After the JOIN, topic and NAMES burst of a
room with messages kept, it is told what the room keeps (C{#rust keeps
history for 30 days}) and shown the room's last C{--history-replay}
messages as PRIVMSGs (NOTICEs, ACTIONs) from their original senders, as
ergo's autoreplay does.  A room whose history is still empty adds nothing
to the JOIN burst (clients and scripts parse it, and ergo adds nothing
either): the NOTICE at connection said what every room keeps.  A C{+x}
room, and any join with no replay to come, gets the NOTICE at once.

  - with C{server-time} negotiated, each carries C{@time=} with the time it
    was said;
  - without it, its text starts with C{[HH:MM] } (UTC; C{[YYYY-MM-DD HH:MM] }
    for another day).

Order: the store reads after every message recorded before the JOIN, and
until the read is done the events for this client are held (the
connection's C{_held} list, which L{IRCChatProtocol.deliver} already
appends to), then written after the replay: so the replay shows what was
said before the JOIN, the live lines what was said after, neither twice nor
missing.  The client's own next commands wait too, in the flood gate
(L{chatsvc.conn.guard.Guard.hold_input}): their replies (a PONG, a 324)
come after the replay, in the order the commands were sent, as they would
from a server that reads its history in memory.  In a room so busy that
L{HOLD_LIMIT} events arrive during the read, the held events and lines go
on and the replay follows when it comes.

A client that negotiated C{batch} and C{server-time} gets the replay as a
C{chathistory} batch (C{BATCH +id chathistory #room}), its messages from
their senders' C{nick!user@host} with C{time}, and C{msgid} and C{account}
when it negotiated message-tags and account-tag: the lines a
C{CHATHISTORY} request answers with (L{chatsvc.protocols.irc.chathistory}),
so a client tells the replay from live messages (ergo does the same).  One
that negotiated C{draft/chathistory} gets no replay, as the specification
asks (it asks for what it lacks, and a replay would duplicate it): only the
NOTICE of what the room keeps.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.events import Event, utc_time
from chatsvc.protocols.irc import wire
from chatsvc.protocols.irc.chathistory import BATCH_TYPE, CHATHISTORY, message_lines
from chatsvc.protocols.irc.labels import BATCH
from chatsvc.protocols.irc.render import ACTION, SERVER_TIME
from chatsvc.store.delivery import history_of
from chatsvc.store.sqlite import MESSAGE, TOPIC, StoredMessage

if TYPE_CHECKING:
    from chatsvc.conn.guard import Guard
    from chatsvc.hub.factory import ChatFactory
    from chatsvc.hub.rooms import Room

#: What the replay on JOIN shows: what was said, and topic changes (as a
#: server NOTICE, as ergo's HistServ tells them without event-playback);
#: joins and parts never (ergo's default: not on autoreplay).
REPLAYED = (MESSAGE, TOPIC)

#: Events held for a client while a replay is read, at most.
HOLD_LIMIT = 2000

#: Seconds a replay may keep the client's events and commands waiting: a
#: store that stalls (a locked file, an unreachable PostgreSQL) costs the
#: replay's order, never the connection.
HOLD_SECONDS = 5.0

log = Logger()

# A stored sender used as an IRC prefix: one word, no "!", "@" or leading ":"
# (chatsvc's names never have them; an edited database might).
_SENDER = re.compile(r"[^\s!@:\x00-\x1f\x7f][^\s!@\x00-\x1f\x7f]*")


class Replaying(Protocol):
    """What the replay needs of an IRC connection."""

    hub: ChatFactory
    _held: list[Event] | None
    _caps: frozenset[str]
    _guard: Guard | None

    @property
    def _me(self) -> str: ...

    def _write(self, data: bytes) -> None: ...

    def deliver(self, event: Event) -> None: ...

    def next_batch_id(self) -> str: ...


class _Hold(list[Event]):
    """The held events of one replay; past L{HOLD_LIMIT} events or
    L{HOLD_SECONDS}, it stops holding (the replay follows when it comes)."""

    def __init__(self, give_up: Callable[[], None]) -> None:
        super().__init__()
        self.give_up = give_up
        self.late = False

    def append(self, event: Event) -> None:
        super().append(event)
        if len(self) > HOLD_LIMIT:
            self.expire()

    def expire(self) -> None:
        """Stop holding now, once."""
        if not self.late:
            self.late = True
            self.give_up()


def stamp(when: float, now: float) -> str:
    """C{12:01} (UTC), or C{2026-12-02 12:01} on another UTC day than C{now}."""
    moment = time.gmtime(when)
    if moment[:3] == time.gmtime(now)[:3]:
        return time.strftime("%H:%M", moment)
    return time.strftime("%Y-%m-%d %H:%M", moment)


def replay_lines(room: str, messages: list[StoredMessage], server_time: bool,
                 now: float, server: str = "*") -> bytes:
    """The IRC lines of a replay of C{room}: each message from its sender,
    tagged with C{@time=} for a client with C{server-time}, else with its
    time at the start of the text; a topic change as a NOTICE from
    C{server} (C{alice set the topic to: text}).  Long texts are split as
    live ones are; CR, LF and NUL never reach the wire."""
    out: list[bytes] = []
    for message in messages:
        sender = message.sender if _SENDER.fullmatch(message.sender) else "*"
        command = "NOTICE" if message.notice else "PRIVMSG"
        said = message.text
        if message.kind == TOPIC:
            said = (f"{sender} set the topic to: {said}" if said
                    else f"{sender} cleared the topic")
            sender, command = server, "NOTICE"
        elif message.kind != MESSAGE:  # not asked for (REPLAYED)
            continue
        text = said if server_time else f"[{stamp(message.time, now)}] {said}"
        wrap = ACTION if message.action else ("", "")
        tag = f"@time={utc_time(message.time)} " if server_time else ""
        for line in wire.fit(sender, command, (room,), text, wrap):
            out.append(tag.encode("ascii") + wire.encode(line))
    return b"".join(out)


def replay_batch(protocol: Replaying, room: str, messages: list[StoredMessage]) -> bytes:
    """The replay of C{room} as a C{chathistory} batch, for a client with
    C{batch} and C{server-time} (nothing when there is nothing to replay)."""
    if not messages:
        return b""
    server = protocol.hub.settings.server_name
    caps = protocol._caps
    reference = protocol.next_batch_id()
    batch_tag = wire.tag_section([("batch", reference)])
    out = [wire.encode(wire.build(server, "BATCH", f"+{reference}", BATCH_TYPE, room))]
    for message in messages:
        if message.kind == MESSAGE:
            lines = message_lines(message, room, caps, server)
        elif message.kind == TOPIC:
            # As replay_lines tells it (a server NOTICE: a chathistory batch
            # holds PRIVMSGs and NOTICEs only), at the time it was set.
            sender = message.sender if _SENDER.fullmatch(message.sender) else "*"
            said = (f"{sender} set the topic to: {message.text}" if message.text
                    else f"{sender} cleared the topic")
            stamp = wire.tag_section([("time", utc_time(message.time))])
            lines = [stamp + wire.encode(line) for line in wire.fit(server, "NOTICE", (room,),
                                                                     said)]
        else:
            continue
        out.extend(wire.add_tags(line, batch_tag) for line in lines)
    out.append(wire.encode(wire.build(server, "BATCH", f"-{reference}")))
    return b"".join(out)


def tell_what_is_kept(protocol: Replaying) -> None:
    """After the welcome burst: a server NOTICE saying what the server keeps
    (nothing on a server without history)."""
    history = history_of(protocol.hub.delivery)
    if history is not None:
        for line in wire.fit(protocol.hub.settings.server_name, "NOTICE", (protocol._me,),
                             history.stores()):
            protocol._write(wire.encode(line))


def replay_on_join(protocol: Replaying, room: Room) -> None:
    """Tell C{protocol}'s client what C{room} keeps and replay its last messages."""
    history = history_of(protocol.hub.delivery)
    if history is None:
        return
    server = protocol.hub.settings.server_name

    def keeps() -> bytes:
        return b"".join(wire.encode(line) for line in wire.fit(
            server, "NOTICE", (protocol._me,), history.keeps(room)))

    # No replay to come (+x, --history-replay 0, a draft/chathistory client
    # that asks for its own, or a hold not ours: registering): say at once.
    if (not history.replay or room.no_history or CHATHISTORY in protocol._caps
            or protocol._held is not None):
        protocol._write(keeps())
        return
    name = room.name
    server_time = SERVER_TIME in protocol._caps
    batched = server_time and BATCH in protocol._caps
    hold = _Hold(lambda: _release(protocol, hold))
    protocol._held = hold
    guard = protocol._guard
    if guard is not None:
        guard.hold_input()
    timer = protocol.hub.clock.callLater(HOLD_SECONDS, hold.expire)
    reading = history.replay_of(room, history.replay, REPLAYED)

    def read(messages: list[StoredMessage]) -> bytes:
        if not messages:  # nothing kept yet: the JOIN burst stays as it is
            return b""
        if batched:
            return keeps() + replay_batch(protocol, name, messages)
        return keeps() + replay_lines(name, messages, server_time,
                                      protocol.hub.clock.seconds(), server)

    def failed(failure: Failure) -> bytes:
        log.error("history of {room} not read: {why}", room=name,
                  why=failure.getErrorMessage())
        return b"".join(wire.encode(line) for line in wire.fit(
            server, "NOTICE", (protocol._me,), f"the history of {name} is unavailable"))

    def show(data: Any) -> None:
        if timer.active():
            timer.cancel()
        protocol._write(data)
        if not hold.late:
            _release(protocol, hold)

    reading.addCallbacks(read, failed).addCallback(show)


def _release(protocol: Replaying, hold: _Hold) -> None:
    """Stop holding: deliver the held events in order.  One of them may be
    another JOIN that starts a replay of its own: the rest wait behind it."""
    if protocol._held is not hold:
        return
    protocol._held = None
    events = list(hold)
    for index, event in enumerate(events):
        protocol.deliver(event)
        if protocol._held is not None:
            protocol._held.extend(events[index + 1:])
            break
    guard = protocol._guard
    if guard is not None:
        # Ours ends; the commands sent meanwhile go on in order, or wait
        # on behind the replay a held JOIN just started (holds nest).
        guard.release_input()


__all__ = ["HOLD_LIMIT", "HOLD_SECONDS", "REPLAYED", "replay_batch", "replay_lines",
           "replay_on_join", "stamp", "tell_what_is_kept"]
