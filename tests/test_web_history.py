"""Room history over the web: the replay on joining and the ``history`` request, in memory.

The store's thread is L{Worker}, run by hand, so each test chooses when a
read completes relative to the live messages (as tests/test_history.py does
for the line protocol).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from support import Net
from test_history import Worker

from chatsvc.conn import holding
from chatsvc.store.delivery import MAX_REPLAY, HistoryDelivery
from chatsvc.store.sqlite import WRITE_DELAY, HistoryStore, migrate


class History:
    """A Net whose hub keeps history in memory, on a hand-run worker."""

    def __init__(self, replay: int = 50, backend: Any = None, **settings: Any) -> None:
        self.net = Net(**settings)
        self.worker = Worker()
        if backend is not None:  # conftest's fixture: SQLite in memory, or PostgreSQL
            connection = backend.connect()
        else:
            connection = sqlite3.connect(":memory:", check_same_thread=False,
                                         isolation_level=None)
            migrate(connection)
        self.store = HistoryStore(connection, self.net.hub.clock, run=self.worker)
        self.net.hub.delivery = HistoryDelivery(self.store, replay, self.net.hub.delivery)

    def settle(self) -> None:
        self.net.hub.clock.advance(WRITE_DELAY)
        self.worker.run()


def said(messages: list[dict]) -> list[tuple[str, bool]]:
    return [(m["text"], m.get("history", False)) for m in messages if m["type"] == "message"]


def test_registering_replays_the_default_rooms_history_before_live_messages(backend) -> None:
    history = History(replay=2, backend=backend)
    bob = history.net.line_user("bob")
    for text in ("one", "two", "three"):
        bob.send(text)
    history.settle()
    web = history.net.web_user()
    web.read()  # the welcome
    web.send(type="register", name="alice", ref="r")
    bob.send("live, during the read")  # said after alice joined: after her history
    got = web.read()
    assert [m["type"] for m in got] == ["registered", "joined"]  # the rest is held
    history.worker.run()
    got = web.read()
    assert said(got) == [("two", True), ("three", True), ("live, during the read", False)]
    two = got[0]
    assert (two["room"], two["from"], two["action"], two["notice"]) == ("#chat", "bob", False,
                                                                          False)
    assert len(two["id"]) == 24 and two["time"].endswith("Z") and "ref" not in two
    bob.send("after")
    assert said(web.read()) == [("after", False)]  # no longer held


def test_joining_a_room_replays_its_history_with_the_original_ids_and_times(backend) -> None:
    history = History(backend=backend)
    carol = history.net.line_user("carol")
    carol.send("/join #rust")
    carol.send("rust is <b>fun</b>")
    live = history.net.web_user("watcher")
    carol.send("/join #chat")
    history.settle()
    web = history.net.web_user("alice")
    history.worker.run()
    web.read()
    web.send(type="join", room="#RUST", ref="j")
    history.worker.run()
    got = web.read()
    assert got[0]["type"] == "joined" and got[0]["ref"] == "j"
    [old] = [m for m in got if m["type"] == "message"]
    assert (old["text"], old["history"], old["room"]) == ("rust is <b>fun</b>", True, "#rust")
    del live


def test_the_history_request_pages_back_by_id(backend) -> None:
    history = History(replay=0, backend=backend)
    bob = history.net.line_user("bob")
    for n in range(6):
        bob.send(f"m{n}")
    history.settle()
    web = history.net.web_user("alice")
    assert said(web.read()) == []  # --history-replay 0: nothing on joining
    web.send(type="history", target="#chat", limit=3, ref=1)
    assert web.read() == []  # answered when the store has read
    history.worker.run()
    [page] = web.read()
    assert (page["type"], page["target"], page["limit"], page["before"], page["ref"]) == (
        "history", "#chat", 3, None, 1)
    assert [m["text"] for m in page["messages"]] == ["m3", "m4", "m5"]
    assert all(m["history"] and m["type"] == "message" for m in page["messages"])
    web.send(type="history", target="#chat", limit=2, before=page["messages"][0]["id"], ref=2)
    history.worker.run()
    [older] = web.read()
    assert [m["text"] for m in older["messages"]] == ["m1", "m2"] and older["ref"] == 2


def test_history_refusals(backend) -> None:
    history = History(backend=backend)
    carol = history.net.line_user("carol")
    carol.send("/join #secret")
    carol.send("/mode #secret +s")
    carol.send("/join #keyed")
    carol.send("/mode #keyed +k sesame")
    web = history.net.web_user("alice")
    history.worker.run()

    def code(**request: Any) -> str:
        web.read()
        web.send(type="history", ref="x", **request)
        history.worker.run()
        [error] = web.read()
        assert error["type"] == "error" and error["ref"] == "x"
        return error["code"]

    assert code(target="#secret") == "no-such-room"
    assert code(target="#keyed") == "not-in-room"
    assert code(target="#chat", limit=0) == "usage"
    assert code(target="#chat", limit=MAX_REPLAY + 1) == "usage"
    assert code(target="#chat", limit="5") == "usage"
    assert code(target="#chat", before="not an id") == "usage"
    assert code(target=5) == "usage"
    none = Net().web_user("bob")
    none.send(type="history", target="#chat", ref=9)
    [error] = none.read()
    assert (error["code"], error["ref"]) == ("no-history", 9)


def test_a_failed_read_is_an_error_and_the_output_is_not_held_forever(backend) -> None:
    history = History(backend=backend)
    history.net.line_user("bob")
    web = history.net.web_user()
    web.send(type="register", name="alice")
    history.worker.queue[-1][2].errback(RuntimeError("disk on fire"))
    history.worker.queue.clear()
    got = web.read()
    assert got[-1]["type"] == "error" and got[-1]["code"] == "history-unavailable"
    web.send(type="ping", ref="p")
    assert web.read() == [{"type": "pong", "ref": "p"}]


def test_a_busy_room_stops_holding_and_the_history_follows(monkeypatch, backend) -> None:
    monkeypatch.setattr(holding, "HOLD_LIMIT", 3)
    history = History(backend=backend)
    bob = history.net.line_user("bob")
    bob.send("old")
    history.settle()
    web = history.net.web_user()
    web.send(type="register", name="alice")
    for n in range(4):
        bob.send(f"live {n}")
    assert said(web.read())[:3] == [("live 0", False), ("live 1", False), ("live 2", False)]
    history.worker.run()
    assert said(web.read())[-1] == ("old", True)  # late, but not lost
    bob.send("later")
    assert said(web.read()) == [("later", False)]


def test_a_room_set_plus_x_replays_nothing_to_a_web_user(backend) -> None:
    """The web's replay and history request read through the history's
    C{replay_of}, so a room's C{+x} (and C{--history-max-age}) hold here as
    on the line protocol and IRC."""
    history = History(backend=backend)
    carol = history.net.line_user("carol")
    carol.send("/join #quiet", "kept", "/mode +x")
    history.settle()
    web = history.net.web_user("alice")
    history.worker.run()
    web.read()
    web.send(type="join", room="#quiet")
    history.worker.run()
    assert said(web.read()) == []
    web.send(type="history", target="#quiet", limit=5, ref=1)
    history.worker.run()
    [page] = web.read()
    assert page["type"] == "history" and page["messages"] == []
