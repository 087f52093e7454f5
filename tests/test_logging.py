"""The log records what happened, never what anyone said.

Operators need connections, registrations, renames and departures with
their causes; what users write (room messages, whispers, quit messages) is
their content and stays out of the log, whatever the protocol.
"""

from support import Net
from twisted.logger import capturedLogs, formatEvent

SECRET = "the merger closes friday"


def logged_text(events) -> str:
    return "\n".join(formatEvent(event) for event in events)


def test_messages_and_quit_messages_are_not_logged():
    net = Net()
    with capturedLogs() as events:
        alice = net.line_user("alice")
        bob = net.line_user("bob")
        carol = net.irc_user("carol")
        alice.send(SECRET, f"@bob:{SECRET}", f"/me {SECRET}")
        carol.send(f"PRIVMSG #chat :{SECRET}", f"PRIVMSG alice :{SECRET}")
        alice.send(f"/quit {SECRET}")
        alice.drop()
        carol.send(f"QUIT :{SECRET}")
        carol.drop()
        bob.drop()
    text = logged_text(events)
    assert SECRET not in text
    # What happened is still there, with the causes the server knows.
    assert "alice left (quit)" in text
    assert "carol left (quit)" in text
    assert "bob left (connection lost)" in text


def test_the_others_still_see_the_quit_message():
    net = Net()
    alice, bob = net.line_user("alice"), net.line_user("bob")
    carol = net.irc_user("carol")
    alice.send(f"/quit {SECRET}")
    alice.drop()
    assert bob.read()[-1] == f"* alice left ({SECRET})"
    carol.read()
    bob.send("/quit")
    bob.drop()
    assert carol.read()[-1].endswith(" QUIT :quit")


def test_server_reasons_are_logged():
    net = Net(max_backlog=100)
    with capturedLogs() as events:
        alice, bob = net.line_user("alice"), net.line_user("bob")
        bob.protocol._guard._sendq.pauseProducing()  # bob stops reading
        for n in range(50):
            alice.send(f"line {n} " + "x" * 50)
        bob.drop()
    assert "bob left (too slow)" in logged_text(events)
