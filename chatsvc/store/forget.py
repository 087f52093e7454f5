"""C{/forget}: delete what the room history keeps of one account (issue 18).

Every room row recorded while its user was logged in carries the account
(C{room_message.account_key}, the folded name): messages, actions and
notices, topic changes, and the joins, parts and quits C{--history-joins}
keeps.  L{forget} deletes all of them, in every room, for the account of
whoever asks (the line protocol's C{/forget messages}; the caller passes
the hub's record of who is logged in, never a name the user typed).  Rows
from a guest session, or from before the column existed, carry no account
and stay; private messages go with the account (C{/drop}), not here.

There is no index on the account (it would cost every write for a rare
request): L{forget} walks the table by its primary key in ranges of
L{SPAN} rows, one short transaction each on the store's thread, so the
live messages' batches are written between them, as the pruner's are.
"""

from __future__ import annotations

import sqlite3

from chatsvc.hub.names import fold
from chatsvc.store.sqlite import HistoryStore

#: Rows (by seq) one delete transaction looks at.
SPAN = 20_000

_LAST_SEQ = "SELECT MAX(seq) FROM room_message"

_DELETE_SPAN = ("DELETE FROM room_message WHERE seq > ? AND seq <= ? AND account_key = ?")


def _last_seq(connection: sqlite3.Connection) -> int:
    (last,) = connection.execute(_LAST_SEQ).fetchone()
    return int(last or 0)


def _delete_span(connection: sqlite3.Connection, low: int, high: int, account_key: str) -> int:
    connection.execute("BEGIN IMMEDIATE")
    try:
        count = connection.execute(_DELETE_SPAN, (low, high, account_key)).rowcount
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return int(count)


async def forget(store: HistoryStore, account: str, span: int = SPAN) -> int:
    """Delete every room row of C{account}; the number deleted.

    Everything recorded before the call goes (the store writes its pending
    batch first); what is said after it is kept.
    """
    key = fold(account)
    last = await store.call(_last_seq)
    deleted = 0
    for low in range(0, last, span):
        deleted += await store.call(_delete_span, low, min(low + span, last), key)
    return deleted


__all__ = ["SPAN", "forget"]
