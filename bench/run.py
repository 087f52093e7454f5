"""Run chatsvc side by side with ngircd and twisted.words, print one table.

Each (scenario, server) pair runs ``--repeat`` times (default 3), each time
against a freshly started server on 127.0.0.1, driven by the C load
generator in ``bench/loadgen.c`` (compiled here with gcc).  The table shows
medians.  The figure that survives a shared, noisy machine is the server's
CPU time per delivery (utime + stime from /proc/PID/stat over the measured
phase, divided by the deliveries in it); deliveries/s is shown beside it.

    python -m bench                          # everything, medians of 3
    python -m bench --scenarios fanout-100 --servers chatsvc,ngircd
    python -m bench --list

A peer that is not installed (ngircd) is skipped, and the table says so.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

BENCH = Path(__file__).resolve().parent
LOADGEN_SOURCE = BENCH / "loadgen.c"


# -- scenarios ----------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """One load shape; C{key} names the figure compared with ngircd."""

    name: str
    title: str
    args: tuple[str, ...]
    key: str  # "cpu", "p99" or "rss"
    clients: int
    warmup: float = 1.0
    #: Measured seconds per run unless --duration says otherwise.  A p99 is
    #: set by a run's few worst messages: at 50 lines/s, 5 s gives only 250
    #: of them, and ngircd's ranged 1.16-2.0 ms over five runs; 20 s gives 1,000.
    duration: float = 5.0


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("fanout-100", "fan-out, 100 clients, 5 senders flat out",
             ("--scenario", "fanout", "--clients", "100", "--senders", "5"), "cpu", 100),
    Scenario("fanout-500", "fan-out, 500 clients, 5 senders flat out",
             ("--scenario", "fanout", "--clients", "500", "--senders", "5"), "cpu", 500),
    Scenario("fanout-1000", "fan-out, 1,000 clients, 5 senders flat out",
             ("--scenario", "fanout", "--clients", "1000", "--senders", "5"), "cpu", 1000),
    Scenario("private-250", "private messages, 250 pairs flat out",
             ("--scenario", "private", "--clients", "500", "--window", "8"), "cpu", 500),
    Scenario("latency-100", "100 clients, 1 sender at 50 lines/s",
             ("--scenario", "fanout", "--clients", "100", "--senders", "1", "--rate", "50"),
             "p99", 100, duration=20.0),
    Scenario("idle-10000", "10,000 idle registered clients",
             ("--scenario", "idle", "--clients", "10000"), "rss", 10000, warmup=0.0),
)}


# -- servers ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Return once something accepts on C{port}; fail if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout:.0f} s")


@functools.cache
def _twistd_help() -> str:
    result = subprocess.run(
        [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
         "chat", "--help"],
        capture_output=True, text=True, timeout=60,
    )
    return result.stdout


class Server:
    """A server under test: how to start it and how the load generator talks to it."""

    name = "?"
    proto = "line"
    loadgen_args: tuple[str, ...] = ()
    python = False  # py-spy can profile it (--profile)

    def missing(self) -> str | None:
        """Why this server cannot run here, or None."""
        return None

    def scenario_args(self, scenario: Scenario) -> tuple[str, ...]:
        """Load-generator arguments this server needs for C{scenario}."""
        return ()

    def command(self, port: int, workdir: Path) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The server's environment; None for ours."""
        return None

    def start(self, port: int, workdir: Path, cpus: set[int] | None = None) -> subprocess.Popen:
        log = open(workdir / f"{self.name}.log", "ab")
        process = subprocess.Popen(
            self.command(port, workdir), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=workdir, preexec_fn=_pinned(cpus),
            env=self.environment(),
        )
        log.close()
        try:
            wait_listening(port, process)
        except Exception:
            stop(process)
            raise
        return process


def _pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    """A preexec_fn that keeps the child (and its threads) on C{cpus}."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def cpu_plan(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """CPUs for the server and for the load generator, or no pinning.

    Pinning them apart keeps the scheduler from putting the load generator
    on the server's CPU (or moving the server mid-fan-out), which on a small
    machine moved p50 latency by half; each stays where it is for the run,
    as a server and its remote clients would.
    """
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) < 2:
        return None, None
    return {available[0]}, {available[1]}


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Chatsvc(Server):
    """chatsvc's line protocol, run by twistd exactly as an operator would."""

    name = "chatsvc"
    python = True


    def scenario_args(self, scenario: Scenario) -> tuple[str, ...]:
        # A line user is always in a room (IRC clients may be in none): the
        # idle clients go to 100 rooms of 100, not 10,000 in one room, which
        # would cost 50 million join notices before anyone was idle.
        if scenario.key == "rss" and self.proto == "line":
            return ("--line-rooms", "100")
        return ()

    def benchmark_options(self) -> list[str]:
        # Flood control is the one limit a benchmark may turn off, through
        # its own option; every other limit (backlog, clients, line length,
        # per-address connections, registration deadline) keeps its default.
        # The load generator spreads its connections over 127.0.x.y
        # addresses, ten per address, so --max-per-ip (16) stays on.
        return ["--flood-rate", "0"]

    def command(self, port: int, workdir: Path) -> list[str]:
        return [
            sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
            "-n", "--pidfile=", f"--logfile={workdir / 'chatsvc-twistd.log'}", "chat",
            "--port", f"tcp:{port}:interface=127.0.0.1", *self.benchmark_options(),
        ]


class ChatsvcNoHistory(Chatsvc):
    """chatsvc with no history store (C{--data-dir none}): what history costs
    is C{chatsvc} (which keeps history, the default) against this."""

    name = "chatsvc-nohistory"

    def benchmark_options(self) -> list[str]:
        return [*super().benchmark_options(), "--data-dir", "none"]


class ChatsvcIRC(Chatsvc):
    """chatsvc's IRC listener (once it exists), same hub, same options."""

    name = "chatsvc-irc"
    proto = "irc"

    def missing(self) -> str | None:
        if "--irc-port" not in _twistd_help():
            return "this chatsvc has no --irc-port yet"
        return None

    def command(self, port: int, workdir: Path) -> list[str]:
        command = super().command(free_port(), workdir)
        return [*command, "--irc-port", f"tcp:{port}:interface=127.0.0.1"]


NGIRCD_CONFIG = """\
# Written by bench/run.py: loopback only, no PAM/ident/DNS, limits raised so
# the benchmark measures relaying, not ngircd's flood protection (senders
# also OPER and set user mode +F, which lifts the per-client throttle).
[Global]
Name = bench.ngircd
Info = chatsvc benchmark peer
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = bench
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
[Operator]
Name = bench
Password = bench
"""


class Ngircd(Server):
    name = "ngircd"
    proto = "irc"
    loadgen_args = ("--irc-oper", "bench:bench")

    def missing(self) -> str | None:
        if shutil.which("ngircd") is None:
            return "ngircd is not installed (apt-get install ngircd)"
        return None

    def command(self, port: int, workdir: Path) -> list[str]:
        config = workdir / "ngircd.conf"
        config.write_text(NGIRCD_CONFIG.format(port=port))
        config.chmod(0o644)  # ngircd drops root for 'nobody' and may re-read it
        return ["ngircd", "--nodaemon", "--config", str(config)]


class Words(Server):
    """twisted.words' IRC server, from our own Twisted dependency."""

    name = "twisted.words"
    proto = "irc"
    python = True
    loadgen_args = ("--irc-pass", "bench")

    def command(self, port: int, workdir: Path) -> list[str]:
        return [sys.executable, str(BENCH / "words_server.py"), str(port)]


class Floor(Server):
    """The floor: a Twisted relay with chatsvc's output path and no rules.

    Not a chat server (bench/floor_server.py says what it leaves out): its
    figures are what Twisted and chatsvc's send queue cost by themselves, so
    chatsvc's distance to it is what chatsvc's rules and layers cost.
    """

    name = "floor"
    python = True
    extra: tuple[str, ...] = ()

    def command(self, port: int, workdir: Path) -> list[str]:
        # Run from the checkout, so it imports this chatsvc's send queue.
        return [sys.executable, str(BENCH / "floor_server.py"), str(port), *self.extra]

    def environment(self) -> dict[str, str] | None:
        path = os.pathsep.join(filter(None, [str(BENCH.parent), os.environ.get("PYTHONPATH")]))
        return {**os.environ, "PYTHONPATH": path}


class FloorInline(Floor):
    """The floor sending each line at once, as a C server's loop does."""

    name = "floor-inline"
    extra = ("--inline",)


SERVERS: dict[str, Server] = {s.name: s for s in (
    Chatsvc(), ChatsvcNoHistory(), ChatsvcIRC(), Ngircd(), Words(), Floor(), FloorInline())}
BASELINE = "ngircd"


# -- running ------------------------------------------------------------------

def build_loadgen(workdir: Path) -> Path:
    """Compile the load generator with the machine's gcc."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise SystemExit("bench: gcc is needed to build bench/loadgen.c")
    binary = workdir / "loadgen"
    subprocess.run([gcc, "-O2", "-Wall", "-o", str(binary), str(LOADGEN_SOURCE)], check=True)
    return binary


def raise_fd_limit(needed: int) -> None:
    """Lift the soft RLIMIT_NOFILE to the hard one; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        print(f"bench: RLIMIT_NOFILE is {soft}; scenarios over {soft - 100} clients "
              "will fail (raise the hard limit, e.g. ulimit -Hn)", file=sys.stderr)


@dataclass
class Run:
    """One load-generator run's figures (its JSON), or why it failed."""

    result: dict = field(default_factory=dict)
    error: str | None = None


def py_spy() -> str | None:
    """The py-spy program (pip install py-spy), if installed."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_profiler(pid: int, output: Path) -> subprocess.Popen:
    """Sample C{pid} with py-spy until interrupted; a flame graph goes to C{output}."""
    spy = py_spy()
    assert spy is not None
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "200", "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def run_once(loadgen: Path, server: Server, scenario: Scenario, workdir: Path,
             warmup: float, duration: float, extra: Sequence[str] = (),
             profile: Path | None = None, pin: bool = False) -> Run:
    port = free_port()
    server_cpus, loadgen_cpus = cpu_plan(pin)
    try:
        process = server.start(port, workdir, server_cpus)
    except Exception as error:
        return Run(error=f"{server.name} did not start: {error}")
    profiler = None
    if profile is not None and server.python:
        profiler = start_profiler(process.pid, profile / f"{scenario.name}-{server.name}.svg")
    try:
        command = [
            str(loadgen), "--port", str(port), "--proto", server.proto,
            "--server-pid", str(process.pid), "--duration", str(duration),
            "--warmup", str(warmup if scenario.warmup else 0.0),
            *scenario.args, *server.loadgen_args, *server.scenario_args(scenario), *extra,
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                                  preexec_fn=_pinned(loadgen_cpus))
        except subprocess.TimeoutExpired:
            return Run(error="load generator timed out")
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            return Run(error=f"load generator failed: {done.stderr.strip()[-500:]}")
        result = json.loads(lines[-1])
        result["stderr"] = done.stderr[-2000:]
        if process.poll() is not None:
            return Run(result, f"{server.name} exited during the run")
        if not result["ok"]:
            return Run(result, "not ok: " + done.stderr.strip()[-300:])
        return Run(result)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            try:
                profiler.wait(timeout=60)
            except subprocess.TimeoutExpired:
                profiler.kill()
        stop(process)


@dataclass
class Row:
    scenario: Scenario
    server: Server
    runs: list[Run]
    skipped: str | None = None

    def median(self, key: str) -> float | None:
        values = [r.result[key] for r in self.runs if r.result and key in r.result]
        return statistics.median(values) if values else None

    def total(self, key: str) -> int:
        return sum(r.result.get(key, 0) for r in self.runs if r.result)

    def rss_per_client_kib(self) -> float | None:
        values = [
            (r.result["rss_end_kib"] - r.result["rss_start_kib"]) / r.result["clients"]
            for r in self.runs
            if r.result and r.result.get("rss_end_kib", -1) > 0 and not r.error
        ]
        return statistics.median(values) if values else None

    def key_figure(self) -> float | None:
        if self.scenario.key == "cpu":
            return self.median("server_us_per_delivery")
        if self.scenario.key == "p99":
            return self.median("p99_ms")
        return self.rss_per_client_kib()

    @property
    def failed(self) -> list[str]:
        return [r.error for r in self.runs if r.error]


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[Row], out: TextIO | None = None) -> None:
    out = sys.stdout if out is None else out  # looked up now: it may be redirected
    header = ("scenario", "server", "deliveries/s", "CPU µs/deliv", "p50 ms", "p99 ms",
              "lost", "RSS", "× ngircd", "loadgen CPU")
    table = [header]
    baseline = {
        row.scenario.name: row.key_figure()
        for row in rows if row.server.name == BASELINE and not row.skipped
    }
    for row in rows:
        if row.skipped:
            table.append((row.scenario.name, row.server.name, f"skipped: {row.skipped}",
                          "", "", "", "", "", "", ""))
            continue
        if row.scenario.key == "rss":
            rss = _fmt(row.rss_per_client_kib(), ".2f") + " KiB/conn"
        else:
            rss_kib = row.median("rss_end_kib")
            rss = _fmt(rss_kib / 1024 if rss_kib else None, ".0f") + " MiB"
        base, mine = baseline.get(row.scenario.name), row.key_figure()
        ratio = f"{mine / base:.2f} ({row.scenario.key})" if base and mine else "-"
        lost = row.total("lost") + row.total("duplicates") + row.total("misrouted")
        table.append((
            row.scenario.name, row.server.name,
            _fmt(row.median("deliveries_per_s"), ",.0f"),
            _fmt(row.median("server_us_per_delivery"), ".2f")
            if row.scenario.key != "rss" else "-",
            _fmt(row.median("p50_ms"), ".2f") if row.scenario.key != "rss" else "-",
            _fmt(row.median("p99_ms"), ".2f") if row.scenario.key != "rss" else "-",
            str(lost) + (" FAIL" if row.failed else ""),
            rss, ratio,
            _fmt(row.median("loadgen_cpu_pct"), ".0f") + "%"
            if row.scenario.key != "rss" else "-",
        ))
    widths = [max(len(line[i]) for line in table if i < 2 or not line[2].startswith("skipped:"))
              for i in range(len(header))]
    for line in table:
        if line[2].startswith("skipped:"):
            print(f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]}", file=out)
            continue
        cells = [f"{c:<{w}}" if i < 2 else f"{c:>{w}}" for i, (c, w) in
                 enumerate(zip(line, widths, strict=True))]
        print("  ".join(cells), file=out)
    for row in rows:
        for error in row.failed:
            print(f"! {row.scenario.name} / {row.server.name}: {error}", file=out)


def machine_summary() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
            f"Python {platform.python_version()}; load average {load}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated, from: " + ", ".join(SCENARIOS))
    parser.add_argument("--servers", default="chatsvc,chatsvc-irc,ngircd,twisted.words",
                        help="comma-separated, from: " + ", ".join(SERVERS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median shown)")
    parser.add_argument("--duration", type=float, default=None,
                        help="measured seconds per run (default: 5, 20 for latency)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before")
    parser.add_argument("--json", help="also write every run's raw figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--profile", metavar="DIR",
                        help="also record a py-spy flame graph of each Python server per "
                             "scenario into DIR (sampling costs CPU: not for the figures)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the server and the load generator to separate CPUs")
    parser.add_argument("--list", action="store_true", help="list scenarios and servers")
    options = parser.parse_args(argv)
    if options.list:
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:<12} {scenario.title}")
        for server in SERVERS.values():
            print(f"{server.name:<12} {server.missing() or 'available'}")
        return 0
    try:
        scenarios = [SCENARIOS[name] for name in options.scenarios.split(",") if name]
        servers = [SERVERS[name] for name in options.servers.split(",") if name]
    except KeyError as error:
        parser.error(f"unknown name {error}")

    profile = Path(options.profile) if options.profile else None
    if profile is not None:
        if py_spy() is None:
            parser.error("--profile needs py-spy (pip install py-spy)")
        profile.mkdir(parents=True, exist_ok=True)
    raise_fd_limit(max(s.clients for s in scenarios) + 200)
    workdir = Path(tempfile.mkdtemp(prefix="chatsvc-bench-"))
    loadgen = build_loadgen(workdir)
    print(machine_summary(), flush=True)
    rows: list[Row] = []
    for scenario in scenarios:
        cells = [Row(scenario, server, [], skipped=server.missing()) for server in servers]
        # Round robin rather than one server's runs in a row: whatever drifts
        # on the machine meanwhile then weighs on every server alike.
        for attempt in range(options.repeat):
            for row in cells:
                if row.skipped:
                    continue
                run = run_once(loadgen, row.server, scenario, workdir, options.warmup,
                               options.duration or scenario.duration, profile=profile,
                               pin=options.pin)
                row.runs.append(run)
                figure = run.result.get("server_us_per_delivery") if run.result else None
                print(f"  {scenario.name} {row.server.name} #{attempt + 1}: "
                      + (run.error or f"ok, {figure} µs/delivery"), flush=True)
        rows.extend(cells)
    print(f"\nafter the runs: {machine_summary()}")
    print(f"command: python -m bench {' '.join(sys.argv[1:] if argv is None else argv)}\n")
    print_table(rows)
    if options.json:
        with open(options.json, "w") as out:
            json.dump([{"scenario": r.scenario.name, "server": r.server.name,
                        "skipped": r.skipped,
                        "runs": [{"error": x.error, **x.result} for x in r.runs]}
                       for r in rows], out, indent=1)
    if options.keep:
        print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(row.failed for row in rows) else 0
