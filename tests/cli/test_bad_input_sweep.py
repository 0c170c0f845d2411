"""The bad-input sweep (issue 11): every option and argument of every command, given a value that
parses but makes no sense, ends in exit 0, 1 or 2 with at most one line on stderr: never an internal
error, never a traceback.

Commands and their parameters are read from the Typer app itself, so a new option is swept the day
it is added. Each parameter gets each of `BAD_VALUES` (and, for a path, a folder, a file and a
binary file) in an otherwise valid command line: a fast one on the shipped sample, with a short
window and a strategy that trades all the time. The cases run through the real entry point, many
per process (`tests/cli/sweep_worker.py`), in `WORKERS` processes at once. Nothing reaches the
internet: every venue URL points at a closed port on 127.0.0.1, and a bad URL is refused before any
connection. `fx record` and a live `fx stream` run until stopped: a case still running after
`LIVE_S` gets a SIGINT (Ctrl-C) and must stop cleanly (no traceback, no internal error); the lines
such a run prints are its log, not an error. Each valid command line also runs unchanged and must
succeed: a sweep whose base lines were refused would prove nothing.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._click import Command, Parameter
from typer.core import TyperGroup

from fxcli.cli import app
from fxcli.exchange.binance import Market
from fxcli.exchange.captures.binance_vision import Kind
from fxcli.execution.journal import Journal
from tests.cli.sweep_worker import HANG_S
from tests.cli.vision_server import VisionServer
from tests.conftest import FIXTURES, REPO, run_fx
from tests.data.vision_files import csv_text, day_ms, trade_rows, write_archive
from tests.live.private_venue import ROUND_TRIP, venue_process

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
FROM, TO = "2024-08-08T23:55:00Z", "2024-08-08T23:55:20Z"
HOLDOUT = "2024-08-08T23:56:00Z..2024-08-08T23:59:00Z"
NOT_UTF8 = os.fsdecode(b"\xff\xfe")  # what Python makes of bytes in argv that are not UTF-8
BAD_VALUES = ["-1", "0", "1e308", str(10**30), "inf", "nan", "", NOT_UTF8]
# The suite gives every parameter these (what most crashes were found with) and one more value picked
# by the parameter's name, so each value is still swept on some parameters of every run; `make soak`
# (FX_SWEEP=full) gives every parameter every value.
ALWAYS = frozenset({"nan", ""})
IS_FULL = os.environ.get("FX_SWEEP") == "full"
WORKERS = 2
LIVE_S = 0.25
LIVE = {("record",), ("stream", "live")}
VISION_DAY = "2024-08-08"


# Enters and leaves on nearly every second: fills, the account and the metrics all see the values.
STRATEGY = ROUND_TRIP  # enters and leaves at once


@dataclass(frozen=True)
class Workspace:
    """The valid inputs every command line starts from."""

    store: Path
    strategies: Path
    tardis_csv: Path
    binary: Path  # a file that is not UTF-8 text
    folder: Path
    text_file: Path
    env: dict[str, str]
    vision_zip: Path  # a Binance archive file, also served by the sweep's archive server
    results: Path  # a results folder holding one `fx optimize` study
    study: str
    journal: Path  # an (empty) order journal for fx orders / fx flatten
    private_rest: str  # the fake private venue's REST URL (a real process)


@dataclass
class Base:
    """A valid command line: values per parameter name, flags, and how to run it."""

    name: tuple[str, ...]
    values: dict[str, list[str]]
    flags: list[str] = field(default_factory=list)
    copies: dict[str, str] = field(default_factory=dict)  # folders each case gets a fresh copy of


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("sweep")
    store = root / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(store)).returncode == 0
    binary = root / "binary.bin"
    binary.write_bytes(gzip.compress(b"\x8f\xff not text"))
    text_file = root / "notes.txt"
    text_file.write_text("a file where a folder belongs\n")
    (root / "folder").mkdir()
    (root / "strategies").mkdir()
    (root / "strategies" / "sweep.toml").write_text(STRATEGY)
    port = closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
    env.update(
        {
            "FX_MEXC_SPOT_WS_URL": f"ws://127.0.0.1:{port}/ws",
            "FX_MEXC_SPOT_REST_URL": f"http://127.0.0.1:{port}",
            "FX_MEXC_FUTURES_WS_URL": f"ws://127.0.0.1:{port}/edge",
            "FX_MEXC_FUTURES_REST_URL": f"http://127.0.0.1:{port}/api/v1/contract",
        }
    )
    tardis = shared_data / "nautilus_trader" / "tardis" / "bitmex_trades_XBTUSD.csv"
    rows = trade_rows(Market.SPOT, Kind.TRADES, day_ms(VISION_DAY), list(range(1, 200)))
    text = csv_text(Market.SPOT, Kind.TRADES, rows, header=False)
    vision_zip = write_archive(root / "archive", Market.SPOT, Kind.TRADES, "BTCUSDT", VISION_DAY, text)
    optimized = run_fx(
        *("optimize", "run", "sweep", "--symbol", "BTCUSDT", "--from", FROM, "--to", TO, "--trials", "1"),
        *("--param", "s1[0].value=0:1:0.5", "--study", "swept", "--no-plots", "--out", str(root / "results")),
        *("--holdout", HOLDOUT),  # after the window: `fx optimize unlock` has something to open
        *(
            "--data-dir",
            str(store),
            "--strategies-dir",
            str(root / "strategies"),
            "--variants-dir",
            str(REPO / "variants"),
        ),
    )
    assert optimized.returncode == 0, optimized.stderr
    journal = root / "journal.sqlite"
    Journal.open(journal).close()
    with VisionServer(root / "archive") as archive, venue_process(root, lifetime_s=1800) as private:
        env["FX_BINANCE_VISION_URL"] = archive.url
        env.update({k: v for k, v in private.env.items() if k.startswith("FX_MEXC_API_")})
        yield Workspace(
            store,
            root / "strategies",
            tardis,
            binary,
            root / "folder",
            text_file,
            env,
            vision_zip,
            root / "results",
            "swept",
            journal,
            private.rest_url,
        )


def commands(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every command of the app with parameters of its own (a group's callback counts), by path."""
    if path and command.params:
        yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))


def swept(command: Command) -> list[Parameter]:
    """The parameters that take a value (flags and --help take none)."""
    return [p for p in command.params if not getattr(p, "is_flag", False) and p.name != "help"]


def is_path(param: Parameter) -> bool:
    annotation = param.type_descriptor.annotation  # type: ignore[attr-defined]
    return annotation is Path or annotation == list[Path]


def bases(path: tuple[str, ...], command: Command, ws: Workspace) -> list[Base]:
    """Valid command lines for `path`; `fx stream` has two (a replay and a live run)."""
    names = {p.name for p in command.params}
    values: dict[str, list[str]] = {}
    copies = {}
    for name, value in (
        ("data_dir", str(ws.store)),
        ("strategies_dir", str(ws.strategies)),
        ("start", FROM),
        ("end", TO),
        ("symbol", ["BTCUSDT"]),
        ("strategy", "sweep"),
        ("variant", ["momentum_10s"]),
        ("names", ["momentum_10s"]),
        ("name", "pump_10s"),
    ):
        if name in names:
            values[name] = value if isinstance(value, list) else [value]
    if "variants_dir" in names:
        values["variants_dir"], copies["variants"] = ["variants"], str(REPO / "variants")
    for param in command.params:
        if param.name == "out" and param.default is not None:  # a results folder, not a file
            values["out"] = ["results"]
    flags = [f for f, owner in (("--no-chart", "chart"), ("--headless", "headless")) if owner in names]
    base = Base(path, values, flags, copies)
    if path[0] == "import":
        values["data_dir"] = ["data"]
        files = {"binance": SAMPLE, "binance-vision": ws.vision_zip}
        values["files"] = [str(files.get(path[1], ws.tardis_csv))]
    elif path == ("download", "binance-vision"):
        values.update(start=[VISION_DAY], end=[VISION_DAY], data_dir=["data"], cache_dir=["cache"])
    elif path == ("variants", "create"):
        values.update(name=["swept_variant"], indicator=["EMA"], kind=["PRICE"])
    elif path == ("variants", "edit"):
        values["description"] = ["swept"]
    elif path == ("record",):
        values.update(exchange=["mexc-spot"], symbols=["BTCUSDT"], data_dir=["data"])
    elif path == ("optimize", "run"):
        values.update(param=["s1[0].value=0:1:0.5"], trials=["1"])
        base.flags.append("--no-plots")
    elif path == ("optimize", "walk-forward"):
        values.update(param=["s1[0].value=0:1:0.5"], trials=["1"], train=["10s"], test=["5s"])
        values.update(min_trades=["0"])
    elif path == ("optimize", "unlock"):  # the workspace's study locked a holdout after its window
        values.update(out=["results"])
        copies["results"] = str(ws.results)
    elif path[0] == "optimize":  # list, show, export, report, robustness: the study the workspace ran
        values.update(name=[ws.study], out=["results"])
        copies["results"] = str(ws.results)
        if path == ("optimize", "robustness"):
            values.update(mc=["permute"], n=["20"])
    elif path[0] == "orders" or path == ("flatten",):  # the journal, the fake private venue
        values.update(journal=[str(ws.journal)])
        if "rest_url" in names:
            values.update(rest_url=[ws.private_rest])
    elif path == ("stream",):
        values["replay"] = [str(ws.store)]
        live = {k: v for k, v in values.items() if k not in ("replay", "start", "end")}
        values["serve"] = ["0"]  # the replay serves its feed: --serve-rate / --serve-queue are swept in use
        return [base, Base(("stream", "live"), live, flags, copies)]
    return [base]


def command_line(
    path: tuple[str, ...], command: Command, values: dict[str, list[str]], flags: list[str]
) -> list[str]:
    """argv for `values`: options first, then `--` and the arguments (so '-1' stays an argument)."""
    options, arguments = list(flags), []
    for param in command.params:
        given = values.get(param.name or "")
        if given is None:
            continue
        if param.param_type_name == "argument":
            arguments += given
        else:
            flag = max(param.opts, key=len)  # the long form when there is one (-n has none)
            for value in given:
                options += [flag, value]
    return [*path, *options, "--", *arguments]


def bad_values(path: tuple[str, ...], param: Parameter, ws: Workspace) -> list[str]:
    """The values one parameter is swept with: all of them with FX_SWEEP=full, else `ALWAYS`, every
    path case, and one other value chosen by the parameter's name (the same in every run)."""
    paths = [str(ws.folder), str(ws.text_file), str(ws.binary)] if is_path(param) else []
    if IS_FULL:
        return [*BAD_VALUES, *paths]
    others = [v for v in BAD_VALUES if v not in ALWAYS]
    pick = others[zlib.crc32(f"{' '.join(path)} {param.name}".encode()) % len(others)]
    return [v for v in BAD_VALUES if v in ALWAYS or v == pick] + paths


def cases(ws: Workspace) -> list[dict[str, Any]]:
    """One case per command line, parameter and bad value."""
    root = typer.main.get_command(app)
    out = []
    for path, command in commands(root):
        for base in bases(path, command, ws):
            live = base.name in LIVE
            out.append(
                {
                    "argv": command_line(path, command, base.values, base.flags),
                    "env": ws.env,
                    "copies": base.copies,
                    "stop_after_s": LIVE_S if live else None,
                    "what": f"{' '.join(base.name)} (valid)",
                    "param": None,
                }
            )
            for param in swept(command):
                for value in bad_values(path, param, ws):
                    given = {**base.values, param.name or "": [value]}
                    out.append(
                        {
                            "argv": command_line(path, command, given, base.flags),
                            "env": ws.env,
                            "copies": base.copies,
                            "stop_after_s": LIVE_S if live else None,
                            "what": f"{' '.join(base.name)} {param.name}={value!r}",
                            "param": param.name,
                        }
                    )
    return out


def run_all(all_cases: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """The cases split over `WORKERS` processes (live ones spread evenly); results in case order."""
    chunks: list[list[int]] = [[] for _ in range(WORKERS)]
    for i in range(len(all_cases)):
        chunks[i % WORKERS].append(i)
    procs = []
    for n, chunk in enumerate(chunks):
        cases_file, results_file = folder / f"cases{n}.json", folder / f"results{n}.json"
        cases_file.write_text(json.dumps([all_cases[i] for i in chunk]), encoding="utf-8")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.cli.sweep_worker", str(cases_file), str(results_file)],
                cwd=REPO,
                env=all_cases[0]["env"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    results: list[dict[str, Any]] = [{} for _ in all_cases]
    for n, (proc, chunk) in enumerate(zip(procs, chunks, strict=True)):
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
        for i, result in zip(chunk, json.loads((folder / f"results{n}.json").read_text()), strict=True):
            case = all_cases[i]
            results[i] = {
                **result,
                "what": case["what"],
                "param": case["param"],
                "live": case["stop_after_s"],
            }
    return results


def problem(result: dict[str, Any]) -> str | None:
    """What is wrong with one run, or None."""
    stderr, code = result["stderr"], result["code"]
    if "Traceback" in stderr or "internal error" in stderr:
        return f"exit {code}: {stderr.strip().splitlines()[0] if stderr.strip() else ''}"
    if result["seconds"] >= HANG_S or (result["stopped"] and not result["live"]):
        return f"no result within {HANG_S:g} s (a hang)"
    if result["stopped"]:  # what it says while it runs is its log; stopping must be clean
        return None if code in (0, 1, 2, 130) else f"stopped with exit {code}"
    if code not in (0, 1, 2):
        return f"exit {code}: {stderr.strip()[:300]}"
    lines = stderr.splitlines()
    if len(lines) > 1:
        return f"{len(lines)} lines on stderr: {lines[:3]}"
    return None


@pytest.fixture(scope="module")
def sweep(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return run_all(cases(workspace), tmp_path_factory.mktemp("sweep-runs"))


def failures(results: list[dict[str, Any]]) -> list[str]:
    return [f"{r['what']}: {p}" for r in results if r["param"] is not None and (p := problem(r))]


def test_every_valid_command_line_of_the_sweep_runs(sweep: list[dict[str, Any]]) -> None:
    valid = [r for r in sweep if r["param"] is None]

    bad = [f"{r['what']}: exit {r['code']}: {r['stderr'][-300:]}" for r in valid if r["code"] != 0]

    assert len(valid) == len({r["what"] for r in valid}) >= 21  # every command, stream twice
    assert not bad, "\n".join(bad)


def test_every_option_of_every_command_survives_bad_values(sweep: list[dict[str, Any]]) -> None:
    found = failures(sweep)

    assert len(sweep) > 1000  # every command's every option, not a handful
    assert not found, f"{len(found)} of {len(sweep)} cases:\n" + "\n".join(found)
