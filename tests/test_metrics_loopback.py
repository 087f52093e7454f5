"""A real `twistd chat --metrics-port`: a scripted session, then a scrape.

Three line users register and talk, one floods and is dropped; the
counters must have moved by exactly what happened, and bytes out by
exactly what the recipients read (over a plain socket, where output is
gathered per reactor turn: the path in-memory tests do not take).
"""

from __future__ import annotations

import http.client
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import WAIT, SocketUser, twistd_server, wait_for

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a real server's /metrics, by name and labels."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_scripted_session_moves_the_counters_by_what_happened(tmp_path):
    with twistd_server(tmp_path, "--metrics-port", "tcp:0:interface=127.0.0.1",
                       "--max-per-ip", "0", "--flood-rate", "1", "--flood-burst", "5",
                       "--flood-queue", "2", listener="metrics") as (metrics_port, _):
        log = (tmp_path / "server.log").read_text()
        line_port = int(re.search(r"\] line protocol on \S+:(\d+)$", log, re.M).group(1))
        assert re.search(r"\] metrics on 127\.0\.0\.1:\d+$", log, re.M)

        start = scrape(metrics_port)
        assert value(start, "chatsvc_users") == 0
        assert value(start, "chatsvc_connections_accepted_total", protocol="line") == 0

        alice, bob, carol = (SocketUser(line_port, name) for name in ("alice", "bob", "carol"))
        alice.send("hello everyone")
        bob.expect("<alice> hello everyone")
        carol.expect("<alice> hello everyone")
        alice.send("@bob:just you")
        bob.expect("*alice* just you")

        # Bytes out: exactly what the two recipients read of one more line.
        before = scrape(metrics_port)
        alice.send("count these bytes")
        bob.expect("<alice> count these bytes")
        carol.expect("<alice> count these bytes")
        after = scrape(metrics_port)
        line = len("<alice> count these bytes\r\n")
        assert (value(after, "chatsvc_sent_bytes_total")
                - value(before, "chatsvc_sent_bytes_total")) == 2 * line

        # Carol floods: blank lines are no messages but pass the flood gate.
        carol.sock.sendall(b"\n" * 20)
        carol.expect("! flooding")
        alice.expect("* carol left (flooding)")

        def dropped():
            samples = scrape(metrics_port)
            return samples if value(samples, "chatsvc_users") == 2 else None

        end = wait_for("carol to be gone", dropped)
        assert value(end, "chatsvc_drops_total", reason="flood") == 1
        assert value(end, "chatsvc_drops_total", reason="backlog") == 0
        assert value(end, "chatsvc_registrations_total") == 3
        assert value(end, "chatsvc_connections_accepted_total", protocol="line") == 3
        assert value(end, "chatsvc_connections", protocol="line") == 2
        assert value(end, "chatsvc_messages_total", kind="room") == 2
        assert value(end, "chatsvc_messages_total", kind="private") == 1
        # Two room messages to two others each, one private message.
        assert value(end, "chatsvc_deliveries_total") == 2 * 2 + 1
        assert value(end, "chatsvc_users_peak") == 3
        assert value(end, "chatsvc_rooms") == 1
        assert value(end, "chatsvc_backlog_bytes") == 0
        assert value(end, "chatsvc_sent_bytes_total") > value(after, "chatsvc_sent_bytes_total")
        assert value(end, "process_open_fds") > 0

        # The lag probe runs once a second.
        lagged = wait_for("a reactor lag sample",
                          lambda: value(s := scrape(metrics_port),
                                        "chatsvc_reactor_lag_seconds_count") and s)
        assert value(lagged, "chatsvc_reactor_lag_seconds_bucket", le="+Inf") >= 1
        for user in (alice, bob, carol):
            user.close()

    # Scrapes are not worth a log line each.
    assert "GET /metrics" not in (tmp_path / "server.log").read_text()
