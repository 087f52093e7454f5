"""L{HistoryDelivery}: the delivery seam with a memory.

It wraps the L{chatsvc.hub.delivery.LocalDelivery} fan-out (as the seam's
docstring plans): each L{RoomMessage} (actions and notices too) is handed to
the store, which only appends it to the next batch, and then delivered
exactly as before.  Nothing waits for the database, and nothing here can
raise into the hub.

Topic changes (L{TopicChanged}) are recorded as well, and joins and parts
(L{Joined}, L{Left} from a room) when C{joins} is on (C{--history-joins};
off by default: in a busy room they are most of the rows and crowd the
messages out of a replay, and they keep who came and went when, which not
every room wants kept).  Each is a row of its kind
(L{chatsvc.store.sqlite.KINDS}) with the same rules as a message: kept
only for the room as it is when closed, not at all under C{+x}.  A quit is
one event to everyone who shared a room with the user (L{Left} with no
room), not one per room: the hub hands it, with the rooms the user was in,
to L{HistoryDelivery.quit_from}, which records it in each (with
C{--history-joins}).  Kicks are not recorded.

A room set C{+x} (L{Room.no_history}) keeps no history: its messages are
not recorded, and L{HistoryDelivery.replay_of} shows none while the mode is
on (what it kept before C{+x} shows again after C{-x}).

Private messages are recorded only between two accounts: the sender
logged in when sending (L{PrivateMessage.account}) and the recipient's
record carrying an account (logged in, or the offline inbox of one,
L{chatsvc.accounts.rules}).  A guest on either side: nothing is kept, and
the message lasts as long as the two sessions.  Each message is recorded
once, when it is delivered to its recipient: not again when echoed to its
sender (the hub delivers to the recipient first, then echoes), and not when
an offline message is handed over at login (C{delayed}: it was recorded
when it was sent, with its time).  Only the two accounts read it back
(L{HistoryDelivery.private_replay_of}).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

from twisted.internet.defer import Deferred, ensureDeferred, succeed

from chatsvc.events import Event, Joined, Left, PrivateMessage, RoomMessage, TopicChanged
from chatsvc.hub.delivery import Delivery, LocalDelivery
from chatsvc.hub.participant import Participant
from chatsvc.hub.rooms import Room
from chatsvc.store.forget import forget
from chatsvc.store.retention import Retention
from chatsvc.store.sqlite import (
    MESSAGE_KINDS,
    HistoryStore,
    RoomEvent,
    StoredMessage,
    StoredPrivate,
)

if TYPE_CHECKING:
    from chatsvc.store.chathistory import Window

#: A room's or a private conversation's stored message (both have a C{time}).
_Stored = TypeVar("_Stored", StoredMessage, StoredPrivate)

#: The default of C{--history-replay}: messages shown on joining a room.
DEFAULT_REPLAY = 50

#: The most C{/history N} shows (and C{--history-replay} may ask for).
MAX_REPLAY = 500


class HistoryDelivery:
    """A L{Delivery} that records room messages, then delivers them locally.

    @ivar store: where the messages go (and replays come from).
    @ivar replay: how many messages a user joining a room is shown (0: none).
    @ivar retention: how long messages are kept (what users are told).
    @ivar joins: whether joins and parts are recorded (C{--history-joins}).
    """

    __slots__ = ("_kept", "_recorded", "joins", "local", "replay", "retention", "store")

    def __init__(self, store: HistoryStore, replay: int = DEFAULT_REPLAY,
                 local: Delivery | None = None, retention: Retention | None = None,
                 joins: bool = False) -> None:
        self.store = store
        self.replay = replay
        self.retention = Retention() if retention is None else retention
        self.local: Delivery = LocalDelivery() if local is None else local
        self.joins = joins
        #: The types of the room events recorded (L{to_room}'s one test).
        self._kept: frozenset[type] = frozenset(
            {RoomMessage, TopicChanged, *((Joined, Left) if joins else ())})
        #: The last private message recorded: its echo to the sender (or a
        #: second delivery of a message to oneself) is the same event object.
        self._recorded: PrivateMessage | None = None

    def to_room(self, room: Room, event: Event, *, exclude: Participant | None = None) -> None:
        # Hot spot, the fan-out loop (docs/performance.rst, step 17): one
        # type test and an append per message, before the unchanged loop.
        if type(event) in self._kept and not room.no_history:
            closed = room.secret or room.invite_only or room.password is not None
            self.store.record(cast(RoomEvent, event), room.created if closed else None)
        self.local.to_room(room, event, exclude=exclude)

    def replay_of(self, room: Room, count: int,
                  kinds: Sequence[str] = MESSAGE_KINDS) -> Deferred[list[StoredMessage]]:
        """What a replay of C{room} shows (its last C{count} rows of C{kinds},
        oldest first: by default what was said, L{MESSAGE_KINDS}; C{KINDS}
        for the topic changes, joins and parts too): nothing for a room set
        C{+x}; nothing older than C{--history-max-age}; what was said while
        it was secret, invite-only or keyed only if it is still that same room.

        Every protocol's replay and C{/history} reads through here, so that
        the room's mode is honoured everywhere.
        """
        if room.no_history or count <= 0:
            return succeed([])
        return self._within_max_age(
            self.store.latest(room.name, count, room.created, kinds))

    def private_replay_of(self, account: str, other: str,
                          count: int) -> Deferred[list[StoredPrivate]]:
        """The last C{count} private messages between account C{account} (the
        reader's own: the caller passes C{record.account}, never a name the
        user typed) and account C{other}, oldest first; nothing older than
        C{--history-max-age}."""
        if count <= 0:
            return succeed([])
        return self._within_max_age(self.store.latest_private(account, other, count))

    def window_of(self, room: Room, window: Window) -> Deferred[list[StoredMessage]]:
        """IRCv3 CHATHISTORY's C{window} of C{room}, by L{replay_of}'s rules
        (nothing while C{+x}, nothing past C{--history-max-age}, closed
        rooms' messages only in that same room)."""
        if room.no_history:
            return succeed([])
        return self._within_max_age(
            self.store.room_window(room.name, room.created, window, self._cutoff()))

    def private_window_of(self, account: str, other: str,
                          window: Window) -> Deferred[list[StoredPrivate]]:
        """C{window} of the private conversation between the reader's own
        account C{account} and account C{other}, as L{private_replay_of}."""
        return self._within_max_age(
            self.store.private_window(account, other, window, self._cutoff()))

    def targets_of(self, rooms: Iterable[Room], account: str | None, after: float,
                   before: float, limit: int) -> Deferred[list[tuple[str, float]]]:
        """CHATHISTORY TARGETS: which of C{rooms} (the reader's) and of the
        private conversations of the reader's own C{account} had their last
        message at C{after <= time < before}, as (name, time), by the
        replay's rules (a room set +x shows none, max-age hides)."""
        cutoff = self._cutoff()
        if cutoff is not None:
            after = max(after, cutoff)
        kept = [(room.name, room.created) for room in rooms if not room.no_history]
        return self.store.targets(kept, account, after, before, limit)

    def _cutoff(self) -> float | None:
        """The time before which nothing is shown (C{--history-max-age}), if any."""
        max_age = self.retention.max_age
        return None if max_age is None else self.store.reactor.seconds() - max_age

    def _within_max_age(self, reading: Deferred[list[_Stored]]) -> Deferred[list[_Stored]]:
        """What C{reading} reads, less what is past C{--history-max-age}: never
        shown, even in the minute before the pruner deletes it ("keeps
        history for 30 days" is exact)."""
        max_age = self.retention.max_age
        if max_age is None:
            return reading
        reactor = self.store.reactor

        def recent(messages: list[_Stored]) -> list[_Stored]:
            cutoff = reactor.seconds() - max_age
            return [message for message in messages if message.time >= cutoff]

        return reading.addCallback(recent)

    def keeps(self, room: Room) -> str:
        """What a user entering C{room} is told: C{#rust keeps history for 30
        days}, C{#rust keeps its last 500 messages}, or C{#rust keeps no
        history} (C{+x})."""
        if room.no_history:
            return f"{room.name} keeps no history (mode +x)"
        return self.retention.describe(room.name)

    def stores(self) -> str:
        """What a user connecting is told the server keeps (one line)."""
        return self.retention.server_line()

    def forget(self, account: str) -> Deferred[int]:
        """Delete everything the room history keeps of account C{account}
        (the caller passes C{record.account}, never a name the user typed):
        the number of rows deleted (L{chatsvc.store.forget})."""
        return ensureDeferred(forget(self.store, account))

    def to_user(self, participant: Participant, event: Event) -> None:
        if type(event) is PrivateMessage and event is not self._recorded:
            self._record_private(participant, event)
        self.local.to_user(participant, event)

    def _record_private(self, recipient: Participant, event: PrivateMessage) -> None:
        # Only the hub's whisper stamps .account; an offline message handed
        # over at login (delayed) was recorded when it was sent.  The echo to
        # its sender is not the recipient's delivery (the hub names the
        # recipient as the event's target, exactly): never recorded, even
        # when the recipient's was not (a guest recipient).
        record = recipient.record
        sender = event.account
        account = record.account
        if sender is None or account is None or event.delayed or record.name != event.target:
            return
        self._recorded = event
        self.store.record_private(event, sender, account)

    def to_many(self, participants: Iterable[Participant], event: Event) -> None:
        self.local.to_many(participants, event)

    def quit_from(self, rooms: Iterable[Room], event: Left) -> None:
        """Record C{event}, a quit, in each of C{rooms} (those its user was
        in), as L{to_room} records a part: with C{--history-joins}, not in a
        room set C{+x}, only for the same closed room.  The hub calls it
        after delivering the quit (L{chatsvc.hub.factory}): nothing is
        delivered here."""
        if not self.joins:
            return
        for room in rooms:
            if not room.no_history:
                closed = room.secret or room.invite_only or room.password is not None
                self.store.record_quit(event, room.name, room.created if closed else None)


def history_of(delivery: object) -> HistoryDelivery | None:
    """The hub's history, if its delivery keeps one (C{history_of(hub.delivery)})."""
    return delivery if isinstance(delivery, HistoryDelivery) else None
