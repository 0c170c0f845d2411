"""Renderings of `fx inspect` results: rich tables for people, plain dicts for --json."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from fxcli.ui.format import count, size, when

if TYPE_CHECKING:
    import polars as pl

    from fxcli.store.repair import Quarantine
    from fxcli.tasks.inspect import Coverage, Quality, TableSummary

TABLE_ORDER = ("trades", "book_deltas", "book_snapshots", "book_ticker")


def overview_json(rows: list[TableSummary]) -> dict[str, Any]:
    """Overview as plain data."""
    return {
        "tables": [
            {
                "exchange": r.exchange,
                "symbol": r.symbol,
                "table": r.table,
                "files": r.files,
                "rows": r.rows,
                "bytes": r.bytes,
                "first": when(r.first_ts_ns),
                "last": when(r.last_ts_ns),
            }
            for r in rows
        ]
    }


def overview_table(rows: list[TableSummary], root: Path) -> Table:
    """One row per exchange/symbol/table."""
    table = Table(box=box.SIMPLE_HEAD, title=f"stored in {root}", title_justify="left")
    for name, justify in (
        ("exchange", "left"),
        ("symbol", "left"),
        ("table", "left"),
        ("files", "right"),
        ("rows", "right"),
        ("size", "right"),
        ("first", "left"),
        ("last", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            r.exchange,
            r.symbol,
            r.table,
            count(r.files),
            count(r.rows),
            size(r.bytes),
            when(r.first_ts_ns),
            when(r.last_ts_ns),
        )
    return table


def _gap_json(gap: dict[str, Any]) -> dict[str, Any]:
    out = {
        "start": when(gap["start_ns"]),
        "end": when(gap["end_ns"]),
        "reason": gap["reason"],
        "detail": gap["detail"],
    }
    if gap.get("backfill") is not None:  # what `fx record` fetched of the gap's trades
        out["backfill"] = gap["backfill"]
        out["backfill_trades"] = gap.get("backfill_trades")
        start, end = gap.get("backfill_from_ns"), gap.get("backfill_to_ns")
        out["trades_recovered"] = None if start is None else {"start": when(start), "end": when(end)}
    return out


BACKFILL_WORDS = {
    "recovered": "trades recovered",
    "partial": "trades partly recovered",
    "not_recovered": "trades not recovered",
    "off": "trades not fetched",
}


def _gap_label(gap: dict[str, Any]) -> str:
    """The reason, and what a backfill made of the gap's trades (the book stays missing)."""
    done = gap.get("backfill")
    return f"{gap['reason']}: {BACKFILL_WORDS.get(done, done)}" if done is not None else gap["reason"]


def _backfill_note(gaps: list[dict[str, Any]]) -> str:
    """`; backfill: 1 recovered (57 trades), 1 partly (40 trades), 1 not`, or "" if none was tried."""
    parts = []
    for status, word in (("recovered", "recovered"), ("partial", "partly"), ("not_recovered", "not")):
        found = [g for g in gaps if g.get("backfill") == status]
        if found:
            trades = sum(g.get("backfill_trades") or 0 for g in found)
            parts.append(
                f"{len(found)} {word}" + (f" ({count(trades)} trades)" if status != "not_recovered" else "")
            )
    return f"; backfill: {', '.join(parts)}" if parts else ""


def coverage_json(report: Coverage) -> dict[str, Any]:
    """Coverage as plain data."""
    return {
        "exchange": report.exchange,
        "symbol": report.symbol,
        "hours": [
            {
                "hour": when(h.hour_ns),
                "rows": h.rows,
                "gaps": [_gap_json(g) for g in h.gaps],
                "problems": h.problems,
            }
            for h in report.hours
        ],
        "gaps": [_gap_json(g) for g in report.gaps],
        "problems": report.problems,
    }


def coverage_table(report: Coverage) -> Table:
    """One row per UTC hour: rows per table, and gap reasons."""
    table = Table(
        box=box.SIMPLE_HEAD, title=f"{report.exchange} {report.symbol} coverage", title_justify="left"
    )
    table.add_column("hour (UTC)")
    for name in TABLE_ORDER:
        table.add_column(name, justify="right")
    table.add_column("gaps")
    for h in report.hours:
        cells = [count(h.rows[n]) if n in h.rows else "—" for n in TABLE_ORDER]
        reasons = ", ".join([*h.problems, *sorted({_gap_label(g) for g in h.gaps})])
        reasons = reasons or ("no data" if not h.rows else "")
        table.add_row(when(h.hour_ns)[:13] + ":00", *cells, reasons)
    n = len(report.gaps)
    table.caption = f"{n} gap{'s' if n != 1 else ''} in all{_backfill_note(report.gaps)}" if n else "no gaps"
    table.caption_justify = "left"
    return table


def quality_json(report: Quality) -> dict[str, Any]:
    """Quality findings as plain data."""
    return {
        "exchange": report.exchange,
        "symbol": report.symbol,
        "from": when(report.window[0]) if report.window[0] is not None else None,
        "to": when(report.window[1]) if report.window[1] is not None else None,
        "trades": report.trades,
        "duplicate_trade_ids": report.duplicate_trade_ids,
        "duplicate_rows": report.duplicate_rows,
        "trade_id_jumps": report.trade_id_jumps,
        "out_of_order": report.out_of_order,
        "price_outliers": [
            {
                "time": when(o["exchange_ts_ns"]),
                "price": o["price"],
                "median": o["median"],
                "deviation_pct": o["deviation_pct"],
            }
            for o in report.price_outliers
        ],
        "crossed_ticker": report.crossed_ticker,
        "crossed_book": report.crossed_book,
        "book_updates": report.book_updates,
        "book_breaks": report.book_breaks,
        "skew_ms": report.skew_ms,
        "silences": [
            {"from": when(s["from_ns"]), "to": when(s["to_ns"]), "seconds": s["seconds"]}
            for s in report.silences
        ],
        "gaps": report.gaps,
    }


def quality_table(report: Quality) -> Table:
    """One row per check, with its finding."""
    table = Table(
        box=box.SIMPLE_HEAD, title=f"{report.exchange} {report.symbol} quality", title_justify="left"
    )
    table.add_column("check")
    table.add_column("finding", justify="right")
    table.add_column("rule")
    table.add_row("trades", count(report.trades), "rows in the window")
    table.add_row("duplicate trade ids", count(report.duplicate_trade_ids), "extra copies of an id")
    table.add_row("identical trade rows", count(report.duplicate_rows), "may be genuine repeated prints")
    table.add_row("trade id jumps", count(report.trade_id_jumps), "next id != previous + 1")
    for name, n in report.out_of_order.items():
        table.add_row(f"out of order: {name}", count(n), "exchange time goes back, in receive order")
    table.add_row(
        "price outliers", count(len(report.price_outliers)), "far from rolling median of 101 trades"
    )
    table.add_row("crossed book_ticker", count(report.crossed_ticker), "bid >= ask")
    table.add_row(
        "crossed L2 book",
        f"{count(report.crossed_book)} / {count(report.book_updates)}",
        "bid >= ask after an update",
    )
    table.add_row("L2 chain breaks", count(report.book_breaks), "delta does not continue the version")
    for name, s in report.skew_ms.items():
        table.add_row(
            f"clock skew: {name}",
            f"{s['median']:+.1f} ms",
            f"received - exchange; p01 {s['p01']:+.1f}, p99 {s['p99']:+.1f}",
        )
    longest = f"{report.silences[0]['seconds']:.1f} s" if report.silences else "none"
    table.add_row("silent stretches", f"{len(report.silences)}", f"longest {longest}")
    table.add_row("gaps", count(report.gaps), "recorded Gap rows")
    return table


def frame_table(frame: pl.DataFrame, title: str) -> Table:
    """Any frame as a table (times as ISO text, floats as stored)."""
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    for name in frame.columns:
        table.add_column(name, justify="left" if name == "time" else "right")
    for row in frame.iter_rows():
        table.add_row(*["" if v is None else str(v) for v in row])
    return table


def repair_lines(done: Quarantine) -> list[str]:
    """What `--repair` did, one line per file, then where to find it."""
    lines = [f"moved {src} to {dst}" for src, dst in done.moved]
    lines += [f"removed the manifest entry of {path} (the file was gone)" for path in done.dropped]
    if done.moved:
        lines.append(f"moved files are in {done.folder}; import their sources again to restore the hours")
    return lines


def repair_json(done: Quarantine) -> dict[str, Any]:
    """What `--repair` did, as plain data."""
    return {
        "quarantine": str(done.folder) if done.moved else None,
        "moved": [{"from": str(src), "to": str(dst)} for src, dst in done.moved],
        "dropped": [str(path) for path in done.dropped],
    }
