"""IRCv3 C{draft/chathistory} (issues 15 and 18): a client asks for the
history of a room or of a private conversation, a window at a time.

    CHATHISTORY LATEST|BEFORE|AFTER|AROUND <target> <reference> <limit>
    CHATHISTORY BETWEEN <target> <reference> <reference> <limit>
    CHATHISTORY TARGETS <timestamp> <timestamp> <limit>

A reference is C{msgid=<id>} or C{timestamp=YYYY-MM-DDThh:mm:ss.sssZ}
(C{*} for LATEST: no bound).  At most L{MAX_LIMIT} messages an answer
(ISUPPORT C{CHATHISTORY=100}; a larger limit is cut to it), every answer on
the connection's reply budget (L{chatsvc.conn.limits.ReplyBudget}, the one
LIST and WHO spend), so that a client cannot turn one line into unbounded
output.

Who reads what: a room's history only for its members (as the replay on
JOIN), by the same rules (L{chatsvc.store.delivery.HistoryDelivery.window_of}:
none while C{+x}, nothing past C{--history-max-age}, a closed room's
messages only in that same room); a nick's only as the private conversation
between the reader's own account and that nick's account (the nick's
account if it is online and logged in, else the account of that name): so
one only ever reads one's own conversations, and a guest none.  A room one
is not in, a secret one, one that does not exist, and a guest's nick all get
the same C{FAIL CHATHISTORY INVALID_TARGET}: nothing tells them apart.

The answer is a C{chathistory} batch (with C{batch}) of the stored
PRIVMSGs and NOTICEs (ACTIONs too) from their senders' C{nick!user@host}
as it was (rows older than the masks' migration: C{nick!nick@server}),
each with C{time} (server-time), C{msgid} (message-tags) and C{account}
(account-tag) as when they were said.  The store is read on its thread;
the answer leaves when the read is done, labeled (labeled-response) even
then: L{labels.take} hands the label over.
"""

from __future__ import annotations

import calendar
import re
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.conn.limits import ReplyBudget
from chatsvc.events import utc_time
from chatsvc.hub.names import BadName, check_name, fold
from chatsvc.protocols.irc import labels, wire
from chatsvc.protocols.irc.isupport import CHATHISTORY_LIMIT
from chatsvc.protocols.irc.render import ACCOUNT_TAG, ACTION, MESSAGE_TAGS, SERVER_TIME
from chatsvc.store.chathistory import (
    AFTER,
    AROUND,
    BEFORE,
    BETWEEN,
    LATEST,
    Reference,
    Window,
)
from chatsvc.store.delivery import history_of
from chatsvc.store.sqlite import StoredMessage, StoredPrivate

if TYPE_CHECKING:
    from chatsvc.protocols.irc.protocol import IRCChatProtocol

#: The capability (a draft: its name has the draft/ prefix until ratified).
CHATHISTORY = "draft/chathistory"

#: The most messages one answer holds (ISUPPORT CHATHISTORY, which also
#: says MSGREFTYPES=msgid,timestamp).
MAX_LIMIT = CHATHISTORY_LIMIT

#: The batch types of the answers.
BATCH_TYPE = "chathistory"
TARGETS_BATCH_TYPE = "draft/chathistory-targets"

#: Requests of one connection waiting for the one being read, at most.
MAX_QUEUED = 64

#: What a client asking faster than its reply budget is told.
TOO_MANY = "Too many history requests: please wait a while and try again"

#: The subcommands that take one reference (BETWEEN takes two).
_ONE_REFERENCE = (LATEST, BEFORE, AFTER, AROUND)

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z\Z")

# A stored sender used as an IRC prefix: one word, no "!", "@" or leading ":"
# (chatsvc's names never have them; an edited database might).  A stored
# mask: such a nick, "!", then two such words joined by "@".
_WORD = r"[^\s!@\x00-\x1f\x7f]"
_SENDER = re.compile(rf"[^\s!@:\x00-\x1f\x7f]{_WORD}*")
_MASK = re.compile(rf"[^\s!@:\x00-\x1f\x7f]{_WORD}*!{_WORD}+@{_WORD}+")

log = Logger()


class Refused(Exception):
    """A request answered with C{FAIL CHATHISTORY <code> <context...> :<text>}."""

    def __init__(self, code: str, context: tuple[str, ...], text: str) -> None:
        super().__init__(text)
        self.code = code
        self.context = context
        self.text = text


def parse_timestamp(value: str) -> int | None:
    """Milliseconds since the epoch of C{YYYY-MM-DDThh:mm:ss[.sss]Z} (UTC), or
    C{None} if it is not one (a 30th of February included)."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    fraction = (match.group(7) or "").ljust(3, "0")[:3]
    return calendar.timegm(moment.timetuple()) * 1000 + int(fraction)


def parse_reference(value: str, sub: str, star: bool = False) -> Reference | None:
    """A reference parameter: C{msgid=...}, C{timestamp=...}, or (C{star}) C{*}
    for none.  Raises L{Refused} (INVALID_PARAMS) for anything else."""
    if star and value == "*":
        return None
    kind, equals, rest = value.partition("=")
    if equals and rest:
        if kind == "msgid":
            return Reference(msgid=rest)
        if kind == "timestamp":
            millis = parse_timestamp(rest)
            if millis is not None:
                return Reference(millis=millis)
            raise Refused("INVALID_PARAMS", (sub, wire.middle(value)), "Invalid timestamp")
    raise Refused("INVALID_PARAMS", (sub, wire.middle(value)), "Invalid message reference")


def parse_limit(value: str, sub: str) -> int:
    """A positive limit, cut to L{MAX_LIMIT}; raises L{Refused} otherwise."""
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise Refused("INVALID_PARAMS", (sub, wire.middle(value)), "Invalid limit")
    return min(int(value), MAX_LIMIT)


def command(protocol: IRCChatProtocol, params: list[str]) -> None:
    """C{CHATHISTORY ...}: parse, check who may read, ask the store, answer."""
    sub = params[0].upper() if params else ""
    try:
        if sub == "TARGETS":
            _targets(protocol, params)
        elif sub in _ONE_REFERENCE or sub == BETWEEN:
            _window(protocol, sub, params)
        elif not sub:
            raise Refused("INVALID_PARAMS", ("*",), "Insufficient parameters")
        else:
            raise Refused("UNKNOWN_COMMAND", (wire.middle(params[0]),), "Unknown command")
    except Refused as refusal:
        fail(protocol, refusal)


def fail(protocol: IRCChatProtocol, refusal: Refused) -> None:
    """The standard reply for C{refusal}: C{FAIL CHATHISTORY CODE context... :text}."""
    protocol._write(_fail_line(protocol, refusal.code, refusal.context, refusal.text))


def _arity(params: list[str], sub: str, count: int) -> None:
    """Refuse a request without exactly C{count} parameters after the subcommand."""
    given = len(params) - 1
    if given < count:
        raise Refused("INVALID_PARAMS", (sub,), "Insufficient parameters")
    if given > count:
        raise Refused("INVALID_PARAMS", (sub,), "Too many parameters")


def _window(protocol: IRCChatProtocol, sub: str, params: list[str]) -> None:
    """The subcommands that read one conversation."""
    _arity(params, sub, 4 if sub == BETWEEN else 3)
    target = params[1]
    first = parse_reference(params[2], sub, star=sub == LATEST)
    second = parse_reference(params[3], sub) if sub == BETWEEN else None
    window = Window(sub, first, parse_limit(params[-1], sub), second)
    unreadable = Refused("INVALID_TARGET", (sub, wire.middle(target)),
                         "Messages could not be retrieved")
    history = history_of(protocol.hub.delivery)
    read: Callable[[], Deferred[Any]]
    if target.startswith("#"):
        key = fold(target)
        room = next((room for room in protocol.hub.rooms_of(protocol) if room.key == key),
                    None)
        if room is None:
            raise unreadable
        name = room.name

        def read() -> Deferred[Any]:
            # A room read when its turn comes: as it is then (+x set meanwhile).
            return succeed([]) if history is None else history.window_of(room, window)
    else:
        account = protocol.record.account
        try:
            check_name(target)
        except BadName:
            raise unreadable from None
        if account is None:
            raise unreadable  # a guest's conversations are never kept
        name = target
        other = protocol.hub.user_named(target)
        other_account = (other.record.account if other is not None else None) or target

        def read() -> Deferred[Any]:
            return succeed([]) if history is None else history.private_window_of(
                account, other_account, window)

    def show(messages: Sequence[StoredMessage | StoredPrivate]) -> tuple[list[bytes], Any]:
        server = protocol.server.name
        return ([line for message in messages
                 for line in message_lines(message, name, protocol._caps, server)],
                (BATCH_TYPE, name))

    _submit(protocol, sub, name, read, show)


def _targets(protocol: IRCChatProtocol, params: list[str]) -> None:
    """TARGETS: the reader's rooms and conversations by their last message."""
    sub = "TARGETS"
    _arity(params, sub, 3)
    bounds = []
    for value in params[1:3]:
        reference = parse_reference(value, sub)
        if reference is None or reference.millis is None:
            raise Refused("INVALID_PARAMS", (sub, wire.middle(value)),
                          "TARGETS takes timestamps")
        bounds.append(reference.millis)
    limit = parse_limit(params[3], sub)
    low, high = sorted(bounds)
    history = history_of(protocol.hub.delivery)

    def read() -> Deferred[Any]:
        if history is None:
            return succeed([])
        # Strictly between the two, as the tags show times: to the millisecond.
        return history.targets_of(protocol.hub.rooms_of(protocol), protocol.record.account,
                                  (low + 0.5) / 1000, (high - 0.5) / 1000, limit)

    def show(found: list[tuple[str, float]]) -> tuple[list[bytes], Any]:
        server = protocol.server.name
        return ([wire.encode(wire.build(server, "CHATHISTORY", "TARGETS", wire.middle(name),
                                        utc_time(time)))
                 for name, time in found], (TARGETS_BATCH_TYPE,))

    _submit(protocol, sub, "*", read, show)


# -- one request at a time per connection, on the reply budget ----------------------


def _submit(protocol: IRCChatProtocol, sub: str, name: str, read: Callable[[], Deferred[Any]],
            show: Callable[[Any], tuple[list[bytes], tuple[str, ...]]]) -> None:
    """Queue a request whose checks passed: its store read starts when the
    one before it on this connection has been answered, so that each
    starts on the reply budget that the answers before it spent."""
    queue = protocol._history_requests
    if queue is None:
        queue = protocol._history_requests = deque()
    if len(queue) >= MAX_QUEUED:
        raise Refused("MESSAGE_ERROR", (sub, wire.middle(name)), TOO_MANY)
    answer = _answerer(protocol)

    def run() -> Deferred[None]:
        if protocol._closing:
            return succeed(None)
        budget = protocol._budget
        if budget is None:
            budget = protocol._budget = ReplyBudget(protocol.hub.clock)
        if not budget.allows():
            answer([_fail_line(protocol, "MESSAGE_ERROR", (sub, wire.middle(name)), TOO_MANY)],
                   None)
            return succeed(None)

        def failed(failure: Failure) -> None:
            log.error("CHATHISTORY {sub} {name} not read: {why}", sub=sub, name=name,
                      why=failure.getErrorMessage())
            answer([_fail_line(protocol, "MESSAGE_ERROR", (sub, wire.middle(name)),
                               "Messages could not be retrieved")], None)

        return read().addCallbacks(lambda found: answer(*show(found)), failed)

    queue.append(run)
    if len(queue) == 1:
        _run_next(protocol, queue)


def _run_next(protocol: IRCChatProtocol, queue: deque[Callable[[], Deferred[None]]]) -> None:
    """Run the queued requests in order, each once the one before is answered."""
    while queue:
        done = queue[0]()
        if not done.called:
            done.addBoth(_answered, protocol, queue)
            return
        done.addErrback(_lost)
        queue.popleft()


def _answered(result: object, protocol: IRCChatProtocol,
              queue: deque[Callable[[], Deferred[None]]]) -> None:
    if isinstance(result, Failure):
        _lost(result)
    queue.popleft()
    _run_next(protocol, queue)


def _lost(failure: Failure) -> None:
    log.failure("CHATHISTORY answer failed", failure)


def _fail_line(protocol: IRCChatProtocol, code: str, context: tuple[str, ...],
               text: str) -> bytes:
    return wire.encode(wire.build(protocol.server.name, "FAIL", "CHATHISTORY", code, *context,
                                  text, text=True))


def _answerer(protocol: IRCChatProtocol) -> Callable[[list[bytes], tuple[str, ...] | None],
                                                      None]:
    """What writes a request's answer once the store has read it: in a batch
    of the given type and parameters (C{None}: no batch, an error), labeled
    if the command was (L{labels.take}), charged to the reply budget."""
    taken = labels.take(protocol)

    def answer(lines: list[bytes], batch: tuple[str, ...] | None) -> None:
        if protocol._closing:
            return
        label, write = taken if taken is not None else (None, protocol._write)
        server = protocol.server.name
        label_tag = wire.tag_section([("label", label)]) if label is not None else b""
        if batch is not None and labels.BATCH in protocol._caps:
            reference = protocol.next_batch_id()
            batch_tag = wire.tag_section([("batch", reference)])
            data = b"".join((
                label_tag + wire.encode(wire.build(server, "BATCH", f"+{reference}", *batch)),
                *(wire.add_tags(line, batch_tag) for line in lines),
                wire.encode(wire.build(server, "BATCH", f"-{reference}"))))
        elif label is not None and not lines:
            data = label_tag + wire.encode(wire.build(server, "ACK"))
        elif label is not None and len(lines) == 1:
            data = wire.add_tags(lines[0], label_tag)
        else:
            data = b"".join(lines)
        write(data)
        budget = protocol._budget
        if budget is not None:
            budget.spend(len(data))

    return answer


def prefix_of(message: StoredMessage | StoredPrivate, server: str) -> str:
    """The source of a stored message: its sender's mask as it was, or
    C{nick!nick@server} for a row kept before masks were; C{*} for a sender
    that cannot be a prefix (an edited database)."""
    if message.mask and _MASK.fullmatch(message.mask):
        return message.mask
    if _SENDER.fullmatch(message.sender):
        return f"{message.sender}!{message.sender}@{server}"
    return "*"


def message_lines(message: StoredMessage | StoredPrivate, target: str, caps: frozenset[str],
                  server: str) -> list[bytes]:
    """The lines of one stored message for a client with C{caps}: PRIVMSG or
    NOTICE (ACTION wrapped) to C{target} (the room; for a private message,
    whom it was said to), split as live ones are, with the tags it had:
    C{time} on each line and C{account}, C{msgid} on the first.  Stored text
    never breaks the line: CR, LF and NUL are removed (L{wire.fit})."""
    if isinstance(message, StoredPrivate):
        target = message.target if _SENDER.fullmatch(message.target) else "*"
    command = "NOTICE" if message.notice else "PRIVMSG"
    wrap = ACTION if message.action else ("", "")
    every: list[tuple[str, str]] = []
    if SERVER_TIME in caps:
        every.append(("time", utc_time(message.time)))
    if ACCOUNT_TAG in caps and message.account:
        every.append(("account", message.account))
    first = [*every, ("msgid", message.id)] if MESSAGE_TAGS in caps else every
    lines = wire.fit(prefix_of(message, server), command, (wire.middle(target),),
                     message.text, wrap)
    return [wire.tag_section(first if index == 0 else every) + wire.encode(line)
            for index, line in enumerate(lines)]


__all__ = ["BATCH_TYPE", "CHATHISTORY", "MAX_LIMIT", "TARGETS_BATCH_TYPE",
           "Refused", "command", "message_lines", "parse_reference", "parse_timestamp",
           "prefix_of"]
