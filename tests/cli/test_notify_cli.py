"""`fx stream --replay ... --notify URL` as a user runs it, against a real HTTP server on 127.0.0.1 acting
as a webhook, Telegram's bot API and Discord's webhooks: payloads, retries, pacing, a dead or hung
destination, secrets, and bad values."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from fxcli.ops.notify import CLOSE_GRACE_S
from tests.cli import test_backtest_cli
from tests.cli.notify_server import NotifyServer
from tests.conftest import REPO, error_line, run_fx

DIRS = ("--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"))
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345"
HOOK = "/hook/s3cr3t-path"
TELEGRAM = f"/bot{TOKEN}/sendMessage"
DISCORD = "/api/webhooks/42/discordSECRETtoken"
SECRETS = ("s3cr3t", TOKEN, "ABCdefGHI", "discordSECRET")
DECISIONS = ("transition", "fill", "trade")

store = test_backtest_cli.store  # fixtures shared with fx backtest's tests: the sample imported,
gapped = test_backtest_cli.gapped  # and the sample with one depth diff cut out (a recorded gap)


def _env(server: NotifyServer, **extra: str) -> dict[str, str]:
    return {
        "FX_TELEGRAM_TOKEN": TOKEN,
        "FX_TELEGRAM_API_URL": server.url,
        "FX_DISCORD_API_URL": server.url + "/api",
        **extra,
    }


def _stream(
    data: Path, out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_fx(
        "stream",
        "momentum_scalper",
        "--replay",
        str(data),
        "--headless",
        "--out",
        str(out),
        *DIRS,
        *args,
        env=env,
    )


def _lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _summary(out: Path) -> dict[str, Any]:
    [path] = out.glob("*/summary.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _no_secrets(result: subprocess.CompletedProcess[str], out: Path) -> None:
    written = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for secret in SECRETS:
        assert secret not in result.stdout
        assert secret not in result.stderr
        assert secret.encode() not in written


def test_stream_notifies_every_event_to_a_webhook_telegram_and_discord(store: Path, tmp_path: Path) -> None:
    with NotifyServer() as server:
        notify: tuple[str, ...] = ("--notify", server.url + HOOK, "--notify", "telegram://-1001234567890")
        notify += ("--notify", "https://discord.com" + DISCORD)

        result = _stream(
            store,
            tmp_path,
            *notify,
            "--notify-on",
            "signal,entry,exit,fill,gap,error,daily",
            env=_env(server),
        )

        hook, telegram, discord = server.bodies(HOOK), server.bodies(TELEGRAM), server.bodies(DISCORD)
        telegram_at, discord_at = server.times(TELEGRAM), server.times(DISCORD)
    lines = _lines(result)
    [trade] = [n for n in lines if n["type"] == "trade"]
    signals = [n for n in lines if n["type"] == "transition" and n["to"] == "SIGNAL_DETECTED"]
    events = [b["event"] for b in hook]
    assert events.count("signal") == len(signals) >= 1
    assert events.count("entry") == 1
    assert events.count("fill") == 2
    assert events.count("exit") == 1
    assert events[-1] == "daily"
    [exit_] = [b for b in hook if b["event"] == "exit"]
    assert exit_["pnl"] == pytest.approx(trade["pnl"])
    assert exit_["price"] == pytest.approx(trade["exit_price"])
    assert exit_["text"].startswith(
        f"BTCUSDT exit long {trade['qty']:.8g} @ {trade['exit_price']:.8g} (ze1), PnL "
    )
    assert hook[-1]["trades"] == 1
    assert hook[-1]["pnl"] == pytest.approx(trade["pnl"])
    texts = [b["text"] for b in hook]
    assert all("\n" not in t and len(t) <= 200 for t in texts)
    assert [b["text"] for b in telegram] == texts
    assert {b["chat_id"] for b in telegram} == {-1001234567890}
    assert [b["content"] for b in discord] == texts
    # Telegram: one message a second per chat; Discord: five per two seconds (lower bounds only).
    assert all(b - a >= 0.99 for a, b in itertools.pairwise(telegram_at))
    assert len(discord_at) >= 6
    assert discord_at[5] - discord_at[0] >= 1.99
    sent = {d["name"]: d["sent"] for d in _summary(tmp_path)["stream"]["notify"]["destinations"]}
    assert sent == {
        f"webhook {server.url}/…": len(texts),
        "telegram chat -1001234567890": len(texts),
        "discord webhook 42": len(texts),
    }
    _no_secrets(result, tmp_path)


def test_stream_notify_retries_errors_and_timeouts_and_says_a_dead_destination_once(
    gapped: Path, tmp_path: Path
) -> None:
    with NotifyServer() as server:
        server.script[HOOK].extend(["500", "hang:10", "429:1"])
        server.always["/gone/s3cr3t"] = "404"
        notify = ("--notify", server.url + HOOK, "--notify", server.url + "/gone/s3cr3t")

        result = _stream(
            gapped,
            tmp_path,
            *notify,
            "--notify-on",
            "gap,signal",
            env=_env(server, FX_NOTIFY_TIMEOUT_S="0.5"),
        )

        delivered, refused = server.bodies(HOOK), server.bodies("/gone/s3cr3t", 404)
    lines = _lines(result)
    gaps = [n for n in lines if n["type"] == "status" and n["kind"] == "gap"]
    failing = [n for n in lines if n["type"] == "status" and n["kind"] == "notify_failed"]
    assert [b["event"] for b in delivered][:1] == ["gap"]
    assert delivered[0]["detail"] == gaps[0]["detail"]
    assert delivered[0]["text"].startswith("BTCUSDT gap: recorded version_jump from ")
    assert len(refused) == len(delivered) >= 2  # each message tried once there: a 404 is not retried
    assert len(failing) == 1
    assert failing[0]["detail"].startswith(
        f"notify: webhook {server.url}/… #2 is failing (HTTP 404 Not Found)"
    )
    stats = {d["name"]: d for d in _summary(tmp_path)["stream"]["notify"]["destinations"]}
    hook, gone = stats[f"webhook {server.url}/… #1"], stats[f"webhook {server.url}/… #2"]
    assert (hook["sent"], hook["retries"], hook["failed"]) == (len(delivered), 3, 0)
    assert (gone["sent"], gone["failed"]) == (0, len(refused))
    _no_secrets(result, tmp_path)


def test_stream_with_a_hung_destination_decides_exactly_as_without_notify(
    store: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    plain = _stream(store, tmp_path / "plain")
    plain_s = time.monotonic() - started
    with NotifyServer() as server:
        server.always[HOOK] = "hang:60"
        started = time.monotonic()

        hung = _stream(
            store, tmp_path / "hung", "--notify", server.url + HOOK, "--notify-on", "signal,fill,exit"
        )

        hung_s = time.monotonic() - started
        tried = len(server.times(HOOK, 0))
    decided = [[n for n in _lines(r) if n["type"] in DECISIONS] for r in (plain, hung)]
    assert decided[0] == decided[1]
    assert len(decided[0]) >= 6
    plain_doc, hung_doc = _summary(tmp_path / "plain"), _summary(tmp_path / "hung")
    assert plain_doc["symbols"] == hung_doc["symbols"]
    [stats] = hung_doc["stream"].pop("notify")["destinations"]
    assert (stats["sent"], stats["failed"], tried) == (0, 0, 1)  # one request hangs; the rest wait
    assert stats["undelivered"] + stats["dropped"] >= 4
    # The engine never waited on it: the run takes at most the close grace longer (a generous bound).
    assert hung_s < plain_s + CLOSE_GRACE_S + 10


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ("--notify", "ftp://files.example.org/s3cr3t"),
            {},
            "--notify ftp://files.example.org/…: not an http(s)",
        ),
        (("--notify", "telegram://-100123"), {}, "--notify telegram://-100123: set FX_TELEGRAM_TOKEN"),
        (("--notify", "telegram://@x/s3cr3t"), {"FX_TELEGRAM_TOKEN": TOKEN}, "the chat id must be a number"),
        (("--notify", "https://discord.com/api/s3cr3t"), {}, "a Discord webhook is /api/webhooks/ID/TOKEN"),
        (
            ("--notify", "http://127.0.0.1:9/h", "--notify-on", "exit,trades"),
            {},
            "--notify-on: 'trades' is not",
        ),
        (("--notify-on", "exit"), {}, "--notify-on needs a destination: --notify URL"),
        (
            ("--notify", "http://127.0.0.1:9/h"),
            {"FX_NOTIFY_TIMEOUT_S": "0"},
            "FX_NOTIFY_TIMEOUT_S: notify_timeout_s:",
        ),
        (
            ("--notify", "telegram://-100123"),
            {"FX_TELEGRAM_TOKEN": TOKEN, "FX_TELEGRAM_API_URL": "nope"},
            "FX_TELEGRAM_API_URL=nope: not an http(s):// URL",
        ),
    ],
)
def test_stream_bad_notify_values_are_one_line_exit_2_without_secrets(
    store: Path, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = _stream(store, tmp_path, *args, env=env)

    assert message in error_line(result)
    assert "s3cr3t" not in result.stderr
    assert result.stdout == ""


def test_notify_in_fx_toml_is_checked_and_named_by_key(store: Path, tmp_path: Path) -> None:
    (tmp_path / "fx.toml").write_text('notify = ["http://127.0.0.1:9/ok", "hooks.example.org/s3cr3t"]\n')

    result = run_fx(
        "stream",
        "momentum_scalper",
        "--replay",
        str(store),
        "--headless",
        "--out",
        "out",
        *DIRS,
        cwd=tmp_path,
    )

    line = error_line(result)
    assert line.startswith("fx.toml: notify[1] hooks.example.org/…: not an http(s):// webhook")
    assert "s3cr3t" not in line


def test_record_refuses_strategy_events_before_connecting(tmp_path: Path) -> None:
    result = run_fx(
        "record",
        "-e",
        "mexc-spot",
        "--symbols",
        "BTCUSDT",
        "--data-dir",
        str(tmp_path / "data"),
        "--notify",
        "http://127.0.0.1:9/h",
        "--notify-on",
        "gap,entry",
    )

    assert (
        "--notify-on: 'entry' needs a strategy (fx stream); fx record sends gap, error, daily"
        in error_line(result)
    )
