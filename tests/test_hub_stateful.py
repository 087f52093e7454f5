"""A hypothesis state machine over the hub, through real line and IRC connections.

Many users of both protocols connect, register, rename, join and part the
default room, talk to it, whisper, quit and drop abruptly in random order,
all on one hub.  Each connection is read in its own wire format and
checked against the model: a line user's room message reaches the IRC
members as C{PRIVMSG #chat} and an IRC user's reaches the line users as
C{<nick> text}; private messages reach exactly their target, whatever its
protocol; joins, renames and quits are announced once to each neighbour in
the neighbour's format; names stay unique ignoring case across protocols.
After every step the hub's user map and the room must agree with the
connections, and nobody may receive a byte after leaving.

Line users are always in the default room once registered (they cannot
part it); IRC users are in it while they have joined it.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)
from support import IRCUser, LineUser, Net, Wire
from twisted.internet.error import ConnectionLost

from chatsvc.hub.names import fold

NAMES = st.sampled_from(["alice", "Alice", "ALICE", "bob", "BoB", "carol", "dave", "x", "x_"])
KINDS = st.sampled_from(["line", "irc"])
ROOM = "#chat"


class Conn:
    """One connection (line or IRC) and what the model knows about it."""

    def __init__(self, net: Net, kind: str, number: int) -> None:
        self.kind = kind
        self.number = number
        self.host = f"10.0.{number // 250}.{number % 250 + 1}"
        self.wire: Wire = (LineUser(net.hub, self.host) if kind == "line"
                           else IRCUser(net, self.host))
        self.name: str | None = None   # the model's idea of its name
        self.user_sent = False         # IRC: USER sent (registration needs it and a nick)
        self.joined = False            # IRC: in the default room
        self.gone = False

    @property
    def irc(self) -> bool:
        return self.kind == "irc"

    @property
    def in_room(self) -> bool:
        return self.name is not None and (self.joined or not self.irc)

    @property
    def mask(self) -> str:
        """How IRC users see this one as a source (C{nick!user@host})."""
        user = f"~u{self.number}" if self.irc else self.name
        return f"{self.name}!{user}@{self.host}"

    @property
    def me(self) -> str:
        """How the server addresses this IRC user in numerics (C{*} before registration)."""
        return self.name or "*"

    def read(self) -> list[str]:
        return self.wire.lines()

    def send(self, line: str) -> None:
        self.wire.send(line)

    def __repr__(self) -> str:
        return f"{self.kind}#{self.number}({self.name})"


def crossing(sender: Conn, receivers: list[Conn], what: str) -> None:
    """Note (in C{--hypothesis-show-statistics}) that C{what} crossed protocols."""
    for kind in sorted({r.kind for r in receivers if r.kind != sender.kind}):
        event(f"{what}: {sender.kind} -> {kind}")


def said(speaker: Conn, listener: Conn, text: str) -> str:
    """A room message from C{speaker} as C{listener}'s client shows it."""
    if listener.irc:
        return f":{speaker.mask} PRIVMSG {ROOM} :{text}"
    return f"<{speaker.name}> {text}"


class HubMachine(RuleBasedStateMachine):
    connections = Bundle("connections")

    def __init__(self) -> None:
        super().__init__()
        # Registration deadlines as configured by default; IRC liveness pings
        # out of the way (the time rule is about registration).
        self.net = Net(register_timeout=60, irc_ping_interval=10**9)
        self.hub, self.clock = self.net.hub, self.net.clock
        self.all: list[Conn] = []
        self.counter = itertools.count()

    # -- helpers -------------------------------------------------------------

    def live(self) -> list[Conn]:
        return [c for c in self.all if not c.gone]

    def registered(self) -> list[Conn]:
        return [c for c in self.live() if c.name is not None]

    def members(self) -> list[Conn]:
        return [c for c in self.live() if c.in_room]

    def holder(self, name: str) -> Conn | None:
        for conn in self.registered():
            assert conn.name is not None
            if fold(conn.name) == fold(name):
                return conn
        return None

    def drain(self) -> dict[Conn, list[str]]:
        """Everyone's new lines (and nothing for those who left)."""
        out = {}
        for conn in self.all:
            lines = conn.read()
            if conn.gone:
                assert lines == [], f"{conn} received {lines} after leaving"
            out[conn] = lines
        return out

    def only(self, got: dict[Conn, list[str]], expected: dict[Conn, list[str]]) -> None:
        """Exactly C{expected} arrived, and nothing anywhere else."""
        for conn in self.live():
            assert got[conn] == expected.get(conn, []), (conn, got[conn])

    def refused(self, conn: Conn) -> str:
        """What an unregistered C{conn} is told when it tries to talk."""
        return ":chatsvc 451 * :You have not registered" if conn.irc else (
            "! register first: send #yourname")

    def leave(self, conn: Conn, reason: str, graceful: bool) -> None:
        self.drain()
        neighbours = [c for c in self.members() if c is not conn] if conn.in_room else []
        shown = reason
        if graceful:
            if conn.irc:
                conn.send(f"QUIT :{reason}")
                shown = f"Quit: {reason}"
                assert conn.read() == [f"ERROR :Closing link: {conn.host} ({shown})"]
            else:
                conn.send(f"/quit {reason}")
            assert conn.wire.closed
            conn.wire.drop()
        else:
            conn.wire.drop(ConnectionLost())
        conn.gone = True
        conn.read()
        got = self.drain()
        self.only(got, {
            other: [f":{conn.mask} QUIT :{shown}" if other.irc else f"* {conn.name} left ({shown})"]
            for other in neighbours
        })
        crossing(conn, neighbours, "quit" if graceful else "drop")

    # -- rules ---------------------------------------------------------------

    @initialize(target=connections,
                kinds=st.lists(KINDS, max_size=3).flatmap(
                    lambda more: st.permutations(["line", "irc", *more])))
    def cast(self, kinds: list[str]) -> object:
        """Start with both protocols in the room, so every run mixes them."""
        conns = []
        for kind, name in zip(kinds, ["alice", "bob", "carol", "dave", "x"], strict=False):
            conn = self.connect(kind)
            self.register_or_rename(conn, name)
            self.join(conn)
            conns.append(conn)
        return multiple(*conns)

    @rule(target=connections, kind=KINDS)
    def connect(self, kind: str) -> Conn:
        self.drain()
        conn = Conn(self.net, kind, next(self.counter))
        self.all.append(conn)
        got = self.drain()
        if conn.irc:
            assert got[conn] == []  # an IRC client speaks first
        else:
            assert got[conn][0].startswith("* welcome")
        self.only(got, {conn: got[conn]})
        return conn

    @rule(conn=connections, name=NAMES)
    def register_or_rename(self, conn: Conn, name: str) -> None:
        if conn.gone:
            return
        self.drain()
        holder = self.holder(name)
        old, old_mask = conn.name, conn.mask
        neighbours = [c for c in self.members() if c is not conn] if conn.in_room else []
        if conn.irc:
            conn.send(f"NICK {name}")
            if not conn.user_sent:
                conn.send(f"USER u{conn.number} 0 * :User {conn.number}")
                conn.user_sent = True
        else:
            conn.send(f"#{name}")
        got = self.drain()
        if holder is not None and holder is not conn:
            taken = (f":chatsvc 433 {conn.me} {name} :Nickname is already in use" if conn.irc
                     else f"! name taken: {name}")
            self.only(got, {conn: [taken]})
            return
        conn.name = name
        if old is None:
            # Registered: a line user enters the room, an IRC user is welcomed.
            if conn.irc:
                assert got[conn][0].startswith(f":chatsvc 001 {name} :Welcome"), got[conn]
                assert f"{name}!~u{conn.number}@{conn.host}" in got[conn][0]
            else:
                assert got[conn] == [f"* you are {name}"]
            self.only(got, {conn: got[conn]} | {
                other: [f":{conn.mask} JOIN {ROOM}" if other.irc else f"* {name} joined"]
                for other in self.members() if other is not conn and conn.in_room
            })
        elif old == name:
            self.only(got, {conn: [] if conn.irc else [f"* you are {name}"]})
        else:
            renamed = {
                other: [f":{old_mask} NICK {name}" if other.irc else f"* {old} is now {name}"]
                for other in neighbours
            }
            renamed[conn] = [f":{old_mask} NICK {name}"] if conn.irc else [f"* you are {name}"]
            self.only(got, renamed)
            crossing(conn, neighbours, "rename")

    @rule(conn=connections)
    def join(self, conn: Conn) -> None:
        if conn.gone:
            return
        self.drain()
        conn.send(f"JOIN {ROOM}" if conn.irc else f"/join {ROOM}")
        got = self.drain()
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
        elif conn.in_room:
            self.only(got, {conn: [] if conn.irc else [f"! you are already in {ROOM}"]})
        else:
            others = self.members()
            conn.joined = True
            names = " ".join(sorted((c.name for c in self.members() if c.name), key=fold))
            self.only(got, {conn: [
                f":{conn.mask} JOIN {ROOM}",
                f":chatsvc 353 {conn.name} = {ROOM} :{names}",
                f":chatsvc 366 {conn.name} {ROOM} :End of /NAMES list",
            ]} | {
                other: [f":{conn.mask} JOIN {ROOM}" if other.irc else f"* {conn.name} joined"]
                for other in others
            })

    @rule(conn=connections)
    def part(self, conn: Conn) -> None:
        if conn.gone:
            return
        self.drain()
        conn.send(f"PART {ROOM}" if conn.irc else f"/part {ROOM}")
        got = self.drain()
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
        elif not conn.irc:
            self.only(got, {conn: [
                f"! you are in {ROOM}, the default room: /join #room to go elsewhere"]})
        elif not conn.joined:
            self.only(got, {conn: [
                f":chatsvc 442 {conn.name} {ROOM} :You're not on that channel"]})
        else:
            self.only(got, {conn: [f":{conn.mask} PART {ROOM}"]} | {
                other: [f":{conn.mask} PART {ROOM}" if other.irc else f"* {conn.name} left"]
                for other in self.members() if other is not conn
            })
            conn.joined = False

    @rule(conn=connections)
    def broadcast(self, conn: Conn) -> None:
        if conn.gone:
            return
        self.drain()
        text = f"m{next(self.counter)}"
        conn.send(f"PRIVMSG {ROOM} :{text}" if conn.irc else text)
        got = self.drain()
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
        elif not conn.in_room:
            self.only(got, {conn: [
                f":chatsvc 404 {conn.name} {ROOM} :Cannot send to channel (not in room)"]})
        else:
            hearers = [other for other in self.members() if other is not conn]
            self.only(got, {other: [said(conn, other, text)] for other in hearers})
            crossing(conn, hearers, "room message")

    @rule(conn=connections, to=NAMES)
    def private_message(self, conn: Conn, to: str) -> None:
        if conn.gone:
            return
        self.drain()
        text = f"p{next(self.counter)}"
        conn.send(f"PRIVMSG {to} :{text}" if conn.irc else f"@{to}:{text}")
        got = self.drain()
        recipient = self.holder(to)
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
        elif recipient is None:
            self.only(got, {conn: [f":chatsvc 401 {conn.name} {to} :No such nick/channel"
                                   if conn.irc else f"! no such user: {to}"]})
        else:
            # Addressed by its own name, whatever case the sender typed.
            self.only(got, {recipient: [f":{conn.mask} PRIVMSG {recipient.name} :{text}"
                                        if recipient.irc else f"*{conn.name}* {text}"]})
            crossing(conn, [recipient], "private message")

    @rule(conn=connections)
    def look(self, conn: Conn) -> None:
        """Who is in the room, as each protocol asks: both show the model's members."""
        if conn.gone:
            return
        self.drain()
        conn.send(f"NAMES {ROOM}" if conn.irc else "/who")
        got = self.drain()
        if conn.name is None and conn.irc:  # a line user may look before registering
            self.only(got, {conn: [self.refused(conn)]})
            return
        names = sorted((c.name for c in self.members() if c.name), key=fold)
        if conn.irc:
            listing = [f":chatsvc 353 {conn.name} = {ROOM} :{' '.join(names)}"] if names else []
            self.only(got, {conn: [*listing,
                                   f":chatsvc 366 {conn.name} {ROOM} :End of /NAMES list"]})
        else:
            self.only(got, {conn: [f"* online ({len(names)}): {', '.join(names)}"]})

    @rule(conn=consumes(connections), reason=st.sampled_from(["bye", "gone fishing"]))
    def quit(self, conn: Conn, reason: str) -> None:
        if not conn.gone:
            self.leave(conn, reason, graceful=True)

    @rule(conn=consumes(connections))
    def drop(self, conn: Conn) -> None:
        if not conn.gone:
            self.leave(conn, "connection lost", graceful=False)

    @rule()
    def time_passes(self) -> None:
        # Registration deadlines fire for whoever has not registered.
        self.drain()
        pending = [c for c in self.live() if c.name is None]
        self.clock.advance(self.hub.settings.register_timeout)
        got = self.drain()
        expected = {}
        for conn in pending:
            expected[conn] = ([f"ERROR :Closing link: {conn.host} (registration timeout (60 s))"]
                              if conn.irc else ["* registration timeout (60 s)"])
        self.only(got, expected)
        for conn in pending:
            assert conn.wire.closed
            conn.wire.drop()
            conn.gone = True

    # -- invariants ----------------------------------------------------------

    @invariant()
    def user_map_agrees_with_connections(self) -> None:
        live = {c.wire.protocol for c in self.live()}
        assert self.hub.connections == live
        expected = {fold(c.name): c.wire.protocol for c in self.registered() if c.name}
        assert self.hub.users == expected
        for key, participant in self.hub.users.items():
            assert fold(participant.name) == key
            assert participant in self.hub.connections

    @invariant()
    def names_are_unique_across_protocols(self) -> None:
        names = [fold(c.name) for c in self.registered() if c.name]
        assert len(names) == len(set(names))

    @invariant()
    def the_room_holds_exactly_its_members(self) -> None:
        members = [member.name for member in self.hub.members(self.hub.default_room.name)]
        assert self.hub.default_room.name == ROOM
        assert sorted(members, key=fold) == sorted(
            (c.name for c in self.members() if c.name), key=fold)

    @invariant()
    def nobody_hears_anything_after_leaving(self) -> None:
        for conn in self.all:
            if conn.gone:
                assert conn.wire.transport.value() == b""

    def teardown(self) -> None:
        for conn in self.live():
            conn.wire.drop()
        assert self.hub.connections == set() and self.hub.users == {}
        assert self.clock.getDelayedCalls() == []


HubMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestHub = HubMachine.TestCase
