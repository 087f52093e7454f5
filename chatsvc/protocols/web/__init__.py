"""The browser's protocol (WebSocket, JSON messages) and the page that speaks it.

L{wire} is the JSON format, L{protocol} the adapter (a hub participant over
the shared plumbing of L{chatsvc.conn}), L{site} the C{twisted.web} site of
C{--web-port}: the page, its assets, the WebSocket, the security headers.
"""
