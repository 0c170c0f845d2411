"""Real orders in a stream session (`fx stream --live`): the broker, its venue, its journal, its guards.

In the session's loop, before the market source starts: the private client measures the clock,
reads `exchangeInfo` and the key's API symbols, opens the journal under a fresh run id, and
reconciles the journal with the venue (`reconcile.reconcile_startup`: fail closed — an error here
stops the session before the strategy may act). Symbols with an order still UNKNOWN start
quarantined; positions left by earlier runs count against the limits and can be closed.

While the source runs: the user-data stream feeds fills to the broker, the broker polls what is in
flight, the dead-man switch (its own thread and client) watches the loop's heartbeat, and SIGUSR1
stops new entries. When the session ends: cancel on exit (default), then the journal is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.backtest.fills import Costs, Fill, Quote, execute
from fxcli.errors import FxError
from fxcli.exchange.mexc_private.budget import OrderBudget
from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.errors import VenueError
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.execution.broker import LiveBroker, OrderAsk, OrderEvent, OrderOutcome
from fxcli.execution.clientid import parse
from fxcli.execution.journal import Journal
from fxcli.execution.killswitch import DeadManSwitch, cancel_entries, positions
from fxcli.execution.reconcile import OrderClient, paged_trades, reconcile_startup
from fxcli.execution.risk import RiskLimits
from fxcli.live.feed import Feed, OrderNote, StatusNote
from fxcli.model.orders import VenueOrder
from fxcli.strategy.machine import Intent

if TYPE_CHECKING:
    from fxcli.backtest.runner import Runner
    from fxcli.exchange.mexc_private.userstream import UserStream


@dataclass(frozen=True)
class TradingConfig:
    """Everything a live session's orders need, checked by `fx stream` before anything connects."""

    rest_url: str
    user_ws_url: str
    keys: ApiKeys
    journal: Path
    limits: RiskLimits
    dry_run: bool = False
    dead_man_s: float = 10.0
    unfilled_timeout_s: float = 30.0
    cancel_on_exit: bool = True
    stop_entries_file: Path | None = None
    user_stream: bool = True
    poll_s: float = 0.5


@dataclass
class TradingSummary:
    """What the orders of a live session came to (written with the session's results)."""

    run_id: str = ""
    journal: str = ""
    reconcile: dict[str, Any] = field(default_factory=dict)
    sent: int = 0
    rejected: int = 0
    refused: int = 0
    unknown: int = 0
    filled: int = 0
    cancelled_on_exit: int = 0
    open_at_exit: int = 0
    dead_man_fired: bool = False
    entries_stopped: str = ""
    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)


class LiveTrading:
    """The session's side of real orders: `bind` each runner, then `async with trading.running(...)`."""

    def __init__(self, config: TradingConfig, feed: Feed, costs: Costs) -> None:
        self.config = config
        self.feed = feed
        self.costs = costs
        self.broker: LiveBroker | None = None
        self.summary = TradingSummary(journal=str(config.journal))
        self._runners: dict[str, Runner] = {}
        self._quotes: dict[str, Quote] = {}  # the book that priced each symbol's pending decision
        self._dead_man: DeadManSwitch | None = None

    def bind(self, symbol: str, runner: Runner) -> _Forward:
        """`symbol`'s executor; its orders wait for `running` to have reconciled."""
        self._runners[symbol] = runner
        return _Forward(self, symbol)

    def heartbeat(self) -> None:
        """The loop is alive (the session's refresh task calls this a few times a second)."""
        if self._dead_man is not None:
            self._dead_man.beat()

    def stop_entries(self, why: str) -> None:
        """No new entry from now on (SIGUSR1, a control file)."""
        if self.broker is not None:
            self.broker.stop_entries(why)
            self.feed.publish(StatusNote(time.time_ns(), "entries_stopped", why))

    @contextlib.asynccontextmanager
    async def running(
        self, stop: asyncio.Event, venue_now_ns: Callable[[], int | None]
    ) -> AsyncIterator[None]:
        """Reconcile, run the broker's helpers while the body runs, then cancel on exit."""
        cfg = self.config
        async with PrivateClient(cfg.rest_url, cfg.keys) as client:
            journal = Journal.open(cfg.journal)
            try:
                broker = await self._start(client, journal, venue_now_ns)
                helpers = [asyncio.create_task(broker.run(stop))]
                if cfg.user_stream and not cfg.dry_run:
                    helpers.append(asyncio.create_task(self._user_stream(client, broker, stop)))
                self._start_dead_man(journal.run_id, client.budget)
                loop = asyncio.get_running_loop()
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(signal.SIGUSR1, self.stop_entries, "SIGUSR1")
                try:
                    yield
                finally:
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.remove_signal_handler(signal.SIGUSR1)
                    if self._dead_man is not None:
                        self._dead_man.stop()
                    stop.set()
                    left = await broker.close(cancel_open=cfg.cancel_on_exit)
                    for task in helpers:
                        task.cancel()
                    await asyncio.gather(*helpers, return_exceptions=True)
                    self._summarise(broker, journal, left)
            finally:
                journal.close()

    async def _start(
        self, client: PrivateClient, journal: Journal, venue_now_ns: Callable[[], int | None]
    ) -> LiveBroker:
        """Clock, rules, start-up reconciliation (fail closed), then the broker; a venue refusal here
        (bad keys, no permission) is one `fx: error:` line and nothing is sent."""
        cfg = self.config
        symbols = list(self._runners)
        try:
            await client.sync_clock()
            rules = await client.exchange_info(symbols)
            api_symbols = await client.api_symbols()
            report = await reconcile_startup(client, journal, symbols)
        except VenueError as exc:
            raise FxError(f"{cfg.rest_url}: {exc}") from None
        missing = [s for s in symbols if s not in rules]
        if missing:
            raise FxError(f"{', '.join(missing)}: not in the venue's exchangeInfo ({cfg.rest_url})")
        self.summary.run_id = journal.run_id
        self.summary.reconcile = report.to_dict()
        if report.missing or report.errors:  # fail closed: the strategy never starts
            raise FxError(
                f"start-up reconciliation of {cfg.journal} is not consistent ({len(report.missing)} orders "
                f"the venue has no trace of; errors: {report.errors}); nothing was sent; "
                "see fx orders reconcile"
            )
        broker = self.broker = LiveBroker(
            client,
            journal,
            cfg.limits,
            rules,
            on_outcome=self._outcome,
            api_symbols=api_symbols,
            dry_run=cfg.dry_run,
            notify=self._note,
            venue_now_ns=venue_now_ns,
            stop_entries_file=cfg.stop_entries_file,
            unfilled_timeout_s=cfg.unfilled_timeout_s,
            poll_s=cfg.poll_s,
        )
        fills = [t for t in journal.fills() if parse(t.client_id) is not None]  # fx's own, not foreign
        held = positions(fills, rules)
        for symbol in symbols:
            if held.get(symbol, Decimal(0)) > 0:  # left by an earlier run: valued at its average buy
                buys = [t for t in fills if t.symbol == symbol and t.side == "BUY"]
                bought = sum((t.qty for t in buys), Decimal(0))
                spent = sum((t.quote_qty for t in buys), Decimal(0))
                broker.adopt_position(
                    symbol, held[symbol], held[symbol] * spent / bought if bought else spent
                )
        for order in report.still_unknown:
            broker.quarantine(order.symbol, order.client_id)
        note = f"run {journal.run_id}; start-up reconciliation: {report.to_json()}"
        self.feed.publish(StatusNote(time.time_ns(), "live", note))
        return broker

    async def _user_stream(self, client: PrivateClient, broker: LiveBroker, stop: asyncio.Event) -> None:
        await user_stream(client, broker, list(self._runners), self.config.user_ws_url).run(stop)

    def _start_dead_man(self, run_id: str, budget: OrderBudget) -> None:
        """The switch's client runs on its own thread and loop but spends the session client's
        budget: both sign with one key, and the venue counts their requests together."""
        cfg = self.config
        symbols = list(self._runners)

        def cancel_open_entries() -> None:
            async def run() -> None:
                async with PrivateClient(cfg.rest_url, cfg.keys, budget=budget) as own:
                    cancelled = await cancel_entries(own, symbols, run_id)
                self.summary.dead_man_fired = True
                self.feed.publish(
                    StatusNote(
                        time.time_ns(),
                        "dead_man",
                        f"no engine heartbeat for {cfg.dead_man_s:g} s: "
                        f"{len(cancelled)} open entries cancelled",
                    )
                )

            if self.broker is not None:
                self.broker.stop_entries(f"dead-man switch: no engine heartbeat for {cfg.dead_man_s:g} s")
            asyncio.run(run())

        self._dead_man = DeadManSwitch(cfg.dead_man_s, cancel_open_entries).start()

    def submit(self, symbol: str, intent: Intent, quote: Quote) -> None:
        """A runner's decision: to the broker as an ask (refused while the broker does not exist)."""
        runner = self._runners[symbol]
        if self.broker is None:  # decided before start-up reconciliation finished: never sent
            runner.on_venue_reject(runner.state.now_ns, "start-up reconciliation not finished")
            return
        self._quotes[symbol] = quote
        last = quote.last if quote.last == quote.last else quote.best(intent.side)
        self.broker.submit(
            OrderAsk(symbol, intent.action, Decimal(repr(intent.notional)), Decimal(repr(last)), quote.ts_ns)
        )

    def _outcome(self, outcome: OrderOutcome) -> None:
        """An ask ended: the runner hears a fill (the venue's, summed; a dry run's on paper) or a reject."""
        runner = self._runners[outcome.symbol]
        quote = self._quotes.pop(outcome.symbol, None) or Quote.of(runner.state)
        intent = runner.pending_intent
        if outcome.tested and intent is not None and self.broker is not None:
            if intent.action == "open":
                fill = execute(runner.state, quote, intent.side, self.costs, notional=intent.notional)
            else:
                fill = execute(runner.state, quote, intent.side, self.costs, qty=intent.qty)
            if fill is None:
                runner.on_venue_reject(runner.state.now_ns, "no price to fill at")
                return
            qty, spent = Decimal(repr(fill.qty)), Decimal(repr(fill.notional))
            self.broker.record_paper_fill(outcome.symbol, intent.action, qty, spent)
            runner.on_venue_fill(fill)
        elif outcome.qty > 0:
            runner.on_venue_fill(_as_fill(outcome, quote, runner.state.now_ns))
        else:
            runner.on_venue_reject(runner.state.now_ns, outcome.reason)

    def _note(self, event: OrderEvent) -> None:
        self.feed.publish(
            OrderNote(
                event.ts_ns,
                event.symbol,
                event.client_id,
                event.role,
                event.side,
                event.state,
                event.qty,
                event.price,
                event.detail,
            )
        )

    def _summarise(self, broker: LiveBroker, journal: Journal, left_open: int) -> None:
        from fxcli.execution.documents import order_doc, trade_doc

        stats, summary = broker.stats, self.summary
        summary.sent, summary.rejected, summary.refused = stats.sent, stats.rejected, stats.refused
        summary.unknown, summary.filled = stats.unknown, stats.filled
        summary.cancelled_on_exit, summary.open_at_exit = stats.cancelled_on_exit, left_open
        summary.entries_stopped = broker.entries_stopped
        run_id = journal.run_id
        summary.orders = [order_doc(o) for o in journal.orders() if o.intent.run_id == run_id]
        ours = {o["client_id"] for o in summary.orders}
        summary.fills = [trade_doc(t) for t in journal.fills() if t.client_id in ours]


async def backfill_fills(client: OrderClient, broker: LiveBroker, symbols: list[str], since_ms: int) -> None:
    """Every fill of `symbols` since `since_ms` to the broker (journaled once per trade id), page
    after page: a long outage of a busy symbol holds more than myTrades' 100 rows."""
    for symbol in symbols:
        for trade in await paged_trades(client, symbol, since_ms):
            broker.on_trade(trade)


def user_stream(
    client: PrivateClient, broker: LiveBroker, symbols: list[str], ws_url: str, **knobs: Any
) -> UserStream:
    """The user-data stream that feeds `broker`'s fills, as a live session wires it (the order
    campaign drives the same wiring, with short `knobs` for its timers)."""
    from fxcli.exchange.mexc_private.userstream import UserStream

    async def open_orders() -> list[VenueOrder]:
        return [o for symbol in symbols for o in await client.open_orders(symbol)]

    async def backfill(since_ms: int) -> None:  # fills pushed while the stream was away
        await backfill_fills(client, broker, symbols, since_ms)

    stream = UserStream(
        client,
        ws_url,
        on_order=broker.on_order,
        on_trade=broker.on_trade,
        on_account=lambda push: None,  # balances are read by REST when an exit is sized
        on_reconnect=backfill,
        canary_source=open_orders,  # an order the venue lists but the stream never pushed: a dead key
        **knobs,
    )
    broker.on_accepted = stream.expect  # a MARKET order never rests: its push must come instead
    return stream


class _Forward:
    """A runner's executor: its decisions go to the session's broker under its symbol."""

    def __init__(self, trading: LiveTrading, symbol: str) -> None:
        self.trading = trading
        self.symbol = symbol

    def submit(self, intent: Intent, quote: Quote) -> None:
        self.trading.submit(self.symbol, intent, quote)


def _as_fill(outcome: OrderOutcome, quote: Quote, now_ns: int) -> Fill:
    """The venue's fills of one order as the backtest's `Fill`: average price, fees in quote, and
    the quality line against the book that priced the decision."""
    side = 1 if outcome.side == "BUY" else -1
    qty = float(outcome.qty)
    price = float(outcome.quote_qty / outcome.qty)
    mid, best = quote.mid, quote.best(side)
    ok = mid == mid and mid > 0
    return Fill(
        decided_ts_ns=quote.ts_ns,
        ts_ns=now_ns,
        side=side,
        qty=qty,
        wanted_qty=qty,
        price=price,
        notional=float(outcome.quote_qty),
        fee=float(outcome.fee_quote),
        source="venue",
        levels=outcome.fills,
        mid_at_decision=mid,
        expected_price=best,
        spread_bps=side * (best - mid) / mid * 1e4 if ok else 0.0,
        latency_bps=0.0,
        slippage_bps=side * (price - best) / mid * 1e4 if ok else 0.0,
    )
