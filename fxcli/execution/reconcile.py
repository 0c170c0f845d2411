"""Reconciliation: the journal against the venue's records, before the strategy may act (start-up)
and whenever a send's outcome is unknown.

Venue facts this is built on (docs/mexc-orders.md §0, F2/F3/F18/F19): the venue may answer
"order does not exist" (-2013) for a moment after it accepted an order, so a not-found within
`lag_s` of the send proves nothing; `allOrders` reaches 7 days back, `myTrades` 100 rows a page. An
intent is declared never placed (TOMBSTONED) only after two not-founds past the lag AND its absence
from open orders, recent orders and trades; a tombstoned id is still watched. Orders whose client id
belongs to no run of this journal are foreign: reported, never cancelled.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, TypeVar

from fxcli.exchange.mexc_private.errors import RetryClass, VenueError
from fxcli.execution.balances import balance_mismatch
from fxcli.execution.clientid import parse
from fxcli.execution.journal import Journal
from fxcli.execution.orders import AT_VENUE, IN_DOUBT, OrderState, TrackedOrder, evidence, now_ms
from fxcli.model.orders import TERMINAL_STATUSES, Balance, VenueOrder, VenueTrade

ALL_ORDERS_LOOKBACK_MS = 7 * 24 * 3600 * 1000  # the furthest allOrders reaches back
TRADES_LOOKBACK_MS = 24 * 3600 * 1000  # myTrades window when the journal gives no better start
TRADES_MAX_LOOKBACK_MS = 30 * 24 * 3600 * 1000  # myTrades answers for the last month only
SEND_MARGIN_MS = 60_000  # venue and local clocks differ: search a minute before the intent
ALL_ORDERS_PAGE = 1000
TRADES_PAGE = 100
Row = TypeVar("Row", VenueOrder, VenueTrade)


class OrderClient(Protocol):
    """The part of the private REST client (`PrivateClient`) reconciliation uses."""

    async def server_time(self) -> int: ...

    async def query_order(
        self, symbol: str, *, client_id: str | None = None, order_id: str | None = None
    ) -> VenueOrder: ...

    async def open_orders(self, symbol: str) -> list[VenueOrder]: ...

    async def all_orders(
        self, symbol: str, *, start_ms: int | None = None, end_ms: int | None = None, limit: int = 1000
    ) -> list[VenueOrder]: ...

    async def my_trades(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ) -> list[VenueTrade]: ...

    async def account(self) -> dict[str, Balance]: ...


@dataclass
class VenueView:
    """What the venue listed for one symbol, and when (local ms) the lists were read."""

    open_orders: list[VenueOrder]
    all_orders: list[VenueOrder]
    trades: list[VenueTrade]
    read_ms: int

    def find(self, order: TrackedOrder) -> tuple[list[VenueOrder], list[VenueTrade]]:
        """The snapshots and fills of `order` in these lists (by client id, or order id once known)."""

        def mine(cid: str, oid: str) -> bool:
            return cid == order.client_id or bool(order.order_id and oid == order.order_id)

        snapshots = [o for o in self.open_orders + self.all_orders if mine(o.client_id, o.order_id)]
        oids = {o.order_id for o in snapshots} | ({order.order_id} if order.order_id else set())
        trades = [t for t in self.trades if t.client_id == order.client_id or t.order_id in oids]
        return snapshots, trades


@dataclass
class ReconcileReport:
    """What reconciliation found; `consistent` is what the strategy waits for (fail closed)."""

    own_open: list[TrackedOrder] = field(default_factory=list)
    resolved: list[TrackedOrder] = field(default_factory=list)
    still_unknown: list[TrackedOrder] = field(default_factory=list)
    missing: list[TrackedOrder] = field(default_factory=list)  # journal says live, venue has no trace
    foreign: list[VenueOrder] = field(default_factory=list)
    fills_backfilled: int = 0
    balance_mismatch: dict[str, Decimal] = field(default_factory=dict)
    incidents: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # venue reads that failed (symbol: why)
    elapsed_s: float = 0.0

    @property
    def consistent(self) -> bool:
        return not (self.still_unknown or self.missing or self.balance_mismatch or self.errors)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (Decimals as strings)."""

        def order(o: TrackedOrder) -> dict[str, object]:
            return {
                "client_id": o.client_id,
                "order_id": o.order_id,
                "symbol": o.symbol,
                "side": o.side,
                "state": str(o.state),
                "cum_qty": format(o.cum_qty, "f"),
                "fills": len(o.fills),
            }

        return {
            "consistent": self.consistent,
            "own_open": [order(o) for o in self.own_open],
            "resolved": [order(o) for o in self.resolved],
            "still_unknown": [order(o) for o in self.still_unknown],
            "missing": [order(o) for o in self.missing],
            "foreign": [
                {
                    "symbol": o.symbol,
                    "order_id": o.order_id,
                    "client_id": o.client_id,
                    "side": o.side,
                    "status": o.status,
                    "orig_qty": format(o.orig_qty, "f"),
                }
                for o in self.foreign
            ],
            "fills_backfilled": self.fills_backfilled,
            "balance_mismatch": {a: format(d, "f") for a, d in self.balance_mismatch.items()},
            "incidents": self.incidents,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def is_not_found(exc: VenueError) -> bool:
    return exc.retry == RetryClass.NOT_FOUND


async def _paged(fetch: Callable[[int], Awaitable[list[Row]]], start_ms: int, page_size: int) -> list[Row]:
    """Every row from `start_ms` on, page after page (a full page may hide more rows at its last
    ms, so the next page starts there and repeats are dropped by id), oldest first."""
    found: dict[str, Row] = {}
    while True:
        page = await fetch(start_ms)
        fresh = [row for row in page if _row_id(row) not in found]
        found.update((_row_id(row), row) for row in fresh)
        if len(page) < page_size or not fresh:
            return sorted(found.values(), key=lambda row: (row.time_ms, _row_id(row)))
        start_ms = max(row.time_ms for row in page)


def _row_id(row: VenueOrder | VenueTrade) -> str:
    return row.order_id if isinstance(row, VenueOrder) else row.trade_id


async def paged_trades(
    client: OrderClient, symbol: str, start_ms: int, *, order_id: str | None = None
) -> list[VenueTrade]:
    """myTrades from `start_ms` on, 100 a page, each trade id once."""

    async def fetch(since_ms: int) -> list[VenueTrade]:
        return await client.my_trades(symbol, order_id=order_id, start_ms=since_ms, limit=TRADES_PAGE)

    return await _paged(fetch, start_ms, TRADES_PAGE)


async def read_venue(client: OrderClient, symbol: str, *, since_ms: int, trades_since_ms: int) -> VenueView:
    """The venue's open orders, orders since `since_ms` (≤ 7 days) and trades of one symbol."""
    read_ms = now_ms()
    open_orders = await client.open_orders(symbol)

    async def fetch(start_ms: int) -> list[VenueOrder]:
        end_ms = read_ms + SEND_MARGIN_MS
        return await client.all_orders(symbol, start_ms=start_ms, end_ms=end_ms, limit=ALL_ORDERS_PAGE)

    all_orders = await _paged(fetch, since_ms, ALL_ORDERS_PAGE)
    trades = await paged_trades(client, symbol, trades_since_ms)
    return VenueView(open_orders, all_orders, trades, read_ms)


class VenueReader:
    """The lists of one symbol over a fixed window, read again only when a caller needs a read
    newer than the last one: concurrent resolutions of one symbol share a single read."""

    def __init__(self, client: OrderClient, symbol: str, *, since_ms: int, trades_since_ms: int) -> None:
        self.client = client
        self.symbol = symbol
        self.since_ms = since_ms
        self.trades_since_ms = trades_since_ms
        self._view: VenueView | None = None
        self._lock = asyncio.Lock()

    async def view_after(self, at_ms: int) -> VenueView:
        """A view read at or after local time `at_ms` (reads the venue only if the last is older)."""
        async with self._lock:
            if self._view is None or self._view.read_ms < at_ms:
                self._view = await read_venue(
                    self.client, self.symbol, since_ms=self.since_ms, trades_since_ms=self.trades_since_ms
                )
            return self._view


def _apply(
    journal: Journal,
    order: TrackedOrder,
    snapshots: Iterable[VenueOrder],
    trades: Iterable[VenueTrade],
    source: str,
) -> bool:
    """Feed venue evidence to one order and journal each change; fills go to the ledger first."""
    changed = False
    for trade in trades:
        journal.add_fill(trade, source=source)
        if order.on_trade(trade):
            journal.record(order, evidence(trade, source=source))
            changed = True
    # Oldest snapshot first, so a later, fuller one wins (the state machine ignores stale ones anyway).
    for snap in sorted(snapshots, key=lambda o: (o.executed_qty, o.status in TERMINAL_STATUSES)):
        if order.on_order(snap):
            journal.record(order, evidence(snap, source=source))
            changed = True
    return changed


async def resolve_unknown(
    client: OrderClient,
    journal: Journal,
    order: TrackedOrder,
    *,
    lag_s: float = 3.0,
    gap_s: float = 0.3,
    reader: VenueReader | None = None,
) -> TrackedOrder:
    """Resolve an order in doubt (SUBMITTING, UNKNOWN, or a watched TOMBSTONED id) from venue
    evidence only. Queries by client id; a not-found within `lag_s` of the send is waited out, not
    believed. Returns the order as journaled; it stays UNKNOWN when the venue cannot be read."""
    if order.state == OrderState.SUBMITTING and order.on_unknown():
        journal.record(order, {"kind": "restart", "note": "the send's outcome was never recorded"})
    # The send left after the intent was journaled (maybe after a rate-limit wait) and before its
    # outcome was recorded as unknown: count the lag from the later of the two. After a crash that
    # is the restart: the dead process may have sent just before it died, and when is unknown.
    sent_ms = max(order.intent.created_ms, order.updated_ms if order.state == OrderState.UNKNOWN else 0)
    lag_ms = int(lag_s * 1000)
    not_found_ms: list[int] = []
    while len(not_found_ms) < 2:
        try:
            snap = await client.query_order(order.symbol, client_id=order.client_id)
        except VenueError as exc:
            if not is_not_found(exc):
                return order  # the venue cannot say now: still in doubt, nothing guessed
            at = now_ms()
            if at - sent_ms >= lag_ms:
                not_found_ms.append(at)
            if order.state == OrderState.TOMBSTONED:
                return order  # already proven absent; one more not-found changes nothing
            await asyncio.sleep(max(sent_ms + lag_ms - at, int(gap_s * 1000)) / 1000)
            continue
        await _adopt(client, journal, order, [snap])
        return order
    if reader is None:
        since = sent_ms - SEND_MARGIN_MS
        reader = VenueReader(client, order.symbol, since_ms=since, trades_since_ms=since)
    try:
        view = await reader.view_after(sent_ms + lag_ms)  # lists read before the lag ended prove nothing
    except VenueError:
        return order  # absence not proven: still in doubt
    snapshots, trades = view.find(order)
    if snapshots or trades:
        _apply(journal, order, snapshots, trades, "lists")
        return order
    if order.on_absent():
        journal.record(
            order,
            {
                "kind": "absent",
                "not_found_ms": not_found_ms,
                "lag_s": lag_s,
                "lists_read_ms": view.read_ms,
                "checked": ["GET /order x2", "openOrders", "allOrders", "myTrades"],
            },
        )
    return order


async def _adopt(
    client: OrderClient, journal: Journal, order: TrackedOrder, snapshots: list[VenueOrder]
) -> None:
    """Apply snapshots, then fetch the order's trades when the snapshot shows fills we lack."""
    _apply(journal, order, snapshots, (), "query")
    if order.cum_qty > order.fill_qty and order.order_id:
        since = order.intent.created_ms - SEND_MARGIN_MS
        try:
            trades = await paged_trades(client, order.symbol, since, order_id=order.order_id)
        except VenueError:
            return  # the state is known; the missing fills come with the next backfill
        _apply(journal, order, (), trades, "myTrades")


async def reconcile_startup(
    client: OrderClient,
    journal: Journal,
    symbols: Iterable[str],
    *,
    lag_s: float = 3.0,
    assets: Mapping[str, tuple[str, str]] | None = None,
    external: Mapping[str, Decimal] | None = None,
) -> ReconcileReport:
    """The journal against openOrders, allOrders (7 d) and myTrades for every symbol asked for or
    journaled as live: own orders adopted and updated, orders in doubt resolved (or reported still
    unknown), foreign open orders reported, missing fills back-filled; with `assets` (symbol →
    base, quote) and a journaled account snapshot, the balance invariant checked since then."""
    started = time.monotonic()
    report = ReconcileReport()
    watched = journal.orders(open_only=True)
    for order in watched:
        if order.state == OrderState.SUBMITTING and order.on_unknown():
            journal.record(order, {"kind": "restart", "note": "the send's outcome was never recorded"})
    by_symbol: dict[str, list[TrackedOrder]] = {s: [] for s in symbols}
    for order in watched:
        by_symbol.setdefault(order.symbol, []).append(order)
    runs = journal.run_ids()
    results = await asyncio.gather(
        *(
            _reconcile_symbol(client, journal, s, orders, runs, lag_s, report)
            for s, orders in by_symbol.items()
        )
    )
    for symbol, error in zip(by_symbol, results, strict=True):
        if error:
            report.errors.append(f"{symbol}: {error}")
    if assets is not None:
        await _check_balances(client, journal, assets, external, report)
    report.elapsed_s = time.monotonic() - started
    return report


async def _reconcile_symbol(
    client: OrderClient,
    journal: Journal,
    symbol: str,
    orders: list[TrackedOrder],
    runs: set[str],
    lag_s: float,
    report: ReconcileReport,
) -> str:
    """Reconcile one symbol into `report`; returns why the venue could not be read ("" when it was)."""
    now = now_ms()
    # Trades from the oldest live intent or the last fill we hold, whichever is earlier.
    last_fill = max((t.time_ms for t in journal.fills(symbol=symbol)), default=now - TRADES_LOOKBACK_MS)
    trades_since = min([last_fill] + [o.intent.created_ms - SEND_MARGIN_MS for o in orders])
    reader = VenueReader(
        client,
        symbol,
        since_ms=now - ALL_ORDERS_LOOKBACK_MS,
        trades_since_ms=max(trades_since, now - TRADES_MAX_LOOKBACK_MS),
    )
    try:
        view = await reader.view_after(now)
    except VenueError as exc:
        report.still_unknown += [o for o in orders if o.state in IN_DOUBT]
        return str(exc)
    for trade in view.trades:  # the account's whole ledger, foreign trades included (balances)
        if journal.add_fill(trade, source="myTrades"):
            report.fills_backfilled += 1
    own_ids = {o.client_id for o in orders}
    for venue_order in view.open_orders:
        if venue_order.client_id in own_ids:
            continue
        parsed = parse(venue_order.client_id)
        journaled = journal.order(venue_order.client_id) if parsed and parsed[0] in runs else None
        if journaled is None:
            report.foreign.append(venue_order)
        else:  # ours, open at the venue, yet journaled as done (or tombstoned too long ago)
            report.incidents.append(
                f"{venue_order.client_id}: open at the venue but journaled as {journaled.state}"
            )
    open_ids = {o.client_id for o in view.open_orders}
    doubtful: list[tuple[TrackedOrder, OrderState]] = []
    for order in orders:
        was = order.state
        snapshots, trades = view.find(order)
        _apply(journal, order, snapshots, trades, "startup")
        if order.state in (OrderState.UNKNOWN, OrderState.TOMBSTONED) and not snapshots and not trades:
            doubtful.append((order, was))
            continue
        if order.state in AT_VENUE and order.client_id not in open_ids and not snapshots:
            await _query_final(client, journal, order, report, lag_s)
        _sort_into(report, order, was)
    await asyncio.gather(
        *(resolve_unknown(client, journal, o, lag_s=lag_s, reader=reader) for o, _ in doubtful)
    )
    for order, was in doubtful:
        _sort_into(report, order, was)
    return ""


async def _query_final(
    client: OrderClient, journal: Journal, order: TrackedOrder, report: ReconcileReport, lag_s: float
) -> None:
    """A live order of ours absent from open and recent orders: ask for it by client id (again
    after the read-after-write lag when its last news is younger than that)."""
    while True:
        try:
            snap = await client.query_order(order.symbol, client_id=order.client_id)
        except VenueError as exc:
            wait_s = (order.updated_ms + lag_s * 1000 - now_ms()) / 1000
            if is_not_found(exc) and wait_s > 0:
                await asyncio.sleep(wait_s)
                continue
            if is_not_found(exc):
                report.missing.append(order)
            else:
                report.errors.append(f"{order.client_id}: {exc}")
            return
        await _adopt(client, journal, order, [snap])
        return


def _sort_into(report: ReconcileReport, order: TrackedOrder, was: OrderState) -> None:
    if any(o is order for o in report.missing):
        return
    if order.incident:
        report.incidents.append(f"{order.client_id}: {order.incident}")
    if order.state in IN_DOUBT:
        report.still_unknown.append(order)
        return
    if order.state != was and (was in IN_DOUBT or was == OrderState.TOMBSTONED):
        report.resolved.append(order)
    if order.state in AT_VENUE:
        report.own_open.append(order)


async def _check_balances(
    client: OrderClient,
    journal: Journal,
    assets: Mapping[str, tuple[str, str]],
    external: Mapping[str, Decimal] | None,
    report: ReconcileReport,
) -> None:
    baseline = journal.last_balances()
    if baseline is None:
        return
    taken_ms, before = baseline
    try:
        after = await client.account()
    except VenueError as exc:
        report.errors.append(f"account: {exc}")
        return
    fills = journal.fills(after_ms=taken_ms)
    report.balance_mismatch = balance_mismatch(before, after, fills, assets, external)
