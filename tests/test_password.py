"""The server password (--password) is a hub rule: no protocol gets around it."""

import pytest
from support import LineUser, Recorder, make_hub

from chatsvc.client import WrongPassword
from chatsvc.errors import BadPassword, PasswordRequired
from chatsvc.settings import Settings
from chatsvc.testing import ChatHarness


def test_hub_refuses_registration_until_the_password_is_given():
    hub = make_hub(password="s3cret")
    person = Recorder()
    hub.attach(person)
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
    hub.attach(person)
    hub.authenticate(person, "anything")
    hub.register(person, "alice")
    assert not hub.password_required


def test_authentication_is_forgotten_on_disconnect():
    hub = make_hub(password="s3cret")
    person = Recorder()
    hub.attach(person)
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
    user.send("hello")
    assert user.read() == ["! register first: send #yourname"]
    user.send("/pass s3cret")
    assert user.read() == ["* password accepted: now register with #yourname"]
    user.send("#alice")
    assert user.read() == ["* you are alice"]
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
