"""``chat`` failing to connect, on real loopback sockets: one line that says what to do.

C{run} is the program after its arguments: when it cannot connect it ends
with C{SystemExit(message)}, which is what C{chat} prints on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import endpoints

from chatsvc.console import parse_arguments, run
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.protocols.irc.protocol import IRCServer

pytestmark = pytest.mark.integration


def _listen(factory) -> Iterator[int]:
    from twisted.internet import reactor

    endpoint = endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
    port = pytest_twisted.blockon(endpoint.listen(factory))
    yield port.getHost().port
    pytest_twisted.blockon(port.stopListening())


@pytest.fixture
def irc_port() -> Iterator[int]:
    yield from _listen(IRCServer(ChatFactory()).factory())


@pytest.fixture
def password_port() -> Iterator[int]:
    yield from _listen(ChatFactory(Settings(password="sesame")))


async def _exit_message(*argv: str) -> str:
    from twisted.internet import reactor

    with pytest.raises(SystemExit) as ended:
        await run(reactor, parse_arguments(list(argv)))
    return str(ended.value)


@pytest_twisted.ensureDeferred
async def test_the_irc_port_is_named_at_once(irc_port: int) -> None:
    started = time.monotonic()
    message = await _exit_message("127.0.0.1", str(irc_port), "--name", "alice")
    assert message == "chat: that is an IRC server: use an IRC client, or the line-protocol port"
    assert time.monotonic() - started < 5  # not the server's registration deadline


@pytest_twisted.ensureDeferred
async def test_a_password_server_names_the_options(password_port: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAT_PASSWORD", raising=False)
    message = await _exit_message("127.0.0.1", str(password_port), "--name", "alice")
    assert message == ("chat: this server needs a password: give it with --password, or in "
                       "$CHAT_PASSWORD (which other local users cannot see)")
    monkeypatch.setenv("CHAT_PASSWORD", "guess")
    message = await _exit_message("127.0.0.1", str(password_port), "--name", "alice")
    assert message == "chat: wrong password (the one given with --password or in $CHAT_PASSWORD)"


@pytest_twisted.ensureDeferred
async def test_tls_to_a_plain_port_says_try_without_tls(password_port: int) -> None:
    message = await _exit_message("127.0.0.1", str(password_port), "--name", "alice", "--tls")
    assert message.startswith("chat: TLS handshake failed (")
    assert message.endswith("): that port does not speak TLS; try without --tls")
