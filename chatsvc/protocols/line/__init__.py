"""The line protocol: one UTF-8 line per message, as telnet and netcat speak.

L{chatsvc.protocols.line.protocol} is the server side (one connection);
L{chatsvc.protocols.line.wire} renders events as lines and parses them back,
for the server and for the client side (L{chatsvc.client}) alike.
"""
