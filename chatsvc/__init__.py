"""chatsvc: a multi-protocol chat server built on Twisted.

One hub (L{chatsvc.hub.factory.ChatFactory}) owns the users and rooms; each wire
protocol is an adapter that parses its own format into calls on the hub and
renders the hub's events back.
"""

__version__ = "0.1.0"
