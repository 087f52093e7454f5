"""C{Session.history()} against a real C{twistd chat} with a data directory
and C{--history-joins on}: what one client said, another reads back with
the ids and times the server stored, over loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from support import twistd_server

from chatsvc.client import connect
from chatsvc.events import Joined, RoomMessage, TopicChanged


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_history_over_loopback_from_a_real_server(tmp_path: Path) -> None:
    from twisted.internet import reactor

    with twistd_server(tmp_path, "--data-dir", str(tmp_path / "data"),
                       "--history-joins", "on") as (port, _process):
        target = f"127.0.0.1:{port}"
        alice = await connect(reactor, target, "alice", timeout=10)
        alice.send_line("/join #rust")
        alice.send_line("/topic loopback")
        alice.say("* end of history")
        alice.me("waves")
        bob = await connect(reactor, target, "bob", timeout=10)
        events = await bob.history("#rust", 10)
        assert events == [Joined("#rust", "alice"), TopicChanged("#rust", "alice", "loopback"),
                          RoomMessage("#rust", "alice", "* end of history"),
                          RoomMessage("#rust", "alice", "waves", True)]
        assert all(len(event.id or "") == 24 for event in events)
        assert [event.id for event in events] == sorted(event.id or "" for event in events)
        assert all(event.time > 1_600_000_000 for event in events)
        # the same ids on the web's replay would be these: ids are the store's
        again = await alice.history("#rust", 2)
        assert [event.id for event in again] == [event.id for event in events[-2:]]
        await alice.quit()
        await bob.quit()
