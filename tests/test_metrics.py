"""Metrics: the hub's counts, the collector that reads them, the lag probe, /metrics.

All in memory: hubs on a fake clock with users on in-memory transports, and
the metrics site spoken to over an in-memory HTTP connection.  The loopback
test (tests/test_metrics_loopback.py) scrapes a real twistd.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from support import IRCUser, LineUser, Net, WebUser, make_hub
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from chatsvc import metrics
from chatsvc.hub.counts import DROP_REASONS, PROTOCOLS, REFUSALS
from chatsvc.hub.modes import ModeChange
from chatsvc.metrics.lag import BUCKETS, ReactorLag
from chatsvc.metrics.service import hub_registry, metrics_for
from chatsvc.protocols.web import protocol as web_protocol
from chatsvc.service import tap


class Scrape:
    """Read one hub's metrics the way Prometheus does: through its registry."""

    def __init__(self, hub) -> None:
        self.registry = hub_registry(hub)

    def __call__(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        assert value is not None, f"no sample {name}{labels}"
        return value


def sent_to(*users) -> int:
    """Bytes the users' transports received so far (none of them read)."""
    return sum(len(user.transport.value()) for user in users)


# -- counted once per message, by the audience -----------------------------------------


def test_a_room_message_counts_its_recipients_not_its_sender():
    hub = make_hub()
    scrape = Scrape(hub)
    alice, bob, carol = (LineUser(hub) for _ in range(3))
    for user, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        user.send(f"#{name}")
    bob.read(), carol.read()

    alice.send("hello all", "and again")

    assert scrape("chatsvc_messages_total", kind="room") == 2
    assert scrape("chatsvc_messages_total", kind="private") == 0
    # What the two others received, line for line: two each.
    received = [line for user in (bob, carol) for line in user.read()]
    assert len(received) == scrape("chatsvc_deliveries_total") == 4


def test_echo_and_a_sender_outside_the_room_count_what_is_delivered():
    hub = make_hub()
    scrape = Scrape(hub)
    users = [LineUser(hub) for _ in range(3)]
    for user, name in zip(users, ("alice", "bob", "carol"), strict=True):
        user.send(f"#{name}")
    alice, bob, _ = (user.protocol for user in users)

    hub.say(alice, "#chat", "echoed", echo=True)  # alice sees it too
    assert scrape("chatsvc_deliveries_total") == 3

    hub.join(alice, "#open")
    hub.set_modes(alice, "#open", [ModeChange(False, "n")])  # -n: outsiders may speak
    before = scrape("chatsvc_deliveries_total")
    hub.say(bob, "#open", "from outside")  # bob is not in #open: alice alone gets it
    assert scrape("chatsvc_deliveries_total") - before == 1
    hub.say(bob, "#open", "echoed from outside", echo=True)  # nobody to exclude
    assert scrape("chatsvc_deliveries_total") - before == 2


def test_private_messages_count_one_delivery_two_when_echoed():
    hub = make_hub()
    scrape = Scrape(hub)
    alice, bob = LineUser(hub), LineUser(hub)
    alice.send("#alice")
    bob.send("#bob")

    alice.send("@bob:psst")
    hub.whisper(bob.protocol, "alice", "echoed", echo=True)
    # To oneself with echo: delivered, then echoed (IRCv3 echo-message): two.
    hub.whisper(bob.protocol, "bob", "to myself", echo=True)

    assert scrape("chatsvc_messages_total", kind="private") == 3
    assert scrape("chatsvc_deliveries_total") == 1 + 2 + 2


def test_bytes_sent_are_every_byte_the_transports_received():
    net = Net()
    users = [LineUser(net.hub) for _ in range(3)] + [IRCUser(net) for _ in range(2)]
    scrape = Scrape(net.hub)
    for index, user in enumerate(users[:3]):
        user.send(f"#line{index}")
    for index, user in enumerate(users[3:]):
        user.send(f"NICK irc{index}", f"USER irc{index} 0 * :Real Name", "JOIN #chat")
    users[0].send("a line for everyone", "@irc0:and one for irc0")
    users[3].send("PRIVMSG #chat :from IRC")

    assert sent_to(*users) > 0
    assert scrape("chatsvc_sent_bytes_total") == sent_to(*users)


# -- connections ---------------------------------------------------------------------


def test_connections_by_protocol_now_and_since_the_start():
    net = Net()
    scrape = Scrape(net.hub)
    line = [net.line_user("alice"), net.line_user("bob")]
    irc = net.irc_user("carol")
    web = net.web_user("dave")

    assert [scrape("chatsvc_connections", protocol=p) for p in PROTOCOLS] == [2, 1, 1]
    assert scrape("chatsvc_registrations_total") == 4
    line[0].drop()
    irc.send("QUIT :bye")
    irc.drop()
    web.drop()
    assert [scrape("chatsvc_connections", protocol=p) for p in PROTOCOLS] == [1, 0, 0]
    assert len(net.hub.connections) == 1
    assert [scrape("chatsvc_connections_accepted_total", protocol=p)
            for p in PROTOCOLS] == [2, 1, 1]
    line[1].send("#bobby")  # a rename is not a registration
    assert scrape("chatsvc_registrations_total") == 4


def test_refused_connections_are_counted_by_code_and_not_accepted():
    hub = make_hub(max_clients=1)
    scrape = Scrape(hub)
    LineUser(hub)
    refused = LineUser(hub)
    assert refused.closed
    assert scrape("chatsvc_connections_refused_total", reason="server-full") == 1
    assert scrape("chatsvc_connections_accepted_total", protocol="line") == 1
    assert scrape("chatsvc_connections", protocol="line") == 1 == len(hub.connections)
    refused.drop()
    assert scrape("chatsvc_connections", protocol="line") == 1
    for code in REFUSALS:
        scrape("chatsvc_connections_refused_total", reason=code)  # present from the start


def test_users_rooms_operators_and_the_peak():
    hub = make_hub(opers={"root": "secret"})
    scrape = Scrape(hub)
    alice, bob = LineUser(hub), LineUser(hub)
    alice.send("#alice", "/join #rust")
    bob.send("#bob", "/oper root secret")
    assert (scrape("chatsvc_users"), scrape("chatsvc_rooms"), scrape("chatsvc_operators")) \
        == (2, 2, 1)
    alice.drop()
    assert (scrape("chatsvc_users"), scrape("chatsvc_users_peak"), scrape("chatsvc_rooms")) \
        == (1, 2, 1)


# -- drops, by reason ------------------------------------------------------------------


def test_drop_reasons_start_at_zero():
    scrape = Scrape(make_hub())
    assert [scrape("chatsvc_drops_total", reason=r) for r in DROP_REASONS] == [0] * 6


def test_a_flooder_is_counted_once():
    hub = make_hub(flood_rate=1, flood_burst=2, flood_queue=1, max_per_ip=0)
    scrape = Scrape(hub)
    flooder = LineUser(hub)
    flooder.send("#flooder", *["spam"] * 10)
    assert flooder.closed
    assert scrape("chatsvc_drops_total", reason="flood") == 1


def test_the_backlog_is_held_bytes_and_a_reader_past_it_is_a_drop():
    hub = make_hub(max_backlog=1000, max_per_ip=0, flood_rate=0)
    scrape = Scrape(hub)
    talker, stuck = LineUser(hub), LineUser(hub)
    talker.send("#talker")
    stuck.send("#stuck")
    stuck.transport.producer.pauseProducing()  # its socket buffer is full

    talker.send("x" * 100)
    held = scrape("chatsvc_backlog_bytes")
    assert held == len("<talker> " + "x" * 100 + "\r\n")
    stuck.transport.producer.resumeProducing()
    assert scrape("chatsvc_backlog_bytes") == 0

    stuck.transport.producer.pauseProducing()
    for _ in range(50):  # 5 KiB: past four times the limit, dropped at once
        talker.send("y" * 100)
    assert stuck.closed
    assert scrape("chatsvc_drops_total", reason="backlog") == 1
    assert scrape("chatsvc_backlog_bytes") == 0  # what it held is gone with it


def test_the_registration_timeout_is_a_drop():
    hub = make_hub(register_timeout=5)
    scrape = Scrape(hub)
    silent, quick = LineUser(hub), LineUser(hub)
    quick.send("#quick")
    hub.clock.advance(6)
    assert silent.closed and not quick.closed
    assert scrape("chatsvc_drops_total", reason="register-timeout") == 1


def test_irc_and_web_ping_timeouts_are_drops():
    net = Net(irc_ping_interval=10, irc_ping_timeout=10)
    scrape = Scrape(net.hub)
    irc = net.irc_user("carol")
    net.clock.advance(10)  # PING
    net.clock.advance(11)  # no PONG
    assert irc.closed
    assert scrape("chatsvc_drops_total", reason="ping-timeout") == 1
    web = WebUser(net.hub)
    net.clock.advance(web_protocol.PING_INTERVAL)
    net.clock.advance(web_protocol.PING_TIMEOUT)
    assert web.closed
    assert scrape("chatsvc_drops_total", reason="ping-timeout") == 2


def test_kills_and_failed_passwords_are_drops():
    hub = make_hub(opers={"root": "secret"}, max_per_ip=0)
    scrape = Scrape(hub)
    oper, victim, guesser = LineUser(hub), LineUser(hub), LineUser(hub)
    oper.send("#oper", "/oper root secret")
    victim.send("#victim")
    hub.kill(oper.protocol, "victim", "enough")
    assert victim.closed
    assert scrape("chatsvc_drops_total", reason="killed") == 1
    guesser.send("#guesser")
    for _ in range(20):
        if guesser.closed:
            break
        hub.clock.advance(120)  # past the back-off, so each guess counts
        guesser.send("/oper root wrong")
    assert guesser.closed
    assert scrape("chatsvc_drops_total", reason="failed-attempts") == 1


# -- reactor lag -----------------------------------------------------------------------


def lag_histogram(clock: Clock) -> tuple[ReactorLag, CollectorRegistry]:
    registry = CollectorRegistry()
    return ReactorLag(registry, clock), registry


def test_the_lag_probe_measures_how_late_its_timer_ran():
    clock = Clock()
    lag, registry = lag_histogram(clock)
    lag.startService()
    clock.advance(1.0)  # on time
    clock.advance(3.5)  # due at 2.0, ran at 4.5: 2.5 s late
    sample = registry.get_sample_value
    assert sample("chatsvc_reactor_lag_seconds_count") == 2
    assert sample("chatsvc_reactor_lag_seconds_sum") == 2.5
    assert sample("chatsvc_reactor_lag_seconds_bucket", {"le": "0.001"}) == 1
    assert sample("chatsvc_reactor_lag_seconds_bucket", {"le": "1.0"}) == 1
    assert sample("chatsvc_reactor_lag_seconds_bucket", {"le": "2.5"}) == 2
    clock.advance(0.5)  # due at 5.0, the next interval: on time again
    assert sample("chatsvc_reactor_lag_seconds_count") == 3
    assert sample("chatsvc_reactor_lag_seconds_sum") == 2.5
    lag.stopService()
    assert clock.getDelayedCalls() == []
    assert BUCKETS[0] == 0.001 and BUCKETS[-1] == 10.0


# -- /metrics over HTTP, in memory -----------------------------------------------------


def http_get(site, path: str = "/metrics", method: str = "GET", **headers: str) -> bytes:
    transport = StringTransport()
    channel = site.buildProtocol(None)
    channel.makeConnection(transport)
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    channel.dataReceived(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}"
                         "Connection: close\r\n\r\n".encode())
    return transport.value()


def test_the_site_serves_the_text_format_at_metrics():
    hub = make_hub()
    LineUser(hub).send("#alice")
    site, _ = metrics_for(hub)
    response = http_get(site)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"Content-Type: text/plain; version=0.0.4; charset=utf-8" in head
    assert b"Cache-Control: no-store" in head
    families = {family.name: family
                for family in text_string_to_metric_families(body.decode())}
    assert families["chatsvc_users"].samples[0].value == 1
    assert families["chatsvc_reactor_lag_seconds"].type == "histogram"
    assert "process_resident_memory_bytes" in families


def test_the_site_speaks_openmetrics_to_who_asks_and_404s_elsewhere():
    site, _ = metrics_for(make_hub())
    response = http_get(site, Accept="application/openmetrics-text; version=1.0.0")
    assert b"Content-Type: application/openmetrics-text" in response
    assert response.endswith(b"# EOF\n")
    assert http_get(site, "/").startswith(b"HTTP/1.1 404 ")
    assert http_get(site, "/metrics/more").startswith(b"HTTP/1.1 404 ")
    head = http_get(site, method="HEAD")
    assert head.startswith(b"HTTP/1.1 200 ") and b"chatsvc_users" not in head
    assert http_get(site, method="POST").startswith(b"HTTP/1.1 405 ")


def test_two_hubs_never_mix_their_samples():
    first, second = make_hub(), make_hub()
    LineUser(first).send("#alice")
    assert Scrape(first)("chatsvc_users") == 1
    assert Scrape(second)("chatsvc_users") == 0


# -- the option ------------------------------------------------------------------------


def parse(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


def test_metrics_are_off_by_default_and_a_listener_with_the_option():
    assert parse()["metrics_listeners"] == []
    options = parse("--metrics-port", "tcp:0:interface=127.0.0.1")
    assert [option for option, _ in options["metrics_listeners"]] == ["--metrics-port"]
    root = tap.makeService(options)
    [listener] = [child for child in root
                  if getattr(child, "option", None) == "--metrics-port"]
    assert listener.what == "metrics"
    assert any(isinstance(child, ReactorLag) for child in root)
    assert not any(isinstance(child, ReactorLag) for child in tap.makeService(parse()))


def test_without_the_extra_the_option_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    assert not metrics.available()
    with pytest.raises(tap.StartupFailure) as caught:
        parse("--metrics-port", "9715")
    message = str(caught.value)
    assert "\n" not in message and "pip install 'chatsvc[metrics]'" in message
    assert parse()["metrics_listeners"] == []  # nobody else needs it


def test_a_bad_endpoint_names_the_option():
    with pytest.raises(tap.StartupFailure, match="--metrics-port"):
        parse("--metrics-port", "tcp:nope")


def test_the_example_scrape_config_scrapes_the_example_listener():
    root = Path(__file__).resolve().parent.parent
    scrape_config = (root / "etc" / "prometheus.yml").read_text()
    example = (root / "etc" / "chat.toml").read_text()
    [port] = re.findall(r'^# metrics-port = "tcp:(\d+):interface=127\.0\.0\.1"$', example, re.M)
    assert re.findall(r'targets: \["([^"]+)"\]', scrape_config) == [f"127.0.0.1:{port}"]
    assert "metrics_path: /metrics" in scrape_config
