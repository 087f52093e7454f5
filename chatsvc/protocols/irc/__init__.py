"""IRC for irssi, weechat and hexchat users, on the same hub.

L{chatsvc.protocols.irc.protocol} is one connection (registration,
liveness, messages), with the channel commands in
L{chatsvc.protocols.irc.channels} and the user and server queries in
L{chatsvc.protocols.irc.users}; L{chatsvc.protocols.irc.wire} is the
message grammar and L{chatsvc.protocols.irc.render} renders hub events as
IRC lines, once per event.
"""
