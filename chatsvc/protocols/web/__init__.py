"""The browser's protocol (WebSocket, JSON messages) and the page that speaks it.

Empty until the web issue lands: this is where its adapter goes, beside the
line and IRC ones, over the shared plumbing of L{chatsvc.conn}.
"""
