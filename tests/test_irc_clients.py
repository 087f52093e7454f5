"""Real IRC clients against a real ``twistd chat`` process.

irssi runs inside tmux and is driven the way a person would use it
(send-keys) and read from its screen (capture-pane); weechat-headless is
driven through its FIFO and read from its logs.  A line user joins over a
plain socket.  Every wait is bounded and every process is ended.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import stop_process

pytestmark = pytest.mark.integration

TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check: Callable[[], object], what: str, timeout: float = TIMEOUT) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class LineUser:
    """A line-protocol user on a blocking socket."""

    def __init__(self, port: int, name: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.settimeout(0.1)
        self.data = b""
        self.say(f"#{name}")

    def say(self, text: str) -> None:
        self.sock.sendall(text.encode("utf-8") + b"\n")

    def lines(self) -> list[str]:
        try:
            while chunk := self.sock.recv(65536):
                self.data += chunk
        except (TimeoutError, BlockingIOError):
            pass
        return self.data.decode("utf-8", "replace").split("\r\n")

    def saw(self, line: str) -> bool:
        return line in self.lines()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """A ``twistd chat`` process with a line and an IRC listener on loopback."""
    line_port, irc_port = free_port(), free_port()
    twistd = Path(sys.executable).with_name("twistd")
    log = tmp_path_factory.mktemp("twistd") / "twistd.log"
    process = subprocess.Popen(
        [str(twistd), "-n", "--pidfile=", f"--logfile={log}", "chat",
         "--port", f"tcp:{line_port}:interface=127.0.0.1",
         "--irc-port", f"tcp:{irc_port}:interface=127.0.0.1", "--name", "testnet"],
        cwd=log.parent,  # its ./chatsvc-data (the history) too, not the checkout's
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", irc_port), timeout=1).close()
            return True
        except OSError:
            return process.poll() is not None  # died: stop waiting, fail below

    try:
        wait_for(listening, "twistd chat to listen")
        assert process.poll() is None, log.read_text()
        yield line_port, irc_port
    finally:
        stop_process(process)


def _irssi_listed(screen: str, label: str) -> list[str]:
    """The words irssi lists after C{label} (\"Capabilities supported:\"...):
    on its line and the indented lines irssi wraps a long list onto."""
    lines = screen.splitlines()
    start = next(index for index, line in enumerate(lines) if label in line)
    words = lines[start].split(label, 1)[1].split()
    for line in lines[start + 1:]:
        if not line.startswith(" ") or not line.strip():
            break
        words.extend(line.split())
    return words


class Tmux:
    """A command on a fixed-size screen, in a private tmux server of its own.

    Its own socket (``-L``) and no configuration file: nothing the test does
    touches anyone else's tmux, and L{kill} ends the whole server.
    """

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.socket = f"chatsvc-irc-{os.getpid()}-{time.monotonic_ns()}"
        self._tmux("new-session", "-d", "-s", "irc", "-x", "160", "-y", "50",
                   shlex.join(command), env=env)
        #: The server's socket file: tmux leaves it behind, L{kill} removes it.
        self.path = Path(self._tmux("display-message", "-p", "#{socket_path}").strip())

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", os.devnull, *args],
                              check=True, capture_output=True, text=True, env=env,
                              timeout=TIMEOUT).stdout

    def keys(self, text: str) -> None:
        self._tmux("send-keys", "-t", "irc", "-l", text)
        self._tmux("send-keys", "-t", "irc", "Enter")

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "irc")

    def shows(self, text: str) -> bool:
        return text in self.screen()

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "irc"],
                              capture_output=True, timeout=TIMEOUT).returncode == 0

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=TIMEOUT)
        if self.path.name == self.socket:  # ours, whatever directory tmux chose
            self.path.unlink(missing_ok=True)


@pytest.mark.skipif(shutil.which("irssi") is None or shutil.which("tmux") is None,
                    reason="irssi and tmux are not installed (.ci/run installs them)")
def test_irssi(chat_server: tuple[int, int], tmp_path: Path) -> None:
    line_port, irc_port = chat_server
    bob = LineUser(line_port, "bob")
    home = tmp_path / "irssi"
    home.mkdir()
    # irssi paces what it sends (2.2 s between commands after a burst of 5),
    # as a courtesy to real networks; a test needs no such courtesy.
    (home / "config").write_text(
        'settings = { "irc/core" = { cmd_queue_speed = "10msec"; '
        'cmds_max_at_once = "20"; }; };\n')
    env = {**os.environ, "TERM": "screen", "HOME": str(tmp_path)}
    irssi = Tmux([
        "irssi", f"--home={home}", "-n", "alice", "-c", "127.0.0.1", "-p", str(irc_port)], env)
    try:
        wait_for(lambda: irssi.shows("Welcome to the testnet IRC network"), "irssi to register")
        # irssi negotiates capabilities and lists them (it saw none before CAP).
        wait_for(lambda: irssi.shows("Capabilities supported") and irssi.shows("multi-prefix"),
                 "irssi to list the server's capabilities")
        # It lists what is offered, the tag capabilities among them.
        supported = _irssi_listed(irssi.screen(), "Capabilities supported:")
        for cap in ("batch", "labeled-response", "message-tags"):
            assert cap in supported, (cap, supported)
        irssi.keys("/join #chat")
        wait_for(lambda: bob.saw("* alice joined"), "bob to see irssi join #chat")
        wait_for(lambda: irssi.shows("has joined #chat"), "irssi in #chat")

        bob.say("hello irssi user")
        wait_for(lambda: irssi.shows("hello irssi user"), "irssi to show bob's message")
        irssi.keys("hi bob, this is irssi")
        wait_for(lambda: bob.saw("<alice> hi bob, this is irssi"), "bob to get the reply")
        # A line user's move is a PART that says where to: irssi shows a PART
        # with no reason as "has left #chat []".
        bob.say("/join #rust")
        wait_for(lambda: irssi.shows("has left #chat [left for #rust]"),
                 "irssi to see bob leave #chat for #rust")
        bob.say("/part")
        wait_for(lambda: bob.saw("* you joined #chat (2 here)"), "bob back in #chat")
        irssi.keys("/msg bob a private word")
        wait_for(lambda: bob.saw("*alice* a private word"), "bob to get the /msg")
        bob.say("@alice:and one back")
        irssi.keys("/query bob")
        wait_for(lambda: irssi.shows("and one back"), "irssi to show the private reply")

        irssi.keys("/join #second")
        wait_for(lambda: irssi.shows("has joined #second"), "irssi in #second")
        irssi.keys("/topic a second room")
        wait_for(lambda: irssi.shows("changed the topic of #second to: a second room"),
                 "irssi to set the topic as the channel's operator")

        irssi.keys("/quit see you later")
        wait_for(lambda: bob.saw("* alice left (Quit: see you later)"), "bob to see the quit")
        wait_for(lambda: not irssi.alive(), "irssi to exit")
    except AssertionError:
        print(irssi.screen())
        raise
    finally:
        irssi.kill()
        bob.close()


def _irssi(tmp_path: Path, irc_port: int, nick: str, *, connect: bool = True,
           settings: str = "") -> Tmux:
    """irssi as C{nick} on a screen of its own, connected to the server unless
    not C{connect} (to add a network first); C{settings}, more of its config's
    C{settings} block (C{"fe-text" = { show_server_time = "yes"; };}).
    Times show in UTC."""
    home = tmp_path / "irssi"
    home.mkdir()
    (home / "config").write_text(
        'settings = { "irc/core" = { cmd_queue_speed = "10msec"; '
        f'cmds_max_at_once = "20"; }}; {settings} }};\n')
    env = {**os.environ, "TERM": "screen", "HOME": str(tmp_path), "TZ": "UTC"}
    server = ["-c", "127.0.0.1", "-p", str(irc_port)] if connect else []
    return Tmux(["irssi", f"--home={home}", "-n", nick, *server], env)


@pytest.mark.skipif(shutil.which("irssi") is None or shutil.which("tmux") is None,
                    reason="irssi and tmux are not installed (.ci/run installs them)")
def test_irssi_monitor_setname_and_the_caps_it_enables(chat_server: tuple[int, int],
                                                       tmp_path: Path) -> None:
    """irssi asks for account-notify, chghost, extended-join, invite-notify and
    setname and gets them; MONITOR, SETNAME and a line user's rename show as they should."""
    line_port, irc_port = chat_server
    irssi = _irssi(tmp_path, irc_port, "ursula")
    dave = carol = None
    try:
        wait_for(lambda: irssi.shows("Welcome to the testnet IRC network"), "irssi to register")
        acknowledged = _irssi_listed(irssi.screen(), "Capabilities acknowledged:")
        for cap in ("account-notify", "chghost", "extended-join", "invite-notify", "setname"):
            assert cap in acknowledged, (cap, acknowledged)
        # MONITOR: 731 at once, then 730 when a line user takes the name.
        irssi.keys("/quote MONITOR + dave")
        wait_for(lambda: any(line.endswith("-!- dave") for line in irssi.screen().splitlines()),
                 "irssi to show dave offline")
        dave = LineUser(line_port, "dave")
        wait_for(lambda: irssi.shows("-!- dave!dave@127.0.0.1"), "irssi to show dave online")
        irssi.keys("/join #chat")
        wait_for(lambda: irssi.shows("ursula [~root@127.0.0.1] has joined #chat"), "irssi in #chat")
        # A line user's rename changes their mask's username: CHGHOST keeps
        # irssi's idea of it right, as the part that follows shows.
        dave.say("#david")
        wait_for(lambda: irssi.shows("david [david@127.0.0.1] has changed host"),
                 "irssi to show the CHGHOST")
        dave.say("/join #x")
        wait_for(lambda: irssi.shows("david [david@127.0.0.1] has left #chat [left for #x]"),
                 "david's part with his new mask")
        # invite-notify: a member invites someone to the channel.
        carol = LineUser(line_port, "carol")
        wait_for(lambda: irssi.shows("carol [carol@127.0.0.1] has joined #chat"), "carol's join")
        carol.say("/invite david")
        wait_for(lambda: irssi.shows("david has been invited to #chat by carol"),
                 "irssi to show the invitation")
        # SETNAME: the new real name in WHOIS (irssi shows it in its status window).
        irssi.keys("/window 1")
        irssi.keys("/quote SETNAME :Ursula Example")
        irssi.keys("/whois ursula")
        wait_for(lambda: irssi.shows("ircname  : Ursula Example"), "the new real name in WHOIS")
    except (AssertionError, StopIteration):
        print(irssi.screen())
        raise
    finally:
        irssi.kill()
        for user in (dave, carol):
            if user is not None:
                user.close()


class WeeChat:
    """weechat-headless, commanded through its FIFO and read through its logs.

    C{sasl}: (account, password) to log in with SASL PLAIN; the password goes
    through the FIFO, not the command line.  Not C{paced}: without weechat's
    anti-flood delay (2 s a line, a courtesy to real networks), so that a
    test's commands reach the server at once, and its flood gate paces them
    instead: lines it still holds when the client hangs up are lost, a QUIT
    among them (docs/operator/limits.rst).  Its logs' times are UTC.
    """

    def __init__(self, home: Path, irc_port: int, nick: str, *,
                 sasl: tuple[str, str] | None = None, paced: bool = True) -> None:
        self.home = home
        self.logs = home / "logs"
        server = f"/server add chatsvc 127.0.0.1/{irc_port} -notls -nicks={nick} -username={nick}"
        if sasl:
            server += f" -sasl_mechanism=plain -sasl_username={sasl[0]}"
        commands = ["/set logger.file.flush_delay 0", "/set logger.level.irc 9", server]
        if not paced:
            commands.insert(0, "/set irc.server_default.anti_flood_prio_high 0")
        if not sasl:
            commands.append("/connect chatsvc")
        self.process = subprocess.Popen(
            ["weechat-headless", "--dir", str(home), "-r", ";".join(commands)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "TZ": "UTC"},
        )
        self.fifo = Path(wait_for(self._find_fifo, "weechat's FIFO"))
        if sasl:
            self.command("core.weechat", f"/set irc.server.chatsvc.sasl_password {sasl[1]}")
            self.command("core.weechat", "/connect chatsvc")

    def _find_fifo(self) -> str | None:
        found = sorted(self.home.glob("weechat_fifo_*"))
        return str(found[0]) if found else None

    def command(self, buffer: str, text: str) -> None:
        with open(self.fifo, "w", encoding="utf-8") as fifo:
            fifo.write(f"{buffer} *{text}\n")

    def log(self, buffer: str) -> str:
        path = self.logs / f"{buffer}.weechatlog"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)


@pytest.mark.skipif(shutil.which("weechat-headless") is None,
                    reason="weechat-headless is not installed (.ci/run installs it)")
def test_weechat(chat_server: tuple[int, int], tmp_path: Path) -> None:
    line_port, irc_port = chat_server
    bob = LineUser(line_port, "bob")
    weechat = WeeChat(tmp_path / "weechat", irc_port, "carol")
    server, chat = "irc.server.chatsvc", "irc.chatsvc.#chat"
    try:
        wait_for(lambda: "Welcome to the testnet IRC network" in weechat.log(server),
                 "weechat to register")
        # weechat negotiates the capabilities it knows and lists those enabled.
        enabled = next((line for line in weechat.log(server).splitlines()
                        if "client capability, enabled:" in line), "")
        for cap in ("account-notify", "away-notify", "message-tags", "multi-prefix",
                    "server-time", "userhost-in-names"):
            assert cap in enabled, (cap, enabled)
        # Bot mode: weechat sets it, its WHOIS shows 335, a line user's /whois too.
        weechat.command(server, "/mode carol +B")
        weechat.command(server, "/whois carol")
        wait_for(lambda: "is a bot" in weechat.log(server), "weechat's WHOIS to show the bot")
        bob.say("/whois carol")
        wait_for(lambda: any(line.startswith("* carol: ") and "; a bot;" in line
                             for line in bob.lines()), "bob's /whois to show the bot")
        weechat.command(server, "/join #chat")
        wait_for(lambda: bob.saw("* carol joined"), "bob to see weechat join #chat")
        wait_for(lambda: "carol (~carol@127.0.0.1) has joined #chat" in weechat.log(chat),
                 "weechat in #chat")
        bob.say("hello weechat user")
        wait_for(lambda: "bob\thello weechat user" in weechat.log(chat), "bob's message")
        weechat.command(chat, "hi bob, this is weechat")
        wait_for(lambda: bob.saw("<carol> hi bob, this is weechat"), "weechat's reply")
        weechat.command(server, "/msg bob a private word")
        wait_for(lambda: bob.saw("*carol* a private word"), "weechat's /msg")
        bob.say("@carol:and one back")
        wait_for(lambda: "bob\tand one back" in weechat.log("irc.chatsvc.bob"),
                 "the private reply in weechat")
        weechat.command(server, "/join #second")
        wait_for(lambda: "carol (~carol@127.0.0.1) has joined #second"
                 in weechat.log("irc.chatsvc.#second"), "weechat in #second")
        weechat.command(server, "/quit see you later")
        wait_for(lambda: bob.saw("* carol left (Quit: see you later)"), "bob to see the quit")
    finally:
        weechat.stop()
        bob.close()
