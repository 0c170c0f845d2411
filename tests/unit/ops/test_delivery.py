"""Senders and the notifier against a real HTTP server on 127.0.0.1: retries, pacing, closing, reporting,
the daily summary."""

from __future__ import annotations

import threading
import time

from fxcli.live.feed import StatusNote
from fxcli.ops.delivery import Message, Sender
from fxcli.ops.destinations import Destination, RateLimit
from fxcli.ops.notify import Event, Notifier, NotifyConfig
from fxcli.settings import Settings
from tests.cli.notify_server import NotifyServer

FAST = RateLimit(100, 1.0)


def _message(n: int) -> Message:
    return Message("exit", f"message {n}", {"n": n})


def _sender(
    server: NotifyServer, path: str, reports: list[str], limit: RateLimit = FAST, **kw: float
) -> Sender:
    dest = Destination("webhook", "webhook test", server.url + path, limit)
    return Sender(
        dest, reports.append, timeout_s=kw.get("timeout_s", 2.0), max_queued=int(kw.get("max_queued", 100))
    )


def _drain(sender: Sender, grace_s: float = 10.0) -> None:
    sender.close(time.monotonic() + grace_s)
    sender.join()


def test_sender_retries_5xx_and_timeouts_then_delivers_in_order() -> None:
    reports: list[str] = []
    with NotifyServer() as server:
        server.script["/h"].extend(["500", "200", "hang:5", "200", "503"])
        sender = _sender(server, "/h", reports, timeout_s=0.3)
        sender.start()
        for n in range(3):
            sender.put(_message(n))

        _drain(sender)

        assert [b["n"] for b in server.bodies("/h")] == [0, 1, 2]
    assert (sender.stats.sent, sender.stats.retries, sender.stats.failed) == (3, 3, 0)
    assert reports == []


def test_sender_honours_retry_after_header_and_telegram_body() -> None:
    with NotifyServer() as server:
        server.script["/h"].extend(["429:1.2", "429json:1"])
        sender = _sender(server, "/h", [])
        sender.start()
        sender.put(_message(0))

        _drain(sender)

        asked = server.times("/h", 429)
        done = server.times("/h", 200)
    assert len(asked) == 2
    assert len(done) == 1
    assert asked[1] - asked[0] >= 1.2  # lower bounds: a slow machine only makes them longer
    assert done[0] - asked[1] >= 1.0


def test_sender_paces_to_the_rate_limit() -> None:
    with NotifyServer() as server:
        sender = _sender(server, "/h", [], limit=RateLimit(2, 1.0))
        sender.start()
        for n in range(5):
            sender.put(_message(n))

        _drain(sender)

        times = server.times("/h")
    assert len(times) == 5
    assert times[2] - times[0] >= 0.99
    assert times[4] - times[2] >= 0.99


def test_sender_reports_a_failing_destination_once_and_counts_the_rest() -> None:
    reports: list[str] = []
    with NotifyServer() as server:
        server.always["/gone/s3cr3t"] = "404"
        sender = _sender(server, "/gone/s3cr3t", reports)
        sender.start()
        for n in range(4):
            sender.put(_message(n))

        _drain(sender)

    assert (sender.stats.failed, sender.stats.sent, sender.stats.retries) == (4, 0, 0)
    assert len(reports) == 1
    assert "webhook test is failing (HTTP 404 Not Found)" in reports[0]
    assert "s3cr3t" not in reports[0]


def test_sender_put_never_blocks_on_a_hung_destination_and_close_keeps_its_deadline() -> None:
    with NotifyServer() as server:
        server.always["/h"] = "hang:30"
        sender = _sender(server, "/h", [], timeout_s=20.0, max_queued=5)
        sender.start()

        def put_all() -> None:
            for n in range(50):
                sender.put(_message(n))

        putting = threading.Thread(target=put_all, daemon=True)  # a blocking put must fail, not hang
        putting.start()
        putting.join(5.0)
        is_blocked = putting.is_alive()

        closed_at = time.monotonic()
        _drain(sender, grace_s=0.5)
        closing_s = time.monotonic() - closed_at

    assert not is_blocked
    assert sender.stats.dropped >= 50 - 5 - 1  # the queue's 5, and the one inside the hung request
    assert closing_s < 5.0  # the grace was 0.5 s: far from the 20 s request timeout
    assert sender.stats.sent == 0
    assert sender.stats.dropped + sender.stats.undelivered == 50


def test_notifier_sends_a_daily_summary_when_the_notes_cross_midnight_and_one_at_close() -> None:
    day_ns = 86_400 * 10**9
    midnight = 19_944 * day_ns  # 2024-08-09T00:00:00Z
    with NotifyServer() as server:
        dest = Destination("webhook", "webhook test", server.url + "/d", FAST)
        config = NotifyConfig((dest,), frozenset({Event.GAP, Event.DAILY}), 2.0)
        reports: list[str] = []
        notifier = Notifier(config, reports.append, wall_clock=False)  # a replay: days by the notes' times
        notifier.start()
        for ts_ns in (midnight - 5 * 10**9, midnight - 10**9, midnight + 10**9):
            notifier.offer(StatusNote(ts_ns, "gap", "lost", "BTCUSDT"))
        notifier.offer(StatusNote(midnight + 2 * 10**9, "connected", "not an event anyone asked for"))

        stats = notifier.close()

        bodies = server.bodies("/d")
    assert [(b["event"], b.get("date"), b.get("partial")) for b in bodies] == [
        ("gap", None, None),
        ("gap", None, None),
        ("daily", "2024-08-08", False),
        ("gap", None, None),
        ("daily", "2024-08-09", True),
    ]
    assert (bodies[2]["gaps"], bodies[4]["gaps"]) == (2, 1)
    assert stats.destinations[0]["sent"] == 5
    assert reports == []


def test_notify_list_from_the_environment_is_split_on_spaces() -> None:
    settings = Settings(notify="http://127.0.0.1:9/a  telegram://-100123")

    assert settings.notify == ("http://127.0.0.1:9/a", "telegram://-100123")
