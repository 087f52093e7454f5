"""The page's scripts, run by Node against a fake DOM with no HTML parser.

tests/web_page_harness.mjs plays one scenario per process (the server's
messages, what the user types and presses) and reports what the page sent
and what it shows.  This checks the page's own logic, and that nothing
anyone typed becomes markup; tests/test_web_browser.py checks what a real
Chromium shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from chatsvc.protocols.web.site import STATIC

pytestmark = pytest.mark.integration  # starts a process (node)

NODE = shutil.which("node")
HERE = Path(__file__).resolve().parent
XSS = "<img src=x onerror=alert(1)> javascript:alert(1)"


@cache
def _run(scenario: str) -> dict:
    result = subprocess.run(
        [NODE, str(HERE / "web_page_harness.mjs"), str(STATIC / "index.html"),
         STATIC.as_uri() + "/", scenario],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "TZ": "UTC", "LANG": "C"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def play(scenario: str) -> dict:
    if NODE is None:
        pytest.skip("needs Node.js (Debian's nodejs) to run the page's script")
    played = _run(scenario)
    assert played["unsafe"] == []  # nothing ever set as HTML
    return played


def texts(node: dict) -> str:
    return node["text"] + "".join(texts(child) for child in node["children"])


def items(node: dict) -> list[tuple[str, str]]:
    """A list's items as (class, text)."""
    return [(child["cls"], texts(child)) for child in node["children"]]


def elements(node: dict) -> list[dict]:
    found = [node] if node["tag"] != "#text" else []
    for child in node["children"]:
        found += elements(child)
    return found


def test_nothing_anyone_typed_becomes_markup() -> None:
    session = play("session")
    assert set(session["created"]) <= {"li", "span", "time", "button", "a"}
    shown = texts(session["chatView"])
    assert shown.count(XSS) >= 2 and XSS in session["topic"]
    assert XSS in texts(session["members"])
    links = [node for node in elements(session["chatView"]) if node["tag"] == "a"]
    assert [(link["href"], link["text"]) for link in links] == [
        ("https://example.org/a?b=1", "https://example.org/a?b=1")]
    assert "and javascript:alert(1)" in shown  # left as text


def test_what_the_user_typed_is_sent_as_the_protocol_says() -> None:
    session = play("session")
    assert session["url"] == "ws://chat.example:8080/ws"
    sent = [{k: v for k, v in m.items() if k != "ref"} for m in session["sent"]]
    assert sent[0] == {"type": "register", "name": "alice"}
    assert {"type": "who", "room": "#chat"} in sent  # asked for on joining
    assert {"type": "say", "room": "#chat", "text": "hello <b>bob</b>"} in sent
    assert {"type": "me", "room": "#chat", "text": "waves back"} in sent
    assert {"type": "whisper", "to": "bob", "text": "psst"} in sent
    assert {"type": "register", "name": "alicia"} in sent
    assert {"type": "join", "room": "#rust", "key": None} in sent
    assert {"type": "say", "room": "#chat", "text": "/slash"} in sent
    refs = [m["ref"] for m in session["sent"]]
    assert len(set(refs)) == len(refs)


def test_what_the_page_shows() -> None:
    session = play("session")
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
    assert all("datetime" in line["children"][0].get("attributes", {}) for line in lines)
    assert "bob" in texts(session["targets"]["people"])  # the private conversation's entry
    assert "#chat" in texts(session["targets"]["rooms"])


def test_connection_state_and_reconnect_with_backoff() -> None:
    session = play("session")
    assert session["stateOnline"] == "connected"
    assert session["stateAfterClose"].startswith("offline: retrying in 1 s")
    assert 1000 <= session["reconnectDelays"][0] <= 1500
    # Back: the name again, then the rooms it was in.
    assert session["resent"][:2] == [{"type": "register", "name": "alice"},
                                 {"type": "join", "room": "#chat"}]
    assert session["shownAfterRejoin"] == "bob"  # rejoining does not change what is shown


def test_unread_counts_and_mentions_in_the_sidebar() -> None:
    played = play("conversations")
    chat, rust = played["unreadChat"]["children"]
    # Two messages, one naming alice (any case); the join is no message.
    assert texts(chat) == "#chat2 unread" and chat["children"][0]["cls"] == "mentioned"
    assert texts(rust) == "#rust" and rust["children"][0]["attributes"]["aria-current"] == "true"
    assert played["title"] == "#chat"
    assert items(played["afterClick"]) == [("", "#chat"), ("", "#rust")]  # read now
    said = [(cls, text) for cls, text in items({"children": played["chatLines"]})
            if cls.startswith("said")]
    assert [cls for cls, _ in said] == ["said", "said mention"]
    assert "(1) example" == played["documentTitle"]  # robert's private message
    assert played["announced"] == "bob in #chat: Alice: ping"  # read out: alice is in #rust


def test_history_is_marked_placed_first_and_shown_once() -> None:
    lines = items({"children": play("conversations")["withHistory"]})
    history = [(cls, text) for cls, text in lines if "history" in cls]
    assert [cls for cls, _ in history] == ["said history", "said mine history"]
    assert lines[:2] == history  # before everything live, each once
    assert history[0][1].startswith("Dec 2, ") and history[0][1].endswith("carolfrom yesterday")


def test_history_topics_joins_and_parts_are_past_lines_that_change_nothing() -> None:
    played = play("historyEvents")
    lines = items({"children": played["lines"]})
    history = [(cls, text) for cls, text in lines if "history" in cls]
    assert [cls for cls, _ in history] == ["event history"] * 4  # the repeat shown once
    assert lines[:4] == history  # before the live line, in their order
    assert history[0][1].endswith("carol set the topic: " + XSS)  # as text
    assert history[1][1].endswith("dave joined")
    assert history[2][1].endswith("dave left (lunch)")
    assert history[3][1].endswith("bob quit")
    assert played["topic"] == "today's topic"
    assert [text for _, text in items(played["members"])] == ["alice", "bob"]


def test_members_with_operators_and_voice_marked() -> None:
    played = play("conversations")
    assert items(played["members"]) == [
        ("operator", "@carol"), ("voiced", "+dave"), ("mine", "alice"), ("", "bob"),
        ("", "erin")]
    first = played["members"]["children"][0]["children"][0]
    assert first["attributes"]["aria-label"] == "carol, operator"
    away = {cls: child["children"][0].get("attributes", {})
            for cls, child in zip([c for c, _ in items(played["away"])],
                                  played["away"]["children"], strict=True)}
    assert away["voiced away"]["aria-label"] == "dave, voice, away: lunch"
    assert away["away"]["title"] == "away: gone fishing"  # frank joined away
    # +o bob -v dave, then bob renamed to robert: the status follows the name.
    assert items(played["afterModes"])[:2] == [("operator", "@bob"), ("operator", "@carol")]
    assert ("", "dave") in items(played["afterModes"])
    assert items(played["membersRenamed"])[:2] == [("operator", "@carol"), ("operator", "@robert")]


def test_private_conversations_follow_renames_and_have_no_actions() -> None:
    played = play("conversations")
    assert items(played["people"]) == [("", "robert1 unread")]
    assert played["stepped"] == "#rust"  # Alt+↓ from #chat
    assert played["noMembers"] == [True, True]  # no member list for robert's conversation
    assert {"type": "say", "room": "#rust", "text": "hi there"} in played["sent"]
    assert not any(m["type"] == "me" for m in played["sent"])
    cls, text = items({"children": [played["meInPrivate"]]})[0]
    assert cls == "error" and "/me works in rooms" in text


def test_the_composer_sends_lines_recalls_them_and_completes_names() -> None:
    played = play("composer")
    assert played["shiftEnter"] is False  # Shift+Enter: the textarea's own newline
    says = [m["text"] for m in played["sent"] if m["type"] == "say"]
    # Three lines (the blank one left out), six refused whole, then two more.
    assert says == ["one", "two", "three", "first", "last one"]
    assert "6 lines at once: send at most 5" in texts(played["refused"])
    assert (played["up1"], played["up2"]) == ("last one", "first")
    assert (played["down1"], played["down2"]) == ("last one", "draft")
    assert played["multiUp"] is False  # ↑ moves the caret in a multi-line draft
    assert (played["tab1"], played["tab2"], played["tab3"]) == ("bob: ", "bobby: ", "bob: ")
    assert played["tabMid"] == "hi carol "
    assert played["tabNone"] is False and played["tabEmpty"] is False  # Tab moves focus


def test_notifications_only_when_asked_and_hidden() -> None:
    played = play("notifications")
    assert played["before"] == 0 and played["asked"] == 1
    assert "alice: before asking" in played["announcedBefore"]  # the live region
    assert (played["button"], played["pressed"]) == ("Notifications on", "true")
    # A mention and a private message while hidden; not a plain line, not
    # history, not anything once the tab is shown again.
    assert [(n["title"], n["body"]) for n in played["notes"]] == [
        ("bob in #chat", "hey alice"), ("carol", "psst")]
    assert played["notes"][0]["closed"] and played["focusedWindow"] == 1
    assert played["title"] == "#chat"
    assert texts(played["unreadWhileHidden"]) == "#chat3 unread"


def test_a_server_password_is_asked_for_and_sent_first() -> None:
    played = play("password")
    assert played["shown"] == [False, True]  # the field shows, and is required
    assert played["first"] == [{"type": "pass", "password": "wrong"},
                               {"type": "register", "name": "alice"}]
    assert played["error"] == "wrong password" and played["loginShown"]
    assert played["sentUnasked"] == 0
    assert played["second"] == [{"type": "pass", "password": "s3cret"},
                                {"type": "register", "name": "alice"}]
    assert played["third"] == [{"type": "pass", "password": "s3cret"},
                               {"type": "register", "name": "alice"}]


def test_the_pure_modules() -> None:
    units = play("units")
    assert units["mentions"] == [True, True, False, False, True, False]
    linked = [[piece.get("url") for piece in pieces] for pieces in units["segments"]]
    assert linked == [[None, "https://x.example/a", None], [None, "http://ok.example/"],
                      [None], [None], ["https://y.example/"]]
    interpret = units["interpret"]
    assert interpret[0] == {"send": {"type": "join", "room": "#a", "key": "k"}}
    assert interpret[3] == {"send": {"type": "part", "room": "#b", "reason": "bye now"}}
    assert "error" in interpret[4] and interpret[6] == {"open": "bob"}
    assert interpret[9] == {"send": {"type": "topic", "room": "#chat", "text": None}}
    assert interpret[13] == {"send": {"type": "who", "room": "#x"}, "who": True}
    assert interpret[14]["error"].startswith("unknown command: /bogus")
    assert interpret[16] == {"send": {"type": "whisper", "to": "bob", "text": "hello"}}
    assert interpret[17] == {"send": {"type": "say", "room": "#chat", "text": "/x"}}
    assert "/join #room" in interpret[18]["help"]
    assert interpret[19] == {"send": {"type": "login", "name": "alice", "password": "pw"},
                             "login": True}
    assert interpret[20] == {"error": "usage: /login name password"}
    assert interpret[21] == {"send": {"type": "logout"}}
    assert interpret[22] == {"send": {"type": "register-room", "room": "#rust"}}
    assert interpret[23] == {"error": "usage: /register #room"}
    assert interpret[24] == {"send": {"type": "unregister-room", "room": "#rust"}}
    assert interpret[25] == {"error": "usage: /unregister #room"}
    assert "/register #room" in interpret[18]["help"]
    assert "/login name password" in interpret[18]["help"]
    assert units["secret"] == [True, True, False, False, False]
    assert units["clockOld"].startswith("Nov 30") and "Nov" not in units["clockToday"]


def test_no_script_of_the_page_turns_text_into_html() -> None:
    scripts = sorted(STATIC.glob("*.js"))
    assert {path.name for path in scripts} >= {"chat.js", "compose.js", "text.js"}
    for path in scripts:
        script = path.read_text()
        for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                      "new Function", "javascript:"):
            assert risky not in script, (path.name, risky)


def test_logging_in_to_an_account_from_the_name_form() -> None:
    played = play("accounts")
    assert played["hiddenBefore"] and played["shown"] == [False, False]  # offered: accounts
    first = played["first"]
    # The server password first, then the login (which registers the name).
    assert first[:2] == [{"type": "pass", "password": "server-pw"},
                         {"type": "login", "name": "alice", "password": "wrong-one"}]
    assert {"type": "register", "name": "alice"} not in first
    wrong = played["wrong"]
    assert wrong["error"] == "wrong password" and wrong["loginShown"]
    assert wrong["cleared"] == "" and wrong["focused"] == 1  # asked for again
    assert played["sentAfterWrong"] == 0  # forgotten: not tried again on reconnecting
    assert played["retry"][:2] == [{"type": "pass", "password": "server-pw"},
                                   {"type": "login", "name": "alice", "password": "sesame-1"}]
    assert played["throttled"] == "too many failed attempts: try again in 30 s"
    assert played["me"] == "you are alice (logged in)"
    assert "server-pw" not in played["chatView"] and "sesame-1" not in played["chatView"]


def test_the_account_password_is_kept_in_memory_for_reconnecting_then_forgotten() -> None:
    played = play("accounts")
    assert played["second"][:2] == [{"type": "pass", "password": "server-pw"},
                                    {"type": "login", "name": "alice", "password": "sesame-1"}]
    # Logged out: the next reconnect registers the name it had, as a guest.
    assert played["third"] == [{"type": "pass", "password": "server-pw"},
                               {"type": "register", "name": "alice2"}]
    source = "".join((STATIC / name).read_text() for name in ("chat.js", "compose.js"))
    assert "localStorage" not in source and "sessionStorage" not in source


def test_login_and_logout_typed_in_the_composer_never_show_the_password() -> None:
    played = play("accounts")
    assert {"type": "login", "name": "alice", "password": "other-pw"} in played["second"]
    assert played["second"][-1] == {"type": "logout"}
    assert "other-pw" not in played["chatView"]
    assert played["recalled"] == ["/logout", "/logout"]  # ↑ skips the /login line


def test_the_grace_warning_is_shown_plainly_and_a_rename_updates_who_you_are() -> None:
    played = play("accounts")
    warned = played["warned"]
    assert warned["noteShown"] and warned["note"].startswith("alice is registered: /login alice")
    assert warned["me"] == "you are alice"  # logged out
    assert "logged out of alice" in played["chatView"]
    assert played["guest"] == {"me": "you are Guest48213", "noteShown": False}
    assert played["renamedMe"] == "you are alice2"


def test_a_message_kept_while_away_is_marked_with_when_it_was_sent() -> None:
    kept = play("accounts")["kept"]
    assert "delayed" in kept["cls"].split()
    assert kept["attributes"]["title"] == "kept while you were away"
    assert "kept while you were away" in texts(kept) and "see you" in texts(kept)
    assert kept["children"][0]["attributes"]["datetime"] == "2026-12-02T09:00:00.000Z"
