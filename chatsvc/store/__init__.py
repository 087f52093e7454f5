"""What a chat keeps after you disconnect: the message history (issue 18).

L{chatsvc.store.sqlite.HistoryStore} is the embedded store (SQLite in
C{--data-dir}, or PostgreSQL with C{--store}: L{chatsvc.store.postgres});
L{chatsvc.store.delivery.HistoryDelivery} is the
L{chatsvc.hub.delivery.Delivery} that records room messages into it as they
pass, without making the fan-out wait.
"""
