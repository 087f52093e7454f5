"""chatsvc.testing: the in-memory harness itself."""

from __future__ import annotations

import pytest

from chatsvc.client import Session
from chatsvc.events import Joined, Left, RoomMessage
from chatsvc.testing import ChatHarness, StillWaiting


def test_many_clients_share_one_hub() -> None:
    chat = ChatHarness()
    sessions = [chat.join(f"user{i}") for i in range(20)]
    assert sorted(chat.hub.users) == sorted(f"user{i}" for i in range(20))
    sessions[0].say("hello all")
    chat.pump()
    for session in sessions[1:]:
        assert [e.text for e in session.inbox if isinstance(e, RoomMessage)] == ["hello all"]


def test_wait_raises_when_nothing_comes() -> None:
    chat = ChatHarness()
    alice = chat.join("alice")
    before = chat.clock.seconds()
    with pytest.raises(StillWaiting, match="nothing after 3 fake seconds"):
        chat.wait(alice.next_event(kind=RoomMessage), timeout=3)
    assert chat.clock.seconds() - before == pytest.approx(3, abs=0.2)
    # The abandoned wait claims nothing.
    chat.join("bob").say("hi")
    chat.pump()
    assert [type(e) for e in alice.inbox] == [Joined, RoomMessage]


def test_run_drives_a_coroutine_with_fake_time() -> None:
    chat = ChatHarness()

    async def scenario() -> list[str]:
        alice: Session = await chat.connect("alice")
        bob: Session = await chat.connect("bob")
        await alice.next_event(kind=Joined)
        bob.say("one")
        first = await alice.next_event(kind=RoomMessage, timeout=1)
        await bob.quit("done")
        left = await alice.next_event(kind=Left, timeout=1)
        return [first.text, left.reason]

    assert chat.run(scenario()) == ["one", "done"]
    assert chat.pumps and all(not p.clientIO.disconnected for p in chat.pumps)


def test_advance_moves_the_clock_for_timeouts() -> None:
    chat = ChatHarness()
    alice = chat.join("alice")
    d = alice.next_event(kind=RoomMessage, timeout=30)
    chat.advance(29)
    assert not d.called
    chat.advance(1)
    d.addErrback(lambda f: f.type.__name__)
    assert d.result == "EventTimeout"


def test_the_hub_runs_on_the_fake_clock_too() -> None:
    """Flood control, deadlines and timestamps are the hub's: fake time for them too.

    A bot that says more than the flood burst must still be heard, with no
    reactor running: its later lines wait for the harness's clock.
    """
    chat = ChatHarness()
    alice, bob = chat.join("alice"), chat.join("bob")
    for i in range(25):  # well past the burst (10): the rest wait for fake time
        alice.say(f"line {i}")
    heard = [chat.wait(bob.next_event(kind=RoomMessage), timeout=30).text for _ in range(25)]
    assert heard == [f"line {i}" for i in range(25)]
    assert chat.hub.clock is chat.clock
