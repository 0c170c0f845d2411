"""INTERIM stand-ins for the SPACE and TRIALS parts of issue 13 (removed when they land).

Same interfaces as fxcli/optimize/space.py (load_space, Space, Candidate, strategy_text) and
fxcli/optimize/trials.py (TrialData) in notes/issue13-plan.md, with the least behind them: [search]
keys of top-level scalars, `table.key` and `group[i].value`; constraints `A OP B` (A, B keys or
numbers); trials replay the store through the plain backtest path (no cache).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.errors import FxError
from fxcli.toml_source import key_line, read_toml

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from fxcli.backtest.fast import RunResult
    from fxcli.backtest.fills import Costs
    from fxcli.engine.params import IndicatorParams
    from fxcli.strategy.spec import StrategySpec

_ITEM = re.compile(r"^([a-z0-9_]+)\[(\d+)\]\.([a-z_]+)$")
_CMP = re.compile(r"^\s*(\S+)\s*(<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Dimension:
    key: str
    low: float | None
    high: float | None
    step: float | None
    log: bool
    integer: bool
    choices: tuple[Any, ...] | None
    line: int


@dataclass(frozen=True)
class Candidate:
    document: dict[str, Any]
    spec: StrategySpec
    indicators: list[tuple[str, str, IndicatorParams]]


@dataclass(frozen=True)
class Space:
    source: Path
    dimensions: tuple[Dimension, ...]
    document: dict[str, Any]
    variants_dir: Path
    constraints: tuple[str, ...] = ()

    def distributions(self) -> dict[str, BaseDistribution]:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out: dict[str, BaseDistribution] = {}
        for d in self.dimensions:
            if d.choices is not None:
                out[d.key] = CategoricalDistribution(d.choices)
            elif d.integer:
                out[d.key] = IntDistribution(
                    int(d.low or 0), int(d.high or 0), step=int(d.step or 1), log=d.log
                )
            else:
                out[d.key] = FloatDistribution(float(d.low or 0), float(d.high or 0), step=d.step, log=d.log)
        return out

    def feasible(self, params: Mapping[str, Any]) -> bool:
        for text in self.constraints:
            m = _CMP.match(text)
            assert m is not None
            a, op, b = (self._value(m.group(1), params), m.group(2), self._value(m.group(3), params))
            ok = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
            if not ok:
                return False
        return True

    def _value(self, token: str, params: Mapping[str, Any]) -> float:
        if token in params:
            return float(params[token])
        try:
            return float(token)
        except ValueError:
            return float(_get(self.document, token))

    def grid(self) -> list[dict[str, Any]]:
        import itertools

        axes = []
        for d in self.dimensions:
            if d.choices is not None:
                axes.append(list(d.choices))
            elif d.step is None:
                raise FxError(f"{self.source}:{d.line}: search.{d.key}: grid needs a step or choices")
            else:
                n = math.floor((float(d.high or 0) - float(d.low or 0)) / d.step + 1e-9) + 1
                values = [float(d.low or 0) + i * d.step for i in range(n)]
                axes.append([int(v) for v in values] if d.integer else [round(v, 12) for v in values])
        keys = [d.key for d in self.dimensions]
        points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)]
        return [p for p in points if self.feasible(p)]

    def defaults(self) -> dict[str, Any]:
        return {d.key: _get(self.document, d.key) for d in self.dimensions}

    def realise(self, params: Mapping[str, Any]) -> Candidate:
        from pydantic import ValidationError

        from fxcli.strategy.spec import StrategySpec
        from fxcli.tasks.backtest import resolve_indicators

        document = copy.deepcopy(self.document)
        for key, value in params.items():
            _set(document, key, value)
        body = {k: v for k, v in document.items() if k != "search"}
        body.setdefault("name", self.source.stem)
        try:
            spec = StrategySpec.model_validate(body)
        except ValidationError as exc:
            raise FxError(f"{self.source}: parameters {dict(params)} make no valid strategy: {exc}") from None
        return Candidate(document, spec, resolve_indicators(spec, self.variants_dir, None))

    def changes_indicators(self, key: str) -> bool:
        return key.startswith("variants.") or key == "clock_ms"


def _get(document: Mapping[str, Any], key: str) -> Any:
    m = _ITEM.match(key)
    if m:
        return document[m.group(1)][int(m.group(2))][m.group(3)]
    node: Any = document
    for part in key.split("."):
        node = node[part]
    return node


def _set(document: dict[str, Any], key: str, value: Any) -> None:
    m = _ITEM.match(key)
    if m:
        document[m.group(1)][int(m.group(2))][m.group(3)] = value
        return
    *head, last = key.split(".")
    node = document
    for part in head:
        node = node.setdefault(part, {})
    node[last] = value


def load_space(strategy_path: Path, variants_dir: Path, overrides: Sequence[str] = ()) -> Space:
    document, text = read_toml(strategy_path)
    search = dict(document.get("search", {}))
    constraint = search.pop("constraint", ())
    constraints = (constraint,) if isinstance(constraint, str) else tuple(constraint)
    dims: dict[str, Dimension] = {}
    for key, spec in search.items():
        line = key_line(text, ("search", key)) or 1
        try:
            _get(document, key)
        except (KeyError, IndexError, TypeError):
            raise FxError(f"{strategy_path}:{line}: search.{key}: no such key in the strategy") from None
        if "choices" in spec:
            dims[key] = Dimension(key, None, None, None, False, False, tuple(spec["choices"]), line)
            continue
        low, high = spec["low"], spec["high"]
        if low > high:
            raise FxError(f"{strategy_path}:{line}: search.{key}: low {low} > high {high}")
        integer = all(isinstance(v, int) for v in (low, high, spec.get("step", 1)))
        dims[key] = Dimension(
            key, low, high, spec.get("step"), bool(spec.get("log", False)), integer, None, line
        )
    for text_override in overrides:
        key, _, rng = text_override.partition("=")
        parts = rng.split(":")
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            raise FxError(f"--param {text_override!r}: expected KEY=LOW:HIGH[:STEP]") from None
        integer = all(p.lstrip("-").isdigit() for p in parts)
        cast: Any = int if integer else float
        dims[key] = Dimension(
            key,
            cast(nums[0]),
            cast(nums[1]),
            cast(nums[2]) if len(nums) > 2 else None,
            False,
            integer,
            None,
            0,
        )
    if not dims:
        raise FxError(f"{strategy_path}: no [search] table and no --param: nothing to optimise")
    return Space(strategy_path, tuple(dims.values()), document, variants_dir, constraints)


def strategy_text(document: Mapping[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps({k: v for k, v in document.items() if k != "search"})


class TrialData:
    """Replays from the store on every trial (the real one reads columns once and caches indicators)."""

    def __init__(self, folder: Path, setup: dict[str, Any]) -> None:
        self.folder = folder
        self._setup = setup
        self.symbols: tuple[str, ...] = tuple(setup["symbols"])
        self.exchanges: dict[str, str] = setup["exchanges"]
        self.data_sha: dict[str, str] = setup["data_sha"]

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
    ) -> TrialData:
        from fxcli.model.units import parse_window
        from fxcli.store.access import exchange_of
        from fxcli.store.reader import StoreReader
        from fxcli.store.schema import Table
        from fxcli.tasks.backtest import _data_sha

        if not data_dir.is_dir():
            raise FxError(f"data dir {data_dir} does not exist (import or record something first)")
        lo, hi = parse_window(start, end)
        reader = StoreReader(data_dir)
        exchanges, shas = {}, {}
        for symbol in symbols:
            venue = exchange_of(reader, symbol, exchange, error=FxError)
            if (
                reader.scan(venue, symbol, Table.TRADES, lo, hi).select("exchange_ts_ns").collect().height
                == 0
            ):
                raise FxError(f"no trades for {symbol} on {venue} in the window: nothing to backtest")
            exchanges[symbol], shas[symbol] = venue, _data_sha(reader, venue, symbol, lo, hi)
        setup = {
            "data_dir": str(data_dir.resolve()),
            "symbols": list(symbols),
            "exchanges": exchanges,
            "data_sha": shas,
            "window": [lo, hi],
        }
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "interim.json").write_text(json.dumps(setup))
        return cls(folder, setup)

    @classmethod
    def open(cls, folder: Path) -> TrialData:
        return cls(folder, json.loads((folder / "interim.json").read_text()))

    def stages(
        self,
        spec: StrategySpec,
        indicators: list[tuple[str, str, IndicatorParams]],
        costs: Costs,
        balance: float,
        clock_ms: int,
        n_stages: int = 1,
    ) -> Iterator[dict[str, RunResult]]:
        from fxcli.backtest.fast import run
        from fxcli.store.reader import StoreReader
        from fxcli.store.replay import replay
        from fxcli.tasks.backtest import MARKET_TABLES

        reader = StoreReader(Path(self._setup["data_dir"]))
        lo, hi = self._setup["window"]
        results = {}
        for symbol in self.symbols:
            events = replay(reader, self.exchanges[symbol], symbol, MARKET_TABLES, lo, hi)
            results[symbol] = run(spec, symbol, indicators, events, costs, balance, clock_ms=clock_ms)  # type: ignore[arg-type]
        for _ in range(n_stages):
            yield results
