"""The account, orders and trades of the fake venue: what the venue knows is true (docs/mexc-orders.md
§2.6), independent of HTTP and WebSocket so tests may also drive it directly.

Per symbol a scripted book of other participants' liquidity (levels a taker order consumes) and a
tape the test advances (`trade`) that crosses resting orders as maker fills. Balances freeze on
accept (BUY: the quote cost, SELL: the base quantity), move on every fill with the fee charged in
the asset received (BUY: base, SELL: quote), and unfreeze what is left when the order ends.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from fxcli.model.orders import VenueTrade
from tests.fake_mexc_private.replies import VenueError
from tests.fake_mexc_private.symbols import NewOrder, SymbolSpec

NEW, PARTIALLY_FILLED, FILLED = "NEW", "PARTIALLY_FILLED", "FILLED"
CANCELED, PARTIALLY_CANCELED = "CANCELED", "PARTIALLY_CANCELED"
OPEN = frozenset({NEW, PARTIALLY_FILLED})
Trade = VenueTrade  # one fill: the same value fx's model uses for a myTrades row or a deal push
ZERO = Decimal(0)


@dataclass
class Order:
    """One order at the venue (mutable: the venue's truth as it changes)."""

    order_id: str
    client_id: str
    symbol: str
    side: str
    type: str
    price: Decimal  # limit price; MARKET: the reference (last) price
    orig_qty: Decimal  # ZERO for a MARKET buy by quote
    quote_qty: Decimal  # MARKET by quote: the amount; else price x qty (the push's `amount`)
    time_ms: int
    status: str = NEW
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_ms: int | None = None
    frozen: Decimal = ZERO  # what this order still holds frozen (quote for BUY, base for SELL)
    external: bool = False  # placed outside fx (web/app), F19
    trade_ids: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Still working on the book."""
        return self.status in OPEN

    def remaining(self) -> Decimal:
        """Base quantity not yet filled (ZERO for a MARKET buy by quote)."""
        return max(self.orig_qty - self.executed_qty, ZERO)


@dataclass(frozen=True)
class OrderEvent:
    """An order changed (a push on spot@private.orders); `last_deal_qty` set when a fill caused it."""

    order: Order
    status: str
    executed_qty: Decimal
    cum_quote: Decimal
    last_deal_qty: Decimal | None
    time_ms: int


@dataclass(frozen=True)
class DealEvent:
    """A fill (a push on spot@private.deals)."""

    trade: Trade


@dataclass(frozen=True)
class AccountEvent:
    """One asset's balance changed (a push on spot@private.account)."""

    asset: str
    free: Decimal
    free_change: Decimal
    locked: Decimal
    locked_change: Decimal
    reason: str
    time_ms: int


Event = OrderEvent | DealEvent | AccountEvent


@dataclass
class Transfer:
    """A balance change from outside trading (deposit, withdrawal, airdrop), F21."""

    asset: str
    amount: Decimal
    kind: str
    time_ms: int


class Exchange:
    """Orders, trades, balances and books of one account; `emit` receives every change in order."""

    def __init__(
        self,
        specs: dict[str, SymbolSpec],
        balances: dict[str, Decimal],
        *,
        seed: int,
        clock: Callable[[], int],
        emit: Callable[[Event], None],
    ) -> None:
        self.specs = specs
        self.free: dict[str, Decimal] = dict(balances)
        self.locked: dict[str, Decimal] = dict.fromkeys(balances, ZERO)
        self.orders: dict[str, Order] = {}  # by order id, in creation order
        self.trades: dict[str, Trade] = {}  # by trade id
        self.transfers: list[Transfer] = []
        self.bids: dict[str, list[list[Decimal]]] = {s: [] for s in specs}  # other participants
        self.asks: dict[str, list[list[Decimal]]] = {s: [] for s in specs}
        self.rng = random.Random(seed)
        self.clock = clock
        self.emit = emit
        self.partial_fills = (1, 1)  # each fill is split into this many trades (min, max), F10
        self.maker_cross = "cancel"  # LIMIT_MAKER that would cross: "cancel" (accept then cancel) | "reject"
        self.max_open_orders = 500
        # A MARKET order is accepted and rests unmatched until cancelled (a halted or empty book):
        # what fx's unfilled-order timeout is for.
        self.hold_market = False
        self._order_seq = 600_000_000_000_000_001 + seed * 1_000_000
        self._trade_seq = 600_000_000_000_000_777 + seed * 1_000_000

    # ---------------------------------------------------------------- books and tape

    def set_book(
        self, symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], last: str | None = None
    ) -> None:
        """Replace the other participants' levels of `symbol` (price, qty) and optionally the last price."""
        self.bids[symbol] = sorted(([Decimal(p), Decimal(q)] for p, q in bids), key=lambda lv: -lv[0])
        self.asks[symbol] = sorted(([Decimal(p), Decimal(q)] for p, q in asks), key=lambda lv: lv[0])
        if last is not None:
            self.specs[symbol].last = Decimal(last)

    def trade(self, symbol: str, price: Decimal, qty: Decimal | None = None) -> list[Trade]:
        """A tape print of `qty` (None: unlimited) at `price`: resting orders it crosses fill as makers
        at their own price, best price first, then oldest; returns the fills made."""
        self.specs[symbol].last = price
        resting = [o for o in self.orders.values() if o.symbol == symbol and o.is_open]
        buys = sorted((o for o in resting if o.side == "BUY" and o.price >= price), key=lambda o: -o.price)
        sells = sorted((o for o in resting if o.side == "SELL" and o.price <= price), key=lambda o: o.price)
        made: list[Trade] = []
        left = qty
        for order in buys + sells:
            take = order.remaining() if left is None else min(order.remaining(), left)
            if take <= 0:
                break
            made += self._fill(order, order.price, take, maker=True)
            if left is not None:
                left -= take
        return made

    # ---------------------------------------------------------------- orders

    def next_order_id(self) -> str:
        """`C02__` + an 18-digit counter (§2.6)."""
        self._order_seq += 1
        return f"C02__{self._order_seq - 1}"

    def validate(self, req: NewOrder) -> tuple[list[tuple[Decimal, Decimal]], Decimal]:
        """What `place` checks before it changes anything (also all `order/test` does beyond the
        symbol rules): open-order limit, parameter combination, LIMIT_MAKER crossing, balance.
        Returns the book levels a taker part takes and the amount to freeze."""
        spec = self.specs[req.symbol]
        if sum(1 for o in self.orders.values() if o.is_open) >= self.max_open_orders:
            raise VenueError(30029)
        if req.type == "MARKET" and req.side == "SELL" and req.quote_qty is not None:
            raise VenueError(-1128)
        crossing = self._crossing(req)
        if req.type == "LIMIT_MAKER" and crossing and self.maker_cross == "reject":
            raise VenueError(30041)
        freeze = self._freeze_amount(req, spec)
        free = self.free.get(spec.quote if req.side == "BUY" else spec.base, ZERO)
        if freeze > free:
            raise VenueError(10101 if req.side == "BUY" else 30004 if free == 0 else 30005)
        return crossing, freeze

    def place(self, req: NewOrder, *, external: bool = False) -> Order:
        """Accept `req` (already checked against the symbol rules) or raise the balance rejection;
        taker parts fill at once, LIMIT remainders rest."""
        spec = self.specs[req.symbol]
        crossing, freeze = self.validate(req)
        asset = spec.quote if req.side == "BUY" else spec.base
        now = self.clock()
        price = req.price if req.price is not None else spec.last
        qty = req.quantity if req.quantity is not None else ZERO
        amount = (
            req.quote_qty if req.quote_qty is not None else (price * qty if req.type != "MARKET" else ZERO)
        )
        order = Order(
            self.next_order_id(), req.client_id, req.symbol, req.side, req.type, price, qty, amount, now
        )
        order.external = external
        self.orders[order.order_id] = order
        self._move(asset, -freeze, freeze, "ENTRUST_PLACE")
        order.frozen = freeze
        self._order_event(order, None)
        if self.hold_market and req.type == "MARKET":  # accepted, then never matched: it rests
            return order
        if req.type == "LIMIT_MAKER" and crossing:
            self._finish(order, CANCELED)
            return order
        if req.type == "FILL_OR_KILL" and sum(q for _, q in crossing) < qty:
            self._finish(order, CANCELED)
            return order
        for index, (level_price, level_qty) in enumerate(crossing):
            # a MARKET buy by quote is done when its amount is spent, not at a quantity
            last = index == len(crossing) - 1 and self._spends_all(req, crossing)
            self._fill(order, level_price, level_qty, maker=False, last=last)
            self._take_level(req.symbol, req.side, level_price, level_qty)
        if order.is_open and req.type in ("MARKET", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"):
            self._finish(order, PARTIALLY_CANCELED if order.executed_qty > 0 else CANCELED)
        return order

    def cancel(self, order: Order) -> Order:
        """Cancel an open order (-2011 if it is not open); returns it in its final state."""
        if not order.is_open:
            raise VenueError(-2011)
        self._finish(
            order, PARTIALLY_CANCELED if order.executed_qty > 0 else CANCELED, reason="ENTRUST_CANCEL"
        )
        return order

    def find(self, symbol: str, *, order_id: str | None, client_id: str | None) -> Order | None:
        """The order of `symbol` with this id (the first one placed with a client id)."""
        if order_id:
            found = self.orders.get(order_id)
            return found if found is not None and found.symbol == symbol else None
        for order in self.orders.values():
            if order.symbol == symbol and client_id and order.client_id == client_id:
                return order
        return None

    # ---------------------------------------------------------------- balances

    def transfer(self, asset: str, amount: Decimal, kind: str = "DEPOSIT") -> None:
        """Money moved outside trading (negative: withdrawal); recorded and pushed, F21."""
        if self.free.get(asset, ZERO) + amount < 0:
            raise ValueError(f"{asset}: cannot withdraw {amount}, free is {self.free.get(asset, ZERO)}")
        self.transfers.append(Transfer(asset, amount, kind, self.clock()))
        self._move(asset, amount, ZERO, kind)

    def _move(self, asset: str, free_change: Decimal, locked_change: Decimal, reason: str) -> None:
        self.free[asset] = self.free.get(asset, ZERO) + free_change
        self.locked[asset] = self.locked.get(asset, ZERO) + locked_change
        if free_change or locked_change:
            event = AccountEvent(
                asset, self.free[asset], free_change, self.locked[asset], locked_change, reason, self.clock()
            )
            self.emit(event)

    # ---------------------------------------------------------------- internals

    def _crossing(self, req: NewOrder) -> list[tuple[Decimal, Decimal]]:
        """Book levels a taker `req` would take, as (price, qty), in the order it takes them."""
        spec = self.specs[req.symbol]
        levels = self.asks[req.symbol] if req.side == "BUY" else self.bids[req.symbol]
        quantum = Decimal(1).scaleb(-spec.base_precision)
        taken: list[tuple[Decimal, Decimal]] = []
        qty_left = req.quantity
        quote_left = req.quote_qty
        for price, qty in levels:
            limit = req.price
            if limit is not None and (
                (req.side == "BUY" and price > limit) or (req.side == "SELL" and price < limit)
            ):
                break
            take = qty
            if qty_left is not None:
                take = min(take, qty_left)
            if quote_left is not None:
                take = min(take, (quote_left / price).quantize(quantum, rounding=ROUND_DOWN))
            if take <= 0:
                break
            taken.append((price, take))
            if qty_left is not None:
                qty_left -= take
            if quote_left is not None:
                quote_left -= take * price
        return taken

    def _freeze_amount(self, req: NewOrder, spec: SymbolSpec) -> Decimal:
        if req.side == "SELL":
            return req.quantity or ZERO
        if req.type != "MARKET":
            assert req.price is not None
            assert req.quantity is not None
            return req.price * req.quantity
        if req.quote_qty is not None:
            return req.quote_qty
        return sum((p * q for p, q in self._crossing(req)), ZERO)

    def _take_level(self, symbol: str, side: str, price: Decimal, qty: Decimal) -> None:
        levels = self.asks[symbol] if side == "BUY" else self.bids[symbol]
        for level in levels:
            if level[0] == price:
                level[1] -= qty
        levels[:] = [lv for lv in levels if lv[1] > 0]

    def _fill(
        self, order: Order, price: Decimal, qty: Decimal, *, maker: bool, last: bool = False
    ) -> list[Trade]:
        """Fill `qty` of `order` at `price`, split into seeded partial fills (F10); `last`: this
        fill completes a MARKET buy by quote."""
        spec = self.specs[order.symbol]
        parts = self._split(qty, spec.base_precision)
        return [
            self._one_fill(order, spec, price, part, maker=maker, last=last and i == len(parts) - 1)
            for i, part in enumerate(parts)
        ]

    def _spends_all(self, req: NewOrder, crossing: list[tuple[Decimal, Decimal]]) -> bool:
        """Whether the levels taken leave less of a MARKET buy's quote than one more quantum costs
        at the next price the book offers (then the order is FILLED, not PARTIALLY_CANCELED)."""
        if req.quote_qty is None or not crossing:
            return False
        left = req.quote_qty - sum((p * q for p, q in crossing), ZERO)
        quantum = Decimal(1).scaleb(-self.specs[req.symbol].base_precision)
        levels = self.asks[req.symbol]
        last_price, last_qty = crossing[-1]
        whole = len(crossing) <= len(levels) and levels[len(crossing) - 1][1] == last_qty
        if not whole:
            next_price = last_price
        elif len(levels) > len(crossing):
            next_price = levels[len(crossing)][0]
        else:
            return False  # the book ran out first
        return left < quantum * next_price

    def _split(self, qty: Decimal, precision: int) -> list[Decimal]:
        """`qty` as 1-N seeded parts (N from `partial_fills`), each a multiple of the quantity step."""
        low, high = self.partial_fills
        count = self.rng.randint(low, high)
        quantum = Decimal(1).scaleb(-precision)
        parts: list[Decimal] = []
        left = qty
        for _ in range(count - 1):
            share = (left * Decimal(self.rng.uniform(0.2, 0.8))).quantize(quantum, rounding=ROUND_DOWN)
            if share <= 0 or share >= left:
                break
            parts.append(share)
            left -= share
        return [*parts, left]

    def _one_fill(
        self, order: Order, spec: SymbolSpec, price: Decimal, qty: Decimal, *, maker: bool, last: bool
    ) -> Trade:
        now = self.clock()
        quote = price * qty
        rate = spec.maker_fee if maker else spec.taker_fee
        if order.side == "BUY":
            fee_asset = spec.base
            fee = (qty * rate).quantize(Decimal(1).scaleb(-spec.base_fee_precision), rounding=ROUND_UP)
            self._move(spec.quote, ZERO, -quote, "ENTRUST")
            self._move(spec.base, qty - fee, ZERO, "ENTRUST")
            order.frozen -= quote
        else:
            fee_asset = spec.quote
            fee = (quote * rate).quantize(Decimal(1).scaleb(-spec.quote_fee_precision), rounding=ROUND_UP)
            self._move(spec.base, ZERO, -qty, "ENTRUST")
            self._move(spec.quote, quote - fee, ZERO, "ENTRUST")
            order.frozen -= qty
        self._trade_seq += 1
        trade = Trade(
            symbol=order.symbol,
            trade_id=f"{self._trade_seq - 1}X1",
            order_id=order.order_id,
            client_id=order.client_id,
            side=order.side,
            price=price,
            qty=qty,
            quote_qty=quote,
            fee=fee.normalize() if fee else ZERO,
            fee_asset=fee_asset,
            time_ms=now,
            is_maker=maker,
        )
        self.trades[trade.trade_id] = trade
        order.trade_ids.append(trade.trade_id)
        order.executed_qty += qty
        order.cum_quote += quote
        order.update_ms = now
        by_quote = order.type == "MARKET" and order.orig_qty == 0
        done = last if by_quote else order.executed_qty >= order.orig_qty
        order.status = FILLED if done else PARTIALLY_FILLED
        self._order_event(order, qty)
        self.emit(DealEvent(trade))
        if done:
            self._release(order, "ENTRUST_UNFROZEN")
        return trade

    def _finish(self, order: Order, status: str, reason: str = "ENTRUST_UNFROZEN") -> None:
        order.status = status
        order.update_ms = self.clock()
        self._order_event(order, None)
        self._release(order, reason)

    def _release(self, order: Order, reason: str) -> None:
        """Give back what the order still holds frozen (price improvement, cancelled remainder)."""
        if order.frozen > 0:
            spec = self.specs[order.symbol]
            asset = spec.quote if order.side == "BUY" else spec.base
            self._move(asset, order.frozen, -order.frozen, reason)
            order.frozen = ZERO

    def _order_event(self, order: Order, last_deal: Decimal | None) -> None:
        self.emit(
            OrderEvent(order, order.status, order.executed_qty, order.cum_quote, last_deal, self.clock())
        )
