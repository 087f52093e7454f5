"""A greeter bot for chatsvc: welcomes people and answers a few commands.

    python examples/greeter.py localhost:12345 [--name greeter] [--tls] [--cafile F]

In the room: ``!echo text`` repeats text, ``!who`` lists who is here.
Privately: ``!quit`` makes the bot leave (any user may; it is an example).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from twisted.internet import defer, task

from chatsvc.client import ClientError, Session, connect
from chatsvc.events import Event, Joined, PrivateMessage, Renamed, RoomMessage


class Greeter:
    """The bot's behaviour: one method per kind of event it cares about."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __call__(self, event: Event) -> None:
        if isinstance(event, Joined):
            self.session.say(f"welcome, {event.name}! say !echo something, or !who")
        elif isinstance(event, Renamed):
            self.session.say(f"nice new name, {event.new}")
        elif isinstance(event, RoomMessage) and not event.action:
            self.room_command(event)
        elif isinstance(event, PrivateMessage) and event.text.strip() == "!quit":
            self.session.quit(f"asked to leave by {event.sender}")

    def room_command(self, event: RoomMessage) -> None:
        command, _, argument = event.text.partition(" ")
        if command == "!echo" and argument.strip():
            self.session.say(argument)
        elif command == "!who":
            self.session.say("here: " + ", ".join(self.session.names))


async def main(reactor: Any, endpoint: Any, name: str = "greeter", **options: Any) -> str:
    """Run the bot until its connection closes; returns why it closed."""
    session = await connect(reactor, endpoint, name, **options)
    session.on_event(Greeter(session))
    return await session.when_closed()


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A greeter bot for chatsvc.")
    parser.add_argument("server", help="host:port, or tls:host:port")
    parser.add_argument("--name", default="greeter")
    parser.add_argument("--tls", action="store_true", help="connect with verified TLS")
    parser.add_argument("--cafile", help="trust this CA / self-signed certificate")
    args = parser.parse_args(argv)

    async def start(reactor: Any) -> None:
        try:
            why = await main(reactor, args.server, args.name, tls=args.tls, cafile=args.cafile)
        except ClientError as error:
            raise SystemExit(f"greeter: {error}") from None
        print(f"greeter: {why}")

    task.react(lambda reactor: defer.ensureDeferred(start(reactor)))


if __name__ == "__main__":
    run(sys.argv[1:])
