"""IRC channels on the hub's rooms: JOIN, PART, TOPIC, NAMES, LIST, MODE,
KICK, INVITE, OPER, KILL and WALLOPS, with their numerics."""

from __future__ import annotations

import pytest
from support import Net, numerics


@pytest.fixture
def net() -> Net:
    return Net(opers={"root": "hunter2"})


def test_join_creates_a_channel_and_makes_its_creator_operator(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    bob = net.irc_user("bob", channels="")
    assert alice.ask("JOIN #rust") == [
        ":alice!~alice@192.0.2.1 JOIN #rust",
        ":chatsvc 353 alice = #rust :@alice",
        ":chatsvc 366 alice #rust :End of /NAMES list",
    ]
    lines = bob.ask("JOIN #Rust")
    assert lines[0] == ":bob!~bob@192.0.2.1 JOIN #rust"
    assert ":chatsvc 353 bob = #rust :@alice bob" in lines
    assert alice.read() == [":bob!~bob@192.0.2.1 JOIN #rust"]
    assert bob.ask("JOIN #rust") == []  # already there: ignored


def test_join_several_with_keys_and_join_0(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    bob = net.irc_user("bob", channels="")
    alice.send("JOIN #a,#b,#c")
    alice.send("MODE #a +k sesame", "MODE #b +k open")
    alice.read()
    lines = bob.ask("JOIN #a,#b,#c sesame,wrong")
    assert ":bob!~bob@192.0.2.1 JOIN #a" in lines
    assert ":chatsvc 475 bob #b :Cannot join channel (+k)" in lines
    assert ":bob!~bob@192.0.2.1 JOIN #c" in lines
    assert bob.ask("JOIN 0") == [":bob!~bob@192.0.2.1 PART #a :Left all channels",
                                 ":bob!~bob@192.0.2.1 PART #c :Left all channels"]
    assert alice.read() == [":bob!~bob@192.0.2.1 JOIN #a", ":bob!~bob@192.0.2.1 JOIN #c",
                            ":bob!~bob@192.0.2.1 PART #a :Left all channels",
                            ":bob!~bob@192.0.2.1 PART #c :Left all channels"]


def test_join_errors(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    bob = net.irc_user("bob", channels="")
    alice.send("JOIN #vault,#full,#club", "MODE #vault +i", "MODE #full +l 1",
               "MODE #club +b bob!*@*")
    assert bob.ask("JOIN #vault") == [":chatsvc 473 bob #vault :Cannot join channel (+i)"]
    assert bob.ask("JOIN #full") == [":chatsvc 471 bob #full :Cannot join channel (+l)"]
    assert bob.ask("JOIN #club") == [":chatsvc 474 bob #club :Cannot join channel (+b)"]
    assert bob.ask("JOIN #bad:name") == [
        ":chatsvc 479 bob #bad:name :Illegal channel name: ':' not allowed in a room name"]
    assert bob.ask("JOIN nohash") == [
        ":chatsvc 403 bob nohash :Illegal channel name: a room name starts with '#'"]
    assert bob.ask("JOIN") == [":chatsvc 461 bob JOIN :Not enough parameters"]


def test_too_many_channels() -> None:
    net = Net(max_rooms=2)
    alice = net.irc_user("alice", channels="#a,#b")
    assert alice.ask("JOIN #c") == [
        ":chatsvc 405 alice #c :You have joined too many channels"]


def test_invite(net: Net) -> None:
    alice = net.irc_user("alice", channels="#vault")
    bob = net.irc_user("bob", channels="")
    alice.send("MODE #vault +i")
    alice.read()
    assert bob.ask("INVITE alice #vault") == [
        ":chatsvc 442 bob #vault :You're not on that channel"]
    assert alice.ask("INVITE bob #vault") == [":chatsvc 341 alice bob #vault"]
    assert bob.read() == [":alice!~alice@192.0.2.1 INVITE bob #vault"]
    assert bob.ask("JOIN #vault")[0] == ":bob!~bob@192.0.2.1 JOIN #vault"
    assert alice.ask("INVITE bob #vault") == [
        ":chatsvc 443 alice bob #vault :is already on channel"]
    assert alice.ask("INVITE nobody #vault") == [
        ":chatsvc 401 alice nobody :No such nick/channel"]
    assert numerics(alice.ask("INVITE bob")) == ["461"]


def test_part(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust")
    bob = net.irc_user("bob", channels="#rust")
    alice.read()
    assert bob.ask("PART #rust :bye all") == [":bob!~bob@192.0.2.1 PART #rust :bye all"]
    assert alice.read() == [":bob!~bob@192.0.2.1 PART #rust :bye all"]
    assert bob.ask("PART #rust") == [":chatsvc 442 bob #rust :You're not on that channel"]
    assert bob.ask("PART #nowhere") == [":chatsvc 403 bob #nowhere :No such channel"]
    alice.send("PART #rust")
    assert "#rust" not in [room.name for room in net.hub.rooms.values()]


def test_topic(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust")
    bob = net.irc_user("bob", channels="#rust")
    alice.read()
    assert bob.ask("TOPIC #rust") == [":chatsvc 331 bob #rust :No topic is set"]
    assert bob.ask("TOPIC #rust :mine") == [
        ":chatsvc 482 bob #rust :You're not channel operator"]
    net.clock.advance(5)
    alice.send("TOPIC #rust :Rust \x02talk\x02")
    assert bob.read() == [":alice!~alice@192.0.2.1 TOPIC #rust :Rust \x02talk\x02"]
    assert alice.read() == [":alice!~alice@192.0.2.1 TOPIC #rust :Rust \x02talk\x02"]
    when = str(int(net.clock.seconds()))
    assert bob.ask("TOPIC #rust") == [":chatsvc 332 bob #rust :Rust \x02talk\x02",
                                      f":chatsvc 333 bob #rust alice {when}"]
    carol = net.irc_user("carol", channels="")
    lines = carol.ask("JOIN #rust")
    assert lines[1:3] == [":chatsvc 332 carol #rust :Rust \x02talk\x02",
                          f":chatsvc 333 carol #rust alice {when}"]
    alice.send("TOPIC #rust :" + "x" * 500)
    assert len(net.hub.rooms["#rust"].topic) == 390
    assert carol.ask("TOPIC #nowhere") == [":chatsvc 403 carol #nowhere :No such channel"]


def test_topic_length_is_in_bytes_so_irc_users_get_it_whole(net: Net) -> None:
    """TOPICLEN counts bytes: a topic in Cyrillic (2 bytes a letter) or CJK
    is not cut by the 512-byte line limit when it reaches IRC users."""
    alice = net.irc_user("alice", channels="#rust")
    bob = net.line_user("bob")
    bob.send("/join #rust")
    alice.send("MODE #rust -t")
    alice.read()
    bob.read()
    bob.send("/topic " + "ж" * 196)
    assert bob.read() == ["! topic too long for #rust: at most 390 bytes"]
    bob.send("/topic " + "ж" * 195)
    assert alice.read() == [f":bob!bob@198.51.100.7 TOPIC #rust :{'ж' * 195}"]
    alice.send("TOPIC #rust :" + "話" * 200)  # 600 bytes: cut to 390, at a character
    topic = net.hub.rooms["#rust"].topic
    assert topic == "話" * 130
    assert alice.read() == [f":alice!~alice@192.0.2.1 TOPIC #rust :{topic}"]
    assert alice.ask("TOPIC #rust")[0] == f":chatsvc 332 alice #rust :{topic}"


def test_channel_modes(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust")
    bob = net.irc_user("bob", channels="#rust")
    alice.read()
    assert alice.ask("MODE #rust") == [":chatsvc 324 alice #rust +nt",
                                       f":chatsvc 329 alice #rust {int(net.clock.seconds())}"]
    assert alice.ask("MODE #rust +imsk-t key") == [
        ":alice!~alice@192.0.2.1 MODE #rust +imsk-t key"]
    assert bob.read() == [":alice!~alice@192.0.2.1 MODE #rust +imsk-t key"]
    assert bob.ask("MODE #rust")[0] == ":chatsvc 324 bob #rust +imnsk key"
    carol = net.irc_user("carol", channels="")
    assert carol.ask("MODE #rust") == [":chatsvc 403 carol #rust :No such channel"]  # secret
    assert bob.ask("MODE #rust -m") == [":chatsvc 482 bob #rust :You're not channel operator"]
    assert alice.ask("MODE #rust +l") == [":chatsvc 461 alice MODE :Not enough parameters"]
    assert alice.ask("MODE #rust +z") == [":chatsvc 472 alice z :is unknown mode char to me"]
    assert numerics(alice.ask("MODE #rust +l lots")) == ["696"]
    assert alice.ask("MODE #rust +o carol") == [
        ":chatsvc 441 alice carol #rust :They aren't on that channel"]
    assert alice.ask("MODE #rust +ov bob bob") == [
        ":alice!~alice@192.0.2.1 MODE #rust +ov bob bob"]
    assert ":chatsvc 353 alice @ #rust :@alice @bob" in alice.ask("NAMES #rust")
    assert alice.ask("MODE #rust +m") == []  # already set: nothing changes, nothing said


def test_moderated_and_outside_messages(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust")
    bob = net.irc_user("bob", channels="#rust")
    carol = net.irc_user("carol", channels="")
    assert carol.ask("PRIVMSG #rust :hi") == [
        ":chatsvc 404 carol #rust :Cannot send to channel (not in room)"]
    alice.send("MODE #rust +m")
    bob.read()
    assert bob.ask("PRIVMSG #rust :hi") == [
        ":chatsvc 404 bob #rust :Cannot send to channel (moderated)"]
    alice.send("MODE #rust +v bob")
    bob.read()
    alice.read()
    bob.send("PRIVMSG #rust :voiced now")
    assert alice.read() == [":bob!~bob@192.0.2.1 PRIVMSG #rust :voiced now"]


def test_ban_lists(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust")
    net.clock.advance(1)
    alice.send("MODE #rust +beI *!*@spam.example *!*@friend.example *!~bob@*")
    alice.read()
    when = int(net.clock.seconds())
    assert alice.ask("MODE #rust b") == [
        f":chatsvc 367 alice #rust *!*@spam.example alice {when}",
        ":chatsvc 368 alice #rust :End of channel ban list"]
    assert alice.ask("MODE #rust +e") == [
        f":chatsvc 348 alice #rust *!*@friend.example alice {when}",
        ":chatsvc 349 alice #rust :End of channel exception list"]
    assert alice.ask("MODE #rust I") == [
        f":chatsvc 346 alice #rust *!~bob@* alice {when}",
        ":chatsvc 347 alice #rust :End of channel invite list"]
    assert alice.ask("MODE #rust -b *!*@spam.example") == [
        ":alice!~alice@192.0.2.1 MODE #rust -b *!*@spam.example"]


def test_ban_list_full() -> None:
    net = Net()
    alice = net.irc_user("alice", channels="#rust")
    for i in range(100):
        alice.send(f"MODE #rust +b user{i}!*@*")
    alice.read()
    assert alice.ask("MODE #rust +b one!*@*more") == [
        ":chatsvc 478 alice #rust b :Channel list is full"]


def test_kick(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust")
    bob = net.irc_user("bob", channels="#rust")
    carol = net.irc_user("carol", channels="#rust")
    alice.read()
    bob.read()
    assert bob.ask("KICK #rust carol") == [
        ":chatsvc 482 bob #rust :You're not channel operator"]
    alice.send("KICK #rust bob :spamming")
    assert bob.read() == [":alice!~alice@192.0.2.1 KICK #rust bob :spamming"]
    assert carol.read() == [":alice!~alice@192.0.2.1 KICK #rust bob :spamming"]
    assert alice.read() == [":alice!~alice@192.0.2.1 KICK #rust bob :spamming"]
    assert alice.ask("KICK #rust bob") == [
        ":chatsvc 441 alice bob #rust :They aren't on that channel"]
    alice.send("KICK #rust carol")
    assert carol.read() == [":alice!~alice@192.0.2.1 KICK #rust carol :alice"]


def test_list_hides_secret_channels(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust,#hidden")
    alice.send("MODE #hidden +s", "TOPIC #rust :all about rust")
    bob = net.irc_user("bob", channels="")
    assert bob.ask("LIST") == [
        ":chatsvc 321 bob Channel :Users  Name",
        ":chatsvc 322 bob #chat 0 :[+nt]",
        ":chatsvc 322 bob #rust 1 :[+nt] all about rust",
        ":chatsvc 323 bob :End of /LIST",
    ]
    assert ":chatsvc 322 alice #hidden 1 :[+nst]" in alice.ask("LIST")
    assert bob.ask("NAMES #hidden") == [":chatsvc 366 bob #hidden :End of /NAMES list"]
    assert bob.ask("WHO #hidden") == [":chatsvc 315 bob #hidden :End of /WHO list"]
    assert "#hidden" not in " ".join(bob.ask("WHOIS alice"))


def test_who_shows_channel_status(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust")
    net.irc_user("bob", channels="#rust")
    assert alice.ask("WHO #rust") == [
        ":chatsvc 352 alice #rust ~alice 192.0.2.1 chatsvc alice H@ :0 Alice Example",
        ":chatsvc 352 alice #rust ~bob 192.0.2.1 chatsvc bob H :0 Bob Example",
        ":chatsvc 315 alice #rust :End of /WHO list",
    ]
    assert alice.ask("WHOIS alice")[1] == ":chatsvc 319 alice alice :@#rust"


def test_line_users_are_members_like_any_other(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    bob.read()
    assert ":chatsvc 353 alice = #chat :alice bob" in alice.ask("NAMES #chat")
    assert ":chatsvc 352 alice #chat bob 198.51.100.7 chatsvc bob H :0 bob" in alice.ask(
        "WHO #chat")
    assert ":chatsvc 319 alice bob :#chat" in alice.ask("WHOIS bob")
    alice.send("PART #chat :later")
    assert bob.read() == ["* alice left (later)"]
    alice.read()
    bob.send("still here?")
    assert alice.read() == []


def test_oper_kill_wallops(net: Net) -> None:
    alice = net.irc_user("alice")
    carol = net.irc_user("carol")
    assert alice.ask("KILL carol :bye") == [
        ":chatsvc 481 alice :Permission Denied- You're not an IRC operator"]
    assert alice.ask("OPER root wrong") == [":chatsvc 464 alice :Password incorrect"]
    assert alice.ask("OPER root hunter2") == [":chatsvc 381 alice :You are now an IRC operator",
                                              ":alice MODE alice +o"]
    assert alice.ask("MODE alice") == [":chatsvc 221 alice +o"]
    assert ":chatsvc 313 carol alice :is an IRC operator" in carol.ask("WHOIS alice")
    assert carol.ask("USERHOST alice") == [":chatsvc 302 carol :alice*=+~alice@192.0.2.1"]
    assert numerics(alice.ask("LUSERS"))[1] == "252"
    # server operators run any channel
    carol.send("JOIN #carol")
    carol.read()
    alice.send("TOPIC #carol :welcome all")
    assert carol.read() == [":alice!~alice@192.0.2.1 TOPIC #carol :welcome all"]
    bob = net.line_user("bob")
    carol.send("MODE carol +w")
    carol.read()
    alice.send("WALLOPS :maintenance at noon")
    assert carol.read() == [":alice!~alice@192.0.2.1 WALLOPS :maintenance at noon"]
    assert alice.ask("KILL nobody :x") == [":chatsvc 401 alice nobody :No such nick/channel"]
    bob.read()
    alice.send("KILL bob :flooding")
    assert bob.read() == ["* Killed (alice (flooding))"]
    assert bob.closed
    bob.drop()
    assert carol.read() == [":bob!bob@198.51.100.7 QUIT :Killed (alice (flooding))"]
    alice.send("KILL carol :too")
    assert carol.read() == ["ERROR :Closing link: 192.0.2.1 (Killed (alice (too)))"]
    assert carol.closed
    assert alice.ask("MODE alice -o") == [":alice MODE alice -o"]
    assert alice.protocol not in net.hub.opers


def test_shutdown_says_goodbye(net: Net) -> None:
    alice = net.irc_user("alice")
    net.hub.shutdown("server shutting down")
    assert alice.read() == ["ERROR :Closing link: 192.0.2.1 (server shutting down)"]
    assert alice.closed


def test_rooms_across_protocols(net: Net) -> None:
    """Line users in several rooms with IRC users: joins, talk, topic, modes, kicks."""
    alice = net.irc_user("alice", channels="#chat,#rust")  # creates #rust: operator
    bob = net.line_user("bob")
    carol = net.line_user("carol")
    alice.read()
    bob.read()
    bob.send("/join #rust")
    assert bob.read()[0] == "* you joined #rust (2 here)"
    assert alice.read() == [":bob!bob@198.51.100.7 PART #chat :left for #rust",
                            ":bob!bob@198.51.100.7 JOIN #rust"]
    bob.send("rust is fun")
    assert alice.read() == [":bob!bob@198.51.100.7 PRIVMSG #rust :rust is fun"]
    carol.send("chat is fun")
    assert alice.read() == [":carol!carol@198.51.100.7 PRIVMSG #chat :chat is fun"]
    alice.send("PRIVMSG #rust :\x02welcome\x02 bob")
    assert bob.read() == ["<alice> welcome bob"]
    assert carol.read() == ["* bob left for #rust"]  # nothing from #rust itself
    alice.send("TOPIC #rust :all \x0304about\x03 rust")
    assert bob.read() == ["* alice sets the topic of #rust: all about rust"]
    alice.send("MODE #rust +v bob")
    assert bob.read() == ["* alice gives voice to bob in #rust"]
    assert ":chatsvc 353 alice = #rust :@alice +bob" in alice.ask("NAMES #rust")
    bob.send("/topic mine now")
    assert bob.read() == ["! you are not an operator of #rust"]
    alice.send("KICK #rust bob :\x02enough\x02")
    lines = bob.read()
    assert lines[0] == "* you were kicked from #rust by alice (enough)"
    assert alice.read() == [":alice!~alice@192.0.2.1 KICK #rust bob :\x02enough\x02",
                            ":bob!bob@198.51.100.7 JOIN #chat"]
    bob.send("/nick robert")
    assert alice.read() == [":bob!bob@198.51.100.7 NICK robert"]
    bob.send("/quit bye")
    bob.drop()
    assert alice.read() == [":robert!robert@198.51.100.7 QUIT :bye"]


def test_line_user_cannot_bypass_irc_channel_rules(net: Net) -> None:
    alice = net.irc_user("alice", channels="#vault")
    alice.send("MODE #vault +ik secret")
    bob = net.line_user("bob")
    bob.send("/join #vault")
    assert bob.read() == ["! #vault is invite-only"]
    alice.send("INVITE bob #vault")
    assert bob.read() == ["* alice invites you to #vault"]
    bob.send("/join #vault")
    assert bob.read()[0] == "* you joined #vault (2 here)"


def test_long_masks_go_over_as_many_mode_lines_as_fit_in_512_bytes():
    net = Net()
    nick = "o" * 32
    op = net.irc_user(nick, channels="#" + "r" * 50)
    member = net.irc_user("member", channels="#" + "r" * 50)
    masks = [f"*!*@{n}{'h' * 115}.example" for n in range(4)]  # 128 characters each
    op.send(f"MODE #{'r' * 50} +bbbb {' '.join(masks)}")
    lines = [line for line in member.read() if " MODE " in line]
    assert len(lines) > 1
    assert all(len(line.encode()) + 2 <= 512 for line in lines)
    shown = [word for line in lines for word in line.split(" ")[4:]]
    assert shown == masks


def test_a_change_of_modes_without_arguments_is_one_line():
    net = Net()
    op = net.irc_user("op", channels="#rust")
    assert [line for line in op.ask("MODE #rust +ims-n") if " MODE " in line] == [
        ":op!~op@192.0.2.1 MODE #rust +ims-n"]
