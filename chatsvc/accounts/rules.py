"""The hub's side of accounts: who may hold a registered name, logging in and out,
and the messages kept for an account while it is offline.

Every protocol's adapter calls the same operations here (the line protocol's
C{/login}, IRC's SASL and NickServ later), so the rules are the same
everywhere:

  - a registered name is reserved: a user who takes it without being logged
    in to it is told (L{NameRegistered}) and renamed to a guest name after
    C{--account-grace} seconds of the hub's clock, unless they log in;
  - logging in to an account takes its name (with C{take_name}): a guest
    holding it is renamed at once, a connection logged in to the same
    account (a stale one) is closed ("ghosted");
  - a wrong password, for an account that exists or not, is the same
    L{BadPassword} after the same work (a hash checked against a dummy),
    counted by the hub's guessing throttle per address and per account;
  - an account flagged C{oper} (by the admin command) is a server operator
    on logging in, without C{/oper};
  - a private message to an offline account is kept (at most L{INBOX_LIMIT}
    per account) and delivered, in order and once, when it next logs in;
  - an account may hold TLS client certificates (L{chatsvc.accounts.certfp}),
    each of them a way to log in without the password (SASL EXTERNAL,
    C{/login NAME} over TLS with it);
  - the holder of a name may be ghosted (disconnected) by whoever is logged
    in to its account, or gives that account's password (NickServ's GHOST
    and RECOVER).

Passwords are hashed on the reactor's thread pool (L{chatsvc.accounts.kdf}),
the database is the history store's thread (L{chatsvc.accounts.store}):
operations that need either return a L{Deferred} that fails with a
L{ChatError} for the adapter to show; the checks that need neither raise at
once.  The hub's record's C{account} is set and cleared only by the hub's
C{log_in} and C{log_out}, which these operations call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from chatsvc.accounts import certfp, kdf
from chatsvc.accounts.store import Account, AccountStore, HeldMessage, Summary
from chatsvc.accounts.throttle import HashGate, registration_throttle
from chatsvc.conn.certificates import normalize
from chatsvc.events import Event, Notice, PrivateMessage
from chatsvc.hub.errors import (
    AccountExists,
    AccountsUnavailable,
    AlreadyLoggedIn,
    BadFingerprint,
    BadNameError,
    BadPassword,
    CertificateTaken,
    ChatError,
    HashingBusy,
    InboxFull,
    NameRegistered,
    NameTaken,
    NoCertificate,
    NoSuchCertificate,
    NoSuchUser,
    NotLoggedIn,
    NotRegistered,
    NotYourName,
    TooManyCertificates,
    TooManyRegistrations,
    UnknownCertificate,
    UnusablePassword,
    Usage,
)
from chatsvc.hub.names import BadName, check_name, fold
from chatsvc.hub.participant import Participant, RecordBacked
from chatsvc.hub.users import User

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory

_T = TypeVar("_T")

#: The default of C{--account-grace}: seconds a guest may hold a registered name.
DEFAULT_GRACE = 60.0

#: Private messages kept for one offline account, at most; past it the
#: sender is refused (L{InboxFull}) until the account logs in.
INBOX_LIMIT = 100

#: Guest names are this followed by digits.
GUEST_PREFIX = "Guest"


def _default_hasher(function: Callable[..., _T], *args: Any) -> Deferred[_T]:
    from twisted.internet.threads import deferToThread

    return deferToThread(function, *args)


class _Inbox(RecordBacked):
    """Where a private message to an offline account goes: the whisper's
    recipient, a participant with a record and no connection (as a user on
    another node of a cluster would be).  Delivering keeps the message and
    tells the sender."""

    protocol_name: ClassVar[str] = "offline"
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, rules: AccountRules, account: str, sender: Participant) -> None:
        self.record = User("", self.protocol_name)
        self.record.name = account
        self.record.account = account
        self.rules = rules
        self.sender = sender

    def deliver(self, event: Event) -> None:
        if type(event) is PrivateMessage:
            self.rules._hold(self, event)

    def disconnect(self, reason: str) -> None:
        pass


class AccountRules:
    """Accounts for one hub (C{hub.accounts}), over an L{AccountStore}.

    @param grace: seconds a user may hold a registered name without being
        logged in to it (C{--account-grace}).
    @param password_min: the fewest characters a new password may have
        (C{--account-password-min}): every way of registering or changing a
        password is checked against it here.
    @param hasher: runs a password hash off the reactor and returns a
        L{Deferred} of its result: the reactor's thread pool by default;
        tests pass a synchronous one.
    """

    log = Logger()

    def __init__(self, hub: ChatFactory, store: AccountStore, *, grace: float = DEFAULT_GRACE,
                 inbox_limit: int = INBOX_LIMIT, password_min: int = kdf.MIN_PASSWORD,
                 hasher: Callable[..., Deferred[Any]] | None = None) -> None:
        self.hub = hub
        self.store = store
        self.grace = grace
        self.password_min = password_min
        self.inbox_limit = inbox_limit
        #: Certificates one account may hold.
        self.certificate_limit = certfp.LIMIT
        self._hash = hasher or _default_hasher
        #: Every account by folded name (its name, oper flag, messages
        #: waiting): read at start, kept up to date by these operations, so
        #: that taking a name or whispering never waits for the database.
        self.known: dict[str, Summary] = store.load_now()
        self.gate = HashGate()
        self.registrations = registration_throttle(hub.clock)
        self._renames: dict[Participant, IDelayedCall] = {}
        #: Who is a server operator by logging in to an C{oper} account.
        self._opers: set[Participant] = set()
        #: Logged in with messages waiting, before having a name to show them to.
        self._unnamed: set[Participant] = set()
        hub.accounts = self

    # -- queries ---------------------------------------------------------------

    def account_named(self, name: str) -> str | None:
        """The account C{name} is (as registered), or C{None}."""
        summary = self.known.get(fold(name))
        return None if summary is None else summary.name

    # -- names: called by the hub after every registration and rename ---------

    def named(self, participant: Participant) -> None:
        """C{participant} has a new name: warn and start the grace period if it
        is an account they are not logged in to; else forget any grace period."""
        self._cancel_rename(participant)
        name = participant.name
        if name is None or participant not in self.hub.connections:
            return
        if participant in self._unnamed:  # logged in (SASL) before registering
            self._unnamed.discard(participant)
            account = participant.record.account
            if account is not None:
                self.hub.clock.callLater(0, self._deliver_waiting, participant, account)
        key = fold(name)
        if key not in self.known or fold(participant.record.account or "") == key:
            return
        self.hub.delivery.to_user(participant,
                                  NameRegistered(name, self.grace).as_event())
        self._renames[participant] = self.hub.clock.callLater(
            self.grace, self._grace_over, participant, key)

    def forget(self, participant: Participant) -> None:
        """A connection is gone (the hub's C{detach})."""
        self._cancel_rename(participant)
        self.gate.leave(participant)
        self._opers.discard(participant)
        self._unnamed.discard(participant)

    def _cancel_rename(self, participant: Participant) -> None:
        pending = self._renames.pop(participant, None)
        if pending is not None and pending.active():
            pending.cancel()

    def _grace_over(self, participant: Participant, key: str) -> None:
        self._renames.pop(participant, None)
        name = participant.name
        if (name is None or fold(name) != key or participant not in self.hub.connections
                or fold(participant.record.account or "") == key):
            return
        self._to_guest(participant, f"you did not log in as {name}")

    def _to_guest(self, participant: Participant, why: str) -> None:
        guest = self.guest_name()
        old = participant.name
        self.hub.delivery.to_user(participant, Notice(f"{why}: you are now {guest}"))
        self.hub.register(participant, guest)
        self.log.info("{old} renamed to {guest}: {why}", old=old, guest=guest, why=why)

    def guest_name(self) -> str:
        """A free name for someone moved off a registered one: C{Guest12345}."""
        while True:
            name = f"{GUEST_PREFIX}{random.randrange(10_000, 100_000)}"
            key = fold(name)
            if key not in self.known and self.hub.user_named(name) is None:
                return name

    # -- registering -------------------------------------------------------------

    def register(self, participant: Participant, password: str,
                 name: str | None = None) -> Deferred[str]:
        """Make C{participant}'s current name an account with C{password}, and log
        them in to it; the Deferred fires with the name.

        C{name} is for a participant that has no name yet (IRC's C{REGISTER}
        before connecting, draft/account-registration's C{before-connect}):
        the nick it asked for, which must be a valid name that nobody holds
        (L{NameTaken}: no registering a name from under its holder).

        Refused at once: with no name, when logged in, for a name that is an
        account, an unusable password, past L{chatsvc.accounts.throttle.REGISTRATIONS}
        from the address, or while a hash is being made for this connection.
        """
        if participant.name is not None or name is None:
            name = participant.name
        else:
            try:
                check_name(name)
            except BadName as bad:
                raise BadNameError(str(bad)) from None
            if self.hub.user_named(name) is not None:
                raise NameTaken(name)
        if name is None:
            raise NotRegistered()
        if participant.record.account is not None:
            raise AlreadyLoggedIn(participant.record.account)
        if fold(name) in self.known:
            raise AccountExists(self.known[fold(name)].name)
        why = kdf.check_password_form(password, self.password_min)
        if why is not None:
            raise UnusablePassword(why)
        wait = self.registrations.take(participant.host)
        if wait:
            raise TooManyRegistrations(wait)
        self._enter(participant)
        return ensureDeferred(self._register(participant, name, password))

    async def _register(self, participant: Participant, name: str, password: str) -> str:
        try:
            hashed = await self._hash(kdf.hash_password, password)
        finally:
            self.gate.leave(participant)
        created = await self._stored(self.store.create(name, hashed, self.hub.clock.seconds()))
        if not created:
            raise AccountExists(name)
        self.known[fold(name)] = Summary(name, False, 0)
        self.log.info("{name} registered from {host}", name=name, host=participant.host)
        if participant in self.hub.connections:
            self.hub.log_in(participant, name)
            self.named(participant)
        return name

    # -- logging in and out --------------------------------------------------------

    def log_in(self, participant: Participant, name: str, password: str, *,
               take_name: bool = True, again: bool = False) -> Deferred[str]:
        """Log C{participant} in to account C{name}; the Deferred fires with the
        account's name, or fails with L{BadPassword} (whether or not it exists).

        With C{take_name} (the line protocol), they take the account's name,
        registering with it if they had none: a guest holding it is renamed,
        a connection logged in to it is closed.  Then the messages kept for
        the account are delivered.  With C{again} (IRC's SASL, whose 3.2
        version allows re-authenticating), a logged-in user may log in
        again, to this or another account: a wrong password leaves them
        logged in as they were.
        """
        self._check_not_logged_in(participant, again)
        if len(password.encode("utf-8", "surrogatepass")) > kdf.MAX_PASSWORD_BYTES:
            raise UnusablePassword(f"password too long: at most {kdf.MAX_PASSWORD_BYTES} bytes")
        self.hub.check_attempt(participant, name)
        self._enter(participant)
        return ensureDeferred(self._log_in(participant, name, password, take_name, again))

    def _check_not_logged_in(self, participant: Participant, again: bool) -> None:
        if participant.record.account is not None and not again:
            raise AlreadyLoggedIn(participant.record.account)

    async def _log_in(self, participant: Participant, name: str, password: str,
                      take_name: bool, again: bool) -> str:
        try:
            account = await self._verified(participant, name, password)
        finally:
            self.gate.leave(participant)
        if kdf.needs_rehash(account.password) and participant in self.hub.connections:
            self._renew(account.name, password)
        return self._logged_in(participant, account, take_name, again)

    def log_in_by_certificate(self, participant: Participant, name: str | None = None, *,
                              take_name: bool = True, again: bool = False) -> Deferred[str]:
        """Log C{participant} in to the account holding the TLS client
        certificate they showed (to C{name} only, if given): IRC's SASL
        EXTERNAL, the line protocol's C{/login NAME} without a password.

        Refused at once without a certificate (L{NoCertificate}); fails with
        L{UnknownCertificate} when it is no account's (or not C{name}'s).  A
        certificate cannot be guessed, so the guessing throttle is not asked.
        Otherwise as L{log_in}.
        """
        self._check_not_logged_in(participant, again)
        fingerprint = participant.record.certfp
        if fingerprint is None:
            raise NoCertificate()
        return ensureDeferred(self._log_in_by_certificate(
            participant, fingerprint, name, take_name, again))

    async def _log_in_by_certificate(self, participant: Participant, fingerprint: str,
                                     name: str | None, take_name: bool, again: bool) -> str:
        account = await self._stored(self.store.certificate_owner(fingerprint))
        if account is None or (name is not None and fold(name) != fold(account.name)):
            self.log.info("refused certificate {fingerprint} from {host}",
                          fingerprint=fingerprint, host=participant.host)
            raise UnknownCertificate(name)
        return self._logged_in(participant, account, take_name, again)

    def _logged_in(self, participant: Participant, account: Account, take_name: bool,
                   again: bool) -> str:
        """The end of every login: its credentials checked, C{participant} is
        logged in to C{account} (if still connected)."""
        if participant not in self.hub.connections:
            return account.name
        current = participant.record.account
        if current is not None:
            if not again:  # logged in meanwhile, elsewhere
                raise AlreadyLoggedIn(current)
            if fold(current) == fold(account.name):
                return account.name  # the same account again: nothing changes
            if participant in self._opers:  # what the old account gave, it takes back
                self._opers.discard(participant)
                self.hub.deoper(participant)
        self.hub.log_in(participant, account.name, oper=account.oper)
        if account.oper:
            self._opers.add(participant)
        if take_name:
            self._take_name(participant, account.name)
        self.named(participant)  # logged in to another account than the nick's: still warned
        self.hub.clock.callLater(0, self._deliver_waiting, participant, account.name)
        return account.name

    def _renew(self, name: str, password: str) -> None:
        """Hash a password made with older (cheaper) parameters again, with
        today's, now that it is known to be right; the login does not wait."""
        renewing = self._hash(kdf.hash_password, password)
        renewing.addCallback(lambda hashed: self.store.set_password(name, hashed))
        renewing.addErrback(lambda failure: self.log.error(
            "password of {name} not renewed: {why}", name=name,
            why=failure.getErrorMessage()))

    async def _verified(self, participant: Participant, name: str, password: str) -> Account:
        """The account, if C{password} is its password; else the throttle counts a
        failure and L{BadPassword} is raised, after the same work either way."""
        account = await self._stored(self.store.get(name))
        encoded = account.password if account is not None else kdf.dummy_hash()
        matches = await self._hash(kdf.verify_password, password, encoded)
        if account is None or not matches:
            self.hub.auth_lines.warn(self.log, "failed login as {account} from {host}",
                                     account=name[:64], host=participant.host)
            raise self.hub.failed_attempt(participant, name, BadPassword())
        return account

    def _take_name(self, participant: Participant, name: str) -> None:
        holder = self.hub.user_named(name)
        if holder is not None and holder is not participant:
            self._ghost(holder, name, name, name, participant.host, login=True)
        if participant.name != name:
            self.hub.register(participant, name)

    def _ghost(self, holder: Participant, name: str, owner: str, by: str, host: str, *,
               login: bool) -> None:
        """Free C{name} from C{holder}: closed if logged in to C{owner}, the
        account on whose behalf (a stale connection), else renamed to a
        guest.  C{by}: who did it, from C{host}; C{login}: by logging in elsewhere (rather
        than with GHOST)."""
        if fold(holder.record.account or "") == fold(owner):
            self.log.info("{name} ghosted by {by} from {host}", name=name, by=by, host=host)
            holder.disconnect(f"ghosted: {by} logged in from elsewhere" if login
                              else f"ghosted by {by}")
            self.hub.detach(holder, f"ghosted by {by}")
        else:
            self._to_guest(holder, f"{by} logged in" if login else f"ghosted by {by}")

    def account_of(self, holder: Participant) -> str | None:
        """The account a user's name belongs to: the one they are logged in
        to, else the account of that name, if any."""
        return holder.record.account or self.account_named(holder.name or "")

    # -- GHOST and RECOVER ---------------------------------------------------------

    def ghost(self, participant: Participant, name: str, password: str | None = None, *,
              take: bool = False) -> Deferred[str]:
        """Free the name C{name} from whoever holds it (NickServ's GHOST), and
        with C{take} take it (RECOVER); the Deferred fires with the name.

        Allowed to whoever is logged in to the account the name belongs to
        (the holder's, or the account of that name: L{account_of}), or gives
        that account's password (checked like a login's, throttled; RECOVER
        then logs them in to it, if they were not logged in).  A holder
        logged in to it is disconnected, one who is not (a guest) is renamed.
        """
        if participant.name is None:
            raise NotRegistered()
        holder = self.hub.user_named(name)
        if holder is None or holder.name is None:
            raise NoSuchUser(name)
        if holder is participant:
            raise Usage(f"{holder.name} is you already")
        owner = self.account_of(holder)
        if owner is None:
            raise NotYourName(holder.name)
        if fold(participant.record.account or "") == fold(owner):
            return succeed(self._ghosted(participant, holder, owner, take))
        if password is None:
            raise NotYourName(holder.name)
        self.hub.check_attempt(participant, owner)
        self._enter(participant)
        return ensureDeferred(self._ghost_by_password(participant, holder, owner, password,
                                                      take))

    async def _ghost_by_password(self, participant: Participant, holder: Participant,
                                 owner: str, password: str, take: bool) -> str:
        try:
            account = await self._verified(participant, owner, password)
        finally:
            self.gate.leave(participant)
        if participant not in self.hub.connections:
            raise NotRegistered()
        if holder not in self.hub.connections or fold(self.account_of(holder) or "") != fold(
                owner):
            raise NoSuchUser(holder.name or owner)  # gone, or renamed, meanwhile
        if take and participant.record.account is None:
            self._logged_in(participant, account, take_name=False, again=False)
        return self._ghosted(participant, holder, owner, take)

    def _ghosted(self, participant: Participant, holder: Participant, owner: str,
                 take: bool) -> str:
        name = holder.name
        assert name is not None and participant.name is not None
        self._ghost(holder, name, owner, participant.name, participant.host, login=False)
        if take and self.hub.user_named(name) is None:
            self.hub.register(participant, name)
        return name

    def log_out(self, participant: Participant) -> str:
        """Log out; a user keeping the account's name gets its grace period."""
        account = self.hub.log_out(participant)
        if account is None:
            raise NotLoggedIn()
        if participant in self._opers:  # what the account gave, it takes back
            self._opers.discard(participant)
            self.hub.deoper(participant)
        self.named(participant)
        return account

    # -- changing and dropping --------------------------------------------------------

    def change_password(self, participant: Participant, old: str, new: str) -> Deferred[None]:
        """Replace the logged-in account's password, given the current one."""
        account = participant.record.account
        if account is None:
            raise NotLoggedIn()
        why = kdf.check_password_form(new, self.password_min)
        if why is not None:
            raise UnusablePassword(why)
        self.hub.check_attempt(participant, account)
        self._enter(participant)
        return ensureDeferred(self._change_password(participant, account, old, new))

    async def _change_password(self, participant: Participant, name: str, old: str,
                               new: str) -> None:
        try:
            await self._verified(participant, name, old)
            hashed = await self._hash(kdf.hash_password, new)
        finally:
            self.gate.leave(participant)
        await self._stored(self.store.set_password(name, hashed))
        self.log.info("{name} changed their password", name=name)

    def drop(self, participant: Participant, password: str) -> Deferred[str]:
        """Delete the logged-in account (and the messages kept for it), given its password."""
        account = participant.record.account
        if account is None:
            raise NotLoggedIn()
        self.hub.check_attempt(participant, account)
        self._enter(participant)
        return ensureDeferred(self._drop(participant, account, password))

    async def _drop(self, participant: Participant, name: str, password: str) -> str:
        try:
            await self._verified(participant, name, password)
        finally:
            self.gate.leave(participant)
        await self._stored(self.store.delete(name))
        self.known.pop(fold(name), None)
        if self.hub.registry is not None:  # its rooms must not pass to a new holder
            self.hub.registry.account_dropped(name)
        for user in self.hub.registered_users():
            if fold(user.record.account or "") == fold(name):
                self.hub.log_out(user)
        self.log.info("{name} dropped their account", name=name)
        return name

    # -- client certificates ----------------------------------------------------------

    def add_certificate(self, participant: Participant,
                        fingerprint: str | None = None) -> Deferred[tuple[str, bool]]:
        """Give the logged-in account the certificate C{fingerprint} (as typed),
        or, without one, the certificate this connection showed; the Deferred
        fires with (the fingerprint, whether it is new to the account), or
        fails with L{CertificateTaken} or L{TooManyCertificates}."""
        account = self._logged_in_account(participant)
        if fingerprint is None:
            chosen = participant.record.certfp
            if chosen is None:
                raise NoCertificate()
        else:
            chosen = self._fingerprint(fingerprint)
        return ensureDeferred(self._add_certificate(participant, account, chosen))

    async def _add_certificate(self, participant: Participant, account: str,
                               fingerprint: str) -> tuple[str, bool]:
        outcome = await self._stored(self.store.add_certificate(
            account, fingerprint, self.hub.clock.seconds(), self.certificate_limit))
        if outcome == certfp.TAKEN:
            raise CertificateTaken()
        if outcome == certfp.FULL:
            raise TooManyCertificates(self.certificate_limit)
        if outcome == certfp.ADDED:
            self.log.info("{name} added certificate {fingerprint} from {host}", name=account,
                          fingerprint=fingerprint, host=participant.host)
        return fingerprint, outcome == certfp.ADDED

    def remove_certificate(self, participant: Participant, fingerprint: str) -> Deferred[str]:
        """Take a certificate from the logged-in account; fails with
        L{NoSuchCertificate} if it had not it."""
        account = self._logged_in_account(participant)
        chosen = self._fingerprint(fingerprint)
        return ensureDeferred(self._remove_certificate(participant, account, chosen))

    async def _remove_certificate(self, participant: Participant, account: str,
                                  fingerprint: str) -> str:
        if not await self._stored(self.store.remove_certificate(account, fingerprint)):
            raise NoSuchCertificate()
        self.log.info("{name} removed certificate {fingerprint}", name=account,
                      fingerprint=fingerprint)
        return fingerprint

    def certificates(self, participant: Participant) -> Deferred[list[str]]:
        """The fingerprints of the logged-in account's certificates, oldest first."""
        account = self._logged_in_account(participant)
        return ensureDeferred(self._stored(self.store.certificates(account)))

    @staticmethod
    def _logged_in_account(participant: Participant) -> str:
        account = participant.record.account
        if account is None:
            raise NotLoggedIn()
        return account

    @staticmethod
    def _fingerprint(text: str) -> str:
        fingerprint = normalize(text)
        if fingerprint is None:
            raise BadFingerprint()
        return fingerprint

    # -- offline messages -------------------------------------------------------------

    def inbox(self, sender: Participant, target: str) -> Participant | None:
        """The recipient that keeps a private message to C{target} for later, if
        C{target} is an account nobody is using; C{None} if it is no account.

        Raises L{InboxFull} past L{INBOX_LIMIT} waiting messages.
        """
        summary = self.known.get(fold(target))
        if summary is None:
            return None
        if summary.waiting >= self.inbox_limit:
            raise InboxFull(summary.name, self.inbox_limit)
        return _Inbox(self, summary.name, sender)

    def _hold(self, inbox: _Inbox, message: PrivateMessage) -> None:
        account = inbox.record.account
        assert account is not None
        key = fold(account)
        summary = self.known.get(key)
        if summary is None:
            return
        self.known[key] = Summary(summary.name, summary.oper, summary.waiting + 1)
        self.store.hold(account, message).addErrback(
            lambda failure: self.log.error("message for {name} not kept: {why}", name=account,
                                           why=failure.getErrorMessage()))
        self.hub.delivery.to_user(inbox.sender, Notice(
            f"{account} is offline: your message will be delivered when they log in"))

    def _deliver_waiting(self, participant: Participant, account: str) -> None:
        key = fold(account)
        summary = self.known.get(key)
        if summary is None or not summary.waiting or participant not in self.hub.connections:
            return
        if participant.name is None:  # IRC's SASL: shown once registered (named)
            self._unnamed.add(participant)
            return
        self.known[key] = Summary(summary.name, summary.oper, 0)
        taking = self.store.take(account)

        def deliver(messages: list[HeldMessage]) -> None:
            if not messages or participant not in self.hub.connections:
                return
            count = len(messages)
            self.hub.delivery.to_user(participant, Notice(
                f"{count} message{'s' if count > 1 else ''} while you were away"))
            to = participant.name or account
            for held in messages:
                self.hub.delivery.to_user(participant, PrivateMessage(
                    held.sender, to, held.text, held.action, mask=held.mask,
                    notice=held.notice, delayed=True, stamp=(held.time, held.serial)))

        taking.addCallbacks(deliver, lambda failure: self.log.error(
            "messages for {name} not read: {why}", name=account,
            why=failure.getErrorMessage()))

    # -- helpers ------------------------------------------------------------------------

    def _enter(self, participant: Participant) -> None:
        if not self.gate.enter(participant):
            raise HashingBusy()

    async def _stored(self, result: Deferred[_T]) -> _T:
        """A store call's result; its failure logged and shown as L{AccountsUnavailable}."""
        try:
            return await result
        except ChatError:
            raise
        except Exception as error:
            self.log.error("account store: {why}", why=error)
            raise AccountsUnavailable() from None


__all__ = ["DEFAULT_GRACE", "GUEST_PREFIX", "INBOX_LIMIT", "AccountRules"]
