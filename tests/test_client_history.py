"""C{Session.history()} (issue 18): the client API's history call, in memory
(L{ChatHarness} with C{history=True}); tests/test_client_history_loopback.py
runs it against a real server.
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from chatsvc.client import ClientError, ConnectionClosed
from chatsvc.events import Joined, Left, Notice, RoomMessage, TopicChanged
from chatsvc.hub.settings import Settings
from chatsvc.store.sqlite import KINDS
from chatsvc.testing import ChatHarness

HOSTILE = ["] <mallory> forged", "[2026-01-01T00:00:00.000Z 000000000000000000000001 join] x",
           "* end of history", "joined", "\u202eevil \u00e9t\u00e9 \U0001f389"]


def harness(**kwargs: object) -> ChatHarness:
    clock = Clock()
    clock.advance(1_700_000_000.25)
    return ChatHarness(Settings(flood_rate=0, max_per_ip=0, connect_rate=0), clock=clock,
                       history=True, **kwargs)  # type: ignore[arg-type]


def stored_ids(chat: ChatHarness, room: str) -> list[tuple[str, float]]:
    assert chat.history is not None
    rows = chat.wait(chat.history.store.latest(room, 100, kinds=KINDS))
    return [(row.id, row.time) for row in rows]


def test_history_returns_the_rooms_events_with_their_stored_ids_and_times() -> None:
    chat = harness(history_joins=True)
    alice = chat.join("alice")
    alice.send_line("/join #rust")
    alice.send_line("/topic release day")
    chat.advance(0.5)
    bob = chat.join("bob")
    bob.send_line("/join #rust")
    for text in HOSTILE:
        bob.say(text)
    bob.me("waves")
    chat.advance(1.25)
    bob.send_line("/part gone (for now)")
    chat.pump()
    events = chat.wait(alice.history("#rust", 100))
    assert events == [
        Joined("#rust", "alice"), TopicChanged("#rust", "alice", "release day"),
        Joined("#rust", "bob"), *(RoomMessage("#rust", "bob", text) for text in HOSTILE[:4]),
        RoomMessage("#rust", "bob", "evil \u00e9t\u00e9 \U0001f389"),  # no bidi override
        RoomMessage("#rust", "bob", "waves", True), Left("#rust", "bob", "gone (for now)"),
    ]
    assert [(event.id, event.time) for event in events] == [
        (id, int(when * 1000) / 1000) for id, when in stored_ids(chat, "#rust")]
    assert all(event.id is not None for event in events)
    assert events[-1].time - events[0].time == pytest.approx(1.75, abs=0.002)


def test_the_answer_goes_to_no_callback_and_no_waiter() -> None:
    chat = harness()
    alice = chat.join("alice")
    alice.say("one")
    chat.pump()
    seen: list[object] = []
    alice.on_event(seen.append)
    alice.inbox.clear()
    waiting = alice.next_event(kind=RoomMessage)
    assert [e.text for e in chat.wait(alice.history())] == ["one"]  # type: ignore[attr-defined]
    assert not waiting.called and seen == [] and list(alice.inbox) == []
    waiting.cancel()


def test_the_limit_and_the_current_room() -> None:
    chat = harness()
    alice = chat.join("alice")
    for n in range(5):
        alice.say(f"m{n}")
    chat.pump()
    assert [e.text for e in chat.wait(alice.history(limit=2))] == ["m3", "m4"]  # type: ignore
    with pytest.raises(ValueError):
        alice.history(limit=0)
    with pytest.raises(ValueError):
        alice.history("two words")


def test_empty_and_plus_x_rooms_answer_an_empty_list() -> None:
    chat = harness()
    alice = chat.join("alice")
    alice.send_line("/join #rust")
    chat.pump()
    assert chat.wait(alice.history("#rust")) == []
    alice.say("kept")
    alice.send_line("/mode +x")
    chat.pump()
    assert chat.wait(alice.history("#rust")) == []
    # and the next call still gets its own answer
    alice.send_line("/mode -x")
    chat.pump()
    assert [e.text for e in chat.wait(alice.history("#rust"))] == ["kept"]  # type: ignore


def test_refusals_fail_the_call_and_the_session_carries_on() -> None:
    chat = harness()
    alice = chat.join("alice")
    with pytest.raises(ClientError, match="no such room: #nowhere"):
        chat.wait(alice.history("#nowhere"))
    with pytest.raises(ClientError, match="log in"):
        chat.wait(alice.history("bob"))
    alice.say("still here")
    chat.pump()
    assert [e.text for e in chat.wait(alice.history())] == ["still here"]  # type: ignore


def test_no_history_on_the_server_is_a_refusal() -> None:
    clock = Clock()
    chat = ChatHarness(clock=clock)
    alice = chat.join("alice")
    with pytest.raises(ClientError, match="keeps no history"):
        chat.wait(alice.history())


def test_a_lost_connection_fails_a_pending_call() -> None:
    from twisted.internet.defer import Deferred

    chat = harness()
    alice = chat.join("alice")
    assert chat.history is not None
    chat.history.store._run = lambda function, *args: Deferred()  # a read that never ends
    pending = alice.history()
    chat.pump()
    assert not pending.called
    alice.close()
    with pytest.raises(ConnectionClosed):
        chat.wait(pending)


def test_a_person_reading_the_same_block_sees_the_exact_lines_as_notices_only_once() -> None:
    """The header of an answer nobody asked for (someone typed /history
    --ids) is a notice like any other: the client takes only blocks it asked for."""
    chat = harness()
    alice = chat.join("alice")
    alice.say("one")
    chat.pump()
    alice.inbox.clear()
    alice.send_line("/history --ids")
    chat.pump()
    assert isinstance(alice.inbox[0], Notice)
    assert alice.inbox[0].text == "history of #chat (1) with ids"


def test_private_history_between_two_accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    from twisted.internet.defer import maybeDeferred

    from chatsvc.accounts import kdf
    from chatsvc.accounts.rules import AccountRules
    from chatsvc.accounts.store import AccountStore
    from chatsvc.events import PrivateMessage

    monkeypatch.setattr(kdf, "N", 2 ** 10)
    chat = harness()
    assert chat.history is not None
    AccountRules(chat.hub, AccountStore(chat.history.store),
                 hasher=lambda function, *args: maybeDeferred(function, *args))
    for name in ("alice", "bob"):
        session = chat.join(name)
        session.send_line("/register sesame-1")
        chat.pump()
        chat.wait(session.close())
    alice = chat.wait(chat.connect("alice", account_password="sesame-1"))
    bob = chat.wait(chat.connect("bob", account_password="sesame-1"))
    alice.whisper("bob", "psst * end of history")
    chat.advance(0.25)
    bob.whisper("alice", "yes")
    bob.send_line("/msg alice hmm")
    chat.pump()
    events = chat.wait(alice.history("bob"))
    assert events == [PrivateMessage("alice", "bob", "psst * end of history", delayed=True),
                      PrivateMessage("bob", "alice", "yes", delayed=True),
                      PrivateMessage("bob", "alice", "hmm", delayed=True)]
    rows = chat.wait(chat.history.store.latest_private("alice", "bob", 10))
    assert [event.id for event in events] == [row.id for row in rows]
    assert [e.text for e in chat.wait(bob.history("@alice", 1))] == ["hmm"]  # type: ignore
