"""IRCv3 labeled-response and batch: a command's replies, labeled as one.

A client that negotiated ``labeled-response`` may put a ``label`` tag on a
command; everything the server writes to it while handling that command is
the response, and carries the label: one line gets the tag itself, several
go in a ``labeled-response`` batch (``BATCH +id`` with the label, each line
tagged ``batch=id``, ``BATCH -id``), and none is a labeled ``ACK``.

Every reply path of the adapter (numerics, its own lines, the hub's events
delivered to it, the hub's refusals) ends in the connection guard's
C{write}; so L{labeled} swaps that one callable for a list's C{append}
while the command runs, synchronously, and writes what it gathered once the
command is done.  Nothing on the path of a line without a label changes,
and no reply can slip past the label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chatsvc.protocols.irc import wire

if TYPE_CHECKING:
    from chatsvc.protocols.irc.protocol import IRCChatProtocol

LABELED_RESPONSE = "labeled-response"
BATCH = "batch"

#: Commands never labeled: QUIT's answer is the connection closing (its
#: ERROR line must leave before the guard closes, not after).
UNLABELED = frozenset({"QUIT"})

#: The longest label kept (in bytes); a longer one is ignored, so that a
#: client's label cannot be most of every reply's tag budget.
MAX_LABEL_BYTES = 64

#: Commands whose response may hold a message to oneself twice (delivered,
#: then echoed with echo-message): only the echo answers the command.
_MESSAGES = frozenset({b"PRIVMSG", b"NOTICE", b"TAGMSG"})


def labeled(protocol: IRCChatProtocol, label: str, run: Callable[[], None]) -> None:
    """Run C{run} (one command of C{protocol}'s client) with its replies labeled.

    If the command closes the connection (a wrong server password, a KILL
    of oneself), the protocol calls L{IRCChatProtocol._finish_label} before
    the guard closes, so that the labeled replies still leave first.
    """
    guard = protocol._guard
    if guard is None or len(label.encode("utf-8")) > MAX_LABEL_BYTES:
        run()
        return
    gathered: list[bytes] = []
    write = guard.write
    finished = False
    taken = False

    def finish() -> None:
        nonlocal finished
        if not finished:
            finished = True
            guard.write = write
            protocol._finish_label = None
            protocol._take_label = None
            if not (taken and not gathered):
                _send(protocol, write, label, gathered)

    def take() -> tuple[str, Callable[[bytes], None]]:
        nonlocal taken
        taken = True
        return label, write

    guard.write = gathered.append
    protocol._finish_label = finish
    protocol._take_label = take
    try:
        run()
    finally:
        finish()


def take(protocol: IRCChatProtocol) -> tuple[str, Callable[[bytes], None]] | None:
    """For a command that answers later (CHATHISTORY, once the store has
    read): the label of the command running now and the connection's own
    write, which the answer must carry and go through; C{None} if the
    command is not labeled.  The command then has no ACK of its own (when
    it wrote nothing else): the label goes on its answer, whenever that is.
    """
    taker = protocol._take_label
    return None if taker is None else taker()


def _send(protocol: IRCChatProtocol, write: Callable[[bytes], None], label: str,
          gathered: list[bytes]) -> None:
    """Write the replies C{gathered} for one labeled command, labeled."""
    lines = [line + b"\r\n" for line in b"".join(gathered).split(b"\r\n")[:-1]]
    label_tag = wire.tag_section([("label", label)])
    server = protocol.server.name
    if not lines:
        write(label_tag + wire.encode(wire.build(server, "ACK")))
        return
    if len(lines) == 2 and lines[0] == lines[1] and _command(lines[0]) in _MESSAGES:
        # A message to oneself with echo-message: the first copy is its
        # delivery, the second the echo that answers the command.
        write(lines[0])
        lines = lines[1:]
    if len(lines) == 1:
        write(wire.add_tags(lines[0], label_tag))
        return
    if BATCH not in protocol._caps:
        # labeled-response without batch: several lines cannot carry one
        # label, so they go as they are.
        write(b"".join(lines))
        return
    reference = protocol.next_batch_id()
    batch_tag = wire.tag_section([("batch", reference)])
    out = [label_tag + wire.encode(wire.build(server, "BATCH", f"+{reference}",
                                              LABELED_RESPONSE))]
    out.extend(wire.add_tags(line, batch_tag) for line in lines)
    out.append(wire.encode(wire.build(server, "BATCH", f"-{reference}")))
    write(b"".join(out))


def _command(line: bytes) -> bytes:
    """The command word of an encoded server line (after its tags and source)."""
    words = line.split(b" ", 3)
    index = 0
    if words[index][:1] == b"@":
        index += 1
    if index < len(words) and words[index][:1] == b":":
        index += 1
    return words[index] if index < len(words) else b""
