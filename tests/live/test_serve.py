"""`fx stream --replay … --serve`: real websockets clients on a real `fx stream` subprocess.

One paced replay of two symbols (one with a recorded gap) serves four clients at once: one reads
everything, one asks for a symbol and two types, one sends a bad subscription, and one stops reading
(it must be dropped). The session's decisions are compared with a run without `--serve`.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import FIXTURES, REPO, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
DEMO = ("--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"))
SYMBOLS = ["BTCUSDT", "ETHUSDT"]

# Every field each message type carries (schema v1; README.md).
HEAD = {"v", "type", "ts_ns", "time"}
SCHEMA: dict[str, set[str]] = {
    "hello": {"v", "type", "session", "types", "rate_per_s"},
    "subscribed": {"v", "type", "symbols", "types"},
    "error": {"v", "type", "message"},
    "snapshot": HEAD
    | {
        "symbol",
        "events",
        "price",
        "bid",
        "ask",
        "state",
        "position",
        "equity",
        "pnl",
        "trades",
        "indicators",
    },
    "transition": HEAD | {"symbol", "from_state", "to_state", "group", "values"},
    "order": HEAD
    | {"symbol", "order_id", "action", "side", "qty", "filled_qty", "price", "status", "paper", "reason"},
    "fill": HEAD
    | {
        "symbol",
        "order_id",
        "action",
        "side",
        "qty",
        "price",
        "notional",
        "fee",
        "source",
        "levels",
        "decided_ts_ns",
        "cost_bps",
        "paper",
    },
    "trade": HEAD
    | {
        "symbol",
        "side",
        "entry_ts_ns",
        "exit_ts_ns",
        "qty",
        "entry_price",
        "exit_price",
        "fees",
        "pnl",
        "exit_reason",
    },
    "gap": HEAD | {"symbol", "kind", "detail"},
    "status": HEAD | {"symbol", "kind", "detail"},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two symbols from the shipped capture: BTCUSDT with a depth diff cut out (a version_jump gap),
    and the same capture renamed ETHUSDT."""
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines(keepends=True)
    folder = tmp_path_factory.mktemp("serve")
    depth = [i for i, line in enumerate(lines) if b"@depth" in line]
    cut = lines[: depth[len(depth) // 3]] + lines[depth[len(depth) // 3] + 1 :]
    renamed = [line.replace(b"btcusdt", b"ethusdt").replace(b"BTCUSDT", b"ETHUSDT") for line in lines]
    root = folder / "data"
    for name, content in (("btc.gz", cut), ("eth.gz", renamed)):
        (folder / name).write_bytes(gzip.compress(b"".join(content)))
        result = run_fx("import", "binance", str(folder / name), "--data-dir", str(root))
        assert result.returncode == 0, result.stderr
    return root


def stream_args(store: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fxcli",
        "stream",
        "momentum_scalper",
        *DEMO,
        "--replay",
        str(store),
        "--headless",
        "--out",
        str(out),
        *extra,
    ]


@dataclass
class Served:
    """What one served session showed its clients."""

    everything: list[dict[str, Any]] = field(default_factory=list)
    filtered: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    status_mid: dict[str, Any] = field(default_factory=dict)
    status_dropped: dict[str, Any] = field(default_factory=dict)
    metrics_at_trade: str = ""
    trades_seen_at_scrape: int = 0
    code: int = -1
    stdout: str = ""
    stderr: str = ""
    out: Path = Path()


def _get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


async def _until_port(proc: subprocess.Popen[str], lines: list[str]) -> int:
    """The port `fx stream` announced in its `serving` status line (it was given port 0)."""
    for _ in range(400):
        for line in list(lines):
            doc = json.loads(line)
            if doc.get("kind") == "serving":
                return int(doc["detail"].split()[0].rsplit(":", 1)[1])
        if proc.poll() is not None:
            raise AssertionError(f"fx stream ended early: {proc.stderr.read() if proc.stderr else ''}")
        await asyncio.sleep(0.025)
    raise AssertionError("fx stream never said where it serves")


async def _read_all(ws: ClientConnection, into: list[dict[str, Any]], on_trade: Any = None) -> None:
    try:
        async for message in ws:
            doc = json.loads(message)
            into.append(doc)
            if doc["type"] == "trade" and on_trade is not None:
                await on_trade()
    except ConnectionClosed:
        pass


def _stalled_socket(port: int) -> socket.socket:
    """A connected socket with a tiny receive buffer: a client that stops reading fills it at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


@pytest.fixture(scope="module")
def served(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Served:
    out = tmp_path_factory.mktemp("served")
    result = Served(out=out)
    args = stream_args(
        store, out, "--serve", "0", "--serve-rate", "50", "--serve-queue", "50", "--speed", "25"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=out, env=env)
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()

    async def scenario() -> None:
        port = await _until_port(proc, lines)
        base = f"http://127.0.0.1:{port}"
        url = f"ws://127.0.0.1:{port}/"
        everything = await connect(url)
        filtered = await connect(url)
        refused = await connect(url)
        stalled = await connect(url, sock=_stalled_socket(port))
        result.everything.append(json.loads(await everything.recv()))  # hello
        for ws in (filtered, refused, stalled):
            await ws.recv()
        await everything.send(json.dumps({"type": "subscribe"}))
        await filtered.send(
            json.dumps({"type": "subscribe", "symbols": ["ETHUSDT"], "types": ["transition", "snapshot"]})
        )
        await refused.send(json.dumps({"type": "subscribe", "types": ["snapshot", "candles"]}))
        await stalled.send(json.dumps({"type": "subscribe"}))
        stalled.transport.pause_reading()  # from now on it never reads its socket: a stuck client
        result.refused.append(json.loads(await refused.recv()))
        result.status_mid = json.loads(_get(base + "/status")[1])

        async def scrape() -> None:
            if not result.metrics_at_trade:
                result.trades_seen_at_scrape = sum(1 for d in result.everything if d["type"] == "trade")
                result.metrics_at_trade = (await asyncio.to_thread(_get, base + "/metrics"))[1]

        async def watch_drop() -> None:
            for _ in range(400):
                try:
                    status = json.loads((await asyncio.to_thread(_get, base + "/status"))[1])
                except OSError:  # the session ended and took its server with it
                    return
                if status["clients_dropped"]:
                    result.status_dropped = status
                    return
                await asyncio.sleep(0.025)

        await asyncio.gather(
            _read_all(everything, result.everything, scrape),
            _read_all(filtered, result.filtered),
            watch_drop(),
        )
        for ws in (refused, stalled):
            await ws.close()

    with proc:  # closes its pipes at the end
        try:
            asyncio.run(asyncio.wait_for(scenario(), 60.0))
            result.code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        reader.join(timeout=5)
        result.stdout = "".join(lines)
        result.stderr = proc.stderr.read() if proc.stderr else ""
    return result


def _stored(out: Path, table: str) -> pl.DataFrame:
    """One table of the session written under `out`, over both symbols."""
    (folder,) = [p for p in out.iterdir() if p.name.startswith("stream-")]
    return pl.concat([pl.read_parquet(folder / symbol / table) for symbol in SYMBOLS])


def test_serve_sends_every_message_type_in_schema_v1(served: Served) -> None:
    docs = served.everything

    kinds = {d["type"] for d in docs}

    assert served.code == 0, served.stderr[-2000:]
    assert kinds == {
        "hello",
        "subscribed",
        "snapshot",
        "transition",
        "order",
        "fill",
        "trade",
        "gap",
        "status",
    }
    for doc in docs:
        assert doc["v"] == 1
        assert set(doc) == SCHEMA[doc["type"]], doc
    hello = docs[0]
    assert hello["session"]["symbols"] == SYMBOLS
    assert hello["session"]["mode"] == "replay"
    gaps = [d for d in docs if d["type"] == "gap"]
    assert any(d["symbol"] == "BTCUSDT" and "version_jump" in d["detail"] for d in gaps)
    assert docs[-1]["type"] == "status"
    assert docs[-1]["kind"] == "session_ended"
    fills = [d for d in docs if d["type"] == "fill"]
    orders = {d["order_id"]: d for d in docs if d["type"] == "order"}
    assert fills
    assert all(orders[f["order_id"]]["status"] in ("filled", "partially_filled") for f in fills)


def test_served_transitions_carry_the_values_that_decided_them_as_the_session_stored(served: Served) -> None:
    stored = _stored(served.out, "transitions.parquet")
    sent = [d for d in served.everything if d["type"] == "transition"]

    assert len(sent) == stored.height >= 10
    by_key = {(d["symbol"], d["ts_ns"], d["to_state"]): d for d in sent}
    for row in stored.iter_rows(named=True):
        doc = by_key[(row["symbol"], row["ts_ns"], row["to"])]
        assert (doc["from_state"], doc["group"]) == (row["from"], row["group"])
        assert doc["values"] == json.loads(row["values"])
    decided = [d for d in sent if d["group"] == "s1"]
    assert decided
    assert all(d["values"] and all(isinstance(v, float) for v in d["values"].values()) for d in decided)


def test_a_subscription_chooses_symbols_and_types(served: Served) -> None:
    docs = served.filtered

    kinds = {d["type"] for d in docs}

    assert docs[0] == {
        "v": 1,
        "type": "subscribed",
        "symbols": ["ETHUSDT"],
        "types": ["transition", "snapshot"],
    }
    assert kinds == {"subscribed", "transition", "snapshot"}
    assert {d["symbol"] for d in docs[1:]} == {"ETHUSDT"}
    everything_eth = [d for d in served.everything if d["type"] == "transition" and d["symbol"] == "ETHUSDT"]
    assert [d for d in docs if d["type"] == "transition"] == everything_eth


def test_a_bad_subscription_is_answered_with_an_error_naming_it(served: Served) -> None:
    (answer,) = served.refused

    assert answer["type"] == "error"
    assert "types: candles not one of snapshot, transition" in answer["message"]


def test_a_client_that_stops_reading_is_dropped_and_counted(served: Served) -> None:
    status = served.status_dropped

    assert status, "the stalled client was never dropped"
    assert status["clients_dropped"] == 1
    assert status["clients_connected"] == 4
    assert served.status_mid["session"]["symbols"] == SYMBOLS


def test_a_dropped_client_leaves_the_decisions_as_without_serve(
    served: Served, store: Path, tmp_path: Path
) -> None:
    plain = subprocess.run(
        stream_args(store, tmp_path), capture_output=True, text=True, cwd=tmp_path, check=False
    )

    assert plain.returncode == 0, plain.stderr
    for table in ("transitions.parquet", "trades.parquet"):
        with_serve, without = _stored(served.out, table), _stored(tmp_path, table)
        assert with_serve.equals(without), table
    assert _stored(tmp_path, "trades.parquet").height >= 1


def test_metrics_on_the_serve_port_count_what_the_clients_were_sent(served: Served) -> None:
    families = {f.name: f for f in text_string_to_metric_families(served.metrics_at_trade)}

    def total(name: str, **labels: str) -> float:
        return sum(
            s.value
            for s in families[name].samples
            if s.name == name + "_total" and all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert served.metrics_at_trade, "no trade was served"
    assert total("fx_stream_trades") >= served.trades_seen_at_scrape >= 1
    assert total("fx_stream_fills", paper="true") >= 2 * served.trades_seen_at_scrape
    assert total("fx_stream_orders", status="filled") + total(
        "fx_stream_orders", status="partially_filled"
    ) == total("fx_stream_fills")
    states = families["fx_stream_strategy_symbols"].samples
    assert sum(s.value for s in states) == len(SYMBOLS)
    assert total("fx_stream_transitions", group="s1") >= 1
    assert families["fx_serve_clients_connected"].samples[0].value == 4
    latency = families["fx_stream_tick_to_decision_seconds"]
    assert latency.type == "histogram"
    readme = (REPO / "README.md").read_text()
    for name, family in families.items():  # every metric is explained to the user
        assert f"`{name}_total" in readme if family.type == "counter" else f"`{name}" in readme, name


def test_stream_metrics_on_a_port_of_their_own_are_announced_and_scraped(store: Path, tmp_path: Path) -> None:
    args = stream_args(store, tmp_path, "--metrics", "0", "--speed", "40")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
    scraped = ""
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                doc = json.loads(line)
                if doc.get("kind") == "metrics":
                    kind, scraped = _get(doc["detail"])
                    break
            proc.stdout.read()
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()

    families = {f.name: f for f in text_string_to_metric_families(scraped)}
    assert code == 0
    assert kind.startswith("text/plain")
    assert doc["detail"].startswith("http://127.0.0.1:")
    assert sum(s.value for s in families["fx_stream_strategy_symbols"].samples) in (0, len(SYMBOLS))
    assert "fx_serve_clients" not in families  # no feed: only the session's metrics
