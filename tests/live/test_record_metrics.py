"""`fx record --metrics`: Prometheus scraped from a real `fx record` subprocess against the fake MEXC venue.

The scrape is parsed with prometheus_client's own text parser; its counters must equal the
recorder's stats line taken while the venue is paused (nothing moves), and a forced disconnect must
show as disconnect gaps with their seconds.
"""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO
from tests.fake_mexc import FakeMexc, Venue
from tests.live.support import run, until
from tests.live.test_record import SPOT, lines, start_recorder, trades_stored, wait_exit

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> tuple[str, Samples]:
    """The exposition's content type and every sample, keyed by name and sorted labels."""
    with urllib.request.urlopen(url, timeout=5) as response:
        kind, text = response.headers["Content-Type"], response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return kind, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample (KeyError names it when it is missing)."""
    return samples[(name, tuple(sorted({"venue": "mexc-spot", **labels}.items())))]


def open_gaps(samples: Samples) -> float:
    """Symbols inside a disconnect gap, as scraped."""
    return samples.get(("fx_record_open_gaps", (("reason", "disconnect"), ("venue", "mexc-spot"))), 0.0)


def stats_lines(out: Path) -> list[dict[str, Any]]:
    return [e for e in lines(out) if e["event"] == "stats"]


def test_record_metrics_match_the_stats_and_show_a_forced_disconnect(tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"

    async def scenario() -> tuple[int, str, Samples, dict[str, Any], Samples, Samples]:
        async with FakeMexc(Venue.SPOT, SPOT) as venue:
            proc = start_recorder(venue, data_dir, out, "--flush-s", "0.5", "--metrics", "0")
            try:
                await until(lambda: any(e["event"] == "metrics" for e in lines(out)), 8.0, "the metrics URL")
                url = next(e["url"] for e in lines(out) if e["event"] == "metrics")
                await until(lambda: trades_stored(data_dir, "mexc-spot", SPOT) > 30, 8.0, "stored trades")
                _, before = await asyncio.to_thread(scrape, url)
                venue.block("BUSDT", times=2)  # BUSDT's gap stays open over two refused subscriptions
                await venue.disconnect_all(code=None)  # TCP dropped without a close frame: a gap
                for _ in range(250):
                    _, during = await asyncio.to_thread(scrape, url)
                    if open_gaps(during):
                        break
                await until(lambda: len(venue.open_clients()) == 1, 5.0, "a reconnect")

                async def gaps_stored() -> bool:
                    _, now = await asyncio.to_thread(scrape, url)
                    return (
                        now.get(
                            ("fx_record_gaps_total", (("reason", "disconnect"), ("venue", "mexc-spot"))), 0
                        )
                        >= 3
                    )

                for _ in range(100):
                    if await gaps_stored():
                        break
                    await asyncio.sleep(0.1)
                venue.pause()  # nothing moves now: the stats line and a scrape must agree
                seen = len(stats_lines(out))
                await until(lambda: len(stats_lines(out)) >= seen + 3, 8.0, "stats lines while paused")
                await until(
                    lambda: stats_lines(out)[-1]["frames"] == stats_lines(out)[-2]["frames"],
                    8.0,
                    "a still recorder",
                )
                kind, after = await asyncio.to_thread(scrape, url)
                last = stats_lines(out)[-1]
                proc.send_signal(signal.SIGINT)
                code = await wait_exit(proc, 8.0)
            finally:
                if proc.poll() is None:
                    proc.kill()
            return code, kind, after, last, before, during

    code, kind, after, last, before, during = run(scenario(), 40.0)

    assert code == 0, out.with_suffix(".err").read_text()[-2000:]
    assert kind.startswith("text/plain; version=0.0.4")
    assert last["frames"] > 0
    assert last["trades"] > 30
    assert value(after, "fx_record_frames_total") == last["frames"]
    assert value(after, "fx_record_received_bytes_total") == last["bytes_in"]
    assert value(after, "fx_record_trades_total") == last["trades"]
    assert value(after, "fx_record_duplicates_total") == last["duplicates_dropped"]
    assert value(after, "fx_record_rows_written_total") == last["rows_written"]
    assert value(after, "fx_record_decode_problems_total", what="problem") == last["undecodable"]
    assert value(after, "fx_record_symbols_live") == last["symbols_live"] == len(SPOT)
    for reason, count in last["gaps"].items():
        assert value(after, "fx_record_gaps_total", reason=reason) == count
    assert last["gaps"]["disconnect"] >= len(SPOT)
    assert value(after, "fx_record_gap_seconds_total", reason="disconnect") > 0
    assert ("fx_record_gaps_total", (("reason", "disconnect"), ("venue", "mexc-spot"))) not in before
    assert sum(v for (n, _), v in after.items() if n == "fx_record_disconnects_total") >= 1
    assert open_gaps(during) >= 1  # seen while the gap was open
    assert open_gaps(after) == 0  # all closed again
    assert value(after, "fx_record_events_total", kind="Trade") >= last["trades"]
    for symbol in SPOT:
        assert value(after, "fx_record_book_synced", symbol=symbol) == 1
    assert after[("fx_record_write_seconds_count", ())] > 0
    assert value(after, "fx_record_writer_queue_depth", writer="store") >= 0
    assert value(after, "fx_record_writer_overflow_total", writer="store") == 0 == last["overflow_rows"]
    readme = (REPO / "README.md").read_text()
    for name in {
        n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum").removesuffix("_created")
        for n, _ in after
    }:
        assert f"`{name}" in readme, name  # every metric is explained to the user
