"""`fx doctor`: check the install, the data dir, the disk, the clock and the configured endpoints."""

from __future__ import annotations

from typing import Annotated

import typer

from fxcli.cli.options import DataDir, Json, Proxy, number_in
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
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Is this machine ready to record? Python and packages, data dir, disk, clock skew, endpoints.

    Exit codes: 0 every check passed (an unreachable venue is a skip, not a failure), 1 a check
    failed (clock skew over 1 s, data dir not writable, disk nearly full), 2 bad input.

    Example: fx doctor --json
    """
    from fxcli.tasks.doctor import doctor as run_doctor
    from fxcli.ui.doctor import doctor_json, doctor_table

    with reporting_errors():
        report = run_doctor(
            data_dir=data_dir,
            exchange=exchange,
            ws_url=ws_url,
            rest_url=rest_url,
            timeout_s=timeout_s,
            proxy=proxy,
        )
    if json_out:
        print_json(doctor_json(report))
    else:
        render(doctor_table(report))
    if report.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)
