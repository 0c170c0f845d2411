"""`fx import` as a user runs it: exit codes, one-line errors, idempotency, nothing stored is harmed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fxcli.store import manifest
from tests.conftest import FIXTURES, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"


def snapshot_of(root: Path) -> dict[str, str]:
    """Every stored Parquet file and manifest with its sha256."""
    return {
        str(p.relative_to(root)): manifest.sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store") / "data"
    result = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root), "--json")
    assert result.returncode == 0, result.stderr
    return root


def one_line_error(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("fx: error: ")
    return str(lines[0])


def test_import_sample_reports_counts_as_json(tmp_path: Path) -> None:
    result = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(tmp_path / "d"), "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    events = report["inputs"][0]["events"]
    assert events["Trade"] == 2744
    assert events["BookTicker"] == 10906
    assert events["BookSnapshot"] == 1
    assert report["inputs"][0]["exchange"] == "binance"
    assert report["skipped_lines"] == 0
    assert report["rows_added"] == report["rows_in"] > 0


def test_import_same_file_again_adds_nothing(imported: Path) -> None:
    before = snapshot_of(imported)

    result = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(imported), "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows_added"] == 0
    assert snapshot_of(imported) == before


def test_import_garbage_and_unknown_stream_lines_are_skipped_with_line_numbers(tmp_path: Path) -> None:
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines(keepends=True)[:200]
    lines.insert(20, b"this is not a frame\n")
    lines.insert(30, b'1723161254087896568 {"stream":"btcusdt@forceOrder","data":{"x":1}}\n')
    lines.insert(40, b'1723161254087896568 {"stream":"btcusdt@trade","data":{"e":"trade"\n')
    capture = tmp_path / "damaged.txt"
    capture.write_bytes(b"".join(lines))

    result = run_fx("import", "binance", str(capture), "--data-dir", str(tmp_path / "d"), "--json")

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["skipped_lines"] == 3
    assert [e["line"] for e in report["inputs"][0]["skipped_examples"]] == [21, 31, 41]
    assert "unknown stream type 'btcusdt@forceOrder'" in result.stderr
    assert "damaged.txt:21:" in result.stderr
    assert sum(report["inputs"][0]["events"].values()) > 150


def test_import_truncated_gzip_keeps_what_came_before_and_exits_1(tmp_path: Path) -> None:
    blob = SAMPLE.read_bytes()
    capture = tmp_path / "cut.gz"
    capture.write_bytes(blob[: len(blob) // 2])

    result = run_fx("import", "binance", str(capture), "--data-dir", str(tmp_path / "d"), "--json")

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["skipped_lines"] == 1
    assert "compressed stream truncated" in report["inputs"][0]["skipped_examples"][0]["reason"]
    assert report["inputs"][0]["events"]["Trade"] > 500


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a Binance capture"),
        (b"exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n", "not a Binance capture"),
        (b"", "empty file"),
    ],
)
def test_import_file_of_another_format_is_refused_with_one_line(
    tmp_path: Path, imported: Path, content: bytes, expected: str
) -> None:
    other = tmp_path / "other.bin"
    other.write_bytes(content)
    before = snapshot_of(imported)

    result = run_fx("import", "binance", str(SAMPLE), str(other), "--data-dir", str(imported))

    assert result.returncode == 2
    assert expected in one_line_error(result)
    assert "other.bin" in result.stderr
    assert snapshot_of(imported) == before


def test_import_missing_file_is_bad_input(tmp_path: Path) -> None:
    result = run_fx("import", "binance", str(tmp_path / "nope.gz"), "--data-dir", str(tmp_path / "d"))

    assert result.returncode == 2
    assert "nope.gz: no such file" in one_line_error(result)
    assert not (tmp_path / "d").exists()


def test_import_unwritable_data_dir_is_bad_input() -> None:
    # sysfs refuses new folders even to root (CI runs as root, where file modes do not stop writes).
    unwritable = Path("/sys/fx-test-data")

    result = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(unwritable))

    assert result.returncode == 2
    assert "is not writable" in one_line_error(result)


def test_import_data_dir_that_is_a_file_is_bad_input(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")

    result = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(not_a_dir / "data"))

    assert result.returncode == 2
    assert "is not writable" in one_line_error(result)


def test_import_unknown_exchange_name_is_bad_input(tmp_path: Path) -> None:
    result = run_fx("import", "binance", str(SAMPLE), "--exchange", "kraken", "--data-dir", str(tmp_path))

    assert result.returncode == 2
    assert "--exchange 'kraken' is not one of binance, binance-usdm" in one_line_error(result)


def test_import_tardis_rejects_binance_capture(tmp_path: Path) -> None:
    result = run_fx("import", "tardis", str(SAMPLE), "--data-dir", str(tmp_path / "d"))

    assert result.returncode == 2
    assert "not a tardis CSV" in one_line_error(result)


TARDIS_HEADER = b"exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
TARDIS_ROW = (
    b"bitmex,XBTUSD,1583020803145000,1583020803307160,ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf,sell,8531.5,2152\n"
)
CRYPTOFEED_CONNECT = b"wss://stream.binance.com:9443/stream?streams=nknusdt@aggTrade <-> 1633998512.0\n"


@pytest.mark.parametrize(
    ("command", "name", "content", "expected"),
    [
        ("tardis", "t_hdr.csv", TARDIS_HEADER, "t_hdr.csv: no data rows (only the header)"),
        ("tardis", "t_blank.csv", TARDIS_HEADER + b"\n\n", "t_blank.csv: no data rows (only the header)"),
        (
            "binance",
            "BINANCE.ws.1.0",
            CRYPTOFEED_CONNECT,
            "BINANCE.ws.1.0: no data rows (no stream frames or depth snapshots)",
        ),
        ("binance", "blank.txt", b"\n\n", "blank.txt: empty file"),
    ],
    ids=["I46-tardis-header-only", "tardis-header-and-blank-lines", "cryptofeed-connect-only", "hft-blank"],
)
def test_import_file_with_no_data_rows_is_bad_input_in_every_format(
    tmp_path: Path, command: str, name: str, content: bytes, expected: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(content)
    root = tmp_path / "data"

    result = run_fx("import", command, str(folder / name), "--data-dir", str(root))

    assert result.returncode == 2
    assert one_line_error(result).endswith(expected)
    assert not root.exists()


def test_import_tardis_header_only_file_among_good_ones_refuses_the_run_before_storing(
    tmp_path: Path,
) -> None:
    good, empty = tmp_path / "good.csv", tmp_path / "t_hdr.csv"
    good.write_bytes(TARDIS_HEADER + TARDIS_ROW)
    empty.write_bytes(TARDIS_HEADER)
    root = tmp_path / "data"

    result = run_fx("import", "tardis", str(good), str(empty), "--data-dir", str(root))

    assert result.returncode == 2
    assert "t_hdr.csv: no data rows (only the header)" in one_line_error(result)
    assert not root.exists()
