"""History through a real ``twistd chat``: what was said survives kill -9.

A conversation on a server with a data directory, the server killed with
SIGKILL (no clean shutdown, no flush), a new server on the same directory:
a newcomer sees the conversation, verbatim, between the history markers.
"""

from __future__ import annotations

import re
import signal
import time

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
