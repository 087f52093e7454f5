"""The page's script, run by Node against a fake DOM with no HTML parser.

tests/web_page_harness.mjs plays a session (the server's messages, what the
user types) and reports what the page sent and what it shows.  No browser
here (a real Chromium is a later slice of issue 16): this checks the page's
own logic, and that nothing anyone typed becomes markup.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from chatsvc.protocols.web.site import STATIC

pytestmark = pytest.mark.integration  # starts a process (node)

NODE = shutil.which("node")
HERE = Path(__file__).resolve().parent
XSS = "<img src=x onerror=alert(1)> javascript:alert(1)"


@pytest.fixture(scope="module")
def session() -> dict:
    if NODE is None:
        pytest.skip("needs Node.js (Debian's nodejs) to run the page's script")
    result = subprocess.run(
        [NODE, str(HERE / "web_page_harness.mjs"), str(STATIC / "index.html"),
         (STATIC / "chat.js").as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def texts(node: dict) -> str:
    return node["text"] + "".join(texts(child) for child in node["children"])


def test_nothing_anyone_typed_becomes_markup(session) -> None:
    assert session["unsafe"] == []
    assert set(session["created"]) <= {"li", "span", "time", "button"}
    shown = texts(session["chatView"])
    assert shown.count(XSS) >= 2 and XSS in session["topic"]
    assert XSS in texts(session["members"])


def test_what_the_user_typed_is_sent_as_the_protocol_says(session) -> None:
    assert session["url"] == "ws://chat.example:8080/ws"
    sent = [{k: v for k, v in m.items() if k != "ref"} for m in session["sent"]]
    assert sent[0] == {"type": "register", "name": "alice"}
    assert {"type": "who", "room": "#chat"} in sent  # asked for on joining
    assert {"type": "say", "room": "#chat", "text": "hello <b>bob</b>"} in sent
    assert {"type": "me", "room": "#chat", "text": "waves back"} in sent
    assert {"type": "whisper", "to": "bob", "text": "psst"} in sent
    assert {"type": "register", "name": "alicia"} in sent
    assert {"type": "join", "room": "#rust"} in sent
    assert {"type": "say", "room": "#chat", "text": "/slash"} in sent
    refs = [m["ref"] for m in session["sent"]]
    assert len(set(refs)) == len(refs)


def test_what_the_page_shows(session) -> None:
    assert (session["server"], session["me"]) == ("example", "you are alice")
    assert session["loginHidden"] and not session["chatHidden"]
    lines = session["chatView"]["children"]
    mine = [line for line in lines if "mine" in line["cls"]]
    assert [texts(line) for line in mine] == [texts(mine[0])] and "hello <b>bob</b>" in texts(
        mine[0])
    actions = [line for line in lines if line["cls"].startswith("action")]
    assert "* bob" in texts(actions[0]) and "waves" in texts(actions[0])
    assert any(line["cls"] == "error" and "(no-such-user)" in texts(line) for line in lines)
    assert all(line["children"][0]["tag"] == "time" for line in lines)
    assert "bob" in texts(session["targets"])  # the private conversation has its entry


def test_connection_state_and_reconnect_with_backoff(session) -> None:
    assert session["stateOnline"] == "connected"
    assert session["stateAfterClose"].startswith("offline: retrying in 1 s")
    assert session["reconnectDelays"][0] >= 1000
