"""The server password (--password) is a hub rule: no protocol gets around it."""

import pytest
from support import LineUser, Recorder, make_hub

from chatsvc.client import WrongPassword
from chatsvc.hub.errors import BadPassword, PasswordRequired
from chatsvc.hub.settings import Settings
from chatsvc.testing import ChatHarness


def test_hub_refuses_registration_until_the_password_is_given():
    hub = make_hub(password="s3cret")
    person = Recorder()
    hub.attach(person, person.address)
    with pytest.raises(PasswordRequired):
        hub.register(person, "alice")
    with pytest.raises(BadPassword):
        hub.authenticate(person, "guess")
    with pytest.raises(BadPassword):
        hub.authenticate(person, None)
    with pytest.raises(PasswordRequired):
        hub.register(person, "alice")
    hub.authenticate(person, "s3cret")
    hub.register(person, "alice")
    assert hub.users["alice"] is person


def test_without_a_password_anyone_registers():
    hub = make_hub()
    person = Recorder()
    hub.attach(person, person.address)
    hub.authenticate(person, "anything")
    hub.register(person, "alice")
    assert not hub.password_required


def test_authentication_is_forgotten_on_disconnect():
    hub = make_hub(password="s3cret")
    person = Recorder()
    hub.attach(person, person.address)
    hub.authenticate(person, "s3cret")
    hub.detach(person, "gone")
    assert person not in hub._authenticated


def test_line_user_gives_the_password_with_pass():
    hub = make_hub(password="s3cret")
    user = LineUser(hub)
    (welcome,) = user.read()
    assert "needs a password: send /pass PASSWORD" in welcome
    user.send("#alice")
    assert user.read() == ["! password required: send /pass PASSWORD first"]
    user.send("hello")   # before the password, everything is refused alike
    assert user.read() == ["! password required: send /pass PASSWORD first"]
    user.send("/pass s3cret")
    assert user.read() == ["* password accepted: now register with #yourname"]
    user.send("#alice")
    assert user.read() == ["* you are alice", "* you are in #chat alone for now"]
    user.send("/pass s3cret")
    assert user.read() == ["! already registered"]


def test_wrong_password_closes_the_line_connection():
    hub = make_hub(password="s3cret")
    user = LineUser(hub)
    user.read()
    user.send("/pass guess", "#alice")
    assert user.read() == ["! wrong password"]
    assert user.closed
    assert "alice" not in hub.users


def test_client_api_sends_the_password():
    chat = ChatHarness(Settings(password="s3cret"))
    alice = chat.wait(chat.connect("alice", password="s3cret"))
    assert alice.registered and alice.name == "alice"
    refused = chat.connect("mallory", password="guess")
    with pytest.raises(WrongPassword, match="wrong password"):
        chat.wait(refused)
    missing = chat.connect("eve")
    with pytest.raises(WrongPassword, match="password required"):
        chat.wait(missing)
    assert sorted(chat.hub.users) == ["alice"]


# -- nothing is answered before the password (issue 13, item 6) ----------------
#
# Before: with --password, a bare nc got "/who" ("* online (1): pw_member2"),
# "/who #room" with its members and "/rooms" with the topics.

SECRETS = ("pw_member2", "#hideout", "plans for friday")


def password_net():
    from support import Net

    net = Net(password="s3cret")
    member = net.line_user(host="198.51.100.1")
    member.send("/pass s3cret", "#pw_member2", "/join #hideout", "/topic plans for friday")
    assert member.read()[-1] == "* pw_member2 sets the topic of #hideout: plans for friday"
    return net


LINE_PROBES = [
    "/who", "/who #hideout", "/who #chat", "/rooms", "/join #hideout", "/topic", "/mode",
    "/ban", "/part", "/me waves", "/nick x", "/oper admin x", "/invite pw_member2",
    "/kick pw_member2", "/say hi", "//hi", "@pw_member2:hi", "@pw_member2 hi", "hello",
    "#pw_member2", "#newcomer", "/nosuch", "/WHO", "/whois pw_member2", "/names #hideout",
    "/list", "/msg pw_member2 hi", "/away lunch", "#hashtag here", "x" * 10_000,
]


def test_line_answers_nothing_but_pass_quit_and_help_before_the_password():
    net = password_net()
    nc = net.line_user(host="203.0.113.9")
    assert "needs a password" in nc.read()[0]
    for probe in LINE_PROBES:
        nc.send(probe)
        replies = nc.read()
        expected = ["! line too long (limit 4096 bytes)"] if len(probe) > 4096 else [
            "! password required: send /pass PASSWORD first"]
        assert replies == expected, probe
    nc.send("/help")
    help_lines = nc.read()
    assert help_lines[0] == "* commands:"
    assert not any(secret in line for line in help_lines for secret in SECRETS)
    assert net.hub.users.keys() == {"pw_member2"}
    nc.send("/quit")
    assert nc.read() == ["* bye"] and nc.closed


def test_line_after_the_password_everything_works_and_lines_in_flight_too():
    net = password_net()
    nc = net.line_user(host="203.0.113.9")
    nc.read()
    nc.send("/who")
    nc.send(b"/pass s3cret\n/who #hideout\n#alice")   # one read, three lines
    assert nc.read() == ["! password required: send /pass PASSWORD first",
                         "* password accepted: now register with #yourname",
                         "* in #hideout (1): @pw_member2",
                         "* you are alice",
                         "* you are in #chat alone for now"]


def test_line_lines_before_the_password_count_against_the_flood_gate():
    from support import Net

    net = Net(password="s3cret", flood_rate=2, flood_burst=10, flood_queue=50)
    nc = net.line_user(host="203.0.113.9")
    nc.read()
    nc.send(*["/who"] * 100)
    assert nc.closed
    assert nc.read()[-1] == "! flooding"


def test_irc_answers_only_registration_before_the_password():
    from support import numerics

    from chatsvc.protocols.irc.protocol import _BEFORE_REGISTRATION, IRCChatProtocol

    net = password_net()
    probe = net.irc_user(host="203.0.113.9")
    for command in sorted(set(IRCChatProtocol._COMMANDS) - _BEFORE_REGISTRATION):
        for line in (command, f"{command} #hideout pw_member2 x :y z"):
            assert numerics(probe.ask(line)) == ["451"], line
    assert probe.ask("NOSUCH") == [":chatsvc 451 * :You have not registered"]
    # What is allowed says nothing of who is here.
    for line in ("CAP LS 302", "CAP LIST", "CAP REQ :sasl", "CAP END", "PING x", "PONG x"):
        replies = probe.ask(line)
        assert not any(secret in reply for reply in replies for secret in SECRETS), line
    # Is pw_member2 online?  NICK does not tell before the password...
    assert probe.ask("NICK pw_member2") == []
    # ... registration does, once the password is right.
    assert probe.ask("PASS s3cret", "USER x 0 * :x") == [
        ":chatsvc 433 * pw_member2 :Nickname is already in use"]
    assert numerics(probe.ask("NICK other"))[0] == "001"
    assert not probe.closed


def test_irc_nick_in_use_is_still_told_at_once_without_a_server_password():
    from support import Net

    net = Net()
    net.line_user("alice")
    probe = net.irc_user()
    assert probe.ask("NICK alice") == [":chatsvc 433 * alice :Nickname is already in use"]
