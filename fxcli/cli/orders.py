"""`fx orders list|cancel|reconcile` and `fx flatten`: the operator's hands on live orders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fxcli.cli.options import DataDir, JournalFile, Json, KeyFile
from fxcli.cli.output import EXIT_CHECK_FAILED, print_json, render, reporting_errors

if TYPE_CHECKING:
    from fxcli.tasks.orders import LiveConfig

app = typer.Typer(
    help="Live orders in the journal and at MEXC: list, cancel, reconcile. Exit codes: 0 ok, 2 bad input.",
    no_args_is_help=True,
)

RestUrl = Annotated[
    str | None,
    typer.Option(help="MEXC spot REST base URL (default: the venue's; FX_MEXC_SPOT_REST_URL; fx.toml)."),
]
Symbol = Annotated[str | None, typer.Option("--symbol", "-s", help="Only this symbol.", show_default=False)]


def _config(
    data_dir: Path | None, key_file: Path | None, journal: Path | None, rest_url: str | None
) -> LiveConfig:
    from fxcli.settings import load_settings_sourced
    from fxcli.tasks.orders import LiveRequest, resolve_live

    settings, sources = load_settings_sourced(data_dir=data_dir)
    request = LiveRequest(live=True, key_file=key_file, journal=journal)
    return resolve_live(settings, sources, request, rest_url=rest_url, need_limits=False)


def _show(
    doc: dict[str, Any], json_out: bool, title: str, rows: list[dict[str, Any]], columns: list[str]
) -> None:
    if json_out:
        print_json(doc)
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    render(table)


@app.command(name="list")
def list_(
    all_orders: Annotated[
        bool, typer.Option("--all", help="Every journaled order, not only open ones.")
    ] = False,
    symbol: Symbol = None,
    journal: JournalFile = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """The journal's open orders (with --all: every order) of every fx run; no venue call.

    Example: fx orders list --json
    """
    from fxcli.settings import load_settings
    from fxcli.tasks.orders import list_orders

    with reporting_errors():
        doc = list_orders(load_settings(data_dir=data_dir), journal, all_orders=all_orders, symbol=symbol)
    columns = [
        "client_id",
        "role",
        "symbol",
        "side",
        "type",
        "state",
        "executed_qty",
        "cum_quote",
        "order_id",
    ]
    _show(doc, json_out, f"orders in {doc['journal']}", doc["orders"], columns)


@app.command()
def cancel(
    client_ids: Annotated[
        list[str] | None,
        typer.Argument(help="fx client ids to cancel (fx orders list shows them).", show_default=False),
    ] = None,
    symbol: Annotated[
        str | None,
        typer.Option("--symbol", "-s", help="Cancel every open fx order of this symbol.", show_default=False),
    ] = None,
    key_file: KeyFile = None,
    journal: JournalFile = None,
    rest_url: RestUrl = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Cancel fx orders at MEXC (never an order placed outside fx).

    Example: fx orders cancel --symbol BTCUSDT
    """
    from fxcli.tasks.orders import cancel_orders

    with reporting_errors():
        doc = cancel_orders(
            _config(data_dir, key_file, journal, rest_url), client_ids=list(client_ids or []), symbol=symbol
        )
    rows = [{"symbol": s, "client_id": c} for s, ids in doc["cancelled"].items() for c in ids]
    _show(doc, json_out, "cancel requests sent", rows, ["symbol", "client_id"])


@app.command()
def reconcile(
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols (default: every symbol in the journal).")
    ] = None,
    key_file: KeyFile = None,
    journal: JournalFile = None,
    rest_url: RestUrl = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Compare the journal with MEXC (open orders, recent orders, trades); resolve unknown outcomes
    by venue evidence, backfill missing fills, report foreign orders (never cancelled).

    Exit codes: 0 consistent, 1 orders still unknown or balances that do not match, 2 bad input.

    Example: fx orders reconcile --json
    """
    from fxcli.tasks.orders import reconcile_orders

    with reporting_errors():
        doc = reconcile_orders(_config(data_dir, key_file, journal, rest_url), symbols=symbols)
    rows = [{"what": k, "count": len(v) if isinstance(v, list | dict) else v} for k, v in doc.items()]
    _show(doc, json_out, "reconciliation", rows, ["what", "count"])
    if doc.get("still_unknown") or doc.get("balance_mismatch"):
        raise typer.Exit(EXIT_CHECK_FAILED)


def flatten(
    symbol: Annotated[
        str | None, typer.Option("--symbol", "-s", help="Only this symbol (default: every symbol fx traded).")
    ] = None,
    key_file: KeyFile = None,
    journal: JournalFile = None,
    rest_url: RestUrl = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Kill switch: cancel every open fx order and sell what fx's fills hold, now.

    Orders placed outside fx are never touched. Exit codes: 0 flat, 1 fx orders still open after
    the wait, 2 bad input.

    Example: fx flatten --symbol BTCUSDT
    """
    from fxcli.tasks.orders import flatten_all

    with reporting_errors():
        doc = flatten_all(_config(data_dir, key_file, journal, rest_url), symbol=symbol)
    rows = [
        {"symbol": s, "cancelled": len(doc["cancelled"].get(s, [])), "sold": doc["sold"].get(s)}
        for s in sorted(set(doc["cancelled"]) | set(doc["sold"]) | set(doc["left_open"]))
    ]
    _show(doc, json_out, f"flatten ({doc['seconds']:.2f} s)", rows, ["symbol", "cancelled", "sold"])
    if doc["left_open"]:
        raise typer.Exit(EXIT_CHECK_FAILED)
