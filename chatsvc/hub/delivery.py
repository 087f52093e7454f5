"""The delivery seam: the one way out of the hub for every event it emits.

The hub (L{chatsvc.hub.factory.ChatFactory}) decides who should see what:
that is its rules.  A L{Delivery} only carries an event to the participants
the hub names, in one of three shapes:

  - C{to_room(room, event, exclude=...)}: every member of a room (but one);
  - C{to_user(participant, event)}: one participant;
  - C{to_many(participants, event)}: a set the hub worked out, such as
    everyone who shares a room with a user who quits or renames, once each.

L{LocalDelivery} hands events to the participants of this process, as
the hub always did.  Because nothing else in the hub sends, whatever must
see every emitted event wraps or replaces this one object, not a dozen call
sites:

  - history (store, then deliver): a L{Delivery} that records room and
    private messages and then calls the L{LocalDelivery} it wraps;
  - a cluster bus (publish to the other nodes, deliver locally): a
    L{Delivery} that publishes each event with its audience (the room's key,
    the user's name) and hands the local part to a L{LocalDelivery}, while
    the nodes that receive it deliver it to their own participants.

Give one to the hub as C{ChatFactory(delivery=...)}, or wrap
C{hub.delivery} afterwards.  The hub's events carry their identity
(L{chatsvc.events.Event.id}, C{time}) before they reach the seam, so a
store and the other nodes see the same id the users do.

The contract every implementation keeps, as L{Participant.deliver} does:
calls are synchronous, in the order the hub makes them, which is the order
each recipient must see; an audience is read when the call is made (a room's
members at that moment: the hub announces a join before adding the joiner
and a part after removing them); and nothing may raise or call back into
the hub synchronously, since the hub may be in the middle of a change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from chatsvc.events import Event
from chatsvc.hub.participant import Participant
from chatsvc.hub.rooms import Room


class Delivery(Protocol):
    """Carries the hub's events to the participants the hub chose.

    A L{typing.Protocol}, like L{Participant}: any object with these three
    methods will do, and mypy checks it without a plugin.
    """

    def to_room(self, room: Room, event: Event, *, exclude: Participant | None = None) -> None:
        """Deliver C{event} to every member of C{room} except C{exclude}."""

    def to_user(self, participant: Participant, event: Event) -> None:
        """Deliver C{event} to C{participant} alone."""

    def to_many(self, participants: Iterable[Participant], event: Event) -> None:
        """Deliver C{event} once to each of C{participants} (no duplicates among them)."""


class LocalDelivery:
    """Delivery to the participants of this process: each one's C{deliver}.

    Stateless, so one instance serves any number of hubs.
    """

    __slots__ = ()

    def to_room(self, room: Room, event: Event, *, exclude: Participant | None = None) -> None:
        # Hot spot, the fan-out loop (docs/performance.rst, step 17).  A
        # plain loop over the room's snapshot, nothing allocated per member:
        # the first recipient of each wire format renders the event, the
        # others find its bytes cached.
        for member in room.everyone:
            if member is not exclude:
                member.deliver(event)

    def to_user(self, participant: Participant, event: Event) -> None:
        participant.deliver(event)

    def to_many(self, participants: Iterable[Participant], event: Event) -> None:
        for participant in participants:
            participant.deliver(event)
