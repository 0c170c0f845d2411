"""`fx variants validate` and `list` on a folder of 10,000 variants: every line still right.

Each file's header lines are indexed once (`TextIndex`); before, every variant re-read the whole
file, and 10,000 variants took minutes (bench/variants.py prints the times).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fxcli.engine.variants import load_folder
from tests.conftest import run_fx

VARIANTS = 10_000
IN_FIRST_FILE = 6_000
BLOCK = '# variant {i}\n[v{i:05d}]\nindicator = "EMA"\ntype = "PRICE"\nparams = {{ span = {span} }}\n\n'
BLOCK_LINES = 6
HEADER_OFFSET = 2  # "schema = 1" and a blank line come first


def header_line(i: int) -> int:
    """Line of `[v<i>]` in its file (the block's comment line is above it)."""
    k = i if i < IN_FIRST_FILE else i - IN_FIRST_FILE
    return HEADER_OFFSET + k * BLOCK_LINES + 2


def write_folder(folder: Path, last_block: str = "", variants: int = VARIANTS) -> None:
    """Variants 0..5999 in a.toml, the rest in b.toml, then `last_block` at the end of b.toml."""
    folder.mkdir(exist_ok=True)
    blocks = [BLOCK.format(i=i, span=i % 200 + 1) for i in range(variants)]
    (folder / "a.toml").write_text("schema = 1\n\n" + "".join(blocks[:IN_FIRST_FILE]))
    (folder / "b.toml").write_text("schema = 1\n\n" + "".join(blocks[IN_FIRST_FILE:]) + last_block)


def toml_parsed(folder: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Characters handed to the TOML parser while the folder is loaded (the real parser runs)."""
    parse, handed = tomllib.loads, [0]

    def counting(text: str) -> dict[str, Any]:
        handed[0] += len(text)
        return parse(text)

    with monkeypatch.context() as patch:
        patch.setattr(tomllib, "loads", counting)
        load_folder(folder)
    return handed[0]


def test_the_toml_parsed_grows_with_the_folder_not_with_its_square(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """V23 without a clock: doubling the variants doubles the parsing (it quadrupled: every variant
    re-parsed every header of its file)."""
    write_folder(tmp_path / "small", variants=1_000)
    write_folder(tmp_path / "large", variants=2_000)

    ratio = toml_parsed(tmp_path / "large", monkeypatch) / toml_parsed(tmp_path / "small", monkeypatch)

    assert ratio < 2.2


def test_validate_of_10000_variants_names_the_line_of_each_problem(tmp_path: Path) -> None:
    folder = tmp_path / "variants"
    broken = (
        '[v00042]\nindicator = "EMA"\ntype = "PRICE"\n\n'  # a name defined again
        '[zz_last]\nindicator = "EMA"\ntype = "PRICE"\nparams = { spn = 3 }\n'  # a misspelt parameter
    )
    write_folder(folder, broken)
    first_broken = HEADER_OFFSET + (VARIANTS - IN_FIRST_FILE) * BLOCK_LINES + 1

    result = run_fx("variants", "validate", "--variants-dir", str(folder), "--json")

    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert (report["files"], report["variants"]) == (2, VARIANTS)
    problems = [(p["file"], p["line"], p["key"]) for p in report["problems"]]
    assert problems == [
        (str(folder / "b.toml"), first_broken + 7, "zz_last.params.spn"),
        (str(folder / "b.toml"), first_broken, "v00042"),
    ]
    assert f"first in {folder / 'a.toml'}:{header_line(42)}" in report["problems"][1]["message"]


def test_list_of_10000_variants_gives_each_its_file_and_header_line(tmp_path: Path) -> None:
    folder = tmp_path / "variants"
    write_folder(folder)

    result = run_fx("variants", "list", "--variants-dir", str(folder), "--json")

    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["variants"]
    assert len(rows) == VARIANTS
    expected = [
        (
            f"v{i:05d}",
            str(folder / ("a.toml" if i < IN_FIRST_FILE else "b.toml")),
            header_line(i),
            i % 200 + 1,
        )
        for i in range(VARIANTS)
    ]
    assert [(r["name"], r["file"], r["line"], r["params"]["span"]) for r in rows] == expected
