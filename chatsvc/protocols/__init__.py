"""The protocol adapters: each parses its wire format into hub calls and
renders the hub's events back, and routes nothing itself.

One package per protocol: L{chatsvc.protocols.line} (telnet and netcat),
L{chatsvc.protocols.irc} (irssi, weechat, hexchat) and
L{chatsvc.protocols.web} (the browser, to come).  Adding a protocol is
adding a package here, using L{chatsvc.conn} for its connections.
"""
