"""The fan-out with history on and off, in memory: CPU per delivery.

A hub on a fake clock with ``--clients`` line users in one room (in-memory
transports) and one sender; each message is one ``hub.say`` fanned out to
everyone else.  Three configurations, one right after the other:

  - ``off``: the hub's own L{LocalDelivery} (``--data-dir none``);
  - ``on, fan-out``: L{HistoryDelivery} over a real SQLite store in a
    temporary directory, with the store's thread left out: what the
    reactor thread pays per message (the record into the pending batch);
  - ``on, total``: the same, with each batch written in this thread: all
    the CPU the process spends, SQLite's included, as the bench's utime +
    stime sees.  A batch is what arrives within the store's write delay
    (10 ms): ``--per-batch`` messages, 1 (a quiet server: one commit per
    message), 5, or 30 (a server relaying 3,000 messages a second, as the
    fan-out scenarios of ``python -m bench`` do), by default all three.

Each figure is the best of ``--repeat`` rounds of ``--messages`` messages
(CPU time, ``time.process_time``), divided by the deliveries (messages times
recipients)::

    python -m bench.history
    python -m bench.history --clients 1000 --per-batch 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from typing import Any, cast

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.store.delivery import HistoryDelivery
from chatsvc.store.sqlite import WRITE_DELAY, HistoryStore


def _room(clients: int) -> tuple[ChatFactory, Any, list[StringTransport]]:
    hub = ChatFactory(Settings(flood_rate=0, max_per_ip=0, connect_rate=0),
                      clock=cast(IReactorTime, Clock()))
    transports: list[StringTransport] = []
    sender = None
    for number in range(clients):
        address = IPv4Address("TCP", "127.0.0.1", 1000 + number)
        protocol = hub.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(f"#user{number}\r\n".encode())
        transports.append(transport)
        sender = sender or protocol
    for transport in transports:
        transport.clear()
    return hub, sender, transports


def per_delivery(clients: int, messages: int, repeat: int, mode: str, per_batch: int,
                 directory: str) -> float:
    """Best CPU seconds per delivery over C{repeat} rounds, for C{mode}."""
    hub, sender, transports = _room(clients)
    clock = cast(Clock, hub.clock)
    if mode != "off":
        thread_work: list[tuple[Any, tuple[Any, ...]]] = []

        def run(function: Any, *args: Any) -> Deferred[Any]:
            if mode == "total":
                return maybeDeferred(function, *args)
            thread_work.append((function, args))  # the other thread's, not timed
            return Deferred()

        store = HistoryStore.open(directory, cast(IReactorTime, clock))
        store._run = run  # the batches: written here (total) or set aside (fan-out)
        hub.delivery = HistoryDelivery(store, 50, hub.delivery)
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for number in range(messages):
            hub.say(sender, "#chat", "hello there, how are you")
            if (number + 1) % per_batch == 0:
                clock.advance(WRITE_DELAY)  # the batch goes to the store
        clock.advance(WRITE_DELAY)
        best = min(best, time.process_time() - start)
        for transport in transports:
            transport.clear()
        if mode == "fan-out":
            for function, args in thread_work:  # keep the table small, untimed
                function(*args)
            thread_work.clear()
    return best / (messages * (clients - 1))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--per-batch", type=int, action="append",
                        help="messages per write batch (repeatable; default 1, 5 and 30)")
    options = parser.parse_args(argv)
    batches = options.per_batch or [1, 5, 30]
    print(f"{options.clients} clients, {options.messages} messages, best of {options.repeat}")

    def measure(mode: str, per_batch: int) -> float:
        with tempfile.TemporaryDirectory() as directory:
            return per_delivery(options.clients, options.messages, options.repeat,
                                mode, per_batch, directory)

    off = measure("off", 1)
    print(f"  {'history off':34} {off * 1e9:7.1f} ns/delivery  1.000x")
    fan_out = measure("fan-out", batches[-1])
    print(f"  {'history on, fan-out (reactor)':34} {fan_out * 1e9:7.1f} ns/delivery  "
          f"{fan_out / off:5.3f}x")
    for per_batch in batches:
        total = measure("total", per_batch)
        label = f"history on, total, {per_batch}/batch"
        print(f"  {label:34} {total * 1e9:7.1f} ns/delivery  {total / off:5.3f}x")


if __name__ == "__main__":
    main()
