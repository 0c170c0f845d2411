"""A random-entry baseline: the strategy's trades, moved to random times, filled like a backtest's.

Is the strategy better than chance? Each baseline keeps the trial's trades - their number, their
side, their stake (entry notional in quote) and their holding time, measured decision to decision
(entry order decided -> exit order decided) - and puts them at random times in the same data
window. What is simulated, and nothing else:

* Placement: one position at a time, like the strategy. The trades, in a random order, occupy
  intervals of `duration + latency` (the exit's latency keeps the next entry after the exit is
  due); the free time left in the window is split at uniform random points (sorted uniforms: the
  spacings of a uniformly random placement of non-overlapping intervals). The last exit is due
  before the window's last event, so every order fills inside the window.
* Fills: the backtest's own fill code (`fxcli.backtest.fills.execute`) and its timing rule: an
  order decided at t sees the quote after the last event at or before t, waits for the first event
  after t + latency, and executes against the market state just before that event (the L2 book,
  the top of book, or the last trade moved by the slippage; taker fees). The exit sells (buys back)
  the entry's quantity; what the book cannot absorb is closed at the last trade moved by the
  slippage, as the backtest's end-of-data close does.
* A trade's P&L is the backtest's: side x qty x (exit - entry) - fees. The baseline's total return is
  the sum over its trades / the starting balance (stakes are the strategy's, so no compounding).

* Book gaps: the fills treat them as the backtest does: from the Gap event on, the book is hidden
  until the first event after the gap's end; book updates in it only keep the book current, and an
  order due then fills on the next trade at the last price (`book_unknown`), as a strategy's exit
  would. Entries are placed only where the book is known: an order due at d fills on the first
  event after d, which is hidden when d is in [p, gap end], p the time of the last event before the
  Gap event (`unknown_ranges`); so no entry is decided in [p - latency, gap end]. A baseline with an
  entry there is drawn again (rejection keeps the placement uniform over the allowed ones).

All baselines are filled in one pass over the window's events.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fxcli.backtest.fills import BPS, Costs, Fill, Quote, execute
from fxcli.engine.state import MarketState
from fxcli.errors import FxError
from fxcli.model.events import BOOK_GAP_REASONS, Gap, MarketEvent, Trade

# Placements drawn for one baseline before giving up on finding one with every entry on a known book.
MAX_DRAWS = 10_000


@dataclass(frozen=True)
class Template:
    """What a baseline keeps of one of the strategy's trades."""

    side: int  # +1 long, -1 short
    stake: float  # entry notional, quote
    duration_ns: int  # entry decided -> exit decided


@dataclass(frozen=True)
class Planned:
    """One baseline trade: when its entry and its exit are decided."""

    baseline: int
    side: int
    stake: float
    entry_ns: int
    exit_ns: int


@dataclass(frozen=True)
class Filled:
    """One baseline trade after the fill model: its plan, both fills and the net P&L."""

    plan: Planned
    entry: Fill
    exit: Fill

    @property
    def pnl(self) -> float:
        """Net profit in quote (both fees paid)."""
        e, x = self.entry, self.exit
        return e.side * x.qty * (x.price - e.price) - e.fee - x.fee


def place(
    templates: Sequence[Template],
    lo_ns: int,
    hi_ns: int,
    latency_ns: int,
    n: int,
    seed: int | Sequence[int],
    unknown: Sequence[tuple[int, int]] = (),
) -> list[Planned]:
    """`n` baselines of the templates at random non-overlapping times with every exit due before `hi_ns`
    and no entry decided in `[start - latency, end]` of an `unknown` range (`unknown_ranges`).

    Seeded: the same arguments give the same plans. FxError when the trades do not fit the window,
    or when the known book leaves them almost no room (MAX_DRAWS draws for one baseline).
    """
    if not templates:
        raise FxError("baseline: no trades to place")
    if n < 1:
        raise FxError(f"baseline: the number of baselines must be at least 1, got {n}")
    latency = max(0, latency_ns)
    lengths = np.array([t.duration_ns + latency for t in templates], dtype=np.int64)
    # Exits are due at exit_ns + latency and must have an event after them: end strictly before hi.
    free = (hi_ns - 1 - lo_ns) - int(lengths.sum())
    if free < 0:
        raise FxError(
            f"baseline: the trades' holding times ({int(lengths.sum()) / 1e9:.3f} s with latency) do not "
            f"fit the data window ({(hi_ns - lo_ns) / 1e9:.3f} s)"
        )
    rng = np.random.default_rng(seed)
    banned = np.array([(a - latency, z) for a, z in unknown], dtype=np.int64).reshape(-1, 2)
    plans: list[Planned] = []
    k = len(templates)
    durations = np.array([t.duration_ns for t in templates], dtype=np.int64)
    for b in range(n):
        for _ in range(MAX_DRAWS):
            order = rng.permutation(k)
            idle = np.sort(rng.integers(0, free + 1, size=k))  # cumulative idle time before each trade
            entries = lo_ns + idle + np.concatenate([[0], np.cumsum(lengths[order])[:-1]])
            if not _in_any(entries, banned):
                break
        else:
            raise FxError(
                f"baseline: {MAX_DRAWS} random placements all put an entry in a book gap; the known "
                "book leaves the trades too little room"
            )
        for at, index in zip(entries.tolist(), order.tolist(), strict=True):
            t = templates[index]
            plans.append(Planned(b, t.side, t.stake, at, at + int(durations[index])))
    return plans


def unknown_ranges(events: Iterable[MarketEvent | Gap]) -> list[tuple[int, int]]:
    """[p, gap end] per book gap of `events` (module docstring: an order due in it fills on a hidden
    book); overlapping gaps give one range."""
    ranges: list[tuple[int, int]] = []
    last = 0
    hidden_until: int | None = None
    for event in events:
        if isinstance(event, Gap):
            if event.reason in BOOK_GAP_REASONS:
                if hidden_until is None:
                    ranges.append((last, event.end_ns))
                    hidden_until = event.end_ns
                else:
                    hidden_until = max(hidden_until, event.end_ns)
                    ranges[-1] = (ranges[-1][0], hidden_until)
            continue
        last = event.exchange_ts_ns
        if hidden_until is not None and last > hidden_until:
            hidden_until = None
    return ranges


def _in_any(times: np.ndarray, ranges: np.ndarray) -> bool:
    """Whether any of `times` is inside any closed range [lo, hi] (rows of `ranges`)."""
    if not len(ranges):
        return False
    inside = (times[:, None] >= ranges[None, :, 0]) & (times[:, None] <= ranges[None, :, 1])
    return bool(inside.any())


def fill(
    plans: Sequence[Planned], events: Iterable[MarketEvent | Gap], symbol: str, costs: Costs
) -> list[Filled]:
    """Fill every plan against one pass over `events` (time-ordered market events of `symbol`, and
    its stored gaps where the replay puts them: a book gap hides the book as in the backtest).

    Returns the filled trades in plan order; a plan whose entry cannot be priced (no trade and no book
    yet) raises FxError: the window holds the strategy's own trades, so that cannot happen there.
    """
    latency = costs.latency_ns
    # Decisions, in time order: (time, leg 0 entry / 1 exit, plan). Each sees the state "after the
    # last event at or before its time", so it is taken just before the first event later than it.
    decisions = sorted(
        [(p.entry_ns, 0, i) for i, p in enumerate(plans)] + [(p.exit_ns, 1, i) for i, p in enumerate(plans)]
    )
    state = MarketState(symbol)
    quotes: dict[tuple[int, int], Quote] = {}  # (plan, leg) -> the quote at its decision
    entries: dict[int, Fill] = {}
    exits: dict[int, Fill] = {}
    due: list[tuple[int, int, int]] = []  # heap of (due time, leg, plan): orders waiting for an event
    at = 0
    hidden_until: int | None = None  # inside a book gap: hidden until the first event after this
    for event in events:
        if isinstance(event, Gap):
            if event.reason in BOOK_GAP_REASONS:
                state.hide_book()
                hidden_until = event.end_ns if hidden_until is None else max(hidden_until, event.end_ns)
            continue
        ts = event.exchange_ts_ns
        while at < len(decisions) and decisions[at][0] < ts:
            time_ns, leg, i = decisions[at]
            quotes[(i, leg)] = Quote(time_ns, state.bid, state.ask, state.price)
            heapq.heappush(due, (time_ns + latency, leg, i))
            at += 1
        if hidden_until is not None:
            if ts > hidden_until:
                hidden_until = None
                state.show_book()
            elif type(event) is not Trade:  # as the backtest: kept current, not shown, fills nothing
                state.apply_book(event)
                continue
        # An order executes on the first event after its due time, against the state just before it.
        while due and due[0][0] < ts:
            _, leg, i = heapq.heappop(due)
            _execute(plans[i], leg, quotes[(i, leg)], state, entries, exits, costs, i)
        state.apply(event)
    if len(entries) < len(plans) or len(exits) < len(plans):
        raise FxError("baseline: an order was due after the last event of the window")
    return [Filled(p, entries[i], exits[i]) for i, p in enumerate(plans)]


def _execute(
    plan: Planned,
    leg: int,
    quote: Quote,
    state: MarketState,
    entries: dict[int, Fill],
    exits: dict[int, Fill],
    costs: Costs,
    i: int,
) -> None:
    if leg == 0:
        entry = execute(state, quote, plan.side, costs, notional=plan.stake)
        if entry is None:
            raise FxError(f"baseline: nothing to price an entry at {quote.ts_ns} ns (no trade or book yet)")
        entries[i] = entry
        return
    entry = entries[i]
    out = execute(state, quote, -plan.side, costs, qty=entry.qty)
    if out is None or out.is_partial:
        out = _rest_at_last(state, quote, -plan.side, entry.qty, costs, out)
    exits[i] = out


def _rest_at_last(
    state: MarketState, quote: Quote, side: int, qty: float, costs: Costs, part: Fill | None
) -> Fill:
    """An exit the book could not absorb: the rest at the last trade moved by the slippage, merged
    with the part the book took into one fill (quantity-weighted price, summed fees)."""
    price = state.price * (1.0 + side * costs.slippage_bps / BPS)
    done = part.qty if part is not None else 0.0
    rest = qty - done
    notional = (part.notional if part is not None else 0.0) + rest * price
    fee = (part.fee if part is not None else 0.0) + rest * price * costs.taker_fee_bps / BPS
    mid = quote.mid
    avg = notional / qty
    return Fill(
        quote.ts_ns,
        state.now_ns,
        side,
        qty,
        qty,
        avg,
        notional,
        fee,
        "last_trade" if part is None else part.source,
        0 if part is None else part.levels,
        mid,
        quote.best(side),
        0.0,
        0.0,
        side * (avg - mid) / mid * BPS if mid == mid and mid else math.nan,
    )


def totals(filled: Sequence[Filled], n: int, balance: float) -> np.ndarray:
    """Each baseline's total return (sum of its trades' P&L / the starting balance)."""
    sums = np.zeros(n)
    for f in filled:
        sums[f.plan.baseline] += f.pnl
    return sums / balance
