"""History through a real ``twistd chat``: what was said survives kill -9;
IRC replay, +x and chatsvc-admin on a running server.

A conversation on a server with a data directory, the server killed with
SIGKILL (no clean shutdown, no flush), a new server on the same directory:
a newcomer sees the conversation, verbatim, between the history markers.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable

import pytest
from support import WAIT, SocketUser, twistd_server


def lines_until(user: SocketUser, last: str, timeout: float = WAIT) -> list[str]:
    """Every line up to and including C{last}; fail if it does not come in time."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while b"\n" in user.buffer:
            raw, user.buffer = user.buffer.split(b"\n", 1)
            seen.append(raw.decode().rstrip("\r"))
            if seen[-1] == last:
                return seen
        user.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        data = user.sock.recv(65536)
        if not data:
            break
        user.buffer += data
    raise AssertionError(f"never received {last!r}; got {seen!r}")


HOSTILE = "'); DELETE FROM room_message; -- %_ \" \\"


@pytest.mark.integration
def test_history_survives_kill_9_and_is_replayed_on_join(tmp_path) -> None:
    data = tmp_path / "data"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    long = "z" * 3000
    with twistd_server(first, "--data-dir", str(data)) as (port, process):
        alice, bob = SocketUser(port, "alice"), SocketUser(port, "bob")
        for line in ("hello bob", HOSTILE, "/me waves", long):
            alice.send(line)
        bob.expect(f"<alice> {long}")  # bob has seen all four: acknowledged
        # Reads run on the store's thread after the writes queued before
        # them: once this answer is back, those writes are committed.
        bob.send("/history 1")
        lines_until(bob, "* end of history")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=WAIT)
        alice.close()
        bob.close()
    assert (data / "history.sqlite3").exists()
    with twistd_server(second, "--data-dir", str(data)) as (port, process):
        carol = SocketUser(port)
        carol.send("#carol")
        lines = lines_until(carol, "* end of history")
        block = lines[lines.index("* history of #chat (4)"):]
        stamp = r"\[\d\d:\d\d\] "
        assert [re.sub(rf"^{stamp}", "", line) for line in block] == [
            "* history of #chat (4)", "<alice> hello bob", f"<alice> {HOSTILE}",
            "* alice waves", f"<alice> {long}", "* end of history"]
        assert all(re.match(stamp, line) for line in block[1:-1])
        carol.close()


@pytest.mark.integration
def test_a_corrupt_data_dir_stops_twistd_with_one_line(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "history.sqlite3").write_bytes(b"\x00garbage" * 1000)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "twistd"), "-n", "--pidfile=", "chat",
         "--port", "tcp:0:interface=127.0.0.1", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"twistd chat: --data-dir: {tmp_path / 'data' / 'history.sqlite3'}: file is not a "
        "database (is it a chatsvc history file? restore it from a backup or move it away)"]


def irc_until(user: SocketUser, done: Callable[[str], bool],
              timeout: float = WAIT) -> list[str]:
    """IRC lines up to and including the first for which C{done(line)} holds."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while b"\n" in user.buffer:
            raw, user.buffer = user.buffer.split(b"\n", 1)
            seen.append(raw.decode().rstrip("\r"))
            if done(seen[-1]):
                return seen
        user.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        data = user.sock.recv(65536)
        if not data:
            break
        user.buffer += data
    raise AssertionError(f"never received the line wanted; got {seen!r}")


@pytest.mark.integration
def test_irc_replay_privacy_and_admin_on_a_running_server(tmp_path) -> None:
    """One real server: line users talk, an IRC client with server-time joins
    and gets the notice and the replay, a +x room keeps nothing, and
    chatsvc-admin exports while the server runs."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    data = tmp_path / "data"
    with twistd_server(tmp_path, "--data-dir", str(data), "--history-max-age", "30d",
                       "--irc-port", "tcp:0:interface=127.0.0.1") as (port, process):
        log = (tmp_path / "server.log").read_text()
        irc_port = int(re.search(r"\] IRC on \S+:(\d+)$", log, re.MULTILINE).group(1))
        alice = SocketUser(port)
        welcome = lines_until(alice, "* this server keeps room messages for 30 days and "
                                     "private messages between logged-in accounts (not "
                                     "guests'); a room set +x keeps none")
        assert welcome[0].startswith("* welcome to chatsvc!")
        alice.send("#alice")
        lines_until(alice, "* #chat keeps history for 30 days")
        alice.send("said before")
        alice.send("/me waves")
        alice.send("/join #quiet")
        lines_until(alice, "* #quiet keeps history for 30 days")
        alice.send("/mode +x")
        alice.expect("* alice sets +x on #quiet")
        alice.send("off the record")
        alice.send("/history")  # a read on the store's thread: the writes before it are done
        lines_until(alice, "* #quiet keeps no history (mode +x)")

        bob = SocketUser(irc_port)
        for line in ("CAP LS 302", "NICK bob", "USER bob 0 * :Bob", "CAP REQ :server-time",
                     "CAP END"):
            bob.send(line)
        burst = irc_until(bob, lambda line: " NOTICE bob :this server keeps" in line)
        assert any(" 001 bob " in line for line in burst)
        bob.send("JOIN #chat")
        joined = irc_until(bob, lambda line: "PRIVMSG #chat :\x01ACTION waves" in line)
        after = joined[next(i for i, line in enumerate(joined) if " 366 " in line) + 1:]
        assert after[0].endswith(" NOTICE bob :#chat keeps history for 30 days")
        assert re.fullmatch(r"@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :alice PRIVMSG "
                            r"#chat :said before", after[1]), after
        assert after[2].endswith(":alice PRIVMSG #chat :\x01ACTION waves\x01")
        bob.send("JOIN #quiet")  # alice is still there: the room, and its +x, last
        quiet = irc_until(bob, lambda line: "#quiet keeps no history" in line)
        assert not any("off the record" in line for line in quiet)
        alice.send("/join #chat")
        alice.send("live now")
        live = irc_until(bob, lambda line: line.endswith("PRIVMSG #chat :live now"))
        assert "alice!" in live[-1]  # live lines carry the full mask, replayed ones the name

        # chatsvc-admin reads the live server's data directory.
        exported = subprocess.run(
            [str(Path(sys.executable).parent / "chatsvc-admin"), "--data-dir", str(data),
             "history", "export", "#chat"], capture_output=True, text=True, timeout=WAIT)
        assert exported.returncode == 0, exported.stderr
        texts = [json.loads(line)["text"] for line in exported.stdout.splitlines()]
        assert texts[:2] == ["said before", "waves"]
        assert process.poll() is None
        alice.sock.close()
        bob.sock.close()
