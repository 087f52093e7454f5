"""The benchmark's own correctness, so the code in bench/ cannot rot.

Not a timed test: the load generator drives a real ``twistd chat`` (and
twisted.words for its IRC side) for a second with a few clients, and every
message must arrive exactly once, at exactly its recipients.  A deliberately
faulty relay shows that the generator's accounting does catch loss,
duplicates and misrouting, so a zero from it means something.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from bench import run

pytestmark = [pytest.mark.integration, pytest.mark.skipif(
    shutil.which("gcc") is None and shutil.which("cc") is None,
    reason="gcc is needed to build bench/loadgen.c",
)]


@pytest.fixture(scope="module")
def loadgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run.build_loadgen(tmp_path_factory.mktemp("loadgen"))


def scenario(*args: str, clients: int) -> run.Scenario:
    return run.Scenario("smoke", "smoke", ("--clients", str(clients), *args), "cpu", clients)


def check_clean(outcome: run.Run) -> dict:
    assert outcome.error is None, outcome.error
    figures = outcome.result
    assert figures["ok"] is True
    for key in ("lost", "gaps", "duplicates", "misrouted", "dropped", "errors"):
        assert figures[key] == 0, (key, figures)
    assert figures["sent"] > 0
    assert figures["deliveries"] == figures["expected"] > 0
    return figures


SHAPES = {
    "fanout": scenario("--scenario", "fanout", "--senders", "3", clients=12),
    "private": scenario("--scenario", "private", "--window", "4", clients=10),
    "paced": scenario("--scenario", "fanout", "--senders", "1", "--rate", "100", clients=6),
}


@pytest.mark.parametrize("server", [run.Floor(), run.FloorInline()], ids=lambda s: s.name)
@pytest.mark.parametrize("shape", ["fanout", "private"])
def test_floor_relays_every_message(loadgen: Path, tmp_path: Path, server: run.Server,
                                    shape: str) -> None:
    check_clean(run.run_once(loadgen, server, SHAPES[shape], tmp_path, warmup=0.2,
                             duration=0.5))


@pytest.mark.parametrize("shape", SHAPES)
def test_chatsvc_line(loadgen: Path, tmp_path: Path, shape: str) -> None:
    figures = check_clean(run.run_once(
        loadgen, run.Chatsvc(), SHAPES[shape], tmp_path, warmup=0.2, duration=0.5))
    assert figures["server_cpu_s"] >= 0 and figures["rss_end_kib"] > 0
    if shape == "paced":
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]


def test_idle_line_clients_in_rooms(loadgen: Path, tmp_path: Path) -> None:
    idle = scenario("--scenario", "idle", clients=30)
    outcome = run.run_once(loadgen, run.Chatsvc(), idle, tmp_path, warmup=0, duration=0.3,
                           extra=("--line-rooms", "3"))
    assert outcome.error is None, outcome.error
    assert outcome.result["dropped"] == 0 and outcome.result["rss_end_kib"] > 0


@pytest.mark.parametrize("shape", ["fanout", "private"])
def test_irc_side_against_twisted_words(loadgen: Path, tmp_path: Path, shape: str) -> None:
    check_clean(run.run_once(
        loadgen, run.Words(), SHAPES[shape], tmp_path, warmup=0.2, duration=0.5))


def test_chatsvc_irc_listener(loadgen: Path, tmp_path: Path) -> None:
    server = run.ChatsvcIRC()
    assert server.missing() is None
    check_clean(run.run_once(
        loadgen, server, SHAPES["fanout"], tmp_path, warmup=0.2, duration=0.5))


# A relay that registers like chatsvc but, for the third receiver, drops
# every fifth message, repeats every seventh, and shows the ninth as a
# private message: the generator must count all three.
FAULTY = r"""
import sys
from twisted.internet import protocol, reactor
users = []
class Relay(protocol.Protocol):
    name, count, buf = None, 0, b""
    def connectionMade(self):
        self.transport.write(b"* welcome\r\n")
    def dataReceived(self, data):
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.line(line.rstrip(b"\r"))
    def line(self, line):
        if line.startswith(b"#"):
            self.name = line[1:]
            users.append(self)
            self.transport.write(b"* you are " + self.name + b"\r\n")
            return
        for user in users:
            if user is self:
                continue
            out = b"<" + self.name + b"> " + line + b"\r\n"
            if user is users[2]:
                user.count += 1
                if user.count % 5 == 0:
                    continue
                if user.count % 7 == 0:
                    out += out
                if user.count % 9 == 0:
                    out = b"*" + self.name + b"* " + line + b"\r\n"
            user.transport.write(out)
factory = protocol.Factory.forProtocol(Relay)
reactor.listenTCP(int(sys.argv[1]), factory, interface="127.0.0.1")
reactor.run()
"""


class FaultyRelay(run.Server):
    name = "faulty"

    def command(self, port: int, workdir: Path) -> list[str]:
        return [sys.executable, "-c", FAULTY, str(port)]


def test_accounting_catches_faults(loadgen: Path, tmp_path: Path) -> None:
    outcome = run.run_once(loadgen, FaultyRelay(), SHAPES["fanout"], tmp_path,
                           warmup=0.2, duration=0.5, extra=("--drain", "1"))
    figures = outcome.result
    assert outcome.error is not None and figures["ok"] is False
    assert figures["lost"] > 0 and figures["gaps"] > 0
    assert figures["duplicates"] > 0
    assert figures["misrouted"] > 0


def test_runner_takes_repeats_round_robin_and_scenario_durations(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Runs alternate between servers, and latency runs measure longer.

    Both are what make the table's ratios comparable (docs/performance.rst,
    "How it is measured"); no load generator or server is started here.
    """
    calls: list[tuple[str, str, float]] = []

    def fake_run_once(loadgen, server, scenario, workdir, warmup, duration, **options):
        calls.append((scenario.name, server.name, duration))
        return run.Run({"ok": True, "server_us_per_delivery": 1.0, "p99_ms": 1.0})

    monkeypatch.setattr(run, "build_loadgen", lambda workdir: tmp_path / "loadgen")
    monkeypatch.setattr(run, "run_once", fake_run_once)
    argv = ["--scenarios", "fanout-100,latency-100", "--servers", "floor,floor-inline",
            "--repeat", "2"]
    assert run.main(argv) == 0
    assert calls == [
        ("fanout-100", "floor", 5.0), ("fanout-100", "floor-inline", 5.0),
        ("fanout-100", "floor", 5.0), ("fanout-100", "floor-inline", 5.0),
        ("latency-100", "floor", 20.0), ("latency-100", "floor-inline", 20.0),
        ("latency-100", "floor", 20.0), ("latency-100", "floor-inline", 20.0),
    ]
    calls.clear()
    assert run.main([*argv, "--duration", "1"]) == 0
    assert {duration for _, _, duration in calls} == {1.0}
    table = capsys.readouterr().out
    assert "latency-100  floor-inline" in table
