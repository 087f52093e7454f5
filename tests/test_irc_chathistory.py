"""IRCv3 draft/chathistory over IRC (issues 15 and 18): every subcommand by
msgid and by timestamp, the limits, who may read what (rooms one is in,
one's own account's conversations, never a guest's), the FAIL codes, the
labeled answer that comes after the store's read, and the replay on JOIN as
a chathistory batch.

In memory: a hub with accounts and history on one in-memory database, the
store's thread run by hand (test_history_private.Private); IRC clients on
Wires (tests/support.py).  The store's reads are tested on their own in
tests/test_irc_chathistory_store.py, and over a real twistd in
tests/test_irc_chathistory_loopback.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from support import IRCUser, Net, params_of
from test_history import NOW, History
from test_history_private import Private
from twisted.internet.defer import fail

from chatsvc.events import utc_time
from chatsvc.protocols.irc import chathistory
from chatsvc.store.delivery import HistoryDelivery
from chatsvc.store.retention import Retention
from chatsvc.store.sqlite import StoredMessage, StoreError

pytestmark = pytest.mark.usefixtures("cheap_hashes")

CAPS = "batch draft/chathistory message-tags server-time"


class Server(Private):
    """Accounts and history in memory; IRC users with the chathistory caps."""

    def irc(self, nick: str, caps: str = CAPS, account: bool = False) -> IRCUser:
        self.hosts += 1
        user = IRCUser(self.net, f"192.0.2.{self.hosts}")
        user.send(f"CAP REQ :{caps}", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END")
        if account:
            user.send("PRIVMSG NickServ :REGISTER sesame-1")
        self.settle()
        lines = user.read()
        assert any(f" 001 {nick} " in line for line in lines), lines
        assert (user.protocol.record.account is not None) == account, lines
        return user

    def history(self, user: IRCUser, *lines: str) -> list[str]:
        """What C{user} is answered, once the store has read."""
        return self.ask(user, *lines)  # type: ignore[arg-type]


def batch(lines: list[str], target: str | None = None) -> list[str]:
    """The lines inside the one chathistory batch C{lines} are (checked whole)."""
    assert len(lines) >= 2, lines
    start = re.fullmatch(r"(@\S+ )?:chatsvc BATCH \+(\S+) chathistory (\S+)", lines[0])
    assert start is not None, lines[0]
    reference = start.group(2)
    assert target is None or start.group(3) == target, lines[0]
    assert lines[-1] == f":chatsvc BATCH -{reference}", lines[-1]
    inner = []
    for line in lines[1:-1]:
        tag = f"@batch={reference}"
        assert line.startswith((tag + ";", tag + " ")), line
        inner.append(line[len(tag) + 1:] if line[len(tag)] == " " else "@" + line[len(tag) + 1:])
    return inner


def params(line: str) -> list[str]:
    """A server line's parameters, after its tags (if any)."""
    return params_of(line.split(" ", 1)[1] if line.startswith("@") else line)


def texts(lines: list[str], target: str | None = None) -> list[str]:
    """The texts of the messages in the batch C{lines}."""
    return [params(line)[-1] for line in batch(lines, target)]


def tags_of(line: str) -> dict[str, str]:
    head = line.split(" ", 1)[0]
    assert head.startswith("@"), line
    return dict(item.partition("=")[::2] for item in head[1:].split(";"))


class Chat:
    """#chat with alice (an account) and bob in it; alice said m0..m9, 10 ms
    apart; what bob received of them, live (tags included)."""

    def __init__(self, server: Server | None = None, count: int = 10,
                 spacing: float = 0.01) -> None:
        self.server = server or Server()
        self.alice = self.server.irc("alice", account=True)
        self.bob = self.server.irc("bob")
        self.alice.send("JOIN #chat")
        self.bob.send("JOIN #chat")
        self.server.settle()
        self.bob.read()
        self.live: list[str] = []
        for index in range(count):
            self.alice.send(f"PRIVMSG #chat :m{index}")
            self.server.clock.advance(spacing)
            self.live.extend(self.bob.read())
        self.server.settle()

    def tag(self, index: int, by: str) -> str:
        tags = tags_of(self.live[index])
        return f"msgid={tags['msgid']}" if by == "msgid" else f"timestamp={tags['time']}"

    def ask(self, line: str, user: IRCUser | None = None) -> list[str]:
        return self.server.history(user or self.bob, line)


def m(first: int, stop: int) -> list[str]:
    return [f"m{i}" for i in range(first, stop)]


@pytest.fixture
def chat() -> Chat:
    return Chat()


# -- what is offered ----------------------------------------------------------------


def test_the_cap_and_the_isupport_tokens_are_offered() -> None:
    net = Net()
    (ls,) = IRCUser(net).ask("CAP LS 302")
    assert " draft/chathistory " in ls
    user = net.irc_user()
    user.send("NICK carol", "USER carol 0 * :Carol")
    tokens = " ".join(line for line in user.read() if " 005 " in line).split()
    assert "CHATHISTORY=100" in tokens and "MSGREFTYPES=msgid,timestamp" in tokens
    assert chathistory.MAX_LIMIT == 100


# -- the answer ------------------------------------------------------------------------


def test_latest_answers_the_messages_as_they_were_relayed(chat: Chat) -> None:
    answer = chat.ask("CHATHISTORY LATEST #chat * 50")
    # The same lines, tags and all, as bob received live: the original
    # sender's mask, the time it was said, its msgid.
    assert batch(answer, "#chat") == chat.live
    assert re.fullmatch(r"@time=2023-11-14T22:13:20\.\d{3}Z;msgid=[0-9a-f]{24} "
                        r":alice!~alice@192\.0\.2\.1 PRIVMSG #chat :m0", chat.live[0])


def test_the_tags_follow_the_readers_caps() -> None:
    server = Server()
    chat = Chat(server, count=2)
    plain = server.irc("carol", caps="batch")
    plain.send("JOIN #chat")
    server.settle()
    answer = chat.ask("CHATHISTORY LATEST #chat * 5", plain)
    assert batch(answer) == [":alice!~alice@192.0.2.1 PRIVMSG #chat :m0",
                             ":alice!~alice@192.0.2.1 PRIVMSG #chat :m1"]
    tagged = server.irc("dave", caps="batch account-tag server-time")
    tagged.send("JOIN #chat")
    server.settle()
    (line, _) = batch(chat.ask("CHATHISTORY LATEST #chat * 5", tagged))
    assert set(tags_of(line)) == {"time", "account"} and tags_of(line)["account"] == "alice"
    nobatch = server.irc("erin", caps="server-time")
    nobatch.send("JOIN #chat")
    server.settle()
    answer = chat.ask("CHATHISTORY LATEST #chat * 5", nobatch)
    assert [params(line)[-1] for line in answer] == ["m0", "m1"]  # no batch to put them in
    assert all(line.startswith("@time=") for line in answer)


@pytest.mark.parametrize("by", ["msgid", "timestamp"])
def test_every_subcommand_by_either_reference(chat: Chat, by: str) -> None:
    def ask(sub: str, *refs: int, limit: int = 20) -> list[str]:
        words = " ".join(chat.tag(ref, by) for ref in refs)
        return texts(chat.ask(f"CHATHISTORY {sub} #chat {words} {limit}"), "#chat")

    assert ask("LATEST", 4) == m(5, 10)
    assert ask("LATEST", 4, limit=2) == m(8, 10)
    assert ask("BEFORE", 6) == m(0, 6)
    assert ask("BEFORE", 6, limit=2) == m(4, 6)
    assert ask("AFTER", 3) == m(4, 10)
    assert ask("AFTER", 3, limit=3) == m(4, 7)
    assert ask("BETWEEN", 0, 9) == m(1, 9)
    assert ask("BETWEEN", 9, 0) == m(1, 9)
    assert ask("BETWEEN", 0, 9, limit=3) == m(1, 4)
    assert ask("BETWEEN", 9, 0, limit=3) == m(6, 9)
    assert ask("AROUND", 7, limit=1) == ["m7"]
    assert ask("AROUND", 7, limit=3) == m(6, 9)


def test_latest_star_and_the_limit(chat: Chat) -> None:
    assert texts(chat.ask("CHATHISTORY LATEST #chat * 1")) == ["m9"]
    assert texts(chat.ask("CHATHISTORY latest #CHAT * 3"), "#chat") == m(7, 10)


def test_no_answer_holds_more_than_the_maximum() -> None:
    chat = Chat(count=chathistory.MAX_LIMIT + 5)
    assert len(texts(chat.ask("CHATHISTORY LATEST #chat * 1000"))) == chathistory.MAX_LIMIT
    assert texts(chat.ask("CHATHISTORY LATEST #chat * 1000"))[-1] == "m104"


def test_only_what_was_said_comes_back_not_topics_joins_or_parts() -> None:
    server = Server()
    # --history-joins: joins and parts are kept too
    server.delivery = HistoryDelivery(server.store, 50, server.delivery.local, joins=True)
    server.hub.delivery = server.delivery
    alice = server.irc("alice")
    bob = server.irc("bob")
    alice.send("JOIN #talk", "TOPIC #talk :a topic", "PRIVMSG #talk :said")
    bob.send("JOIN #talk", "PART #talk", "JOIN #talk")
    alice.send("NOTICE #talk :noted")
    server.settle()
    kept = server.connection.execute("SELECT kind FROM room_message ORDER BY seq").fetchall()
    assert {kind for (kind,) in kept} >= {"topic", "join", "part", "message"}
    answer = server.history(alice, "CHATHISTORY LATEST #talk * 10")
    assert [params(line)[-1] for line in batch(answer)] == ["said", "noted"]
    assert targets(server.history(bob, f"CHATHISTORY TARGETS {ALL_TIME} 10")) == [
        ("#talk", tags_of(batch(answer)[-1])["time"])]


def test_a_reference_that_is_not_the_rooms_gives_an_empty_batch(chat: Chat) -> None:
    assert texts(chat.ask(f"CHATHISTORY AFTER #chat msgid={'f' * 24} 10")) == []
    assert texts(chat.ask("CHATHISTORY AFTER #chat msgid=nonsense 10")) == []
    assert texts(chat.ask("CHATHISTORY AFTER #chat timestamp=2262-01-01T00:00:00.000Z 10")) == []


def test_a_long_stored_message_is_split_as_it_was_relayed() -> None:
    server = Server()
    alice = server.irc("alice")
    alice.send("JOIN #chat")
    server.settle()
    said = "word " * 120
    alice.send(f"NOTICE #chat :{said}")  # a NOTICE is split, not refused
    server.settle()
    inner = batch(server.history(alice, "CHATHISTORY LATEST #chat * 5"))
    assert len(inner) == 2 and all(" NOTICE #chat :" in line for line in inner)
    assert "msgid" in tags_of(inner[0]) and "msgid" not in tags_of(inner[1])
    assert " ".join(params(line)[-1] for line in inner).split() == said.split()


# -- bad input: FAIL, and the connection carries on --------------------------------


@pytest.mark.parametrize(("line", "fail"), [
    ("CHATHISTORY", "INVALID_PARAMS * :Insufficient parameters"),
    ("CHATHISTORY FETCH #chat * 10", "UNKNOWN_COMMAND FETCH :Unknown command"),
    ("CHATHISTORY LATEST #chat *", "INVALID_PARAMS LATEST :Insufficient parameters"),
    ("CHATHISTORY LATEST #chat * 10 more", "INVALID_PARAMS LATEST :Too many parameters"),
    ("CHATHISTORY BETWEEN #chat * 10", "INVALID_PARAMS BETWEEN :Insufficient parameters"),
    ("CHATHISTORY BEFORE #chat * 10", "INVALID_PARAMS BEFORE * :Invalid message reference"),
    ("CHATHISTORY AFTER #chat when=now 10", "INVALID_PARAMS AFTER when=now :Invalid message "
                                            "reference"),
    ("CHATHISTORY AFTER #chat msgid= 10", "INVALID_PARAMS AFTER msgid= :Invalid message "
                                          "reference"),
    ("CHATHISTORY AFTER #chat timestamp=yesterday 10",
     "INVALID_PARAMS AFTER timestamp=yesterday :Invalid timestamp"),
    ("CHATHISTORY AFTER #chat timestamp=2023-13-01T00:00:00.000Z 10",
     "INVALID_PARAMS AFTER timestamp=2023-13-01T00:00:00.000Z :Invalid timestamp"),
    ("CHATHISTORY LATEST #chat * 0", "INVALID_PARAMS LATEST 0 :Invalid limit"),
    ("CHATHISTORY LATEST #chat * -5", "INVALID_PARAMS LATEST -5 :Invalid limit"),
    ("CHATHISTORY LATEST #chat * ten", "INVALID_PARAMS LATEST ten :Invalid limit"),
    ("CHATHISTORY LATEST #chat * ١٠", "INVALID_PARAMS LATEST ١٠ :Invalid limit"),
    ("CHATHISTORY TARGETS msgid=x timestamp=2020-01-01T00:00:00.000Z 10",
     "INVALID_PARAMS TARGETS msgid=x :TARGETS takes timestamps"),
    ("CHATHISTORY TARGETS * * 10", "INVALID_PARAMS TARGETS * :Invalid message reference"),
    ("CHATHISTORY LATEST #nowhere * 10",
     "INVALID_TARGET LATEST #nowhere :Messages could not be retrieved"),
    ("CHATHISTORY LATEST a,b * 10", "INVALID_TARGET LATEST a,b :Messages could not be retrieved"),
])
def test_bad_requests_fail_with_their_code(chat: Chat, line: str, fail: str) -> None:
    assert chat.ask(line) == [f":chatsvc FAIL CHATHISTORY {fail}"]
    assert texts(chat.ask("CHATHISTORY LATEST #chat * 1")) == ["m9"]


def test_a_read_that_fails_says_so(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    store = chat.server.store
    monkeypatch.setattr(store, "room_window", lambda *a: fail(StoreError("disk on fire")))
    assert chat.ask("CHATHISTORY LATEST #chat * 10") == [
        ":chatsvc FAIL CHATHISTORY MESSAGE_ERROR LATEST #chat :Messages could not be retrieved"]


def test_a_client_that_asks_too_much_is_told_to_wait() -> None:
    chat = Chat(count=chathistory.MAX_LIMIT)
    answers = chat.server.history(chat.bob, *["CHATHISTORY LATEST #chat * 100"] * 40)
    refused = [line for line in answers if " FAIL " in line]
    batches = [line for line in answers if " BATCH +" in line]
    assert refused and batches and len(refused) + len(batches) == 40
    assert refused[0] == (":chatsvc FAIL CHATHISTORY MESSAGE_ERROR LATEST #chat :Too many "
                          "history requests: please wait a while and try again")
    assert sum(len(line) + 2 for line in answers) < 400_000  # the budget's burst, and one
    chat.server.clock.advance(60)
    assert len(texts(chat.ask("CHATHISTORY LATEST #chat * 100"))) == 100


# -- labels --------------------------------------------------------------------------


def test_the_answer_carries_the_label_even_after_the_read() -> None:
    server = Server()
    chat = Chat(server, count=3)
    carol = server.irc("carol", caps=CAPS + " labeled-response")
    carol.send("JOIN #chat")
    server.settle()
    carol.read()
    carol.send("@label=L1 CHATHISTORY LATEST #chat * 2")
    assert carol.read() == []  # no ACK: the answer is on its way
    server.settle()
    answer = carol.read()
    assert answer[0].startswith("@label=L1 :chatsvc BATCH +")
    assert texts(answer) == ["m1", "m2"]
    assert chat.ask("@label=L2 CHATHISTORY FETCH", carol) == [
        "@label=L2 :chatsvc FAIL CHATHISTORY UNKNOWN_COMMAND FETCH :Unknown command"]
    # Without batch, one line or none can still carry it.
    dave = server.irc("dave", caps="labeled-response server-time")
    dave.send("JOIN #chat")
    server.settle()
    assert server.history(dave, "@label=L3 CHATHISTORY LATEST #chat * 1")[0].startswith(
        "@label=L3;time=")
    assert server.history(dave, "@label=L4 CHATHISTORY BEFORE #chat timestamp=2000-01-01T00:"
                                "00:00.000Z 1") == ["@label=L4 :chatsvc ACK"]


def test_a_connection_gone_before_the_read_ends_gets_nothing(chat: Chat) -> None:
    chat.bob.send("CHATHISTORY LATEST #chat * 10")
    chat.bob.drop()
    chat.server.settle()  # nothing raised, nothing written
    assert chat.bob.read() == []


# -- who may read what --------------------------------------------------------------


def test_a_room_one_is_not_in_is_refused_as_one_that_does_not_exist(chat: Chat) -> None:
    carol = chat.server.irc("carol")
    chat.alice.send("JOIN #secret", "MODE #secret +s", "PRIVMSG #secret :hush")
    chat.server.settle()
    refusals = [chat.ask(f"CHATHISTORY LATEST {room} * 10", carol)
                for room in ("#chat", "#secret", "#nowhere")]
    assert [params_of(lines[0])[1:] for lines in refusals] == [
        ["INVALID_TARGET", "LATEST", room, "Messages could not be retrieved"]
        for room in ("#chat", "#secret", "#nowhere")]
    assert texts(chat.ask("CHATHISTORY LATEST #secret * 10", chat.alice)) == ["hush"]


def test_a_room_set_plus_x_shows_nothing_while_it_is() -> None:
    server = Server()
    alice = server.irc("alice")
    alice.send("JOIN #quiet", "PRIVMSG #quiet :kept", "MODE #quiet +x", "PRIVMSG #quiet :not kept")
    server.settle()
    assert texts(server.history(alice, "CHATHISTORY LATEST #quiet * 10")) == []
    assert targets(server.history(alice, f"CHATHISTORY TARGETS {ALL_TIME} 10")) == []
    alice.send("MODE #quiet -x")
    server.settle()
    assert texts(server.history(alice, "CHATHISTORY LATEST #quiet * 10")) == ["kept"]


def test_a_closed_room_made_again_shows_none_of_the_earlier_ones() -> None:
    server = Server()
    alice = server.irc("alice")
    alice.send("JOIN #club", "MODE #club +i", "PRIVMSG #club :members only", "PART #club")
    server.settle()
    server.clock.advance(1)
    alice.send("JOIN #club", "PRIVMSG #club :a new club")
    server.settle()
    assert texts(server.history(alice, "CHATHISTORY LATEST #club * 10")) == ["a new club"]


def test_max_age_hides_what_is_older_and_the_limit_counts_the_rest() -> None:
    server = Server()
    chat = Chat(server, spacing=1.0)
    said = [chathistory.parse_timestamp(tags_of(line)["time"]) or 0 for line in chat.live]
    # An age that puts the cutoff between m4 and m5.
    age = server.clock.seconds() - (said[4] + said[5]) / 2000
    server.delivery.retention = Retention(age)
    assert texts(chat.ask("CHATHISTORY LATEST #chat * 20")) == m(5, 10)
    assert texts(chat.ask(f"CHATHISTORY AFTER #chat {chat.tag(0, 'msgid')} 2")) == m(5, 7)
    assert texts(chat.ask(f"CHATHISTORY BEFORE #chat {chat.tag(7, 'msgid')} 9")) == m(5, 7)


# -- private conversations ----------------------------------------------------------


class Pair:
    """alice and bob, two accounts, wrote p0..p5 to each other, in turn."""

    def __init__(self) -> None:
        self.server = Server()
        self.alice = self.server.irc("alice", account=True)
        self.bob = self.server.irc("bob", account=True)
        self.live: list[str] = []
        for index in range(6):
            sender, target = (self.alice, "bob") if index % 2 == 0 else (self.bob, "alice")
            receiver = self.bob if index % 2 == 0 else self.alice
            sender.send(f"PRIVMSG {target} :p{index}")
            self.server.clock.advance(0.01)
            self.live.extend(receiver.read())
        self.server.settle()


def test_a_private_conversation_from_either_side() -> None:
    pair = Pair()
    answer = pair.server.history(pair.alice, "CHATHISTORY LATEST bob * 10")
    assert batch(answer, "bob") == pair.live  # as each received them, both ways
    assert batch(answer)[0].endswith(" :alice!~alice@192.0.2.1 PRIVMSG bob :p0")
    assert batch(answer)[1].endswith(" :bob!~bob@192.0.2.2 PRIVMSG alice :p1")
    assert texts(pair.server.history(pair.bob, "CHATHISTORY LATEST ALICE * 10"), "ALICE") == [
        f"p{i}" for i in range(6)]
    msgid = tags_of(pair.live[2])["msgid"]
    assert texts(pair.server.history(pair.bob, f"CHATHISTORY AFTER alice msgid={msgid} 2")) == [
        "p3", "p4"]
    # bob gone: his account's conversation with alice is still hers to read
    pair.bob.send("QUIT")
    pair.server.settle()
    assert len(texts(pair.server.history(pair.alice, "CHATHISTORY LATEST bob * 10"))) == 6


def test_nobody_reads_another_accounts_conversations() -> None:
    pair = Pair()
    carol = pair.server.irc("carol", account=True)
    for nick in ("alice", "bob"):
        assert texts(pair.server.history(carol, f"CHATHISTORY LATEST {nick} * 10")) == []
    # A guest calling itself bob reads nothing of the account bob's.
    pair.bob.drop()
    pair.server.settle()
    guest = pair.server.irc("bob")
    assert pair.server.history(guest, "CHATHISTORY LATEST alice * 10") == [
        ":chatsvc FAIL CHATHISTORY INVALID_TARGET LATEST alice :Messages could not be retrieved"]
    # and alice asking for "bob" (a guest now) still reads her account bob's
    assert len(texts(pair.server.history(pair.alice, "CHATHISTORY LATEST bob * 10"))) == 6


def test_messages_to_oneself_are_one_conversation() -> None:
    server = Server()
    alice = server.irc("alice", caps=CAPS + " echo-message", account=True)
    alice.send("PRIVMSG alice :note to self", "PRIVMSG alice :another")
    server.settle()
    assert texts(server.history(alice, "CHATHISTORY LATEST alice * 10")) == [
        "note to self", "another"]


# -- TARGETS ------------------------------------------------------------------------


def targets(lines: list[str]) -> list[tuple[str, str]]:
    start = re.fullmatch(r":chatsvc BATCH \+(\S+) draft/chathistory-targets", lines[0])
    assert start is not None and lines[-1] == f":chatsvc BATCH -{start.group(1)}", lines
    found = []
    for line in lines[1:-1]:
        assert line.startswith(f"@batch={start.group(1)} :chatsvc CHATHISTORY TARGETS "), line
        found.append(tuple(params(line)[1:]))
    return found  # type: ignore[return-value]


ALL_TIME = "timestamp=2020-01-01T00:00:00.000Z timestamp=2262-01-01T00:00:00.000Z"


def test_targets_lists_ones_rooms_and_conversations_by_their_last_message() -> None:
    pair = Pair()
    server, alice = pair.server, pair.alice
    alice.send("JOIN #chat", "PRIVMSG #chat :latest")
    server.settle()
    chat_time = tags_of(batch(server.history(alice, "CHATHISTORY LATEST #chat * 1"))[0])["time"]
    bob_time = tags_of(pair.live[-1])["time"]
    assert targets(server.history(alice, f"CHATHISTORY TARGETS {ALL_TIME} 10")) == [
        ("bob", bob_time), ("#chat", chat_time)]
    assert targets(server.history(alice, f"CHATHISTORY TARGETS {ALL_TIME} 1")) == [
        ("bob", bob_time)]
    # strictly between, either order, by the last message's time as shown
    assert targets(server.history(
        alice, f"CHATHISTORY TARGETS timestamp={bob_time} timestamp=2262-01-01T00:00:00.000Z "
               "10")) == [("#chat", chat_time)]
    assert targets(server.history(
        alice, f"CHATHISTORY TARGETS timestamp={chat_time} timestamp=2020-01-01T00:00:00.000Z "
               "10")) == [("bob", bob_time)]
    guest = server.irc("dave")
    guest.send("JOIN #chat")
    server.settle()
    assert targets(server.history(guest, f"CHATHISTORY TARGETS {ALL_TIME} 10")) == [
        ("#chat", chat_time)]


# -- the replay on JOIN ------------------------------------------------------------


def joined(history: History, caps: str) -> list[str]:
    """What an IRC client with C{caps} is sent after NAMES on joining #chat."""
    user = history.net.irc_user("carol", channels="")
    if caps:
        user.ask(f"CAP REQ :{caps}")
    user.read()
    user.send("JOIN #chat")
    history.settle()
    lines = user.read()
    return lines[next(i for i, line in enumerate(lines) if " 366 " in line) + 1:]


def said(history: History) -> None:
    alice = history.user("alice")
    alice.send("one", "/me two")
    history.settle()


def test_with_batch_and_server_time_the_replay_is_a_chathistory_batch() -> None:
    history = History()
    said(history)
    lines = joined(history, "batch server-time message-tags")
    assert lines[0] == ":chatsvc NOTICE carol :#chat keeps history"
    inner = batch(lines[1:], "#chat")
    assert [params(line)[-1] for line in inner] == ["one", "\x01ACTION two\x01"]
    assert all(set(tags_of(line)) == {"time", "msgid"} for line in inner)
    assert inner[0].endswith(" :alice!alice@198.51.100.7 PRIVMSG #chat :one")


def test_a_topic_change_in_the_batch_is_a_server_notice_and_joins_are_not_in_it() -> None:
    from test_history_events import busy_rust, joins_history

    history = joins_history()
    busy_rust(history)
    user = history.net.irc_user("carol", channels="")
    user.ask("CAP REQ :batch server-time")
    user.read()
    user.send("JOIN #rust")
    history.settle()
    lines = user.read()
    inner = batch(lines[next(i for i, line in enumerate(lines) if " 366 " in line) + 2:])
    assert [line.split(" ", 1)[1] for line in inner] == [
        ":chatsvc NOTICE #rust :alice set the topic to: release day",
        ":alice!alice@198.51.100.7 PRIVMSG #rust :ship it",
        ":bob!bob@198.51.100.7 PRIVMSG #rust :\x01ACTION waves\x01",
        ":chatsvc NOTICE #rust :alice cleared the topic",
    ]
    assert all(set(tags_of(line)) == {"time"} for line in inner)


def test_with_draft_chathistory_there_is_no_replay_the_client_asks() -> None:
    history = History()
    said(history)
    assert joined(history, "batch server-time draft/chathistory") == [
        ":chatsvc NOTICE carol :#chat keeps history"]


def test_without_batch_the_replay_is_as_before() -> None:
    history = History()
    said(history)
    lines = joined(history, "server-time")
    assert [line.split(" ", 1)[1] for line in lines[1:]] == [
        ":alice PRIVMSG #chat :one", ":alice PRIVMSG #chat :\x01ACTION two\x01"]


def test_an_empty_replay_is_no_batch() -> None:
    assert joined(History(), "batch server-time") == []


# -- stored rows that are not what chatsvc writes --------------------------------


def test_an_old_row_without_a_mask_comes_from_nick_nick_at_server() -> None:
    old = StoredMessage(f"{int(NOW * 1000):011x}{1:013x}", "#chat", NOW, "alice", "hi")
    assert chathistory.prefix_of(old, "chatsvc") == "alice!alice@chatsvc"
    (line,) = chathistory.message_lines(old, "#chat", frozenset({"message-tags"}), "chatsvc")
    assert line == f"@msgid={old.id} :alice!alice@chatsvc PRIVMSG #chat :hi\r\n".encode()


def test_hostile_stored_rows_never_break_the_wire() -> None:
    def line_of(**fields: Any) -> bytes:
        message = StoredMessage(**{"id": "x", "room": "#chat", "time": NOW, "sender": "alice",
                                   "text": "hi", **fields})
        (line,) = chathistory.message_lines(message, "#chat", frozenset(), "chatsvc")
        return line

    assert line_of(text="one\r\nQUIT :bye\x00") == (
        b":alice!alice@chatsvc PRIVMSG #chat :oneQUIT :bye\r\n")
    assert line_of(mask="evil guy!x@y") == b":alice!alice@chatsvc PRIVMSG #chat :hi\r\n"
    assert line_of(mask="a!b@c d", sender="x y") == b":* PRIVMSG #chat :hi\r\n"
    assert line_of(mask=":a!b@c", sender=":a") == b":* PRIVMSG #chat :hi\r\n"
    assert line_of(mask="a!b@c\r\nKILL") == b":alice!alice@chatsvc PRIVMSG #chat :hi\r\n"
    tagged = StoredMessage("x", "#chat", NOW, "alice", "hi", account="a;b c")
    (line,) = chathistory.message_lines(tagged, "#chat", frozenset({"account-tag"}), "s")
    assert line.startswith(b"@account=a\\:b\\sc :")


def test_timestamps_parse_to_milliseconds() -> None:
    assert chathistory.parse_timestamp(utc_time(NOW + 0.25)) == int(NOW * 1000) + 250
    assert chathistory.parse_timestamp("2023-11-14T22:13:20Z") == int(NOW * 1000)
    assert chathistory.parse_timestamp("2023-11-14T22:13:20.1Z") == int(NOW * 1000) + 100
    for bad in ("2023-11-14 22:13:20Z", "2023-11-14T22:13:20.000", "2023-02-30T00:00:00Z",
                "2023-11-14T25:00:00Z", "9" * 40, ""):
        assert chathistory.parse_timestamp(bad) is None, bad
