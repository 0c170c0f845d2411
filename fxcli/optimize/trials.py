"""Trials over one prepared window: data read once, indicators computed once, the machine per trial.

`TrialData.prepare` reads each symbol's window from the store once, as columns, and writes them as
.npy files under a folder; `TrialData.open` in another process maps them (no copy per worker).
A trial's replay needs the tape (the columns with the strategy's clock rows) and one column per
indicator: both are computed on first use and written under the folder too, keyed by what they
depend on (the clock; the indicator and its parameters), so every later trial and every other
worker maps them. A trial that only changes thresholds, exits, cooldowns or sizing replays only
the machine and the fills (`fxcli.backtest.fast.Replay`), and gives `fx backtest`'s result.

A symbol is kept in one of three forms, as `fx backtest` would run it:
- "columns": trades and book tickers only: the tape is built from the columns;
- "events": with L2 snapshots and deltas (a book rebuilt event by event), or stored rows out of
  time order: the events are pickled and the tape is built from them;
- "stream": with book gaps, which only the streaming runner models: the events (gaps included)
  go through `fxcli.backtest.runner.run` on every trial (no partial results: each stage reports
  the final one).

A window may have a hole, [lo, hi) (walk-forward's leave-one-out folds: the test window and its
gaps): its rows are dropped when the window is read, so no trial ever sees one of them; the replay
goes from the last row before the hole to the first row after it as over a quiet stretch.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fxcli.backtest import runner
from fxcli.backtest.fast import Replay, RunResult
from fxcli.backtest.fills import Costs
from fxcli.backtest.tape import Tape, depth_levels, indicator_column
from fxcli.engine.clock import clock_ns_of
from fxcli.engine.clocked import clocked_columns
from fxcli.engine.params import IndicatorParams
from fxcli.engine.ticks import Ticks
from fxcli.errors import FxError
from fxcli.model.events import BookDelta, BookSnapshot, Gap, MarketEvent
from fxcli.model.units import parse_window
from fxcli.optimize.cache import ArrayCache, load_array, save_array, save_file
from fxcli.store.columns import MarketColumns, open_window, read_columns
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table
from fxcli.strategy.spec import StrategySpec

META = "trialdata.json"
EVENTS = "events.pkl"
BASE = ("ts_ns", "is_trade", "price", "qty", "side", "bid_price", "bid_qty", "ask_price", "ask_qty")
TICK_FIELDS = (
    "ts_ns",
    "is_trade",
    "price",
    "qty",
    "side",
    "integral",
    "rush_fill",
    "bid",
    "ask",
    "bid_qty",
    "ask_qty",
)
TAPE_FIELDS = ("raw_ts", "tape_price", "seen", "l2_rows", "is_clock")
MARKET_TABLES = (Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS, Table.BOOK_TICKER, Table.TRADES)
TAPES_HELD = 4  # tapes a process keeps mapped (one per clock a study tries, usually one)

Indicators = list[tuple[str, str, IndicatorParams]]


class TrialData:
    """One window of several symbols, prepared under `folder` for many trials in many processes."""

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder = folder
        self.symbols: tuple[str, ...] = tuple(meta["symbols"])
        self.exchanges: dict[str, str] = dict(meta["exchanges"])
        self.data_sha: dict[str, str] = dict(meta["data_sha"])
        self.forms: dict[str, str] = dict(meta["forms"])
        self.indicators = ArrayCache(folder / "indicators")
        self._tapes: OrderedDict[tuple[str, int, tuple[int, ...]], Tape] = OrderedDict()
        self._events: dict[str, list[Any]] = {}
        self.tapes_computed = 0

    @property
    def computed(self) -> int:
        """Tapes and indicator columns this process computed (the rest it mapped from the folder)."""
        return self.tapes_computed + self.indicators.computed

    # -- preparing and opening ----------------------------------------------------------------------
    @classmethod
    def prepare(
        cls,
        data_dir: Path,
        symbols: Sequence[str],
        exchange: str | None,
        start: str | None,
        end: str | None,
        folder: Path,
        *,
        allow_gaps: bool,
        hole: tuple[int, int] | None = None,
    ) -> TrialData:
        """Read each symbol's window (less the `hole`) once and write it under `folder`; FxError as
        `fx backtest` gives."""
        if not symbols:
            raise FxError("give --symbol or --symbols")
        if not data_dir.is_dir():
            raise FxError(f"data dir {data_dir} does not exist (import or record something first)")
        lo, hi = parse_window(start, end)
        reader = StoreReader(data_dir)
        unique = list(dict.fromkeys(symbols))
        windows = [open_window(reader, s, exchange, lo, hi, allow_gaps=allow_gaps) for s in unique]
        meta: dict[str, Any] = {"symbols": unique, "exchanges": {}, "data_sha": {}, "forms": {}}
        for window in windows:
            symbol = window.symbol
            where = folder / symbol
            where.mkdir(parents=True, exist_ok=True)
            meta["exchanges"][symbol] = window.exchange
            meta["data_sha"][symbol] = window.data_sha
            if window.book_gaps:
                tables = (*MARKET_TABLES, Table.GAPS)
                stream = replay(reader, window.exchange, symbol, tables, lo, hi)
                _write_events(where, _outside(stream, hole))
                meta["forms"][symbol] = "stream"
                continue
            columns = read_columns(reader, window)
            if columns is None or columns.l2_events:
                events: list[Any] = (
                    columns.events()
                    if columns is not None
                    else list(replay(reader, window.exchange, symbol, MARKET_TABLES, lo, hi))
                )
                _write_events(where, _outside(events, hole))
                meta["forms"][symbol] = "events"
                continue
            arrays = _base_arrays(columns)
            if hole is not None:
                arrays = _outside_rows(arrays, hole)
            for name, array in zip(BASE, arrays, strict=True):
                save_array(where / f"{name}.npy", array)
            meta["forms"][symbol] = "columns"
        text = json.dumps(meta, indent=1, sort_keys=True).encode()
        save_file(folder / META, lambda handle: handle.write(text))  # last: with its META it is complete
        return cls(folder, meta)

    @classmethod
    def open(cls, folder: Path) -> TrialData:
        """The data `prepare` wrote under `folder` (another process: its files are mapped, not copied)."""
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FxError(f"{folder}: not a prepared trial folder ({exc})") from None
        return cls(folder, meta)

    # -- trials -------------------------------------------------------------------------------------
    def stages(
        self,
        spec: StrategySpec,
        indicators: Indicators,
        costs: Costs,
        balance: float,
        clock_ms: int,
        n_stages: int = 1,
    ) -> Iterator[dict[str, RunResult]]:
        """Replay every symbol; yield the results at the end of each of `n_stages` equal time parts
        of its window (before the last: partial, open positions open), the last equal to `fx backtest`'s."""
        if n_stages < 1:
            raise ValueError(f"n_stages must be at least 1, not {n_stages}")
        names = [name for name, _, _ in indicators]
        if len(set(names)) != len(names):
            raise ValueError(f"indicator names given twice: {names}")
        clock_ns = clock_ns_of(clock_ms)
        replays: dict[str, Replay] = {}
        finals: dict[str, RunResult] = {}
        for symbol in self.symbols:
            if self.forms[symbol] == "stream":
                events = self._events_of(symbol)
                finals[symbol] = runner.run(
                    spec, symbol, indicators, events, costs, balance, clock_ms=clock_ms
                )
                continue
            tape = self.tape(symbol, clock_ns, indicators)
            columns = [self.indicator(symbol, tape, clock_ns, kind, params) for _, kind, params in indicators]
            replays[symbol] = Replay(spec, symbol, names, columns, tape, costs, balance)
        for stage in range(1, n_stages):
            partial: dict[str, RunResult] = {}
            for symbol in self.symbols:
                if symbol in finals:
                    partial[symbol] = finals[symbol]
                    continue
                r = replays[symbol]
                limit = _stage_row(r.now, stage, n_stages)
                r.advance(limit)
                partial[symbol] = r.partial(limit)
            yield partial
        yield {s: finals[s] if s in finals else replays[s].finish() for s in self.symbols}

    def tape(self, symbol: str, clock_ns: int, indicators: Indicators) -> Tape:
        """The symbol's tape with clock rows every `clock_ns` (the depths the indicators read, for L2)."""
        form = self.forms[symbol]
        levels = tuple(sorted(depth_levels(indicators))) if form == "events" else ()
        key = (symbol, clock_ns, levels)
        tape = self._tapes.get(key)
        if tape is not None:
            self._tapes.move_to_end(key)
            return _with_depths(tape, indicators)
        name = f"tape-{clock_ns}" + "".join(f"-d{level}" for level in levels)
        where = self.folder / symbol / name
        if not (where / "complete").is_file():
            built = self._build_tape(symbol, clock_ns, indicators)
            self.tapes_computed += 1
            _write_tape(where, built)
        tape = _load_tape(where, levels, self._events_of(symbol) if form == "events" else [])
        self._tapes[key] = tape
        while len(self._tapes) > TAPES_HELD:
            self._tapes.popitem(last=False)
        return _with_depths(tape, indicators)

    def indicator(
        self, symbol: str, tape: Tape, clock_ns: int, kind: str, params: IndicatorParams
    ) -> np.ndarray:
        """One indicator's column over the symbol's tape with this clock."""
        text = f"{clock_ns}|{kind}|{params.model_dump_json()}"
        key = f"{symbol}/{kind.lower()}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"
        return self.indicators.get(key, lambda: indicator_column(tape, kind, params))

    def _build_tape(self, symbol: str, clock_ns: int, indicators: Indicators) -> Tape:
        if self.forms[symbol] == "events":
            built = Tape.of(self._events_of(symbol), indicators, clock_ns)
        else:
            base = {name: load_array(self.folder / symbol / f"{name}.npy") for name in BASE}
            ts, trade, price, qty, side, bid, bid_qty, ask, ask_qty = (base[name] for name in BASE)
            built = Tape.clocked(
                clocked_columns(
                    ts,
                    trade,
                    price,
                    qty,
                    side,
                    bid,
                    bid_qty,
                    ask,
                    ask_qty,
                    depth_levels=set(),
                    clock_ns=clock_ns,
                )
            )
        if built is None:
            raise FxError(f"{symbol}: a stored trade has no price: the batch replay cannot run it")
        return built

    def _events_of(self, symbol: str) -> list[Any]:
        events = self._events.get(symbol)
        if events is None:
            with (self.folder / symbol / EVENTS).open("rb") as handle:
                events = self._events[symbol] = pickle.load(handle)  # our own file, written by prepare
        return events


def _with_depths(tape: Tape, indicators: Indicators) -> Tape:
    """Without an L2 book every depth is the ticker's quantities (as `Ticks.from_columns` gives):
    the depths the indicators read are those columns, not copies."""
    ticks = tape.ticks
    if not tape.l2_events:
        for level in depth_levels(indicators) - ticks.depth.keys():
            ticks.depth[level] = (ticks.bid_qty, ticks.ask_qty)
    return tape


def _stage_row(now: np.ndarray, stage: int, n_stages: int) -> int:
    """The first row at or past the `stage`-th of `n_stages` equal time parts of the window."""
    first, last = int(now[0]), int(now[-1])
    bound = first + (last - first) * stage // n_stages
    return int(np.searchsorted(now, bound, side="left"))


def _base_arrays(columns: MarketColumns) -> list[np.ndarray]:
    return [
        columns.ts_ns,
        columns.is_trade,
        *(columns.trade(name) for name in ("price", "qty", "side")),
        *(columns.ticker(name) for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")),
    ]


def _outside_rows(arrays: list[np.ndarray], hole: tuple[int, int]) -> list[np.ndarray]:
    """`_base_arrays` without the rows in the hole: ts_ns and is_trade have a row per event, the
    trade columns one per trade row, the ticker columns one per other row (MarketColumns)."""
    ts, is_trade = arrays[0], arrays[1]
    keep = (ts < hole[0]) | (ts >= hole[1])
    return [
        *(a[keep] for a in arrays[:2]),
        *(a[keep[is_trade]] for a in arrays[2:5]),
        *(a[keep[~is_trade]] for a in arrays[5:]),
    ]


def _outside(events: Iterable[Any], hole: tuple[int, int] | None) -> list[Any]:
    """The events not in the hole (a stored gap by its start: one that began in the hole is the
    hole's; one that began before it still hides the book after it)."""
    if hole is None:
        return list(events)
    lo, hi = hole
    return [e for e in events if not lo <= (e.start_ns if isinstance(e, Gap) else e.exchange_ts_ns) < hi]


def _write_events(where: Path, events: list[Any]) -> None:
    save_file(where / EVENTS, lambda handle: pickle.dump(events, handle, protocol=pickle.HIGHEST_PROTOCOL))


def _write_tape(where: Path, tape: Tape) -> None:
    """Every array of the tape, then the `complete` marker (a reader maps only a complete tape)."""
    ticks = tape.ticks
    for name in TICK_FIELDS:
        save_array(where / f"{name}.npy", getattr(ticks, name))
    for level, (bid, ask) in ticks.depth.items():
        save_array(where / f"depth{level}_bid.npy", bid)
        save_array(where / f"depth{level}_ask.npy", ask)
    save_array(where / "raw_ts.npy", tape.raw_ts)
    save_array(where / "tape_price.npy", tape.price)
    save_array(where / "seen.npy", tape.seen)
    save_array(where / "l2_rows.npy", np.asarray(tape.l2_rows, dtype=np.int64))
    is_clock = tape.is_clock if tape.is_clock is not None else np.zeros(0, dtype=bool)
    save_array(where / "is_clock.npy", is_clock)
    marker = json.dumps({"clock_ticks": tape.clock_ticks}).encode()
    save_file(where / "complete", lambda handle: handle.write(marker))


def _load_tape(where: Path, levels: tuple[int, ...], events: list[MarketEvent]) -> Tape:
    """The tape `_write_tape` wrote, mapped; `events` are the window's own (form "events") or none."""
    arrays = {name: load_array(where / f"{name}.npy") for name in TICK_FIELDS}
    depth = {
        n: (load_array(where / f"depth{n}_bid.npy"), load_array(where / f"depth{n}_ask.npy")) for n in levels
    }
    clock_ticks = json.loads((where / "complete").read_text())["clock_ticks"]
    is_clock = load_array(where / "is_clock.npy")
    return Tape(
        Ticks(**arrays, depth=depth),
        load_array(where / "raw_ts.npy"),
        load_array(where / "tape_price.npy"),
        load_array(where / "seen.npy"),
        load_array(where / "l2_rows.npy").tolist(),
        [e for e in events if isinstance(e, BookSnapshot | BookDelta)],  # Tape.of's, in stream order
        clock_ticks,
        is_clock if clock_ticks else None,
    )
