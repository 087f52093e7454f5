"""Connection plumbing every protocol adapter shares.

Framing (L{chatsvc.conn.framing}), the per-connection guard that applies
the flood gate, the bounded output queue and closing
(L{chatsvc.conn.guard}, L{chatsvc.conn.sendq}; L{chatsvc.conn.sinks} is how
that output reaches a byte stream or a message transport), and the limits
(L{chatsvc.conn.limits}): connections per address, connection rate,
password back-off, reply budgets, keepalive.  So "flooding", "too slow" and
"too many connections" mean the same whatever protocol the client speaks.
"""
