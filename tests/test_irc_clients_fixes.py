"""What real IRC clients (tests/test_irc_clients*.py) showed wrong in our IRC
server, each fixed and pinned here in memory."""

from __future__ import annotations

import base64

import pytest
from support import IRCUser, numerics, params_of
from test_accounts import Server

pytestmark = pytest.mark.usefixtures("cheap_hashes")


def test_whois_shows_the_account_of_a_user_logged_in_330() -> None:
    """irssi's and weechat's WHOIS showed no account for a SASL user: 330
    (RPL_WHOISACCOUNT, ``<me> <nick> <account> :is logged in as``), between
    the server and the idle lines; none for a user not logged in."""
    server = Server()
    server.account("jilles", "sesame-1").drop()
    user = IRCUser(server.net)
    payload = base64.b64encode(b"\0jilles\0sesame-1").decode()
    user.send("CAP LS 302", "CAP REQ :sasl", "NICK jil", "USER j 0 * :J",
              "AUTHENTICATE PLAIN", "AUTHENTICATE " + payload, "CAP END")
    assert "903" in numerics(user.read())
    other = server.net.irc_user("curious")
    whois = other.ask("WHOIS jil")
    [account] = [line for line in whois if numerics([line]) == ["330"]] or [None]
    assert account == ":chatsvc 330 curious jil jilles :is logged in as"
    assert params_of(account) == ["curious", "jil", "jilles", "is logged in as"]
    order = numerics(whois)
    assert order.index("312") < order.index("330") < order.index("317")
    assert "330" not in numerics(user.ask("WHOIS curious"))
