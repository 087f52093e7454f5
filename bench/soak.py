"""Soak a real chatsvc server with a hostile mixed population, and print figures.

Not a test: it runs for minutes and reports what it measured.

    python bench/soak.py                       # 1,000 clients for 10 minutes
    python bench/soak.py --clients 200 --minutes 1 --storm 1000

It starts ``twistd chat`` on a free loopback port (or uses ``--connect`` and
``--pid``), then:

1. a *storm*: ``--storm`` connects and immediately closes, in a loop, and
   the server's RSS after it;
2. *warm-up*: ``--clients`` well-behaved clients connect and register, all
   in one room;
3. for ``--minutes``: the well-behaved clients chat (``--rate`` room
   messages per second in total), whisper to each other (``--pm-rate``) and
   rename themselves (``--rename-rate``), staying far under the flood
   limits; meanwhile ``--slow`` clients stop reading (and ask ``/who``
   twice a second so their backlog grows), a flooder pastes 200 lines every
   ``--flood-every`` seconds, churners (``--churn-rate`` per second)
   connect, talk and drop abruptly or quit, and now and then a connection
   never registers;
4. a drain, then the figures: messages sent, delivered and lost for the
   well-behaved readers (every room message of a well-behaved sender must
   reach every other well-behaved client, every accepted private message its
   target, in order), delivery latency, disconnects by reason as the room
   saw them, the server's RSS at start, middle and end and its CPU.

Well-behaved clients are never expected to be disconnected; offenders are.
"""

from __future__ import annotations

import argparse
import array
import collections
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from twisted.internet import defer, protocol, reactor, task
from twisted.internet.endpoints import TCP4ClientEndpoint

# -- the server process -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def start_server(args: argparse.Namespace, workdir: Path) -> tuple[subprocess.Popen, int]:
    twistd = args.twistd or shutil.which("twistd") or str(Path(sys.executable).with_name("twistd"))
    port = free_port()
    command = [
        twistd, "-n", "--pidfile=", "--logfile", str(workdir / "server.log"), "chat",
        "--port", f"tcp:{port}:interface=127.0.0.1",
        "--max-per-ip", "0",                     # every client comes from 127.0.0.1
        "--connect-rate", "0",                   # and the storm connects 10,000 times
        "--max-clients", str(args.clients * 2 + 1000),
        "--max-backlog", str(args.max_backlog),
        *args.server_arg,
    ]
    server = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if server.poll() is not None:
                raise SystemExit(
                    f"server exited with {server.returncode}; see {workdir}/server.log"
                ) from None
            time.sleep(0.2)
    server.kill()
    raise SystemExit("server did not start listening within 30 s")


# -- the clients --------------------------------------------------------------


class Stats:
    """What the soak counts."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.room_sent = array.array("I", [0]) * clients        # per well-behaved sender
        self.room_got = [array.array("I", [0]) * clients for _ in range(clients)]
        self.out_of_order = 0
        self.room_delivered = 0                                  # all pairs, for the drain
        self.pm_sent = array.array("I", [0]) * clients          # per target
        self.pm_refused = array.array("I", [0]) * clients
        self.pm_got = array.array("I", [0]) * clients
        self.latencies: list[float] = []
        self.left = collections.Counter()                        # as the room saw it
        self.offender_fates = collections.Counter()
        self.well_behaved_lost = 0                               # connections, never expected
        self.renames = 0
        self.errors = collections.Counter()


class Line(protocol.Protocol):
    """A line-protocol client that hands each received line to C{on_line}."""

    def __init__(self, on_line: Callable[[bytes], None],
                 on_lost: Callable[[object], None] | None = None) -> None:
        self._buffer = b""
        self.on_line = on_line
        self.on_lost = on_lost
        self.connected_d: defer.Deferred[Line] = defer.Deferred()
        self.closed = False

    def connectionMade(self) -> None:
        self.connected_d.callback(self)

    def dataReceived(self, data: bytes) -> None:
        lines = (self._buffer + data).split(b"\r\n")
        self._buffer = lines.pop()
        for line in lines:
            self.on_line(line)

    def connectionLost(self, reason=None) -> None:
        self.closed = True
        if self.on_lost is not None:
            self.on_lost(reason)

    def send(self, text: str) -> None:
        if not self.closed:
            self.transport.write(text.encode() + b"\n")


class Soak:
    def __init__(self, args: argparse.Namespace, port: int, pid: int | None) -> None:
        self.args = args
        self.port = port
        self.pid = pid
        self.stats = Stats(args.clients)
        self.endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=30)
        self.steady: list[Line | None] = [None] * args.clients
        self.names = [f"s{i}" for i in range(args.clients)]
        self.registered = 0
        self.registered_d: defer.Deferred[None] = defer.Deferred()
        self.sending = False
        self.seq = array.array("I", [0]) * args.clients
        self.counter = 0
        self.rss: dict[str, int] = {}
        self.random = random.Random(args.seed)
        self.finished = False

    # -- connecting ----------------------------------------------------------

    async def connect(self, on_line: Callable[[bytes], None],
                      on_lost: Callable[[object], None] | None = None) -> Line:
        client = Line(on_line, on_lost)
        await self.endpoint.connect(protocol.Factory.forProtocol(lambda: client))
        return client

    async def storm(self, count: int) -> float:
        """Connect and close C{count} times, C{batch} at a time; return seconds."""
        started = time.monotonic()
        batch = 200
        done = 0
        while done < count:
            size = min(batch, count - done)
            clients = await defer.gatherResults(
                [defer.ensureDeferred(self.connect(lambda line: None)) for _ in range(size)])
            for i, client in enumerate(clients):
                if i % 2:
                    client.transport.abortConnection()
                else:
                    client.transport.loseConnection()
            done += size
        return time.monotonic() - started

    # -- the well-behaved population -----------------------------------------

    def steady_line(self, me: int) -> Callable[[bytes], None]:
        stats = self.stats
        got = stats.room_got[me]
        last = array.array("I", [0]) * self.args.clients
        observer = me == 0
        sample = self.random.random

        def on_line(line: bytes) -> None:
            first = line[:1]
            if first == b"<":
                cut = line.find(b"> m")
                if cut < 0:
                    return
                sender, seq, stamp = line[cut + 3:].split(b"-", 2)
                s, q = int(sender), int(seq)
                got[s] += 1
                stats.room_delivered += 1
                if q != last[s] + 1:
                    stats.out_of_order += 1
                last[s] = q
                if sample() < 0.01:
                    stats.latencies.append(time.time() - float(stamp))
            elif first == b"*":
                if line[1:2] == b" ":                     # a notice
                    if line.startswith(b"* you are "):
                        self.on_registered(me)
                    elif observer and line.endswith(b")"):
                        cut = line.find(b" left (")
                        if cut > 0:
                            stats.left[line[cut + 7:-1].decode()] += 1
                elif b"* p" in line:                      # *sender* pNNN
                    stats.pm_got[me] += 1
            elif first == b"!":
                text = line.decode()
                if text.startswith("! no such user: s"):
                    target = int(text[len("! no such user: s"):].rstrip("x"))
                    stats.pm_refused[target] += 1
                else:
                    stats.errors[text] += 1

        return on_line

    def on_registered(self, me: int) -> None:
        # The first "* you are" is the registration; later ones answer renames.
        client = self.steady[me]
        if client is not None and not getattr(client, "ready", False):
            client.ready = True
            self.registered += 1
            if self.registered == self.args.clients:
                self.registered_d.callback(None)

    def steady_lost(self, me: int) -> Callable[[object], None]:
        def on_lost(reason: object) -> None:
            if not self.finished:
                self.stats.well_behaved_lost += 1
                print(f"!! well-behaved client s{me} lost its connection: {reason}",
                      file=sys.stderr)
        return on_lost

    async def warm_up(self) -> float:
        started = time.monotonic()
        for first in range(0, self.args.clients, 100):
            batch = range(first, min(first + 100, self.args.clients))
            clients = await defer.gatherResults([
                defer.ensureDeferred(self.connect(self.steady_line(i), self.steady_lost(i)))
                for i in batch])
            for i, client in zip(batch, clients, strict=True):
                self.steady[i] = client
                client.send(f"#s{i}")
            await task.deferLater(reactor, 0.2, lambda: None)
        await self.registered_d.addTimeout(600, reactor)
        # Let the join announcements settle before counting anything.
        await task.deferLater(reactor, 3, lambda: None)
        return time.monotonic() - started

    def chat_tick(self, tick: float) -> None:
        args, n, rnd = self.args, self.args.clients, self.random
        for _ in range(self.poisson(args.rate * tick)):
            i = rnd.randrange(n)
            self.seq[i] += 1
            self.stats.room_sent[i] += 1
            self.steady[i].send(f"m{i}-{self.seq[i]}-{time.time():.4f}")
        for _ in range(self.poisson(args.pm_rate * tick)):
            i, j = rnd.randrange(n), rnd.randrange(n)
            self.stats.pm_sent[j] += 1
            self.counter += 1
            self.steady[i].send(f"@{self.names[j]}:p{self.counter}")
        for _ in range(self.poisson(args.rename_rate * tick)):
            i = rnd.randrange(n)
            new = f"s{i}" if self.names[i].endswith("x") else f"s{i}x"
            self.names[i] = new
            self.stats.renames += 1
            self.steady[i].send(f"#{new}")

    def poisson(self, mean: float) -> int:
        # Knuth's method is fine for the small means of one tick.
        limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
        while True:
            p *= self.random.random()
            if p <= limit:
                return k
            k += 1

    # -- the offenders -------------------------------------------------------

    async def slow_reader(self, k: int) -> None:
        fate: list[str] = []

        client = await self.connect(lambda line: None, lambda reason: fate.append("closed"))
        sock = client.transport.getHandle()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.send(f"#slow{k}")
        await task.deferLater(reactor, 1, lambda: None)
        client.transport.pauseProducing()        # stop reading, for good
        while not client.closed and not self.finished:
            # Two /who a second (the sustained flood rate, never over it): the
            # replies pile up in the kernel (up to tcp_wmem's 4 MiB on
            # Linux), then in Twisted's buffer, then in our send queue.
            client.send("/who")
            await task.deferLater(reactor, 0.5, lambda: None)
        self.stats.offender_fates["slow reader closed" if client.closed
                                  else "slow reader still open at end"] += 1
        if not client.closed:
            client.transport.abortConnection()

    async def slow_readers(self) -> None:
        k = 0
        running: set[defer.Deferred] = set()
        while not self.finished:
            while len(running) < self.args.slow:
                d = defer.ensureDeferred(self.slow_reader(k))
                running.add(d)
                d.addBoth(lambda _, d=d: running.discard(d))
                k += 1
            await task.deferLater(reactor, 5, lambda: None)
        await defer.DeferredList(list(running))

    async def flooder(self, k: int) -> None:
        seen: list[bytes] = []
        client = await self.connect(seen.append)
        client.send(f"#flood{k}")
        await task.deferLater(reactor, 0.5, lambda: None)
        client.transport.write(b"".join(b"flood line %d\n" % i for i in range(200)))
        for _ in range(100):
            if client.closed:
                break
            await task.deferLater(reactor, 0.1, lambda: None)
        flooded = b"! flooding" in seen
        fate = ("flooder told '! flooding' and closed" if flooded and client.closed
                else "flooder NOT disconnected as expected")
        self.stats.offender_fates[fate] += 1
        if not client.closed:
            client.transport.abortConnection()

    async def churner(self, k: int) -> None:
        client = await self.connect(lambda line: None)
        client.send(f"#c{k}")
        for i in range(self.random.randrange(3)):
            await task.deferLater(reactor, self.random.uniform(0.2, 2), lambda: None)
            client.send(f"churner chat {i}")
        await task.deferLater(reactor, self.random.uniform(0.2, 3), lambda: None)
        if k % 3 == 0:
            client.send("/quit churn")
        elif k % 3 == 1:
            client.transport.abortConnection()   # an RST
        else:
            client.transport.loseConnection()    # a FIN without /quit

    async def never_registers(self) -> None:
        seen: list[bytes] = []
        client = await self.connect(seen.append)
        while not client.closed and not self.finished:
            await task.deferLater(reactor, 1, lambda: None)
        timed_out = any(line.startswith(b"* registration timeout") for line in seen)
        self.stats.offender_fates["unregistered closed by the deadline" if timed_out
                                  else "unregistered still open at end"] += 1
        if not client.closed:
            client.transport.abortConnection()

    # -- the run -------------------------------------------------------------

    def snapshot(self, label: str) -> None:
        if self.pid:
            self.rss[label] = rss_kib(self.pid)
            print(f"[{time.strftime('%H:%M:%S')}] {label}: server RSS "
                  f"{self.rss[label] / 1024:.1f} MiB, fds {fd_count(self.pid)}", flush=True)

    async def run(self) -> None:
        args = self.args
        if self.pid:
            self.rss["idle"] = rss_kib(self.pid)
        if args.storm:
            seconds = await self.storm(args.storm)
            print(f"storm: {args.storm} connects+closes in {seconds:.1f} s "
                  f"({args.storm / seconds:.0f}/s)", flush=True)
            await task.deferLater(reactor, 2, lambda: None)
            self.snapshot("after storm")
        seconds = await self.warm_up()
        print(f"warm-up: {args.clients} clients registered in {seconds:.1f} s", flush=True)
        self.snapshot("start")
        cpu_start, wall_start = (cpu_seconds(self.pid) if self.pid else 0.0), time.monotonic()

        tick = 0.05
        ticker = task.LoopingCall(self.chat_tick, tick)
        ticker.start(tick, now=False)
        background = [defer.ensureDeferred(self.slow_readers())]
        churn = flood = idle = 0
        end = time.monotonic() + args.minutes * 60
        middle_at = time.monotonic() + args.minutes * 30
        next_flood = time.monotonic() + args.flood_every
        next_idle = time.monotonic() + 20
        next_report = time.monotonic() + 60
        while time.monotonic() < end:
            now = time.monotonic()
            for _ in range(self.poisson(args.churn_rate)):
                background.append(defer.ensureDeferred(self.churner(churn)))
                churn += 1
            if now >= next_flood:
                background.append(defer.ensureDeferred(self.flooder(flood)))
                flood += 1
                next_flood += args.flood_every
            if now >= next_idle:
                background.append(defer.ensureDeferred(self.never_registers()))
                idle += 1
                next_idle += 60
            if middle_at and now >= middle_at:
                self.snapshot("middle")
                middle_at = 0
            if now >= next_report:
                sent = sum(self.stats.room_sent)
                print(f"[{time.strftime('%H:%M:%S')}] {sent} room messages sent so far, "
                      f"left so far: {dict(self.stats.left)}", flush=True)
                next_report += 60
            await task.deferLater(reactor, 1, lambda: None)
        ticker.stop()
        wall = time.monotonic() - wall_start
        cpu = (cpu_seconds(self.pid) - cpu_start) if self.pid else 0.0
        self.finished = True
        # Drain: wait until every well-behaved reader has everything (or 60 s).
        for _ in range(120):
            if self.missing() == 0:
                break
            await task.deferLater(reactor, 0.5, lambda: None)
        await defer.DeferredList(background, consumeErrors=True)
        self.snapshot("end")
        self.report(wall, cpu, churn, flood, idle)
        for client in self.steady:
            if client is not None and not client.closed:
                client.transport.loseConnection()
        await task.deferLater(reactor, 1, lambda: None)

    def missing(self) -> int:
        """Deliveries still owed to well-behaved readers (cheap: totals only)."""
        stats = self.stats
        room = sum(stats.room_sent) * (self.args.clients - 1) - stats.room_delivered
        return room + sum(stats.pm_sent) - sum(stats.pm_refused) - sum(stats.pm_got)

    def report(self, wall: float, cpu: float, churn: int, flood: int, idle: int) -> None:
        stats, n = self.stats, self.args.clients
        room_sent = sum(stats.room_sent)
        room_expected = room_sent * (n - 1)
        room_got = sum(stats.room_got[r][s] for r in range(n) for s in range(n) if s != r)
        pm_accepted = sum(stats.pm_sent) - sum(stats.pm_refused)
        latencies = sorted(stats.latencies)

        def pct(p: float) -> str:
            if not latencies:
                return "-"
            return f"{latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000:.0f} ms"

        print()
        print(f"== soak: {n} well-behaved clients, {wall / 60:.1f} min ==")
        print(f"room messages sent by well-behaved clients: {room_sent}")
        print(f"  deliveries expected: {room_expected}, delivered: {room_got}, "
              f"lost: {room_expected - room_got}, out of order: {stats.out_of_order}")
        print(f"private messages sent: {sum(stats.pm_sent)}, refused (target renamed "
              f"meanwhile): {sum(stats.pm_refused)}, delivered: {sum(stats.pm_got)}, "
              f"lost: {pm_accepted - sum(stats.pm_got)}")
        print(f"renames: {stats.renames}")
        print(f"delivery latency (1% sample): p50 {pct(0.5)}, p99 {pct(0.99)}, "
              f"max {pct(1.0)}")
        print(f"well-behaved clients disconnected: {stats.well_behaved_lost}")
        print(f"offenders started: {churn} churners, {flood} flooders, "
              f"{idle} never-registering, slow readers {self.args.slow} at a time")
        print("disconnects by reason, as the room saw them:")
        for reason, count in stats.left.most_common():
            print(f"  {count:7d}  {reason}")
        print("offenders' own fates:")
        for fate, count in stats.offender_fates.most_common():
            print(f"  {count:7d}  {fate}")
        if stats.errors:
            print(f"unexpected error replies to well-behaved clients: {dict(stats.errors)}")
        if self.rss:
            print("server RSS: " + ", ".join(
                f"{label} {kib / 1024:.1f} MiB" for label, kib in self.rss.items()))
        if self.pid:
            print(f"server CPU: {cpu:.1f} s over {wall:.0f} s "
                  f"({100 * cpu / wall:.0f}% of one core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="well-behaved clients")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20,
                        help="room messages per second from all well-behaved clients")
    parser.add_argument("--pm-rate", type=float, default=5, help="private messages per second")
    parser.add_argument("--rename-rate", type=float, default=0.5, help="renames per second")
    parser.add_argument("--slow", type=int, default=5, help="slow readers at any time")
    parser.add_argument("--churn-rate", type=float, default=2,
                        help="churners per second (connect, talk, drop or quit)")
    parser.add_argument("--flood-every", type=float, default=15, help="seconds between flooders")
    parser.add_argument("--storm", type=int, default=10_000,
                        help="connect+close cycles before the soak (0: none)")
    parser.add_argument("--max-backlog", type=int, default=128 * 1024,
                        help="the server's --max-backlog (small, so slow readers overflow "
                             "within the run)")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra argument for twistd chat (repeatable)")
    parser.add_argument("--twistd", help="the twistd to run (default: beside this python)")
    parser.add_argument("--connect", type=int, metavar="PORT",
                        help="use a server already listening on 127.0.0.1:PORT")
    parser.add_argument("--pid", type=int, help="with --connect: its pid, for RSS and CPU")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.clients + args.slow + 2000
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))

    workdir = Path(tempfile.mkdtemp(prefix="chatsvc-soak-"))
    server = None
    if args.connect:
        port, pid = args.connect, args.pid
    else:
        server, port = start_server(args, workdir)
        pid = server.pid
        print(f"server pid {pid} on 127.0.0.1:{port}, log {workdir}/server.log", flush=True)
    soak = Soak(args, port, pid)
    failure: list[BaseException] = []

    def done(result: object) -> None:
        if isinstance(result, Exception) or hasattr(result, "value"):
            failure.append(getattr(result, "value", result))
            print(f"soak failed: {result}", file=sys.stderr)
        if reactor.running:
            reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(soak.run()).addBoth(done))
    try:
        reactor.run()
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    if failure or soak.stats.well_behaved_lost or soak.missing():
        sys.exit(1)


if __name__ == "__main__":
    main()
