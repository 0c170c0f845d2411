"""Benchmark: what `--notify` costs `fx stream`'s engine, against the same replay without it.

One run, three configurations of `fx stream --replay --speed S --headless` over the shipped sample,
with a strategy that enters and leaves about every second (many notes: signals, fills, exits):

- the peer: no `--notify`;
- `--notify` to a webhook, a Telegram and a Discord endpoint (a real HTTP server on 127.0.0.1,
  `tests/cli/notify_server.py`), every event on;
- `--notify` to a webhook that never answers (every request hangs).

A paced replay measures tick-to-decision (receipt of an event to the strategy's decision) as live
does; each configuration runs `--repeats` times, interleaved, and the median p50 / p99 is compared
with the peer's. The decisions (transitions, trades) must be the same in all three: the run says so.
Nothing is asserted: it is not a test.

Run: `.venv/bin/python bench/notify.py [--speed S] [--repeats N]`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.cli.notify_server is the endpoint

from report import Layout, Line, Run, argument_parser  # noqa: E402

from tests.cli.notify_server import NotifyServer  # noqa: E402
from tests.cli.test_bad_input_sweep import STRATEGY  # noqa: E402  (a strategy that trades every second)

SAMPLE = REPO / "tests" / "fixtures" / "binance-spot" / "btcusdt_20240808_excerpt.gz"
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345"
LAYOUT = Layout(
    "ratio = fx with --notify / the same replay without it (lower is better; 1.00x: no cost)",
    fx_width=10,
    peer_name_width=0,
    peer_width=0,
    ratio_width=0,
    ratio_heading="",
    script="bench/notify.py",
    not_met="NOT met",
)


def _fx(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fxcli", *args], capture_output=True, text=True, check=True, env=env
    )


def _replay(
    root: Path, out: Path, speed: float, notify: tuple[str, ...], env: dict[str, str]
) -> dict[str, Any]:
    dirs = ("--strategies-dir", str(root / "strategies"), "--variants-dir", str(REPO / "variants"))
    args = ("stream", "busy", "--replay", str(root / "data"), "--speed", str(speed), "--headless")
    _fx(*args, "--out", str(out), *dirs, *notify, env=env)
    [summary] = out.glob("*/summary.json")
    doc: dict[str, Any] = json.loads(summary.read_text())
    summary.unlink()
    return doc


def _decisions(doc: dict[str, Any]) -> tuple[object, ...]:
    metrics = doc["symbols"]["BTCUSDT"]["metrics"]
    return metrics["# Trades"], metrics["Final balance"]


def main() -> None:
    """Measure the three configurations, print the figures and the README block."""
    parser = argument_parser(__doc__)
    parser.add_argument("--speed", type=float, default=20.0, help="replay pace (x the recorded pace)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration")
    args = parser.parse_args()
    run = Run(LAYOUT)
    with tempfile.TemporaryDirectory() as tmp, NotifyServer() as server:
        root = Path(tmp)
        (root / "strategies").mkdir()
        (root / "strategies" / "busy.toml").write_text(STRATEGY)
        _fx("import", "binance", str(SAMPLE), "--data-dir", str(root / "data"))
        server.always["/hung"] = "hang:600"
        env = {"FX_TELEGRAM_TOKEN": TOKEN, "FX_TELEGRAM_API_URL": server.url}
        env |= {"FX_DISCORD_API_URL": server.url + "/api", "PATH": "/usr/bin:/bin"}
        every = ("--notify-on", "signal,entry,exit,fill,gap,error,daily")
        configs: dict[str, tuple[str, ...]] = {
            "without --notify": (),
            "3 destinations, every event": (
                *("--notify", server.url + "/hook", "--notify", "telegram://-100123"),
                *("--notify", "https://discord.com/api/webhooks/1/tok", *every),
            ),
            "a webhook that never answers": ("--notify", server.url + "/hung", *every),
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
        for _ in range(args.repeats):  # interleaved: a load spike hits every configuration alike
            for name, notify in configs.items():
                runs[name].append(_replay(root, root / "out", args.speed, notify, env))
    lines, notes = [], []
    peer = runs["without --notify"]
    decided = {name: {_decisions(d) for d in docs} for name, docs in runs.items()}
    same = len(set().union(*decided.values())) == 1
    notes.append(
        f"decisions (trades, final balance) {'the same in every run' if same else 'DIFFER'}: {decided}"
    )
    for name in list(configs)[1:]:
        for pct in ("p50", "p99"):
            fx_us = statistics.median(d["stream"]["tick_to_decision_us"][pct] for d in runs[name])
            peer_us = statistics.median(d["stream"]["tick_to_decision_us"][pct] for d in peer)
            lines.append(
                Line(
                    "tick-to-decision",
                    f"{pct}, --notify to {name}",
                    f"{fx_us:,.1f} µs",
                    "",
                    f"without {peer_us:,.1f} µs",
                    f"{fx_us / peer_us:.2f}x",
                    "—",
                    None,
                )
            )
        sent = [sum(x["sent"] for x in d["stream"]["notify"]["destinations"]) for d in runs[name]]
        notes.append(f"{name}: messages sent per run {sent}")
    run.finish(lines, notes=notes, measured_on=f"--speed {args.speed:g}, {args.repeats} runs each")


if __name__ == "__main__":
    main()
