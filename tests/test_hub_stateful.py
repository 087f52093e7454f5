"""A hypothesis state machine over the hub, through real line and IRC connections.

Many users of both protocols connect, register, rename, join and part
rooms, talk, whisper, give voice and operator status, moderate a room,
kick each other, quit and drop abruptly in random order, all on one hub.
Each connection is read in its own wire format and checked against a small
model: a line user's room message reaches the IRC members as C{PRIVMSG}
and an IRC user's reaches the line members as C{<nick> text}; private
messages reach exactly their target, whatever its protocol; joins, parts,
renames, mode changes, kicks and quits are announced once to each
neighbour, in the neighbour's format; a moderated room silences the
unvoiced of both protocols; names stay unique ignoring case across
protocols.  After every step the hub's user map, and each room's members,
operators and voiced members, must agree with the model, and nobody may
receive a byte after leaving.

Two rooms: the default room C{#chat}, where nobody is an operator, and
C{#den}, whose first member runs it.  A line user is in exactly one room
once registered (joining moves it; parting or being kicked from C{#den}
sends it back to C{#chat}); an IRC user is in the rooms it has joined.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

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
DEFAULT, DEN = "#chat", "#den"
ROOMS = st.sampled_from([DEFAULT, DEN])
#: What a kick says, so the announcement has a reason in both formats.
KICK_REASON = "out"


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
        self.rooms: set[str] = set()   # the rooms it is in
        self.gone = False

    @property
    def irc(self) -> bool:
        return self.kind == "irc"

    @property
    def room(self) -> str:
        """A line user's one room (the default room before it registers)."""
        return next(iter(self.rooms), DEFAULT)

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


@dataclass
class RoomState:
    """The model of a room's status: who runs it, who may speak when moderated."""

    ops: set[Conn] = field(default_factory=set)
    voiced: set[Conn] = field(default_factory=set)
    moderated: bool = False


# -- each event as a listener's client shows it ---------------------------------


def said(listener: Conn, speaker: Conn, room: str, text: str) -> str:
    if listener.irc:
        return f":{speaker.mask} PRIVMSG {room} :{text}"
    return f"<{speaker.name}> {text}"


def joined(listener: Conn, who: Conn, room: str, came_from: str | None = None) -> str:
    """C{came_from}: the room a line user left for this one (the line protocol says so)."""
    if listener.irc:
        return f":{who.mask} JOIN {room}"
    if came_from is not None:
        return (f"* {who.name} is back from {came_from}" if room == DEFAULT
                else f"* {who.name} joined {room} from {came_from}")
    return f"* {who.name} joined" if room == DEFAULT else f"* {who.name} joined {room}"


def parted(listener: Conn, who: Conn, room: str, to: str | None = None) -> str:
    """C{to}: the room a line user left this one for."""
    if listener.irc:
        return f":{who.mask} PART {room}" + (f" :left for {to}" if to is not None else "")
    where = "" if room == DEFAULT else f" {room}"
    return f"* {who.name} left{where}" + (f" for {to}" if to is not None else "")


def welcome(others: list[Conn]) -> str:
    """What a line user is told of the default room on registering (all names: rooms are small)."""
    if not others:
        return f"* you are in {DEFAULT} alone for now"
    names = ", ".join(sorted((str(c.name) for c in others), key=fold))
    return f"* you are in {DEFAULT} with {len(others)} other{'s' * (len(others) > 1)}: {names}"


def crossing(sender: Conn, receivers: list[Conn], what: str) -> None:
    """Note (in C{--hypothesis-show-statistics}) that C{what} crossed protocols."""
    for kind in sorted({r.kind for r in receivers if r.kind != sender.kind}):
        event(f"{what}: {sender.kind} -> {kind}")


class HubMachine(RuleBasedStateMachine):
    connections = Bundle("connections")

    def __init__(self) -> None:
        super().__init__()
        # Registration deadlines as configured by default; IRC liveness pings
        # out of the way (the time rule is about registration).
        self.net = Net(register_timeout=60, irc_ping_interval=10**9)
        self.hub, self.clock = self.net.hub, self.net.clock
        self.all: list[Conn] = []
        self.state = {DEFAULT: RoomState(), DEN: RoomState()}
        self.counter = itertools.count()

    # -- the model -----------------------------------------------------------

    def live(self) -> list[Conn]:
        return [c for c in self.all if not c.gone]

    def registered(self) -> list[Conn]:
        return [c for c in self.live() if c.name is not None]

    def members(self, room: str) -> list[Conn]:
        return [c for c in self.live() if room in c.rooms]

    def neighbours(self, conn: Conn) -> list[Conn]:
        """Everyone sharing a room with C{conn}: who hears of its renames and quit."""
        return [c for c in self.live() if c is not conn and c.rooms & conn.rooms]

    def holder(self, name: str) -> Conn | None:
        for conn in self.registered():
            assert conn.name is not None
            if fold(conn.name) == fold(name):
                return conn
        return None

    def enter(self, conn: Conn, room: str) -> None:
        if room == DEN and not self.members(DEN):
            self.state[DEN] = RoomState(ops={conn})  # a new room: its creator runs it
        conn.rooms.add(room)

    def exit(self, conn: Conn, room: str) -> None:
        conn.rooms.discard(room)
        state = self.state[room]
        state.ops.discard(conn)
        state.voiced.discard(conn)
        if room == DEN and not self.members(DEN):
            self.state[DEN] = RoomState()  # gone; a new one starts afresh

    def listing(self, room: str) -> list[str]:
        """The members of C{room} as NAMES and /who show them (C{@op}, C{+voiced})."""
        state = self.state[room]
        return [("@" if c in state.ops else "+" if c in state.voiced else "") + str(c.name)
                for c in sorted(self.members(room), key=lambda c: fold(str(c.name)))]

    def move(self, conn: Conn, room: str) -> dict[Conn, list[str]]:
        """A line user leaves its room for C{room}: what everyone sees."""
        old = conn.room
        old_others = [c for c in self.members(old) if c is not conn]
        self.exit(conn, old)
        new_others = self.members(room)
        self.enter(conn, room)
        seen: dict[Conn, list[str]] = {
            conn: [f"* you joined {room} ({len(self.members(room))} here)"]}
        for other in self.live():
            lines = [parted(other, conn, old, to=room)] if other in old_others else []
            lines += [joined(other, conn, room, came_from=old)] if other in new_others else []
            if lines:
                seen[other] = lines
        return seen

    # -- reading the wires ---------------------------------------------------

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

    def not_operator(self, conn: Conn, room: str) -> str:
        return (f":chatsvc 482 {conn.name} {room} :You're not channel operator" if conn.irc
                else f"! you are not an operator of {room}")

    def not_member(self, conn: Conn, target: Conn, room: str) -> str:
        return (f":chatsvc 441 {conn.name} {target.name} {room} :They aren't on that channel"
                if conn.irc else f"! {target.name} is not in {room}")

    def leave(self, conn: Conn, reason: str, graceful: bool) -> None:
        self.drain()
        neighbours = self.neighbours(conn)
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
        for room in list(conn.rooms):
            self.exit(conn, room)
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
        """Start with both protocols in the default room, and two of them in #den."""
        conns = []
        for kind, name in zip(kinds, ["alice", "bob", "carol", "dave", "x"], strict=False):
            conn = self.connect(kind)
            self.register_or_rename(conn, name)
            self.join(conn, DEFAULT)
            conns.append(conn)
        self.join(conns[0], DEN)  # its operator
        self.join(conns[1], DEN)
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
        neighbours = self.neighbours(conn)
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
            # Registered: a line user enters the default room, an IRC user is welcomed.
            if conn.irc:
                assert got[conn][0].startswith(f":chatsvc 001 {name} :Welcome"), got[conn]
                assert f"{name}!~u{conn.number}@{conn.host}" in got[conn][0]
                self.only(got, {conn: got[conn]})
            else:
                others = self.members(DEFAULT)
                assert got[conn] == [f"* you are {name}", welcome(others)]
                self.enter(conn, DEFAULT)
                self.only(got, {conn: got[conn]} | {
                    other: [joined(other, conn, DEFAULT)] for other in others})
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

    @rule(conn=connections, room=ROOMS)
    def join(self, conn: Conn, room: str) -> None:
        if conn.gone:
            return
        self.drain()
        conn.send(f"JOIN {room}" if conn.irc else f"/join {room}")
        got = self.drain()
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
        elif room in conn.rooms:
            self.only(got, {conn: [] if conn.irc else [f"! you are already in {room}"]})
        elif not conn.irc:
            self.only(got, self.move(conn, room))
        else:
            others = self.members(room)
            self.enter(conn, room)
            self.only(got, {conn: [
                f":{conn.mask} JOIN {room}",
                f":chatsvc 353 {conn.name} = {room} :{' '.join(self.listing(room))}",
                f":chatsvc 366 {conn.name} {room} :End of /NAMES list",
            ]} | {other: [joined(other, conn, room)] for other in others})
            crossing(conn, others, "join")

    @rule(conn=connections, room=ROOMS)
    def part(self, conn: Conn, room: str) -> None:
        """IRC parts C{room}; a line user parts its own room (C{/part})."""
        if conn.gone:
            return
        self.drain()
        conn.send(f"PART {room}" if conn.irc else "/part")
        got = self.drain()
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
        elif not conn.irc:
            if conn.room == DEFAULT:
                self.only(got, {conn: [
                    f"! you are in {DEFAULT}, the default room: /join #room to go elsewhere"]})
            else:
                self.only(got, self.move(conn, DEFAULT))
        elif not self.members(room) and room != DEFAULT:
            self.only(got, {conn: [f":chatsvc 403 {conn.name} {room} :No such channel"]})
        elif room not in conn.rooms:
            self.only(got, {conn: [
                f":chatsvc 442 {conn.name} {room} :You're not on that channel"]})
        else:
            others = [c for c in self.members(room) if c is not conn]
            self.exit(conn, room)
            self.only(got, {conn: [parted(conn, conn, room)]} | {
                other: [parted(other, conn, room)] for other in others})

    @rule(conn=connections, room=ROOMS)
    def broadcast(self, conn: Conn, room: str) -> None:
        """IRC talks to C{room}; a line user to its own room."""
        if conn.gone:
            return
        self.drain()
        text = f"m{next(self.counter)}"
        if not conn.irc:
            room = conn.room
        conn.send(f"PRIVMSG {room} :{text}" if conn.irc else text)
        got = self.drain()
        state = self.state[room]
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
        elif not self.members(room) and room != DEFAULT:
            self.only(got, {conn: [f":chatsvc 403 {conn.name} {room} :No such channel"]})
        elif room not in conn.rooms:
            self.only(got, {conn: [
                f":chatsvc 404 {conn.name} {room} :Cannot send to channel (not in room)"]})
        elif state.moderated and conn not in state.ops | state.voiced:
            self.only(got, {conn: [
                f":chatsvc 404 {conn.name} {room} :Cannot send to channel (moderated)"
                if conn.irc else f"! cannot speak: {room} is moderated: "
                "only operators and voiced members may speak"]})
            event(f"{conn.kind} silenced by +m")
        else:
            hearers = [other for other in self.members(room) if other is not conn]
            self.only(got, {other: [said(other, conn, room, text)] for other in hearers})
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

    @rule(conn=connections, room=ROOMS)
    def look(self, conn: Conn, room: str) -> None:
        """Who is in a room, as each protocol asks: both show the model's members."""
        if conn.gone:
            return
        self.drain()
        if not conn.irc:
            room = conn.room  # /who: your own room (a line user may look before registering)
        conn.send(f"NAMES {room}" if conn.irc else "/who")
        got = self.drain()
        if conn.name is None and conn.irc:
            self.only(got, {conn: [self.refused(conn)]})
            return
        names = self.listing(room)
        if conn.irc:
            shown = [f":chatsvc 353 {conn.name} = {room} :{' '.join(names)}"] if names else []
            self.only(got, {conn: [*shown, f":chatsvc 366 {conn.name} {room} :End of /NAMES list"]})
        else:
            self.only(got, {conn: [f"* in {room} ({len(names)}): {', '.join(names)}"]})

    def operator(self, conn: Conn, other: Conn, room: str, by_op: bool) -> tuple[Conn, Conn]:
        """C{conn} acting on C{other}; or, with C{by_op}, one of C{room}'s operators
        (if it has any) acting on another member (if C{other} is not one).

        So that runs often reach the operators' commands rather than their refusals.
        """
        ops = sorted(self.state[room].ops, key=lambda c: c.number)
        if not (by_op and ops):
            return conn, other
        others = [c for c in self.members(room) if c is not ops[0]]
        if room not in other.rooms and others:
            other = others[other.number % len(others)]
        return ops[0], other

    @rule(conn=connections, room=ROOMS, change=st.sampled_from(["+m", "-m", "+v", "+o"]),
          member=connections, by_op=st.booleans())
    def mode(self, conn: Conn, room: str, change: str, member: Conn, by_op: bool) -> None:
        """An operator (or not) moderates a room or gives voice or operator status."""
        conn, member = self.operator(conn, member, room, by_op)
        if not conn.irc:
            room = conn.room  # a line user's /mode, /voice and /op act on its room
        on_member = change in ("+v", "+o")
        if conn.gone or (on_member and (member.gone or member.name is None)) or (
                conn.irc and not self.members(room)):
            return
        self.drain()
        argument = f" {member.name}" if on_member else ""
        if conn.irc:
            conn.send(f"MODE {room} {change}{argument}")
        else:
            conn.send({"+v": "/voice", "+o": "/op"}.get(change, f"/mode {change}") + argument)
        got = self.drain()
        state = self.state[room]
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
            return
        if conn not in state.ops:
            self.only(got, {conn: [self.not_operator(conn, room)]})
            return
        if on_member and room not in member.rooms:
            self.only(got, {conn: [self.not_member(conn, member, room)]})
            return
        members = {"+v": state.voiced, "+o": state.ops}.get(change)
        unchanged = (member in members) if members is not None else (
            state.moderated == (change == "+m"))
        if unchanged:
            self.only(got, {} if conn.irc else {
                conn: [f"* nothing changed on {room}: it was already so"]})
            return
        if members is not None:
            members.add(member)
        else:
            state.moderated = change == "+m"
        what = {"+v": f"gives voice to {member.name} in",
                "+o": f"gives operator status to {member.name} in"}.get(change, f"sets {change} on")
        audience = self.members(room)
        self.only(got, {
            other: [f":{conn.mask} MODE {room} {change}{argument}" if other.irc
                    else f"* {conn.name} {what} {room}"]
            for other in audience
        })
        event(f"mode {change}: by {conn.kind}")
        crossing(conn, audience, f"mode {change}")

    @rule(conn=connections, victim=connections, room=ROOMS, by_op=st.booleans())
    def kick(self, conn: Conn, victim: Conn, room: str, by_op: bool) -> None:
        """An operator (or not) kicks someone: a line victim goes back to the default room."""
        conn, victim = self.operator(conn, victim, room, by_op)
        if not conn.irc:
            room = conn.room
        if conn.gone or victim.gone or victim.name is None or victim is conn or (
                conn.irc and not self.members(room)):
            return
        self.drain()
        conn.send(f"KICK {room} {victim.name} :{KICK_REASON}" if conn.irc
                  else f"/kick {victim.name} {KICK_REASON}")
        got = self.drain()
        if conn.name is None:
            self.only(got, {conn: [self.refused(conn)]})
            return
        if conn not in self.state[room].ops:
            self.only(got, {conn: [self.not_operator(conn, room)]})
            return
        if room not in victim.rooms:
            self.only(got, {conn: [self.not_member(conn, victim, room)]})
            return
        seen: dict[Conn, list[str]] = {}
        audience = self.members(room)
        for other in audience:
            if other.irc:
                seen[other] = [f":{conn.mask} KICK {room} {victim.name} :{KICK_REASON}"]
            elif other is victim:
                seen[other] = [f"* you were kicked from {room} by {conn.name} ({KICK_REASON})"]
            else:
                seen[other] = [f"* {conn.name} kicked {victim.name} from {room} ({KICK_REASON})"]
        self.exit(victim, room)
        if not victim.irc:  # back to the default room, which it had left for this one
            others = self.members(DEFAULT)
            self.enter(victim, DEFAULT)
            seen[victim].append(f"* you joined {DEFAULT} ({len(self.members(DEFAULT))} here)")
            for other in others:
                seen.setdefault(other, []).append(joined(other, victim, DEFAULT))
        self.only(got, seen)
        event(f"kick: {conn.kind} kicks {victim.kind}")
        crossing(conn, audience, "kick")

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
    def a_line_user_is_in_one_room(self) -> None:
        for conn in self.registered():
            if not conn.irc:
                assert len(conn.rooms) == 1, conn

    @invariant()
    def the_rooms_hold_exactly_their_members(self) -> None:
        assert self.hub.default_room.name == DEFAULT
        for room, state in self.state.items():
            members = self.members(room)
            if not members and room != DEFAULT:
                assert fold(room) not in self.hub.rooms
                continue
            hub_view = [(m.name, m.operator, m.voiced) for m in self.hub.members(room)]
            model = [(c.name, c in state.ops, c in state.voiced)
                     for c in sorted(members, key=lambda c: fold(str(c.name)))]
            assert hub_view == model, room

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
