"""Logging in to an account from the page, in a real browser (Debian's Chromium).

A real C{twistd chat --web-port} keeping accounts (a C{--data-dir}); a
line user registers an account and quits, another sends it a private
message while it is offline; the browser logs in to the account from the
name form (a wrong password first, refused in the form), is "logged in",
and sees the kept message marked as such.  Then C{/logout} and C{/login}
typed in the composer: the grace warning's banner, and back.  The page
helper and the skips are tests/test_web_browser.py's.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from support import SocketUser, twistd_server
from test_web_browser import Page, missing

pytestmark = pytest.mark.integration

PASSWORD = "sesame-pw1"

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError:  # pragma: no cover - the test extra has it
    pass


@pytest.fixture
def server(tmp_path) -> Iterator[dict[str, Any]]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    with twistd_server(tmp_path, "--web-port", "tcp:0:interface=127.0.0.1",
                       "--data-dir", str(tmp_path / "data"), "--max-per-ip", "0",
                       listener="web") as (web_port, _):
        log = (tmp_path / "server.log").read_text()
        line_port = int(re.search(r"\] line protocol on \S+:(\d+)$", log, re.M).group(1))
        yield {"url": f"http://127.0.0.1:{web_port}/", "line": line_port}


def test_the_page_logs_in_to_an_account_and_shows_what_was_kept(server, tmp_path) -> None:
    jilles = SocketUser(server["line"], "jilles")
    jilles.send(f"/register {PASSWORD}")
    jilles.expect("* registered jilles")
    jilles.close()
    carol = SocketUser(server["line"], "carol")
    carol.send("@jilles:while you were out <b>x</b>")
    carol.expect("* jilles is offline: your message will be delivered when they log in")
    (tmp_path / "profile").mkdir()
    page = Page(server["url"], tmp_path / "profile")
    try:
        page.wait("the connection", lambda: page.text("state") == "connected")
        field = page.driver.find_element(By.ID, "account-password")
        page.wait("the account password field", field.is_displayed)
        assert field.get_attribute("type") == "password"
        assert field.get_attribute("autocomplete") == "current-password"
        assert page.js("return document.querySelector('label[for=account-password]')"
                       ".textContent").startswith("Account password")
        # From the keyboard: the name, Tab to the password, Enter.
        name = page.driver.find_element(By.ID, "name")
        name.send_keys("jilles", Keys.TAB, "wrong-pw", Keys.ENTER)
        page.wait("the refusal", lambda: page.text("login-error") == "wrong password")
        print(f"screenshot: {page.screenshot(tmp_path / 'wrong-password.png', (1280, 800))}")
        assert field.get_attribute("value") == ""  # asked for again
        assert page.driver.find_element(By.ID, "login").is_displayed()
        field.send_keys(PASSWORD, Keys.ENTER)
        page.wait("logged in", lambda: page.text("me") == "you are jilles (logged in)")
        assert not page.driver.find_element(By.ID, "login").is_displayed()
        assert page.line("logged in as jilles")

        page.open("people", "carol")
        cls, text = page.line("while you were out")
        assert "delayed" in cls.split()
        assert "kept while you were away" in text and "<b>x</b>" in text  # text, not markup
        shot = page.screenshot(tmp_path / "kept-desktop.png", (1280, 800))
        print(f"screenshot: {shot}")

        page.open("rooms", "#chat")
        page.say("/logout")
        page.wait("logged out", lambda: page.text("me") == "you are jilles")
        banner = page.driver.find_element(By.ID, "account-note")
        page.wait("the grace warning", banner.is_displayed)
        assert banner.text.startswith("jilles is registered: /login jilles PASSWORD within")
        assert banner.get_attribute("role") == "alert"
        print(f"screenshot: {page.screenshot(tmp_path / 'grace-warning-phone.png', (390, 844))}")
        page.say(f"/login jilles {PASSWORD}")
        page.wait("logged in again", lambda: page.text("me") == "you are jilles (logged in)")
        assert not banner.is_displayed()
        assert not any(PASSWORD in line for _, line in page.lines())
        assert page.errors() == []
    finally:
        carol.close()
        with contextlib.suppress(Exception):
            page.quit()
