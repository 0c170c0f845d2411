"""`fx stream STRATEGY --live` end to end: a replay of the sample recording for market data, the fake
private venue as a real process for orders, `fx` as a real subprocess. An entry and an exit become
venue orders, fills come back, the journal holds them, --headless prints them, the results include
them, nothing is left open, and the keys appear nowhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fxcli.execution.journal import Journal
from tests.conftest import FIXTURES, REPO, run_fx
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET
from tests.live.private_venue import ROUND_TRIP, VenueProcess, btc_like, venue_process

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
LIMITS = ("--max-order", "100", "--max-total", "200", "--max-positions", "1", "--max-daily-loss", "50")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stream-live") / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root)).returncode == 0
    (root.parent / "round_trip.toml").write_text(ROUND_TRIP)
    # Enter and hold: the position stays open until something else closes it.
    (root.parent / "hold.toml").write_text(ROUND_TRIP.rsplit("[[ze1]]", 1)[0])
    return root


def start_live_stream(
    store: Path, venue: VenueProcess, tmp: Path, *extra: str, strategy: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`fx stream --live --headless` over the replay as a subprocess, JSON lines on its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")} | venue.env | (env or {})
    args = [sys.executable, "-m", "fxcli", "stream", str(store.parent / f"{strategy}.toml")]
    args += ["--replay", str(store), "--speed", "5", "--live", "--headless", *LIMITS]
    args += ["--journal", str(tmp / "journal.sqlite"), "--out", str(tmp / "out")]
    args += ["--variants-dir", str(REPO / "variants"), *extra]
    return subprocess.Popen(args, env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def live_stream(
    store: Path,
    venue: VenueProcess,
    tmp: Path,
    *extra: str,
    until: Callable[[dict[str, Any]], bool] = lambda doc: doc["type"] == "trade",
    then: Callable[[subprocess.Popen[str]], None] = lambda proc: proc.send_signal(signal.SIGINT),
    strategy: str = "round_trip",
    timeout_s: float = 60.0,
) -> tuple[int, list[dict[str, Any]], str]:
    """Run `fx stream --live --headless` over the replay until a line `until` says, then `then` the
    process (SIGINT by default); the exit code, the JSON lines and stderr."""
    proc = start_live_stream(store, venue, tmp, *extra, strategy=strategy)
    assert proc.stdout is not None
    docs = []
    deadline = time.monotonic() + timeout_s
    for line in proc.stdout:
        docs.append(json.loads(line))
        if until(docs[-1]) or time.monotonic() > deadline:
            break
    then(proc)
    rest, err = proc.communicate(timeout=60)
    docs += [json.loads(line) for line in rest.splitlines()]
    return proc.returncode, docs, err


def test_stream_live_entry_and_exit_become_venue_orders_with_fills_journaled_and_reported(
    store: Path, tmp_path: Path
) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue, "61800")

        code, docs, err = live_stream(store, venue, tmp_path)
        ledger = venue.admin("ledger")
        open_fx = venue.open_fx_orders()

    assert code == 0, err
    assert err.startswith("LIVE: real orders on MEXC spot at http://127.0.0.1:")
    orders = [d for d in docs if d["type"] == "order"]
    filled = {(d["role"], d["side"]) for d in orders if d["state"] == "FILLED"}
    assert {("entry", "BUY"), ("exit", "SELL")} <= filled
    assert [d["action"] for d in docs if d["type"] == "fill"][:2] == ["open", "close"]
    assert {d["source"] for d in docs if d["type"] == "fill"} == {"venue"}
    trades = [d for d in docs if d["type"] == "trade"]
    assert trades, docs
    # The venue holds exactly the orders fx journaled, one per client id, none open.
    venue_orders = {o["clientOrderId"]: o for o in ledger["orders"]}
    assert set(ledger["orders_per_client_id"].values()) == {1}
    assert open_fx == []
    with Journal.open(tmp_path / "journal.sqlite") as journal:
        journaled = {o.client_id: o for o in journal.orders()}
        fills = {t.trade_id: t for t in journal.fills()}
    assert set(journaled) == set(venue_orders)
    assert {o.state.value for o in journaled.values()} == {"FILLED"}
    assert set(fills) == set(ledger["trades"])  # the fill ledger equals the venue's trades
    for trade_id, trade in ledger["trades"].items():
        assert fills[trade_id].qty == Decimal(trade["qty"])
    # The session's results include the run's orders and fills.
    summary_doc = docs[-1]
    assert summary_doc["type"] == "summary"
    written = json.loads((Path(summary_doc["out_dir"]) / "summary.json").read_text())
    live = written["live"]
    assert {o["client_id"] for o in live["orders"]} == set(venue_orders)
    assert {f["trade_id"] for f in live["fills"]} == set(ledger["trades"])
    assert live["open_at_exit"] == 0
    assert live["reconcile"]["consistent"] is True
    # Keys: in no output and no file of the run.
    everything = (
        json.dumps(docs)
        + err
        + "".join(p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*.json"))
    )
    assert DOC_KEY not in everything
    assert DOC_SECRET not in everything
    assert DOC_SECRET.encode() not in (tmp_path / "journal.sqlite").read_bytes()


def test_stream_live_dry_run_sends_test_orders_and_places_nothing(store: Path, tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue, "61800")

        code, docs, err = live_stream(store, venue, tmp_path, "--dry-run-orders")
        ledger = venue.admin("ledger")
        tested = [r for r in venue.admin("requests") if r["path"] == "/api/v3/order/test"]

    assert code == 0, err
    assert err.startswith("LIVE DRY RUN (orders go to /api/v3/order/test; nothing is placed)")
    assert ledger["orders"] == []
    assert len(tested) >= 2  # the entry and the exit, validated by the venue
    assert {d["state"] for d in docs if d["type"] == "order"} == {"TESTED"}
    assert [d for d in docs if d["type"] == "trade"]  # filled on paper


def test_stream_live_refused_keys_stop_before_the_strategy_acts(store: Path, tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue, "61800")
        venue.admin("revoke_key", api_key=DOC_KEY)

        code, _, err = live_stream(store, venue, tmp_path, until=lambda doc: False, timeout_s=20)
        ledger = venue.admin("ledger")

    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("fx: error: http://127.0.0.1:")
    assert "api_key_invalid" in lines[-1] or "10072" in lines[-1]
    assert ledger["orders"] == []
    assert DOC_SECRET not in err


def is_open_fill(doc: dict[str, Any]) -> bool:
    return bool(doc["type"] == "fill" and doc["action"] == "open")


def test_stream_live_restarted_after_kill_9_recognises_its_position_and_takes_no_entry_on_it(
    store: Path, tmp_path: Path
) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue, "61800")
        first_code, first, _ = live_stream(
            store, venue, tmp_path, strategy="hold", until=is_open_fill, then=kill_9
        )

        code, docs, err = live_stream(
            store,
            venue,
            tmp_path,
            strategy="hold",
            until=lambda doc: doc["type"] == "order" and doc["state"] == "REFUSED",
        )
        ledger = venue.admin("ledger")

    assert first_code == -signal.SIGKILL
    assert code == 0, err
    reconciled = next(d for d in docs if d["type"] == "status" and d["kind"] == "live")
    assert '"consistent": true' in reconciled["detail"]
    refused = next(d for d in docs if d["type"] == "order" and d["state"] == "REFUSED")
    assert refused["detail"].startswith("BTCUSDT: holds 0.000807")
    assert refused["detail"].endswith("from an earlier run; fx flatten --symbol BTCUSDT closes it")
    assert [o["side"] for o in ledger["orders"]] == ["BUY"]  # the restart sent nothing
    assert [d for d in first if is_open_fill(d)]


def kill_9(proc: subprocess.Popen[str]) -> None:
    proc.kill()


def test_stream_live_sigusr1_stops_entries_and_says_so(store: Path, tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue, "61800")

        def stop_entries_then_stop(proc: subprocess.Popen[str]) -> None:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            proc.send_signal(signal.SIGINT)

        code, docs, err = live_stream(
            store, venue, tmp_path, strategy="hold", until=is_open_fill, then=stop_entries_then_stop
        )

    assert code == 0, err
    notes = [d for d in docs if d["type"] == "status" and d["kind"] == "entries_stopped"]
    assert [n["detail"] for n in notes] == ["SIGUSR1"]
