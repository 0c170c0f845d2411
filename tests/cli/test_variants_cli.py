"""`fx variants` and `fx inspect indicators` through the real entry point, on the shipped sample."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import FIXTURES, REPO, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
FROM, TO = "2024-08-08T23:55:30Z", "2024-08-08T23:55:40Z"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("variants") / "data"
    result = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root))
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def vdir(tmp_path: Path) -> Path:
    """A copy of the shipped variants folder."""
    folder = tmp_path / "variants"
    shutil.copytree(REPO / "variants", folder)
    return folder


def fx_ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = run_fx(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fx_error(code: int, *args: str) -> str:
    """Run a failing command: the exit code, and exactly one line on stderr."""
    result = run_fx(*args)
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fx: error: ")
    return lines[0].removeprefix("fx: error: ")


@pytest.mark.parametrize(
    "command",
    ["list", "show", "create", "edit", "delete", "validate", "compute"],
)
def test_every_variants_command_has_help(command: str) -> None:
    result = run_fx("variants", command, "--help")

    assert result.returncode == 0, result.stderr
    assert "--json" in result.stdout
    assert "Example: fx variants" in result.stdout


def test_inspect_indicators_has_help() -> None:
    result = run_fx("inspect", "indicators", "--help")

    assert result.returncode == 0
    assert "--variant" in result.stdout


def test_list_shows_the_shipped_variants_from_the_variants_dir_setting(vdir: Path) -> None:
    listed = json.loads(fx_ok("variants", "list", "--json", env={"FX_VARIANTS_DIR": str(vdir)}))

    names = {v["name"]: v for v in listed["variants"]}
    assert {"pump_10s", "risk_rsi", "spread", "book_imbalance_5", "stop_min_60s"} <= set(names)
    assert names["pump_10s"]["params"] == {"recent": [10, 0], "baseline": [300, 10]}
    assert names["pump_10s"]["file"] == str(vdir / "pump.toml")


def test_variants_dir_from_fx_toml(vdir: Path, tmp_path: Path) -> None:
    (tmp_path / "fx.toml").write_text(f'variants_dir = "{vdir}"\n')

    result = run_fx("variants", "list", "--type", "RISK", "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert [v["name"] for v in json.loads(result.stdout)["variants"]] == ["risk_rsi"]


def test_create_show_edit_delete_round_trip(vdir: Path) -> None:
    where = ("--variants-dir", str(vdir))
    custom = vdir / "custom.toml"

    created = json.loads(
        fx_ok(
            "variants", "create", "pump_30s", "--indicator", "PUMP_MAGNITUDE_PCT", "--type", "GENERAL",
            "--param", "recent=[30,0]", "--param", "baseline=[600,30]", "--description", "30 s pump", *where,
            "--json",
        )
    )  # fmt: skip
    shown = json.loads(fx_ok("variants", "show", "pump_30s", *where, "--json"))
    fx_ok("variants", "edit", "pump_30s", "--param", "baseline=[900,30]", "--type", "RISK", *where)
    edited = json.loads(fx_ok("variants", "show", "pump_30s", *where, "--json"))
    fx_ok("variants", "edit", "pump_30s", "--unset", "baseline", *where)
    unset = json.loads(fx_ok("variants", "show", "pump_30s", *where, "--json"))
    deleted = fx_ok("variants", "delete", "pump_30s", *where)

    assert created["file"] == str(custom)
    assert shown["params"] == {"recent": [30, 0], "baseline": [600, 30]}
    assert shown["description"] == "30 s pump"
    assert shown["line"] == 3
    assert (edited["type"], edited["params"]["baseline"]) == ("RISK", [900, 30])
    assert unset["params"] == {"recent": [30, 0]}
    assert unset["effective_params"]["baseline"] == [300.0, 10.0]
    assert deleted.strip() == f"deleted pump_30s in {custom}"
    assert custom.read_text() == "schema = 1\n"
    assert fx_error(2, "variants", "show", "pump_30s", *where).startswith("unknown variant 'pump_30s'")


def test_edit_keeps_the_other_tables_and_comments_of_the_file_intact(vdir: Path) -> None:
    pump = vdir / "pump.toml"
    before = pump.read_text()

    fx_ok("variants", "edit", "pump_60s", "--param", "recent=[45,0]", "--variants-dir", str(vdir))

    after = pump.read_text()
    start = before.index("[pump_60s]")
    end = before.index("[volume_surge_10s]")
    assert after[:start] == before[:start]
    assert after[after.index("[volume_surge_10s]") :] == before[end:]
    assert "params = { recent = [45, 0], baseline = [900, 60] }\n" in after


def test_edit_with_file_moves_the_variant(vdir: Path) -> None:
    fx_ok("variants", "edit", "spread", "--file", "custom.toml", "--variants-dir", str(vdir))

    assert "[spread]" not in (vdir / "book.toml").read_text()
    assert "[spread]" in (vdir / "custom.toml").read_text()
    assert "[book_imbalance_5]" in (vdir / "book.toml").read_text()


def test_create_refuses_an_existing_name_a_bad_param_and_a_bad_type(vdir: Path) -> None:
    where = ("--variants-dir", str(vdir))
    base = ("variants", "create", "v1", "--indicator", "VOLUME", "--type", "GENERAL", *where)

    exists = fx_error(2, "variants", "create", "pump_10s", "-i", "PRICE", "-t", "PRICE", *where)
    bad_key = fx_error(2, *base, "--param", "windw=[60,0]")
    bad_value = fx_error(2, *base, "--param", "window=[5,10]")
    bad_toml = fx_error(2, *base, "--param", "window=[5,")
    bad_type = fx_error(2, "variants", "create", "v1", "-i", "VOLUME", "-t", "RISKY", *where)
    bad_indicator = fx_error(2, "variants", "create", "v1", "-i", "VOLUMES", "-t", "RISK", *where)
    bad_file = fx_error(2, *base, "--file", "/elsewhere/x.toml")

    assert exists.startswith(f"variant 'pump_10s' already exists ({vdir / 'pump.toml'}:")
    assert bad_key == "--param windw: unknown parameter of VOLUME (takes window)"
    assert bad_value.startswith("--param window: window (5, 10) must have t1 > t2 >= 0")
    assert bad_toml.startswith("--param window=[5,: not a TOML value")
    assert bad_type.startswith("--type: 'RISKY' is not one of 'GENERAL', 'RISK'")
    assert bad_indicator == "--indicator: 'VOLUMES' is not an indicator (did you mean VOLUME?)"
    assert bad_file.startswith("--file /elsewhere/x.toml: must be a file in the variants dir")
    assert not (vdir / "custom.toml").exists()


def test_validate_prints_every_problem_and_exits_2(vdir: Path) -> None:
    bad = vdir / "bad.toml"
    bad.write_text(
        'schema = 1\n\n[pump_10s]\nindicator = "PRICE"\ntype = "PRICE"\n\n'
        '[v2]\nindicator = "VOLUME"\ntype = "GENERAL"\nparams = { windw = [60, 0] }\n'
    )

    result = run_fx("variants", "validate", "--variants-dir", str(vdir))
    as_json = run_fx("variants", "validate", "--variants-dir", str(vdir), "--json")

    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        f"{bad}:10: v2.params.windw: unknown parameter of VOLUME (takes window)",
        f"{vdir / 'pump.toml'}:6: pump_10s: defined again (first in {bad}:3)",
    ]
    assert result.stderr.strip() == "fx: 2 problems in 5 files"
    assert as_json.returncode == 2
    assert [p["line"] for p in json.loads(as_json.stdout)["problems"]] == [10, 6]


def test_validate_passes_on_the_shipped_folder(vdir: Path) -> None:
    result = run_fx("variants", "validate", "--variants-dir", str(vdir))

    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.strip().endswith("in 4 files: all valid")


def test_an_invalid_file_makes_list_fail_with_file_line_and_key(vdir: Path) -> None:
    (vdir / "risk.toml").write_text(
        'schema = 1\n[risk_rsi]\nindicator = "RSI"\ntype = "RISK"\nparams = { perod = 14 }\n'
    )

    message = fx_error(2, "variants", "list", "--variants-dir", str(vdir))

    assert (
        message == f"{vdir / 'risk.toml'}:5: risk_rsi.params.perod: unknown parameter of RSI (takes period)"
    )


def compute(store: Path, vdir: Path, out: Path, *args: str) -> dict[str, Any]:
    result = run_fx(
        "variants", "compute", *args, "--symbol", "BTCUSDT", "--data-dir", str(store),
        "--variants-dir", str(vdir), "--out", str(out), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_compute_on_trades_checks_twins_and_writes_parquet(store: Path, vdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    names = ["momentum_10s", "risk_rsi", "rush_orders_10s", "velocity_cascade_10_60", "ema_60"]

    report = compute(store, vdir, out, *names, "--check")

    assert report["source"] == "trades"
    assert report["rows"] == 2744  # every stored trade, one row each
    assert report["check"] == {"ok": True, "rows": 2744, "variants": 5, "divergence": None}
    summaries = {v["name"]: v for v in report["variants"]}
    assert summaries["risk_rsi"]["warmup_nan"] == 14  # RSI 14: first value at the 15th trade
    assert 0 <= summaries["risk_rsi"]["min"] <= summaries["risk_rsi"]["max"] <= 100
    frame = pl.read_parquet(out / "BTCUSDT" / "risk_rsi.parquet")
    assert frame.columns == ["exchange_ts_ns", "time", "value"]
    assert frame.height == 2744
    assert frame["value"][-1] == pytest.approx(summaries["risk_rsi"]["last"])
    assert sorted(p.name for p in (out / "BTCUSDT").iterdir()) == sorted(f"{n}.parquet" for n in names)


def test_compute_with_a_book_variant_replays_every_event(store: Path, vdir: Path, tmp_path: Path) -> None:
    report = compute(store, vdir, tmp_path / "out", "spread", "book_imbalance_5", "momentum_10s", "--check")

    assert report["source"] == "events"
    assert report["rows"] > 2744  # trades + book_ticker + snapshots + diffs
    assert report["check"]["ok"] is True
    spread = next(v for v in report["variants"] if v["name"] == "spread")
    assert spread["warmup_nan"] <= 1
    assert 0 < spread["min"] < spread["max"] < 0.1


def test_compute_prints_twins_agree_and_a_summary_table(store: Path, vdir: Path, tmp_path: Path) -> None:
    result = run_fx(
        "variants", "compute", "momentum_10s", "spread", "-s", "BTCUSDT", "--check", "--data-dir", str(store),
        "--variants-dir", str(vdir), "--out", str(tmp_path / "out"),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "twins agree on" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "NaN warm-up" in line)
    assert header.split() == [
        "variant",
        "indicator",
        "type",
        "rows",
        "NaN",
        "warm-up",
        "min",
        "mean",
        "max",
        "last",
    ]
    assert "fx: wrote 2 files under" in result.stderr


def test_compute_with_from_reads_a_warm_up_lead_in(store: Path, vdir: Path, tmp_path: Path) -> None:
    report = compute(store, vdir, tmp_path / "out", "momentum_10s", "--from", FROM, "--to", TO)

    summary = report["variants"][0]
    assert summary["warmup_nan"] == 0  # the 70 s before --from were read, so values are warm at --from
    assert str(report["from"]) >= "2024-08-08T23:55:30.000Z"
    assert str(report["to"]) <= "2024-08-08T23:55:40.000Z"


def test_compute_csv_uses_the_seed_layout(store: Path, vdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    report = compute(store, vdir, out, "momentum_10s", "--format", "csv", "--from", FROM, "--to", TO)

    path = out / "BTCUSDT" / "2024-08-08" / "momentum_10s_values.csv"
    assert report["files"] == [str(path)]
    frame = pl.read_csv(path)
    assert frame.columns == ["timestamp", "value"]
    assert frame.height == report["rows"]
    trades = pl.read_parquet(list(store.rglob("trades/*/*.parquet")))
    in_window = trades.filter(pl.col("exchange_ts_ns").is_between(1723161330 * 10**9, 1723161340 * 10**9))
    assert frame["timestamp"].to_list() == (in_window["exchange_ts_ns"] // 1_000_000).to_list()


def test_inspect_indicators_shows_the_same_values_as_compute(store: Path, vdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    compute(store, vdir, out, "momentum_10s", "spread", "--from", FROM, "--to", TO)

    result = run_fx(
        "inspect", "indicators", "BTCUSDT", "--variant", "momentum_10s", "-v", "spread", "--from", FROM,
        "--to", TO, "--data-dir", str(store), "--variants-dir", str(vdir), "--json",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert list(rows[0]) == ["time", "exchange_ts_ns", "momentum_10s", "spread"]
    computed = pl.read_parquet(out / "BTCUSDT" / "spread.parquet")
    assert [r["spread"] for r in rows] == computed["value"].to_list()
    assert [r["exchange_ts_ns"] for r in rows] == computed["exchange_ts_ns"].to_list()


def test_inspect_indicators_table_limit_and_csv(store: Path, vdir: Path) -> None:
    common = ["inspect", "indicators", "BTCUSDT", "-v", "risk_rsi", "--data-dir", str(store)]
    common += ["--variants-dir", str(vdir)]

    table = run_fx(*common, "--limit", "20")
    csv = run_fx(*common, "--format", "csv")

    assert table.returncode == 0, table.stderr
    assert "BTCUSDT indicators" in table.stdout
    lines = csv.stdout.splitlines()
    assert lines[0] == "time,exchange_ts_ns,risk_rsi"
    assert len(lines) == 2744 + 1
    assert lines[1].endswith(",")  # not warm yet: empty, not a number


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (2, ("nope",), "unknown variant 'nope'"),
        (2, ("pump_1s",), "unknown variant 'pump_1s' (did you mean pump_10s?)"),
        (1, ("spread", "--symbol", "ETHUSDT"), "no data for symbol ETHUSDT"),
        (1, ("spread", "--from", "2030-01-01"), "no events for BTCUSDT on binance in the window"),
        (1, ("momentum_10s", "--to", "2001-01-01"), "no trades for BTCUSDT on binance in the window"),
        (2, ("spread", "--from", "yesterday"), "--from: not a time: 'yesterday'"),
        (2, ("spread", "--from", TO, "--to", FROM), f"--from {TO} is after --to {FROM}"),
        (1, ("spread", "--exchange", "mexc"), "no data for BTCUSDT on mexc"),
    ],
)
def test_compute_bad_input_is_one_line_with_its_exit_code(
    store: Path, vdir: Path, tmp_path: Path, code: int, args: tuple[str, ...], expected: str
) -> None:
    full = ["variants", "compute", *args, "--data-dir", str(store), "--variants-dir", str(vdir)]
    if "--symbol" not in args:
        full += ["--symbol", "BTCUSDT"]

    message = fx_error(code, *full, "--out", str(tmp_path / "out"))

    assert message.startswith(expected)
    assert not (tmp_path / "out").exists()


def test_compute_bad_format_is_a_usage_error(store: Path, vdir: Path) -> None:
    result = run_fx(
        "variants", "compute", "spread", "-s", "BTCUSDT", "--format", "xlsx", "--variants-dir", str(vdir)
    )

    assert result.returncode == 2
    assert "xlsx" in result.stderr


def test_inspect_indicators_unknown_variant_exits_2(store: Path, vdir: Path) -> None:
    message = fx_error(
        2,
        "inspect",
        "indicators",
        "BTCUSDT",
        "-v",
        "nope",
        "--data-dir",
        str(store),
        "--variants-dir",
        str(vdir),
    )

    assert message.startswith("unknown variant 'nope'")
