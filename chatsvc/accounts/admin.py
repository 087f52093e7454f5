"""C{python -m chatsvc.accounts}: the operator's account commands, on the data directory.

    python -m chatsvc.accounts --data-dir DIR list
    python -m chatsvc.accounts --data-dir DIR oper NAME on|off
    python -m chatsvc.accounts --data-dir DIR delete NAME

It opens the same SQLite file as the server (WAL: it may run while the server
does) and runs the statements of L{chatsvc.accounts.store}.  The C{oper}
flag counts from the account's next login; an account deleted here while the
server runs stays reserved there until it restarts.  Errors are one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from chatsvc.accounts import store
from chatsvc.store.sqlite import StoreError, open_database, prepare_directory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chatsvc.accounts",
                                     description="List accounts, flag server operators, "
                                                 "delete accounts.")
    parser.add_argument("--data-dir", default="./chatsvc-data",
                        help="the server's --data-dir (default ./chatsvc-data)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every account: name, oper flag, registered")
    oper = commands.add_parser("oper", help="make an account a server operator, or not")
    oper.add_argument("name")
    oper.add_argument("state", choices=("on", "off"))
    delete = commands.add_parser("delete", help="delete an account and its waiting messages")
    delete.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status."""
    args = _parser().parse_args(argv)
    try:
        connection = open_database(prepare_directory(args.data_dir))
    except StoreError as error:
        print(f"{args.data_dir}: {error}", file=sys.stderr)
        return 1
    try:
        if args.command == "list":
            for name, oper, created in store.names(connection):
                when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(created))
                print(f"{name}\t{'oper' if oper else '-'}\t{when} UTC")
            return 0
        if args.command == "oper":
            done = store.set_oper(connection, args.name, args.state == "on")
        else:
            done = store.delete(connection, args.name)
        if not done:
            print(f"no such account: {args.name}", file=sys.stderr)
            return 1
        print(f"{args.command} {args.name}: done")
        return 0
    finally:
        connection.close()


__all__ = ["main"]
