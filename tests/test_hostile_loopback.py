"""Attacks of the hardening issue, rerun against a real ``twistd chat`` on 127.0.0.1.

In a separate process on purpose: the attack froze a whole process inside C
code, and a frozen server must fail this test (a bounded wait for a line),
not freeze the test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import SocketUser, twistd_server

pytestmark = pytest.mark.integration

# What the attacker needs: a room of their own (so they are its operator)
# and a name the mask almost matches.
BACKTRACKING_BAN = "*a*a*a*a*a*a*a*a*a*a*b"


def test_a_backtracking_ban_mask_freezes_nobody(tmp_path: Path) -> None:
    """Ten stars froze the server for over two minutes when masks were regexes."""
    with twistd_server(tmp_path, "--max-per-ip", "0", "--flood-rate", "0") as (port, _):
        attacker = SocketUser(port, "op")
        attacker.send("/join #trap")
        attacker.expect("* you joined #trap (1 here)")
        attacker.send(f"/ban {BACKTRACKING_BAN}")
        attacker.expect(f"* op sets +b {BACKTRACKING_BAN}!*@* on #trap")
        talker, watcher = SocketUser(port, "talker"), SocketUser(port, "watcher")
        victim = SocketUser(port, "a" * 32)
        victim.send("/join #trap")          # a ban check on joining...
        victim.expect("* you joined #trap (2 here)")
        victim.send("a" * 400)              # ...and on every message
        attacker.expect(f"<{'a' * 32}> {'a' * 400}")
        for n in range(3):
            talker.send(f"still here {n}")
            watcher.expect(f"<talker> still here {n}", timeout=10)
        for user in (attacker, talker, watcher, victim):
            user.close()


def test_the_attack_rerun_of_the_benchmark_runs(capsys) -> None:
    """bench/attacks.py reruns the issue's attacks black-box; here two short ones,
    which also show a dual-stack listener's IPv4 client banned by its address."""
    from bench import attacks

    assert attacks.main(["--only", "dual-stack,redos"]) == 0
    output = capsys.readouterr().out
    assert "WHOIS shows host 127.0.0.3" in output
    assert "! you are banned from #v4" in output
    assert "join answered in" in output
    assert " 0 lost" in output
