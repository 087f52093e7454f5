"""Refusals the hub raises; adapters turn them into their own error replies.

Every refusal has a stable C{code} (kebab-case, listed in docs/user/errors.rst):
what clients, IRC's numerics and the WebSocket protocol go by, so that
rewording a message breaks nobody.  C{str()} is the English text a person
reads.  C{line_forms} says how that text reads on the line protocol,
for clients that have only the text to go by (L{chatsvc.protocols.line.wire}
builds its table from them): each form is the text with C{{name}}, C{{room}}
or C{{word}} for one word, C{{n}} for a number and C{{text}} for anything.
Change a message and its forms together, or the test that renders every
refusal and parses it back fails: old clients would no longer recognise it.
"""

from __future__ import annotations

import math

from chatsvc.events import UNSTAMPED, Error, Stamp


class ChatError(Exception):
    """A client asked for something it may not have; C{str()} is shown to it.

    C{code} names the refusal for programs; a refusal with no class of its
    own takes one as C{ChatError(message, code="...")}.
    """

    code: str = "error"
    line_forms: tuple[str, ...] = ()

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def as_event(self, stamp: Stamp = UNSTAMPED) -> Error:
        """The L{Error} event that shows this refusal, with its code (and, when
        the hub emits it, the hub's stamp: L{chatsvc.events})."""
        return Error(str(self), code=self.code, stamp=stamp)


class NotRegistered(ChatError):
    code = "not-registered"
    line_forms = ("register first: send #yourname",)

    def __init__(self) -> None:
        super().__init__("register first: send #yourname")


class NameTaken(ChatError):
    code = "name-taken"
    line_forms = ("name taken: {name}",)

    def __init__(self, name: str) -> None:
        super().__init__(f"name taken: {name}")
        self.name = name


class BadNameError(ChatError):
    code = "bad-name"
    line_forms = ("bad name: {text}",)

    def __init__(self, why: str) -> None:
        super().__init__(f"bad name: {why}")
        self.why = why


class NoSuchUser(ChatError):
    code = "no-such-user"
    line_forms = ("no such user: {name}",)

    def __init__(self, name: str) -> None:
        super().__init__(f"no such user: {name}")
        self.name = name


class NoSuchService(NoSuchUser):
    """A message to a reserved service name (L{chatsvc.hub.names.SERVICE_NAMES}).

    IRC clients send C{NickServ} the user's password by themselves: the
    sender should learn that it went nowhere, and why.
    """

    code = "no-such-service"
    line_forms = ("no such user: {name} ({text})",)

    HINT = "this server has no services yet (no accounts): nothing was sent"

    def __init__(self, name: str) -> None:
        ChatError.__init__(self, f"no such user: {name} ({self.HINT})")
        self.name = name


class EmptyMessage(ChatError):
    code = "empty-message"
    line_forms = ("empty message",)

    def __init__(self) -> None:
        super().__init__("empty message")


# -- rooms -------------------------------------------------------------------
#
# Each refusal about a room carries C{room} (its display name), and some a
# C{name} or C{mode}, so the IRC adapter can pick the numeric (noted on each
# class) while the line protocol shows C{str()}.


class BadRoomName(ChatError):
    """ERR_NOSUCHCHANNEL (403) / ERR_BADCHANNAME (479)."""

    code = "bad-room-name"
    line_forms = ("bad room name: {text}",)

    def __init__(self, room: str, why: str) -> None:
        super().__init__(f"bad room name: {why}")
        self.room = room
        self.why = why


class RoomError(ChatError):
    """A refusal about one room, named by C{room}."""

    code = "room-error"

    def __init__(self, room: str, message: str) -> None:
        super().__init__(message)
        self.room = room


class NoSuchRoom(RoomError):
    """ERR_NOSUCHCHANNEL (403); also for a secret room the asker may not see."""

    code = "no-such-room"
    line_forms = ("no such room: {room}",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"no such room: {room}")


class InviteOnly(RoomError):
    """ERR_INVITEONLYCHAN (473)."""

    code = "invite-only"
    line_forms = ("{room} is invite-only",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"{room} is invite-only")


class BadKey(RoomError):
    """ERR_BADCHANNELKEY (475)."""

    code = "bad-key"
    line_forms = ("bad key for {room}",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"bad key for {room}")


class RoomFull(RoomError):
    """ERR_CHANNELISFULL (471)."""

    code = "room-full"
    line_forms = ("{room} is full",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"{room} is full")


class Banned(RoomError):
    """ERR_BANNEDFROMCHAN (474)."""

    code = "banned"
    line_forms = ("you are banned from {room}",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are banned from {room}")


class NotOperator(RoomError):
    """ERR_CHANOPRIVSNEEDED (482)."""

    code = "not-operator"
    line_forms = ("you are not an operator of {room}",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are not an operator of {room}")


class NotInRoom(RoomError):
    """ERR_NOTONCHANNEL (442)."""

    code = "not-in-room"
    line_forms = ("you are not in {room}",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are not in {room}")


class AlreadyInRoom(RoomError):
    """Joining a room you are in (IRC ignores such a JOIN)."""

    code = "already-in-room"
    line_forms = ("you are already in {room}",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are already in {room}")


class UserNotInRoom(RoomError):
    """ERR_USERNOTINCHANNEL (441)."""

    code = "user-not-in-room"
    line_forms = ("{name} is not in {room}",)

    def __init__(self, room: str, name: str) -> None:
        super().__init__(room, f"{name} is not in {room}")
        self.name = name


class UserAlreadyInRoom(RoomError):
    """ERR_USERONCHANNEL (443)."""

    code = "user-already-in-room"
    line_forms = ("{name} is already in {room}",)

    def __init__(self, room: str, name: str) -> None:
        super().__init__(room, f"{name} is already in {room}")
        self.name = name


class CannotSpeak(RoomError):
    """ERR_CANNOTSENDTOCHAN (404); C{why} is C{"not in room"}, C{"moderated"} or C{"banned"}."""

    code = "cannot-speak"
    line_forms = ("cannot speak: {text}",)

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

    code = "topic-too-long"
    line_forms = ("topic too long for {room}: at most {n} bytes",)

    def __init__(self, room: str, limit: int) -> None:
        super().__init__(room, f"topic too long for {room}: at most {limit} bytes")
        self.limit = limit


class UnknownMode(ChatError):
    """ERR_UNKNOWNMODE (472)."""

    code = "unknown-mode"
    line_forms = ("unknown mode: {word} (known: {text})",)

    def __init__(self, mode: str) -> None:
        super().__init__(f"unknown mode: {mode} (known: b e I i k l m n o s t v x)")
        self.mode = mode


class ModeNeedsArgument(ChatError):
    """ERR_NEEDMOREPARAMS (461)."""

    code = "mode-needs-argument"
    line_forms = ("mode {word} needs {text}",)

    _WHAT = {"k": "a key", "l": "a number", "o": "a name", "v": "a name"}

    def __init__(self, mode: str, adding: bool = True) -> None:
        sign = "+" if adding else "-"
        super().__init__(f"mode {sign}{mode} needs {self._WHAT.get(mode, 'a mask')}")
        self.mode = mode


class TooManyModes(ChatError):
    """More mode changes in one command than IRC's C{MODES} allows (see
    L{chatsvc.hub.modes.parse_modes}); IRC ignores the excess instead."""

    code = "too-many-modes"
    line_forms = ("too many modes in one command: {text}",)

    def __init__(self, arguments: int, letters: int) -> None:
        super().__init__(f"too many modes in one command: at most {arguments} with an "
                         f"argument or a list to show, and {letters} in all")
        self.arguments = arguments
        self.letters = letters


class TryAgain(ChatError):
    """A connection's reply budget (L{chatsvc.conn.limits.ReplyBudget}) is spent:
    RPL_TRYAGAIN (263) on IRC."""

    code = "try-again"
    line_forms = ("too many long replies at once: try {text} again in {n} s",)

    def __init__(self, what: str, seconds: float) -> None:
        wait = max(1, math.ceil(seconds))
        super().__init__(f"too many long replies at once: try {what} again in {wait} s")
        self.what = what
        self.seconds = seconds


class BadModeArgument(RoomError):
    """ERR_INVALIDMODEPARAM (696): a bad key, limit or mask."""

    code = "bad-mode-argument"
    line_forms = ("bad argument for {word} on {room}: {text}",)

    def __init__(self, room: str, mode: str, argument: str, why: str) -> None:
        super().__init__(room, f"bad argument for +{mode} on {room}: {why}")
        self.mode = mode
        self.argument = argument


class ListFull(RoomError):
    """ERR_BANLISTFULL (478)."""

    code = "list-full"
    line_forms = ("the {text} list of {room} is full ({text})",)

    _LIST = {"b": "ban", "e": "ban exception", "I": "invitation"}

    def __init__(self, room: str, mode: str, limit: int, message: str | None = None) -> None:
        super().__init__(room, message or (
            f"the {self._LIST[mode]} list of {room} is full ({limit} entries in its ban, "
            "exception and invitation lists together)"))
        self.mode = mode
        self.limit = limit


class TooManyListEntries(ListFull):
    """ERR_BANLISTFULL (478): the setter's address, or the server, holds the most entries."""

    code = "too-many-list-entries"
    line_forms = ("cannot add to the {text} list of {room}: {text}",)

    def __init__(self, room: str, mode: str, limit: int, whose: str) -> None:
        super().__init__(room, mode, limit,
                         f"cannot add to the {self._LIST[mode]} list of {room}: {whose} "
                         f"holds {limit} list entries, the most allowed")


class PasswordRequired(ChatError):
    """The server has a password (--password) and this connection has not given it."""

    code = "password-required"
    line_forms = ("password required: {text}",)

    def __init__(self) -> None:
        super().__init__("password required: send /pass PASSWORD first")


class BadPassword(ChatError):
    """ERR_PASSWDMISMATCH (464) for the server password."""

    code = "wrong-password"
    line_forms = ("wrong password",)

    def __init__(self) -> None:
        super().__init__("wrong password")


class BadOperLogin(ChatError):
    """ERR_PASSWDMISMATCH (464)."""

    code = "bad-oper-login"
    line_forms = ("bad operator name or password",)

    def __init__(self) -> None:
        super().__init__("bad operator name or password")


class NotServerOperator(ChatError):
    """ERR_NOPRIVILEGES (481): what only server operators (C{/oper}) may do."""

    code = "not-server-operator"
    line_forms = ("you are not a server operator",)

    def __init__(self) -> None:
        super().__init__("you are not a server operator")


class UnknownUserMode(ChatError):
    """ERR_UMODEUNKNOWNFLAG (501): a user mode one cannot set on oneself."""

    code = "unknown-user-mode"
    line_forms = ("unknown user mode {word}",)

    def __init__(self, mode: str) -> None:
        self.mode = mode
        super().__init__(f"unknown user mode {mode}")


class TooManyFailures(ChatError):
    """Too many wrong passwords lately from this address or for this account.

    The attempt was refused without checking the password (IRC: 464).
    C{wait} is how many seconds are left.
    """

    code = "too-many-failures"
    line_forms = ("too many failed attempts: try again in {n} s",)

    def __init__(self, wait: float) -> None:
        self.wait = max(1, math.ceil(wait))
        super().__init__(f"too many failed attempts: try again in {self.wait} s")


class TooManyRooms(RoomError):
    """ERR_TOOMANYCHANNELS (405)."""

    code = "too-many-rooms"
    line_forms = ("cannot join {room}: you are in {n} rooms already",)

    def __init__(self, room: str, limit: int) -> None:
        super().__init__(room, f"cannot join {room}: you are in {limit} rooms already")
        self.limit = limit


class Refused(ChatError):
    """The hub will not admit a new connection; C{str()} tells the client why."""

    code = "not-admitted"


class ServerFull(Refused):
    code = "server-full"
    line_forms = ("server full",)

    def __init__(self) -> None:
        super().__init__("server full")


class TooManyConnections(Refused):
    code = "too-many-connections"
    line_forms = ("too many connections from your address (limit {n})",)

    def __init__(self, limit: int) -> None:
        super().__init__(f"too many connections from your address (limit {limit})")


class ConnectingTooFast(Refused):
    """Over C{--connect-rate} new connections from one address per C{--connect-window}."""

    code = "connecting-too-fast"
    line_forms = ("too many connections from your address: try again in {n} s",)

    def __init__(self, wait: float) -> None:
        self.wait = max(1, math.ceil(wait))
        super().__init__(f"too many connections from your address: try again in {self.wait} s")


class ShuttingDown(Refused):
    code = "shutting-down"
    line_forms = ("server shutting down",)

    def __init__(self) -> None:
        super().__init__("server shutting down")


# -- the connection and the adapters' own refusals ----------------------------
#
# Not the hub's rules but the plumbing's (conn.guard, framing) and the line
# protocol's commands; here so that every refusal has its code in one place.


class Flooding(ChatError):
    """Over the flood gate's budget (L{chatsvc.conn.guard}): said, then the
    connection closes (IRC: C{ERROR :Closing link}); the others see it as the
    leave reason."""

    code = "flooding"
    line_forms = ("flooding",)

    def __init__(self) -> None:
        super().__init__("flooding")


class TooSlow(ChatError):
    """The client read too slowly and its backlog overflowed: the connection is
    dropped at once, so the client itself is told nothing; the others see it
    as the leave reason."""

    code = "too-slow"
    line_forms = ("too slow",)

    def __init__(self) -> None:
        super().__init__("too slow")


class LineTooLong(ChatError):
    """A line over the limit (C{--max-line}); refused alone, the next lines
    are read (IRC: ERR_INPUTTOOLONG, 417)."""

    code = "line-too-long"
    line_forms = ("line too long (limit {n} bytes)", "line too long")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"line too long (limit {limit} bytes)")


class UnknownCommand(ChatError):
    """A command the adapter does not have (IRC: ERR_UNKNOWNCOMMAND, 421)."""

    code = "unknown-command"
    line_forms = ("unknown command: /{word}",)

    def __init__(self, command: str) -> None:
        super().__init__(f"unknown command: /{command}")
        self.command = command


class Usage(ChatError):
    """A command given the wrong arguments; the message shows the right ones."""

    code = "usage"
    line_forms = ("usage: {text}", "{text}? /{text}", "say who: {text}")


class NoRoom(ChatError):
    """A line user in no room (kicked from the default room, refused by it,
    or on a server without one) sent something aimed at a room."""

    code = "no-room"
    TEXT = "you are in no room: /join #room to enter one (private messages still work)"
    line_forms = (TEXT,)

    def __init__(self) -> None:
        super().__init__(self.TEXT)


class AlreadyRegistered(ChatError):
    """C{/pass} after registering (IRC: ERR_ALREADYREGISTRED, 462)."""

    code = "already-registered"
    line_forms = ("already registered",)

    def __init__(self) -> None:
        super().__init__("already registered")


class NoHistory(ChatError):
    """C{/history} on a server that keeps none (C{--data-dir none})."""

    code = "no-history"
    line_forms = ("this server keeps no history",)

    def __init__(self) -> None:
        super().__init__("this server keeps no history")


class HistoryUnavailable(ChatError):
    """The store could not be read (the error is in the server's log)."""

    code = "history-unavailable"
    line_forms = ("the history of {room} is unavailable",)

    def __init__(self, room: str) -> None:
        self.room = room
        super().__init__(f"the history of {room} is unavailable")


class NoSuchPage(ChatError):
    """C{/rooms N} past the last page."""

    code = "no-such-page"
    line_forms = ("no page {n}: {text}",)

    def __init__(self, page: int, rooms: int, pages: int, per_page: int) -> None:
        super().__init__(f"no page {page}: {rooms} rooms make {pages} "
                         f"page{'s' if pages > 1 else ''} of {per_page}")
        self.page = page


class InDefaultRoom(RoomError):
    """C{/part} in the default room, which a line user leaves only for another."""

    code = "in-default-room"
    line_forms = ("you are in {room}, the default room: {text}",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"you are in {room}, the default room: "
                               "/join #room to go elsewhere")


class NotYourRoom(RoomError):
    """A line command naming a room other than the user's own (C{/mode #other})."""

    code = "not-your-room"
    line_forms = ("/mode acts on your room, {room}: /join {room} first",)

    def __init__(self, room: str, named: str) -> None:
        super().__init__(room, f"/mode acts on your room, {room}: /join {named} first")
        self.named = named


# -- accounts (chatsvc.accounts; docs/user/accounts.rst) ---------------------------
#
# A wrong account password is L{BadPassword}, whether or not the account
# exists: the same answer, after the same work.


class NoAccounts(ChatError):
    """An account command on a server that keeps no accounts (C{--data-dir none})."""

    code = "no-accounts"
    line_forms = ("this server keeps no accounts",)

    def __init__(self) -> None:
        super().__init__("this server keeps no accounts")


class NoSuchAccount(ChatError):
    """No account of that name, where saying so tells nothing a guest could not
    learn by taking the name (C{/account bob}, IRC's NickServ INFO)."""

    code = "no-such-account"
    line_forms = ("no such account: {name}",)

    def __init__(self, name: str) -> None:
        super().__init__(f"no such account: {name}")
        self.name = name


class NameRegistered(ChatError):
    """The name just taken is an account's: log in within the grace period or
    be renamed (C{--account-grace})."""

    code = "name-registered"
    line_forms = ("{name} is registered: /login {name} PASSWORD within {n} seconds "
                  "or you will be renamed",)

    def __init__(self, name: str, grace: float) -> None:
        self.name = name
        self.grace = max(1, math.ceil(grace))
        super().__init__(f"{name} is registered: /login {name} PASSWORD within "
                         f"{self.grace} seconds or you will be renamed")


class AccountExists(ChatError):
    """C{/register} of a name that is an account already."""

    code = "account-exists"
    line_forms = ("{name} is registered already: /login {name} PASSWORD",)

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is registered already: /login {name} PASSWORD")
        self.name = name


class NotLoggedIn(ChatError):
    """C{/logout}, C{/password}, C{/drop} without being logged in."""

    code = "not-logged-in"
    line_forms = ("you are not logged in",)

    def __init__(self) -> None:
        super().__init__("you are not logged in")


class PrivateHistoryNeedsAccount(ChatError):
    """C{/history @bob} (or the web's C{history} of a name) without being
    logged in: private history is read by account, and a guest has none."""

    code = "history-needs-login"
    line_forms = ("log in to see private history",)

    def __init__(self) -> None:
        super().__init__("log in to see private history")


class AlreadyLoggedIn(ChatError):
    """C{/login} or C{/register} while logged in (C{/logout} first)."""

    code = "already-logged-in"
    line_forms = ("you are logged in as {name} already: /logout first",)

    def __init__(self, name: str) -> None:
        super().__init__(f"you are logged in as {name} already: /logout first")
        self.name = name


class UnusablePassword(ChatError):
    """A new password that is too short, too long or not one printable word;
    refused before any hashing."""

    code = "unusable-password"
    line_forms = ("unusable password: {text}",)

    def __init__(self, why: str) -> None:
        super().__init__(f"unusable password: {why}")
        self.why = why


class HashingBusy(ChatError):
    """A password is being checked for this connection already, or the server
    checks as many as it will at once (L{chatsvc.accounts.throttle.HashGate})."""

    code = "hashing-busy"
    line_forms = ("busy checking a password: send it again in a moment",)

    def __init__(self) -> None:
        super().__init__("busy checking a password: send it again in a moment")


class TooManyRegistrations(ChatError):
    """Past the new accounts one address may register (L{chatsvc.accounts.throttle})."""

    code = "registering-too-fast"
    line_forms = ("too many new accounts from your address: try again in {n} s",)

    def __init__(self, wait: float) -> None:
        self.wait = max(1, math.ceil(wait))
        super().__init__(f"too many new accounts from your address: try again in {self.wait} s")


class InboxFull(ChatError):
    """A private message to an offline account that holds the most waiting messages."""

    code = "inbox-full"
    line_forms = ("{name} has {n} messages waiting already: try again once they log in",)

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(f"{name} has {limit} messages waiting already: "
                         "try again once they log in")
        self.name = name


class AccountsUnavailable(ChatError):
    """The account store failed (the error is in the server's log)."""

    code = "accounts-unavailable"
    line_forms = ("accounts are unavailable: try again later",)

    def __init__(self) -> None:
        super().__init__("accounts are unavailable: try again later")


# -- client certificates and ghosting (chatsvc.accounts.rules; docs/user/accounts.rst) --


class NoCertificate(ChatError):
    """A certificate command, or a login by certificate, from a connection
    that showed no TLS client certificate."""

    code = "no-certificate"
    line_forms = ("you showed no TLS client certificate: connect over TLS with one",)

    def __init__(self) -> None:
        super().__init__("you showed no TLS client certificate: connect over TLS with one")


class BadFingerprint(ChatError):
    """What was given as a certificate's fingerprint is not one."""

    code = "bad-fingerprint"
    line_forms = ("not a certificate fingerprint: give the 64 hex digits of its SHA-256",)

    def __init__(self) -> None:
        super().__init__("not a certificate fingerprint: give the 64 hex digits of its SHA-256")


class CertificateTaken(ChatError):
    """A certificate is another account's already (which one is not said)."""

    code = "certificate-taken"
    line_forms = ("that certificate belongs to another account",)

    def __init__(self) -> None:
        super().__init__("that certificate belongs to another account")


class TooManyCertificates(ChatError):
    """An account holds the most certificates already."""

    code = "too-many-certificates"
    line_forms = ("your account has {n} certificates already: remove one first",)

    def __init__(self, limit: int) -> None:
        super().__init__(f"your account has {limit} certificates already: remove one first")
        self.limit = limit


class NoSuchCertificate(ChatError):
    """Removing a certificate the account does not have."""

    code = "no-such-certificate"
    line_forms = ("your account has no such certificate",)

    def __init__(self) -> None:
        super().__init__("your account has no such certificate")


class UnknownCertificate(ChatError):
    """A login by certificate (SASL EXTERNAL, C{/login NAME}) whose certificate
    is no account's, or not that account's."""

    code = "unknown-certificate"
    line_forms = ("your certificate is not registered to {name}",
                  "your certificate is not registered to an account")

    def __init__(self, name: str | None = None) -> None:
        super().__init__(f"your certificate is not registered to {name}" if name
                         else "your certificate is not registered to an account")
        self.name = name


class NotYourName(ChatError):
    """GHOST or RECOVER of a name whose holder is not logged in to the
    caller's account (and no right password for it was given)."""

    code = "not-your-name"
    line_forms = ("{name} is not yours: log in to its account first, or give its password",)

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not yours: log in to its account first, "
                         "or give its password")
        self.name = name
# -- registered rooms (chatsvc.hub.registered; docs/user/rooms.rst) -------------------


class RoomNeedsLogin(ChatError):
    """Registering a room, or being put on its operator list, needs an account:
    a registered room's operators are accounts, never names anyone may take."""

    code = "room-needs-login"
    line_forms = ("you must be logged in to register a room",)

    def __init__(self) -> None:
        super().__init__("you must be logged in to register a room")


class RoomRegistered(RoomError):
    """C{/register #room} of a room that is registered already."""

    code = "room-registered"
    line_forms = ("{room} is registered already",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"{room} is registered already")


class RoomNotRegistered(RoomError):
    """C{/unregister}, C{/roominfo} or an operator-list change of an unregistered room."""

    code = "room-not-registered"
    line_forms = ("{room} is not registered",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"{room} is not registered")


class NotFounder(RoomError):
    """What only the founder of a registered room (or a server operator) may do:
    drop the registration, change the operator list."""

    code = "not-founder"
    line_forms = ("only the founder of {room} or a server operator may do that",)

    def __init__(self, room: str) -> None:
        super().__init__(room, f"only the founder of {room} or a server operator may do that")


class TooManyRegisteredRooms(RoomError):
    """Past the registered rooms an account, or the server, may hold
    (L{chatsvc.hub.registered.MAX_ROOMS_PER_ACCOUNT}, C{MAX_REGISTERED_ROOMS})."""

    code = "registration-limit"
    line_forms = ("cannot register {room}: you have registered {n} rooms already",
                  "cannot register {room}: the server has {n} registered rooms already")

    def __init__(self, room: str, limit: int, whose: str) -> None:
        have = (f"you have registered {limit}" if whose == "account"
                else f"the server has {limit} registered")
        super().__init__(room, f"cannot register {room}: {have} rooms already")
        self.limit = limit


class TooManyRoomOperators(RoomError):
    """Past the operator accounts one registered room may list
    (L{chatsvc.hub.registered.MAX_ROOM_OPERATORS})."""

    code = "room-operators-full"
    line_forms = ("{room} has {n} operator accounts already",)

    def __init__(self, room: str, limit: int) -> None:
        super().__init__(room, f"{room} has {limit} operator accounts already")
        self.limit = limit


class RoomsUnavailable(ChatError):
    """The store failed to keep a registration (the error is in the server's log)."""

    code = "rooms-unavailable"
    line_forms = ("registered rooms are unavailable: try again later",)

    def __init__(self) -> None:
        super().__init__("registered rooms are unavailable: try again later")
