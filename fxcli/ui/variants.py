"""Renderings of `fx variants` results: rich tables for people, plain dicts for --json."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from fxcli.ui.format import count, when

if TYPE_CHECKING:
    from pathlib import Path

    from fxcli.engine.variants import Problem, Variant
    from fxcli.tasks.variants import ComputeReport, Located, Shown, TwinCheck, Validation, Written


def number(value: float | None) -> str:
    """A value with 8 significant digits; None / NaN as 'NaN'."""
    if value is None or math.isnan(value):
        return "NaN"
    return f"{value:.8g}"


def _json_number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def params_text(params: dict[str, Any]) -> str:
    """{'recent': [10, 0]} -> 'recent=[10, 0]'."""
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def variant_json(v: Variant) -> dict[str, Any]:
    """A variant as plain data (params as given in its file)."""
    return {
        "name": v.name,
        "indicator": v.indicator,
        "type": v.type.value,
        "description": v.description,
        "params": v.params,
    }


def list_json(rows: list[Located]) -> dict[str, Any]:
    """`fx variants list --json`."""
    return {"variants": [{**variant_json(r.variant), "file": str(r.path), "line": r.line} for r in rows]}


def list_table(rows: list[Located], folder: Path) -> Table:
    """One row per variant."""
    table = Table(box=box.SIMPLE_HEAD, title=f"variants in {folder}", title_justify="left")
    for name in ("name", "indicator", "type", "params", "file", "description"):
        table.add_column(name, overflow="fold")
    for r in rows:
        v = r.variant
        table.add_row(v.name, v.indicator, v.type.value, params_text(v.params), r.path.name, v.description)
    n = len(rows)
    table.caption = f"{n} variant{'s' if n != 1 else ''}"
    table.caption_justify = "left"
    return table


def show_json(shown: Shown) -> dict[str, Any]:
    """`fx variants show --json`."""
    loc = shown.located
    return {
        **variant_json(loc.variant),
        "file": str(loc.path),
        "line": loc.line,
        "effective_params": {p.name: p.value for p in shown.params},
        "warmup": {
            "seconds": shown.warmup_seconds,
            "trades": shown.warmup_trades,
            "needs_book": shown.needs_book,
        },
    }


def show_tables(shown: Shown) -> list[Table]:
    """The variant's fields, then every parameter (value, default, meaning)."""
    loc = shown.located
    v = loc.variant
    head = Table(box=box.SIMPLE_HEAD, show_header=False, title=v.name, title_justify="left")
    head.add_column("field")
    head.add_column("value", overflow="fold")
    head.add_row(
        "indicator", f"{v.indicator} — {shown.indicator_doc}" if shown.indicator_doc else v.indicator
    )
    head.add_row("type", v.type.value)
    head.add_row("description", v.description or "—")
    head.add_row("file", _where(loc.path, loc.line))
    warm = [f"{shown.warmup_trades} trade{'s' if shown.warmup_trades != 1 else ''}"]
    if shown.warmup_seconds:
        warm.append(f"{shown.warmup_seconds:g} s")
    if shown.needs_book:
        warm.append("a book")
    head.add_row("warm after", ", ".join(warm))
    params = Table(box=box.SIMPLE_HEAD, title="parameters", title_justify="left")
    for name in ("param", "value", "default", "meaning"):
        params.add_column(name, overflow="fold")
    for p in shown.params:
        params.add_row(
            p.name, str(p.value) + ("" if p.is_set else " (default)"), str(p.default), p.description
        )
    if not shown.params:
        params.add_row("—", "", "", f"{v.indicator} has no parameters")
    return [head, params]


def written_line(w: Written) -> str:
    """One line saying what a create / edit / delete did."""
    if w.action == "moved":
        return f"moved {w.name} from {w.previous_path} to {w.path}"
    return f"{w.action} {w.name} in {w.path}"


def written_json(w: Written) -> dict[str, Any]:
    """What a create / edit / delete did, as plain data."""
    out: dict[str, Any] = {"action": w.action, "name": w.name, "file": str(w.path)}
    if w.variant is not None:
        out["variant"] = variant_json(w.variant)
    if w.previous_path is not None:
        out["previous_file"] = str(w.previous_path)
    return out


def problem_json(p: Problem) -> dict[str, Any]:
    """One problem as plain data."""
    return {"file": str(p.path), "line": p.line, "key": p.key, "message": p.message}


def validation_json(result: Validation) -> dict[str, Any]:
    """`fx variants validate --json`."""
    return {
        "ok": not result.problems,
        "files": result.files,
        "variants": result.variants,
        "problems": [problem_json(p) for p in result.problems],
    }


def validation_summary(result: Validation) -> str:
    """The last line of `validate`."""
    files = f"{result.files} file{'s' if result.files != 1 else ''}"
    if not result.problems:
        return f"{result.variants} variant{'s' if result.variants != 1 else ''} in {files}: all valid"
    n = len(result.problems)
    return f"{n} problem{'s' if n != 1 else ''} in {files}"


def check_line(check: TwinCheck) -> str:
    """'twins agree on N rows' or the first divergent row."""
    if check.divergence is None:
        plural = "s" if check.variants != 1 else ""
        return f"twins agree on {count(check.rows)} rows ({check.variants} variant{plural})"
    d = check.divergence
    return (
        f"twins differ at row {count(d.row)} ({when(d.ts_ns)}): {d.variant} batch {number(d.batch)}, "
        f"stream {number(d.stream)}"
    )


def check_json(check: TwinCheck) -> dict[str, Any]:
    """The twin check as plain data."""
    d = check.divergence
    return {
        "ok": check.ok,
        "rows": check.rows,
        "variants": check.variants,
        "divergence": None
        if d is None
        else {
            "row": d.row,
            "time": when(d.ts_ns),
            "variant": d.variant,
            "batch": _json_number(d.batch),
            "stream": _json_number(d.stream),
        },
    }


def compute_json(report: ComputeReport) -> dict[str, Any]:
    """`fx variants compute --json`."""
    return {
        "exchange": report.exchange,
        "symbol": report.symbol,
        "from": when(report.first_ns),
        "to": when(report.last_ns),
        "rows": report.rows,
        "source": report.source,
        "variants": [
            {
                **variant_json(s.variant),
                "rows": s.rows,
                "warmup_nan": s.warmup_nan,
                "nan": s.nan,
                "min": _json_number(s.minimum),
                "mean": _json_number(s.mean),
                "max": _json_number(s.maximum),
                "last": _json_number(s.last),
                "first_value": when(s.first_warm_ns) if s.first_warm_ns is not None else None,
                "out_of_range": s.out_of_range,
            }
            for s in report.summaries
        ],
        "files": [str(f) for f in report.files],
        "check": check_json(report.check) if report.check is not None else None,
    }


def compute_table(report: ComputeReport) -> Table:
    """One row per variant: rows, NaN warm-up, min / mean / max, last value."""
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"{report.exchange} {report.symbol} {when(report.first_ns)} → {when(report.last_ns)}",
        title_justify="left",
    )
    table.add_column("variant")
    table.add_column("indicator")
    table.add_column("type")
    for name in ("rows", "NaN warm-up", "min", "mean", "max", "last"):
        table.add_column(name, justify="right")
    for s in report.summaries:
        table.add_row(
            s.variant.name,
            s.variant.indicator,
            s.variant.type.value,
            count(s.rows),
            count(s.warmup_nan),
            number(s.minimum),
            number(s.mean),
            number(s.maximum),
            number(s.last),
        )
    notes = [
        f"one row per trade: {count(report.rows)} rows"
        if report.source == "trades"
        else f"one row per event (trades and book updates): {count(report.rows)} rows"
    ]
    for s in report.summaries:
        if s.out_of_range:
            low, high = s.variant.type.bounds or (0, 0)
            kind = s.variant.type.value
            notes.append(f"{s.variant.name}: {count(s.out_of_range)} values outside {kind} {low:g}-{high:g}")
    table.caption = "\n".join(notes)
    table.caption_justify = "left"
    return table
