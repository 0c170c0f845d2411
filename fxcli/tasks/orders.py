"""`fx orders list|cancel|reconcile`, `fx flatten`, and what every live command resolves first.

A live command needs the venue's REST URL (`--rest-url`, FX_MEXC_SPOT_REST_URL, fx.toml; tests point it
at the fake venue), the API keys (env or a 0600 key file: never printed), and the order journal
(`<data_dir>/orders/journal.sqlite` by default). `fx stream --live` also needs the four risk limits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.errors import FxError
from fxcli.exchange.venues import venue_named
from fxcli.execution.risk import LIMIT_OPTIONS, RiskLimits, limits_from
from fxcli.settings import Settings
from fxcli.tasks.venues import resolve_endpoints

if TYPE_CHECKING:
    from fxcli.exchange.mexc_private.keys import ApiKeys

JOURNAL_NAME = Path("orders") / "journal.sqlite"
_SYMBOL = re.compile(r"[A-Z0-9]{2,40}")
STOP_ENTRIES_NAME = "stop-entries"  # a file next to the journal: while it exists, no new entry


@dataclass(frozen=True)
class LiveRequest:
    """What the command line asked of live trading (None: not given)."""

    live: bool = False
    dry_run: bool = False
    key_file: Path | None = None
    journal: Path | None = None
    limits: Mapping[str, float | int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveConfig:
    """A checked live context: where the venue is, the keys, the journal, and for a stream the limits."""

    rest_url: str
    user_ws_url: str
    keys: ApiKeys
    key_source: str  # "FX_MEXC_API_KEY" or the key file's path: what the banner may show
    journal: Path
    limits: RiskLimits | None
    dry_run: bool = False
    dead_man_s: float = 10.0
    unfilled_timeout_s: float = 30.0
    cancel_on_exit: bool = True

    @property
    def stop_entries_file(self) -> Path:
        """While this file exists, the live stream sends no new entry (exits still go)."""
        return self.journal.parent / STOP_ENTRIES_NAME

    def banner(self) -> str:
        """The line `fx stream --live` says before anything is sent (never a key)."""
        mode = "LIVE DRY RUN (orders go to /api/v3/order/test; nothing is placed)" if self.dry_run else "LIVE"
        limits = self.limits
        said = (
            ""
            if limits is None
            else f"; limits: order {limits.max_order_notional}, total {limits.max_total_notional}, "
            f"positions {limits.max_open_positions}, daily loss {limits.max_daily_loss}"
        )
        return (
            f"{mode}: real orders on MEXC spot at {self.rest_url} with keys from {self.key_source}{said}; "
            f"journal {self.journal}; cancel on exit {'on' if self.cancel_on_exit else 'off'}; "
            f"stop entries: kill -USR1 {os.getpid()} or touch {self.stop_entries_file}"
        )


def resolve_live(
    settings: Settings,
    sources: Mapping[str, str],
    request: LiveRequest,
    *,
    rest_url: str | None = None,
    need_limits: bool,
    environ: Mapping[str, str] | None = None,
) -> LiveConfig:
    """Check everything a live command needs before anything connects (FxError, exit 2, naming it)."""
    from fxcli.exchange.mexc_private.keys import load_keys

    live = settings.live
    limits = None
    if need_limits:
        given: dict[str, object | None] = {
            k: request.limits.get(k) if request.limits.get(k) is not None else getattr(live, k)
            for k in LIMIT_OPTIONS
        }
        where = {
            k: LIMIT_OPTIONS[k]
            if request.limits.get(k) is not None
            else f"{sources.get('live', 'fx.toml')}: live.{k}"
            for k in LIMIT_OPTIONS
        }
        try:
            limits = limits_from(given, where)
        except ValueError as exc:
            raise FxError(str(exc)) from None
    key_file = request.key_file or live.key_file
    env = os.environ if environ is None else environ
    keys = load_keys(env, key_file)
    venue = venue_named("mexc-spot")
    resolved = resolve_endpoints(venue, settings, dict(sources), rest_url=rest_url)
    journal = journal_path(settings, request.journal)
    if journal.exists() and not journal.is_file():
        raise FxError(f"--journal {journal}: not a file")
    return LiveConfig(
        rest_url=resolved.rest_url,
        user_ws_url=settings.mexc_spot_user_ws_url or resolved.ws_url,
        keys=keys,
        key_source=str(key_file) if key_file is not None else "FX_MEXC_API_KEY / FX_MEXC_API_SECRET",
        journal=journal,
        limits=limits,
        dry_run=request.dry_run,
        dead_man_s=live.dead_man_s,
        unfilled_timeout_s=live.unfilled_timeout_s,
        cancel_on_exit=live.cancel_on_exit,
    )


def symbols_of(text: str | None, option: str) -> list[str]:
    """Comma-separated symbols as MEXC spells them (upper case); anything else is refused, naming it."""
    symbols = [s.strip().upper() for s in (text or "").split(",") if s.strip()]
    for symbol in symbols:
        if not _SYMBOL.fullmatch(symbol):
            raise FxError(f"{option} {symbol!r}: not a MEXC spot symbol (letters and digits, e.g. BTCUSDT)")
    return symbols


def refuse_live_options_without_live(request: LiveRequest) -> None:
    """A live option on a paper stream is a mistake worth saying (the user thinks they set a limit)."""
    if request.live:
        return
    given = [LIMIT_OPTIONS[k] for k, v in request.limits.items() if v is not None]
    given += [flag for flag, v in (("--key-file", request.key_file), ("--journal", request.journal)) if v]
    if request.dry_run:
        given.append("--dry-run-orders")
    if given:
        raise FxError(f"{', '.join(given)}: only with --live (this stream trades on paper)")


def journal_path(settings: Settings, given: Path | None) -> Path:
    """`--journal`, else `journal` of fx.toml [live], else `<data_dir>/orders/journal.sqlite`."""
    return given or settings.live.journal or settings.data_dir / JOURNAL_NAME


def _existing(journal: Path) -> Path:
    if not journal.is_file():
        raise FxError(f"--journal {journal}: no order journal there (fx stream --live writes it)")
    return journal


def list_orders(
    settings: Settings, journal: Path | None, *, all_orders: bool, symbol: str | None
) -> dict[str, Any]:
    """The journal's orders (open ones unless `all_orders`), newest last; no venue call."""
    from fxcli.execution.documents import order_doc
    from fxcli.execution.journal import Journal

    path = _existing(journal_path(settings, journal))
    with Journal.open(path) as opened:
        orders = opened.orders(open_only=not all_orders)
        runs = sorted(opened.run_ids() - {opened.run_id})
    wanted = symbols_of(symbol, "--symbol")
    docs = [order_doc(o) for o in orders if not wanted or o.symbol in wanted]
    return {"journal": str(path), "runs": runs, "open_only": not all_orders, "orders": docs}


def _run(coro: Any) -> Any:
    """Run one venue conversation; a venue's refusal is one `fx: error:` line (the client scrubs keys)."""
    import asyncio

    from fxcli.exchange.mexc_private.errors import VenueError

    try:
        return asyncio.run(coro)
    except VenueError as exc:
        raise FxError(str(exc)) from None


def cancel_orders(config: LiveConfig, *, client_ids: list[str], symbol: str | None) -> dict[str, Any]:
    """Cancel the given fx orders, or every open fx order of `symbol`; foreign orders are refused."""
    from fxcli.execution.journal import Journal
    from fxcli.execution.killswitch import cancel_ours, is_ours

    only = symbols_of(symbol, "--symbol")

    async def run() -> dict[str, Any]:
        from fxcli.exchange.mexc_private.client import PrivateClient

        with Journal.open(_existing(config.journal)) as journal:
            run_ids = journal.run_ids()
            known = {o.client_id: o for o in journal.orders()}
            for cid in client_ids:
                if not is_ours(cid, run_ids):
                    raise FxError(
                        f"{cid}: not an order of this journal's runs (fx never cancels foreign orders)"
                    )
            cancelled: dict[str, list[str]] = {}
            async with PrivateClient(config.rest_url, config.keys) as client:
                await client.sync_clock()
                for cid in client_ids:
                    order = known.get(cid)
                    if order is None:
                        raise FxError(f"{cid}: not in {journal.path}")
                    await client.cancel_order(order.symbol, client_id=cid)
                    cancelled.setdefault(order.symbol, []).append(cid)
                for each in only:
                    ids, _ = await cancel_ours(client, each, run_ids)
                    cancelled.setdefault(each, []).extend(ids)
        return {"journal": str(config.journal), "cancelled": cancelled}

    if not client_ids and symbol is None:
        raise FxError("give client ids to cancel, or --symbol for every open fx order of a symbol")
    return _run(run())  # type: ignore[no-any-return]


def reconcile_orders(config: LiveConfig, *, symbols: str | None) -> dict[str, Any]:
    """Journal x open orders x recent orders x trades, as `fx stream --live` does at start-up."""
    from fxcli.execution.journal import Journal
    from fxcli.execution.reconcile import reconcile_startup

    asked = symbols_of(symbols, "--symbols")

    async def run() -> dict[str, Any]:
        from fxcli.exchange.mexc_private.client import PrivateClient

        with Journal.open(_existing(config.journal)) as journal:
            wanted = asked or sorted(
                {o.symbol for o in journal.orders()} | {t.symbol for t in journal.fills()}
            )
            async with PrivateClient(config.rest_url, config.keys) as client:
                await client.sync_clock()
                report = await reconcile_startup(client, journal, wanted)
        return {"journal": str(config.journal), "symbols": wanted, **report.to_dict()}

    return _run(run())  # type: ignore[no-any-return]


def flatten_all(config: LiveConfig, *, symbol: str | None) -> dict[str, Any]:
    """Cancel every fx order and sell fx's positions (of `symbol`, default every symbol fx traded)."""
    from dataclasses import asdict

    from fxcli.execution.journal import Journal
    from fxcli.execution.killswitch import flatten

    only = symbols_of(symbol, "--symbol")

    async def run() -> dict[str, Any]:
        from fxcli.exchange.mexc_private.client import PrivateClient

        with Journal.open(_existing(config.journal)) as journal:
            async with PrivateClient(config.rest_url, config.keys) as client:
                await client.sync_clock()
                traded = sorted({o.symbol for o in journal.orders()} | {t.symbol for t in journal.fills()})
                wanted = only or traded
                rules = await client.exchange_info(wanted) if wanted else {}
                report = await flatten(client, journal, rules, symbols=wanted)
        return {"journal": str(config.journal), **asdict(report)}

    return _run(run())  # type: ignore[no-any-return]
