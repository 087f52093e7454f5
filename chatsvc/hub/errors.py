"""Refusals the hub raises; adapters turn them into their own error replies."""

from __future__ import annotations

import math


class ChatError(Exception):
    """A client asked for something it may not have; C{str()} is shown to it."""


class NotRegistered(ChatError):
    def __init__(self) -> None:
        super().__init__("register first: send #yourname")


class NameTaken(ChatError):
    def __init__(self, name: str) -> None:
        super().__init__(f"name taken: {name}")
        self.name = name


class BadNameError(ChatError):
    def __init__(self, why: str) -> None:
        super().__init__(f"bad name: {why}")
        self.why = why


class NoSuchUser(ChatError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no such user: {name}")
        self.name = name


class NoSuchService(NoSuchUser):
    """A message to a reserved service name (L{chatsvc.hub.names.SERVICE_NAMES}).

    IRC clients send C{NickServ} the user's password by themselves: the
    sender should learn that it went nowhere, and why.
    """

    HINT = "this server has no services yet (no accounts): nothing was sent"

    def __init__(self, name: str) -> None:
        ChatError.__init__(self, f"no such user: {name} ({self.HINT})")
        self.name = name


class EmptyMessage(ChatError):
    def __init__(self) -> None:
        super().__init__("empty message")


# -- rooms -------------------------------------------------------------------
#
# Each refusal about a room carries C{room} (its display name), and some a
# C{name} or C{mode}, so the IRC adapter can pick the numeric (noted on each
# class) while the line protocol shows C{str()}.


class BadRoomName(ChatError):
    """ERR_NOSUCHCHANNEL (403) / ERR_BADCHANNAME (479)."""

    def __init__(self, room: str, why: str) -> None:
        super().__init__(f"bad room name: {why}")
        self.room = room
        self.why = why


class RoomError(ChatError):
    """A refusal about one room, named by C{room}."""

    def __init__(self, room: str, message: str) -> None:
        super().__init__(message)
        self.room = room


class NoSuchRoom(RoomError):
    """ERR_NOSUCHCHANNEL (403); also for a secret room the asker may not see."""

    def __init__(self, room: str) -> None:
        super().__init__(room, f"no such room: {room}")


class InviteOnly(RoomError):
    """ERR_INVITEONLYCHAN (473)."""

    def __init__(self, room: str) -> None:
        super().__init__(room, f"{room} is invite-only")


class BadKey(RoomError):
    """ERR_BADCHANNELKEY (475)."""

    def __init__(self, room: str) -> None:
        super().__init__(room, f"bad key for {room}")


class RoomFull(RoomError):
    """ERR_CHANNELISFULL (471)."""

    def __init__(self, room: str) -> None:
        super().__init__(room, f"{room} is full")


class Banned(RoomError):
    """ERR_BANNEDFROMCHAN (474)."""

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are banned from {room}")


class NotOperator(RoomError):
    """ERR_CHANOPRIVSNEEDED (482)."""

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are not an operator of {room}")


class NotInRoom(RoomError):
    """ERR_NOTONCHANNEL (442)."""

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are not in {room}")


class AlreadyInRoom(RoomError):
    """Joining a room you are in (IRC ignores such a JOIN)."""

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are already in {room}")


class UserNotInRoom(RoomError):
    """ERR_USERNOTINCHANNEL (441)."""

    def __init__(self, room: str, name: str) -> None:
        super().__init__(room, f"{name} is not in {room}")
        self.name = name


class UserAlreadyInRoom(RoomError):
    """ERR_USERONCHANNEL (443)."""

    def __init__(self, room: str, name: str) -> None:
        super().__init__(room, f"{name} is already in {room}")
        self.name = name


class CannotSpeak(RoomError):
    """ERR_CANNOTSENDTOCHAN (404); C{why} is C{"not in room"}, C{"moderated"} or C{"banned"}."""

    _TEXT = {
        "not in room": "you are not in {room}",
        "moderated": "{room} is moderated: only operators and voiced members may speak",
        "banned": "you are banned from {room}",
    }

    def __init__(self, room: str, why: str) -> None:
        super().__init__(room, "cannot speak: " + self._TEXT[why].format(room=room))
        self.why = why


class TopicTooLong(RoomError):
    """The IRC adapter should truncate to C{limit} (TOPICLEN) rather than refuse."""

    def __init__(self, room: str, limit: int) -> None:
        super().__init__(room, f"topic too long for {room}: at most {limit} bytes")
        self.limit = limit


class UnknownMode(ChatError):
    """ERR_UNKNOWNMODE (472)."""

    def __init__(self, mode: str) -> None:
        super().__init__(f"unknown mode: {mode} (known: b e I i k l m n o s t v)")
        self.mode = mode


class ModeNeedsArgument(ChatError):
    """ERR_NEEDMOREPARAMS (461)."""

    _WHAT = {"k": "a key", "l": "a number", "o": "a name", "v": "a name"}

    def __init__(self, mode: str, adding: bool = True) -> None:
        sign = "+" if adding else "-"
        super().__init__(f"mode {sign}{mode} needs {self._WHAT.get(mode, 'a mask')}")
        self.mode = mode


class TooManyModes(ChatError):
    """More mode changes in one command than IRC's C{MODES} allows (see
    L{chatsvc.hub.modes.parse_modes}); IRC ignores the excess instead."""

    def __init__(self, arguments: int, letters: int) -> None:
        super().__init__(f"too many modes in one command: at most {arguments} with an "
                         f"argument or a list to show, and {letters} in all")
        self.arguments = arguments
        self.letters = letters


class TryAgain(ChatError):
    """A connection's reply budget (L{chatsvc.conn.limits.ReplyBudget}) is spent:
    RPL_TRYAGAIN (263) on IRC."""

    def __init__(self, what: str, seconds: float) -> None:
        wait = max(1, math.ceil(seconds))
        super().__init__(f"too many long replies at once: try {what} again in {wait} s")
        self.what = what
        self.seconds = seconds


class BadModeArgument(RoomError):
    """ERR_INVALIDMODEPARAM (696): a bad key, limit or mask."""

    def __init__(self, room: str, mode: str, argument: str, why: str) -> None:
        super().__init__(room, f"bad argument for +{mode} on {room}: {why}")
        self.mode = mode
        self.argument = argument


class ListFull(RoomError):
    """ERR_BANLISTFULL (478)."""

    _LIST = {"b": "ban", "e": "ban exception", "I": "invitation"}

    def __init__(self, room: str, mode: str, limit: int, message: str | None = None) -> None:
        super().__init__(room, message or (
            f"the {self._LIST[mode]} list of {room} is full ({limit} entries in its ban, "
            "exception and invitation lists together)"))
        self.mode = mode
        self.limit = limit


class TooManyListEntries(ListFull):
    """ERR_BANLISTFULL (478): the setter's address, or the server, holds the most entries."""

    def __init__(self, room: str, mode: str, limit: int, whose: str) -> None:
        super().__init__(room, mode, limit,
                         f"cannot add to the {self._LIST[mode]} list of {room}: {whose} "
                         f"holds {limit} list entries, the most allowed")


class PasswordRequired(ChatError):
    """The server has a password (--password) and this connection has not given it."""

    def __init__(self) -> None:
        super().__init__("password required: send /pass PASSWORD first")


class BadPassword(ChatError):
    """ERR_PASSWDMISMATCH (464) for the server password."""

    def __init__(self) -> None:
        super().__init__("wrong password")


class BadOperLogin(ChatError):
    """ERR_PASSWDMISMATCH (464)."""

    def __init__(self) -> None:
        super().__init__("bad operator name or password")


class TooManyFailures(ChatError):
    """Too many wrong passwords lately from this address or for this account.

    The attempt was refused without checking the password (IRC: 464).
    C{wait} is how many seconds are left.
    """

    def __init__(self, wait: float) -> None:
        self.wait = max(1, math.ceil(wait))
        super().__init__(f"too many failed attempts: try again in {self.wait} s")


class TooManyRooms(RoomError):
    """ERR_TOOMANYCHANNELS (405)."""

    def __init__(self, room: str, limit: int) -> None:
        super().__init__(room, f"cannot join {room}: you are in {limit} rooms already")
        self.limit = limit


class Refused(ChatError):
    """The hub will not admit a new connection; C{str()} tells the client why."""


class ServerFull(Refused):
    def __init__(self) -> None:
        super().__init__("server full")


class TooManyConnections(Refused):
    def __init__(self, limit: int) -> None:
        super().__init__(f"too many connections from your address (limit {limit})")


class ConnectingTooFast(Refused):
    """Over C{--connect-rate} new connections from one address per C{--connect-window}."""

    def __init__(self, wait: float) -> None:
        self.wait = max(1, math.ceil(wait))
        super().__init__(f"too many connections from your address: try again in {self.wait} s")


class ShuttingDown(Refused):
    def __init__(self) -> None:
        super().__init__("server shutting down")
