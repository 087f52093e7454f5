"""The page in a real browser: Debian's Chromium, driven by Selenium.

A real C{twistd chat --web-port}; two browser users (one Chromium each)
and a telnet-style line user chat in #chat, one browser user joins #rust
and whispers the other, and each screen is checked through its DOM.
Screenshots at desktop (1280x800) and phone (390x844) size are saved
under the test's temporary directory, and their paths printed.  Then the
XSS checks: what a line user types stays text nodes in the browser.

Selenium runs the system chromedriver (C{/usr/bin/chromedriver},
Debian's C{chromium-driver}): given its path, Selenium Manager is never
run, so nothing is downloaded; without Chromium,
its driver or Selenium, the tests skip and say which is missing.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import SocketUser, twistd_server

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Headless, and quiet: without the networking flags Chromium keeps trying
#: to reach its update and sync services.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--lang=en-US")
#: Seconds any one thing may take to show on a page.
WAIT = 15
DESKTOP = (1280, 800)
PHONE = (390, 844)

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the test extra has it
    webdriver = None


def missing() -> str | None:
    if webdriver is None:
        return "needs selenium (the test extra)"
    if not Path(CHROMIUM).exists():
        return "needs Chromium (Debian's chromium package)"
    if not Path(CHROMEDRIVER).exists():
        return "needs /usr/bin/chromedriver (Debian's chromium-driver package)"
    return None


class Page:
    """One browser user: a Chromium of its own on the chat page."""

    def __init__(self, url: str, profile: Path) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER),
                                       options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.driver.set_script_timeout(WAIT)
        self.resize(*DESKTOP)
        self.driver.get(url)

    def quit(self) -> None:
        self.driver.quit()

    def wait(self, what: str, condition: Any) -> Any:
        return WebDriverWait(self.driver, WAIT, poll_frequency=0.1).until(
            lambda _: condition(), message=f"the page never showed {what}")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def text(self, element_id: str) -> str:
        return self.js("return document.getElementById(arguments[0]).textContent", element_id)

    def login(self, name: str) -> None:
        self.wait("the connection", lambda: self.text("state") == "connected")
        field = self.driver.find_element(By.ID, "name")
        field.send_keys(name, Keys.ENTER)
        self.wait(f"{name} registered", lambda: self.text("me") == f"you are {name}")

    def type(self, *keys: str) -> None:
        self.driver.find_element(By.ID, "text").send_keys(*keys)

    def say(self, text: str) -> None:
        self.type(text, Keys.ENTER)

    def lines(self) -> list[tuple[str, str]]:
        """The messages shown: (class, text) each."""
        return [tuple(line) for line in self.js(
            "return [...document.querySelectorAll('#messages li')]"
            ".map((li) => [li.className, li.textContent])")]

    def line(self, pattern: str) -> tuple[str, str]:
        """Wait for a shown message matching the regular expression C{pattern}."""
        def found() -> tuple[str, str] | None:
            return next((line for line in self.lines() if re.search(pattern, line[1])), None)
        return self.wait(f"a message like {pattern!r}", found)

    def entries(self, list_id: str) -> list[str]:
        return self.js("return [...document.getElementById(arguments[0]).children]"
                       ".map((li) => li.textContent)", list_id)

    def open(self, list_id: str, name: str) -> None:
        """Click a conversation (or member) by its name, as a user would."""
        self.wait(f"{name} in #{list_id}", lambda: any(
            entry.startswith(name) for entry in self.entries(list_id)))
        for button in self.driver.find_elements(By.CSS_SELECTOR, f"#{list_id} button"):
            if button.text.startswith(name):
                button.click()
                break
        self.wait(f"{name} shown", lambda: self.text("title") == name)

    def resize(self, width: int, height: int) -> None:
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": width < 600})

    def screenshot(self, path: Path, size: tuple[int, int]) -> Path:
        self.resize(*size)
        self.js("document.getElementById('messages').scrollTop = 1e9")
        self.driver.save_screenshot(str(path))
        self.resize(*DESKTOP)
        return path

    def errors(self) -> list[str]:
        """What the page logged as errors: its own, a CSP violation, a failed load."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def chat(tmp_path_factory) -> Iterator[dict[str, Any]]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("browser")
    with twistd_server(directory, "--web-port", "tcp:0:interface=127.0.0.1",
                       "--max-per-ip", "0", listener="web") as (web_port, _):
        log = (directory / "server.log").read_text()
        line_port = int(re.search(r"\] line protocol on \S+:(\d+)$", log, re.M).group(1))
        url = f"http://127.0.0.1:{web_port}/"
        pages: list[Page] = []
        carol = None
        try:
            for name in ("alice", "bob"):
                (directory / name).mkdir()
                pages.append(Page(url, directory / name))
            alice, bob = pages
            alice.login("alice")
            bob.login("bob")
            carol = SocketUser(line_port, "carol")
            yield {"alice": alice, "bob": bob, "carol": carol, "url": url}
        finally:
            if carol is not None:
                carol.close()
            for page in pages:
                with contextlib.suppress(Exception):
                    page.quit()


def test_two_browsers_and_a_telnet_user_chat(chat, tmp_path) -> None:
    alice, bob, carol = chat["alice"], chat["bob"], chat["carol"]
    for page in (alice, bob):
        assert page.text("title") == "#chat"
        page.wait("carol in the members", lambda page=page: "carol" in page.entries("members"))
    assert alice.entries("rooms") == ["#chat"]

    alice.say("hello from alice")
    carol.expect("<alice> hello from alice")
    assert bob.line("hello from alice")[0] == "said"
    assert alice.line("hello from alice")[0] == "said mine"

    carol.send("hi browsers, alice: look at this")
    assert alice.line("look at this")[0] == "said mention"
    assert bob.line("look at this")[0] == "said"

    bob.say("/me waves")
    carol.expect("* bob waves")
    cls, text = alice.line("waves")
    assert cls == "action" and text.endswith("* bobwaves")

    # The composer in a real browser: Shift+Enter, Enter, ↑, Tab.
    alice.type("line one", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "line two", Keys.ENTER)
    carol.expect("<alice> line one")
    carol.expect("<alice> line two")
    alice.type(Keys.ARROW_UP)
    assert alice.js("return document.getElementById('text').value") == "line one\nline two"
    alice.js("document.getElementById('text').value = ''")
    alice.type("ca", Keys.TAB)
    assert alice.js("return document.getElementById('text').value") == "carol: "
    alice.js("document.getElementById('text').value = ''")

    # bob joins #rust (and holds it: its creator is its operator), then whispers alice.
    bob.say("/join #rust")
    bob.wait("#rust shown", lambda: bob.text("title") == "#rust")
    assert bob.entries("rooms") == ["#chat", "#rust"]
    bob.wait("bob as #rust's operator", lambda: bob.entries("members") == ["@bob"])
    bob.say("/msg alice psst, about #rust")
    alice.wait("bob's private message", lambda: alice.entries("people") == ["bob1 unread"])
    assert alice.text("title") == "#chat"  # not taken away from what alice reads
    alice.open("people", "bob")
    assert alice.line("psst, about #rust")[0] == "said"
    assert alice.entries("people") == ["bob"]  # read
    alice.say("see you there")
    bob.wait("alice's answer", lambda: bob.entries("people") == ["alice1 unread"])
    bob.open("people", "alice")
    assert bob.line("see you there")[0] == "said"
    assert bob.line("psst, about #rust")[0] == "said mine"

    # Back to #chat: what happened there while alice read bob's words.
    carol.send("welcome back")
    alice.wait("#chat's unread count", lambda: alice.entries("rooms") == ["#chat1 unread"])
    alice.open("rooms", "#chat")
    assert alice.entries("members") == ["alice", "bob", "carol"]

    # Notifications: only once asked for (Chromium is told to grant them).
    alice.driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": chat["url"].rstrip("/"), "permissions": ["notifications"]})
    alice.driver.find_element(By.ID, "notify").click()
    alice.wait("notifications on", lambda: alice.text("notify") == "Notifications on")

    # The list follows new messages, unless the user scrolled up to read.
    alice.resize(1280, 240)
    scroll = "const m = document.getElementById('messages');"
    assert alice.js(scroll + "return m.scrollHeight - m.clientHeight") > 100  # lines hidden
    alice.js(scroll + "m.scrollTop = 0")
    carol.send("while alice reads back")
    alice.line("while alice reads back")
    assert alice.js(scroll + "return m.scrollTop") == 0
    alice.js(scroll + "m.scrollTop = m.scrollHeight")
    carol.send("and now she follows")
    alice.line("and now she follows")
    assert alice.js(scroll + "return m.scrollHeight - m.scrollTop - m.clientHeight") < 2
    alice.resize(*DESKTOP)

    # Keyboard only: Alt+↓ to the next conversation, Escape back to the box.
    alice.type(Keys.ALT, Keys.ARROW_DOWN, Keys.ALT)
    alice.wait("bob's conversation", lambda: alice.text("title") == "bob")
    alice.type(Keys.ALT, Keys.ARROW_UP, Keys.ALT)
    alice.wait("#chat again", lambda: alice.text("title") == "#chat")
    assert alice.js("return document.activeElement.id") == "text"

    alice.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    dark = alice.screenshot(tmp_path / "alice-desktop-dark.png", DESKTOP)
    background = alice.js("return getComputedStyle(document.body).backgroundColor")
    alice.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert background == "rgb(23, 24, 26)"  # the dark palette
    assert alice.js("return getComputedStyle(document.body).backgroundColor") == \
        "rgb(255, 255, 255)"
    shots = [dark, alice.screenshot(tmp_path / "alice-desktop.png", DESKTOP),
             alice.screenshot(tmp_path / "alice-phone.png", PHONE),
             bob.screenshot(tmp_path / "bob-desktop.png", DESKTOP),
             bob.screenshot(tmp_path / "bob-phone.png", PHONE)]
    for shot in shots:
        assert shot.stat().st_size > 5000
        print(f"screenshot: {shot}")
    # At phone width the members are behind a button, the conversations on top.
    alice.resize(*PHONE)
    assert not alice.driver.find_element(By.ID, "members-panel").is_displayed()
    alice.driver.find_element(By.ID, "members-toggle").click()
    assert alice.driver.find_element(By.ID, "members-panel").is_displayed()
    shot = alice.screenshot(tmp_path / "alice-phone-members.png", PHONE)
    print(f"screenshot: {shot}")
    alice.open("people", "bob")  # a private conversation has no member list
    assert not alice.driver.find_element(By.ID, "members-panel").is_displayed()
    alice.open("rooms", "#chat")
    # Every control a keyboard or screen reader reaches has a name; the lists
    # say what they are.
    controls, unnamed = alice.js("""
        const shown = [...document.querySelectorAll('button, input, textarea')]
          .filter((e) => e.offsetParent !== null);
        return [shown.length, shown.filter((e) => !(e.labels && e.labels.length)
                && !e.getAttribute('aria-label') && !e.textContent.trim())
          .map((e) => e.outerHTML)];""")
    assert controls >= 8 and unnamed == []
    roles = alice.js("""return ['rooms', 'people', 'members', 'messages', 'announce']
        .map((id) => [document.getElementById(id).getAttribute('role'),
                      document.getElementById(id).getAttribute('aria-live')])""")
    assert roles == [["list", None]] * 3 + [["log", "polite"], [None, "polite"]]
    for page in (alice, bob):
        assert page.errors() == []


def test_what_a_line_user_types_stays_text_in_the_browser(chat) -> None:
    alice, carol = chat["alice"], chat["carol"]
    alice.open("rooms", "#chat")
    alerts = "window.alertsSeen = []; window.alert = (x) => window.alertsSeen.push(String(x));"
    alice.js(alerts)
    hostile = ["<img src=x onerror=alert(1)>", "javascript:alert(1)",
               '<a href="javascript:alert(1)">click me</a> or https://example.org/ok',
               "<script>alert(1)</script><svg onload=alert(1)>"]
    for text in hostile:
        carol.send(text)
    carol.send("@alice:<img src=x onerror=alert(1)> in private")
    for text in hostile:
        assert alice.line(re.escape(text))[1].endswith("carol" + text)
    alice.wait("carol's private message", lambda: "carol1 unread" in alice.entries("people"))
    alice.open("people", "carol")
    alice.line(re.escape("<img src=x onerror=alert(1)> in private"))

    found = alice.js("""
        const all = [...document.querySelectorAll('#messages *')];
        return {
          tags: [...new Set(all.map((e) => e.tagName))].sort(),
          handlers: all.flatMap((e) => [...e.attributes].map((a) => a.name))
                       .filter((n) => n.startsWith('on')),
          images: document.querySelectorAll('img, script:not([src]), svg, iframe').length,
          links: [...document.querySelectorAll('a')].map((a) => a.href),
          alerts: window.alertsSeen,
        };""")
    assert found["tags"] == ["LI", "SPAN", "TIME"]  # in carol's private conversation
    assert (found["handlers"], found["images"], found["alerts"]) == ([], 0, [])
    assert found["links"] == []
    alice.open("rooms", "#chat")
    links = alice.js("return [...document.querySelectorAll('#messages a')]"
                     ".map((a) => [a.href, a.textContent, a.rel])")
    assert links == [["https://example.org/ok", "https://example.org/ok", "noopener noreferrer"]]
    assert alice.js("return document.querySelectorAll('img, svg, iframe').length") == 0
    with pytest.raises(NoAlertPresentException):
        alice.driver.switch_to.alert.text  # noqa: B018 - raises when there is none
    assert alice.errors() == []


def test_a_newcomer_sees_the_rooms_history_marked_and_still_as_text(chat, tmp_path) -> None:
    """The server keeps history (twistd's default --data-dir): a browser user
    arriving after the conversation gets #chat's last messages before live
    ones, shown as history, and a hostile line replayed stays text."""
    carol, alice = chat["carol"], chat["alice"]
    carol.send("said before anyone new came")
    carol.send("<img src=x onerror=alert(1)> kept")
    alice.line(re.escape("<img src=x onerror=alert(1)> kept"))  # both said and stored
    (tmp_path / "dave").mkdir()
    dave = Page(chat["url"], tmp_path / "dave")
    try:
        dave.login("dave")
        old = dave.line("said before anyone new came")
        assert old[0].split() == ["said", "history"]
        assert dave.line(re.escape("<img src=x onerror=alert(1)> kept"))[0].split() == [
            "said", "history"]
        carol.send("live after that")
        assert dave.line("live after that")[0] == "said"
        texts = [text for _, text in dave.lines()]
        assert texts.index(next(t for t in texts if "before anyone new came" in t)) < texts.index(
            next(t for t in texts if "live after that" in t))
        assert dave.js("return document.querySelectorAll('#messages img, #messages svg')"
                       ".length") == 0
        assert dave.errors() == []
    finally:
        dave.quit()


def line_port_of(directory: Path) -> int:
    log = (directory / "server.log").read_text()
    return int(re.search(r"\] line protocol on \S+:(\d+)$", log, re.M).group(1))


def test_the_page_says_when_it_is_offline_and_comes_back_by_itself(tmp_path) -> None:
    reason = missing()
    if reason:
        pytest.skip(reason)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (tmp_path / "profile").mkdir()
    page = None
    try:
        with twistd_server(first, "--web-port", "tcp:0:interface=127.0.0.1",
                           listener="web") as (web_port, _):
            page = Page(f"http://127.0.0.1:{web_port}/", tmp_path / "profile")
            page.login("alice")
            page.say("/join #rust")
            page.wait("#rust", lambda: page.entries("rooms") == ["#chat", "#rust"])
        # The server is gone: the badge says so, and when it tries again.
        page.wait("the page offline", lambda: page.text("state").startswith(
            "offline: retrying in "))
        assert page.driver.find_element(By.ID, "state").get_attribute("class") == "state offline"
        with twistd_server(second, "--web-port", f"tcp:{web_port}:interface=127.0.0.1",
                           listener="web"):
            page.wait("the page back", lambda: page.text("state") == "connected")
            page.wait("alice registered again", lambda: page.text("me") == "you are alice")
            # The page joins its rooms again, and keeps showing #rust.
            assert page.text("title") == "#rust"
            assert page.entries("rooms") == ["#chat", "#rust"]
            dave = SocketUser(line_port_of(second), "dave")
            try:
                dave.send("/join #rust")  # alice sees it only if she is in #rust there
                page.line("^.{5,8}dave joined$")
                assert page.text("title") == "#rust"
            finally:
                dave.close()
        # Chromium logs each refused attempt; nothing else went wrong.
        refused = f"WebSocket connection to 'ws://127.0.0.1:{web_port}/ws' failed"
        assert [error for error in page.errors() if refused not in error] == []
    finally:
        if page is not None:
            page.quit()


def test_a_server_password_in_the_browser(tmp_path) -> None:
    reason = missing()
    if reason:
        pytest.skip(reason)
    (tmp_path / "profile").mkdir()
    page = None
    with twistd_server(tmp_path, "--web-port", "tcp:0:interface=127.0.0.1",
                       "--password", "s3cret", listener="web") as (web_port, _):
        try:
            page = Page(f"http://127.0.0.1:{web_port}/", tmp_path / "profile")
            page.wait("the connection", lambda: page.text("state") == "connected")
            password = page.driver.find_element(By.ID, "password")
            page.wait("the password field", password.is_displayed)
            page.driver.find_element(By.ID, "name").send_keys("alice")
            password.send_keys("wrong", Keys.ENTER)
            page.wait("the refusal", lambda: page.text("login-error") == "wrong password")
            # The wrong password closed the connection; the page is back, and asks.
            page.wait("the page back", lambda: page.text("state") == "connected")
            password.clear()
            password.send_keys("s3cret", Keys.ENTER)
            page.wait("alice registered", lambda: page.text("me") == "you are alice")
            assert page.text("title") == "#chat"
        finally:
            if page is not None:
                page.quit()
