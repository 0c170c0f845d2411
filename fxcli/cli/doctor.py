"""`fx doctor`: check the install, the data dir, the disk, the clock and the configured endpoints."""

from __future__ import annotations

from typing import Annotated

import typer

from fxcli.cli.options import MAX_BALANCE, DataDir, Json, KeyFile, Proxy, number_in
from fxcli.cli.output import EXIT_CHECK_FAILED, print_json, render, reporting_errors

MAX_TIMEOUT_S = 600.0


def doctor(
    exchange: Annotated[
        str | None,
        typer.Option("--exchange", "-e", help="Check only mexc-spot or mexc-futures (default: both)."),
    ] = None,
    ws_url: Annotated[
        str | None, typer.Option("--ws-url", help="WebSocket URL to check (needs --exchange).")
    ] = None,
    rest_url: Annotated[
        str | None, typer.Option("--rest-url", help="REST base URL to check (needs --exchange).")
    ] = None,
    timeout_s: Annotated[
        float,
        typer.Option(
            callback=number_in(0.0, MAX_TIMEOUT_S, low_open=True),
            help="Seconds to wait for each venue's time endpoint (at most 600).",
        ),
    ] = 3.0,
    proxy: Proxy = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Check live trading instead: keys, clock, and a test order per --symbols (none placed).",
        ),
    ] = False,
    symbols: Annotated[
        str | None, typer.Option(help="With --live: comma-separated symbols to send a test order for.")
    ] = None,
    notional: Annotated[
        float | None,
        typer.Option(
            callback=number_in(0.0, MAX_BALANCE, low_open=True),
            help="With --live: the test order's size in quote (default max_order_notional of fx.toml [live], "
            "else the symbol's minimum).",
            show_default=False,
        ),
    ] = None,
    key_file: KeyFile = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Is this machine ready to record? Python and packages, data dir, disk, clock skew, endpoints.

    Exit codes: 0 every check passed (an unreachable venue is a skip, not a failure), 1 a check
    failed (clock skew over 1 s, data dir not writable, disk nearly full), 2 bad input.

    With --live: are the keys valid, the clock close enough, and would each symbol's first order
    pass (fx's rules, then MEXC's order/test, naming the rule that fails)? A fail is exit 1.

    Example: fx doctor --json
    """
    from fxcli.errors import FxError
    from fxcli.tasks.doctor import doctor as run_doctor
    from fxcli.tasks.orders import LiveRequest, symbols_of
    from fxcli.ui.doctor import doctor_json, doctor_table

    with reporting_errors():
        wanted = symbols_of(symbols, "--symbols")
        if not live and (wanted or notional is not None or key_file is not None):
            raise FxError("--symbols, --notional and --key-file are for fx doctor --live")
        report = run_doctor(
            data_dir=data_dir,
            exchange=exchange,
            ws_url=ws_url,
            rest_url=rest_url,
            timeout_s=timeout_s,
            proxy=proxy,
            live=LiveRequest(live=live, key_file=key_file),
            symbols=wanted,
            notional=notional,
        )
    if json_out:
        print_json(doctor_json(report))
    else:
        render(doctor_table(report))
    if report.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)
