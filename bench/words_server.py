"""twisted.words' own IRC server, run as a benchmark peer.

Stock ``twistd words`` cannot have a channel (``--group`` crashes on Python 3
and channels are not created on request; see TWISTED-NOTES.md), so this
builds the same service in code: an in-memory realm that creates channels
on JOIN, and a checker that accepts any password, so clients log in with
``PASS`` before ``NICK`` as twisted.words expects.

Usage: python bench/words_server.py PORT
"""

from __future__ import annotations

import sys

from twisted.cred import checkers, credentials, portal
from twisted.internet import defer, endpoints, reactor
from twisted.words import service
from zope.interface import implementer


@implementer(checkers.ICredentialsChecker)
class AnyPassword:
    """Let every nickname in: the benchmark measures chat, not logins."""

    credentialInterfaces = (credentials.IUsernamePassword,)

    def requestAvatarId(self, creds: credentials.IUsernamePassword) -> defer.Deferred:
        return defer.succeed(creds.username)


def main(port: int) -> None:
    realm = service.InMemoryWordsRealm("bench.words")
    realm.createGroupOnRequest = True
    factory = service.IRCFactory(realm, portal.Portal(realm, [AnyPassword()]))
    endpoint = endpoints.TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
    endpoint.listen(factory)
    reactor.run()


if __name__ == "__main__":
    main(int(sys.argv[1]))
