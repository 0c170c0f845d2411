"""Imports point down the layers of DESIGN.md §1; the CLI imports nothing heavy at module level."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fxcli"

# What each part of fxcli may import from fxcli (itself always allowed).
BASE = {"errors", "toml_source", "outfile"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "toml_source": {"errors"},
    "outfile": {"errors"},
    "model": BASE,
    "store": BASE | {"model"},
    "exchange": BASE | {"model"},
    "engine": BASE | {"model"},
    "strategy": BASE | {"model", "engine"},
    "backtest": BASE | {"model", "engine", "strategy"},
    "optimize": BASE | {"model", "engine", "strategy", "backtest", "store"},
    "live": BASE | {"model", "engine", "strategy", "backtest", "exchange", "store", "execution"},
    "execution": BASE | {"model", "exchange"},
    "ops": BASE | {"model", "engine", "strategy", "backtest", "exchange", "execution", "live"},
    "settings": BASE,
    "tasks": BASE
    | {
        "model",
        "engine",
        "strategy",
        "backtest",
        "optimize",
        "live",
        "exchange",
        "store",
        "settings",
        "execution",
        "ops",
    },
    "ui": BASE
    | {
        "model",
        "tasks",
        "live",
        "store",
        "exchange",
        "engine",
        "strategy",
        "backtest",
        "optimize",
        "execution",
    },
    "cli": {"__init__", *BASE, "settings", "tasks", "ui", "model"},
    "__main__": {"cli"},
    "__init__": set(),
}
THIRD_PARTY_HOMES = {
    "typer": {"cli"},
    "rich": {"cli", "ui"},
    "websockets": {"exchange", "ops"},  # ops: the --serve feed is a server for other programs
    "httpx": {"exchange", "ops"},  # ops: notifications are outbound HTTP
    "prometheus_client": {"ops"},
}
HEAVY = {
    "polars",
    "numpy",
    "pydantic",
    "numba",
    "pyarrow",
    "matplotlib",
    "optuna",
    "websockets",
    "httpx",
    "google.protobuf",
}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def part_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_names(tree: ast.AST) -> list[tuple[str, int]]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.module, node.lineno))
    return names


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    part = part_of(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))

    upward = []
    for name, line in imported_names(tree):
        top, _, rest = name.partition(".")
        if top == "fxcli" and rest:
            target = rest.split(".")[0]
            if target != part and target not in ALLOWED[part]:
                upward.append(f"line {line}: {name}")
        homes = THIRD_PARTY_HOMES.get(top)
        if homes is not None and part not in homes:
            upward.append(f"line {line}: {name} belongs in {sorted(homes)}")

    assert not upward, f"{path.relative_to(PACKAGE)} imports across layers: {upward}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")), ids=lambda p: p.name)
def test_cli_module_imports_nothing_heavy_at_top_level(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))

    heavy = [
        f"line {node.lineno}"
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
        if name.split(".")[0] in HEAVY or any(name == h or name.startswith(h + ".") for h in HEAVY)
    ]

    assert not heavy, f"{path.name} imports heavy modules at top level: {heavy}"


def test_fx_help_loads_no_heavy_library() -> None:
    code = (
        "import sys\nfrom fxcli.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules))"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.strip().splitlines()[-1] == "[]"
