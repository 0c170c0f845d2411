"""The search space of `fx optimize`, read from the strategy file's `[search]` table.

    [search]
    "s1[0].value" = { low = 2.0, high = 8.0, step = 0.5 }      # float grid 2.0, 2.5, ..., 8.0
    "exits.tp_pct" = { low = 5, high = 40, log = true }         # int (low and high are ints), log scale
    "cooldown_s" = { low = 30, high = 600, step = 30 }
    "sizing.base_position_pct" = { choices = [0.1, 0.25, 0.5] }
    "variants.pump_10s.recent" = { choices = [[10, 0], [20, 0]] }
    constraint = ["exits.tp_pct > exits.sl_buffer_pct"]

Keys are fxcli/optimize/keys.py's dotted keys; constraints fxcli/optimize/constraints.py's
expressions. A trial's parameters are a flat mapping key -> value; a choice that is a list travels
as its TOML text ("[20, 0]"): Optuna's storages keep categorical choices as JSON, where a list and
a tuple are the same thing, so only a scalar round-trips unchanged. `realise` takes either form.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from fxcli.engine.params import IndicatorParams
from fxcli.engine.variants import Catalog, TextIndex, error_message, literal, load_folder, params_errors
from fxcli.errors import FxError
from fxcli.optimize.constraints import Constraint, ConstraintError, parse
from fxcli.optimize.dimensions import Dimension, DimensionError, parse_dimension, parse_override
from fxcli.optimize.keys import (
    GROUPS,
    KeyPath,
    KeyPathError,
    View,
    assign,
    check_dimension,
    join_key,
    split_key,
)
from fxcli.strategy.indicators import base_of, resolve
from fxcli.strategy.spec import StrategySpec, load_strategy
from fxcli.toml_source import read_toml

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = ["Candidate", "Dimension", "Space", "load_space", "strategy_text"]

MAX_GRID = 1_000_000
CONSTRAINT = "constraint"


@dataclass(frozen=True)
class Candidate:
    """One point of the space made concrete: the strategy document, its spec, its indicators."""

    document: dict[str, Any]  # the strategy TOML document with the params applied ([search] kept)
    spec: StrategySpec
    indicators: list[tuple[str, str, IndicatorParams]]  # as resolve_indicators returns, overrides applied


@dataclass(frozen=True)
class Rule:
    """One hard constraint and the line it was written on."""

    constraint: Constraint
    line: int


@dataclass(frozen=True)
class Space:
    """The dimensions of a search, its hard constraints, and the strategy they apply to."""

    source: Path
    dimensions: tuple[Dimension, ...]
    rules: tuple[Rule, ...] = ()
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    view: View | None = field(default=None, compare=False, repr=False)
    catalog: Catalog | None = field(default=None, compare=False, repr=False)
    static: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # _locate's answers

    def distributions(self) -> dict[str, BaseDistribution]:
        """Key -> Optuna distribution: Float (step, log), Int (step, log), Categorical (list choices as
        their TOML text)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out: dict[str, BaseDistribution] = {}
        for d in self.dimensions:
            if d.choices is not None:
                out[d.key] = CategoricalDistribution(d.trial_choices())
            elif d.integer:
                assert d.low is not None
                assert d.high is not None
                step = 1 if d.step is None else int(d.step)
                out[d.key] = IntDistribution(int(d.low), int(d.high), log=d.log, step=step)
            else:
                assert d.low is not None
                assert d.high is not None
                out[d.key] = FloatDistribution(d.low, d.high, log=d.log, step=d.step)
        return out

    def feasible(self, params: Mapping[str, Any]) -> bool:
        """Whether every hard constraint holds at `params` (keys not given keep the file's values)."""
        lookup = self._lookup(self._decoded(params))
        return all(rule.constraint.holds(lookup) for rule in self.rules)

    def grid(self) -> list[dict[str, Any]]:
        """Every admissible point once (the cartesian product in [search] order, the last key varying
        fastest, filtered by the constraints), as trial parameters."""
        axes = []
        for d in self.dimensions:
            try:
                axes.append(d.trial_values())
            except DimensionError as exc:
                raise FxError(f"{self._where(d)}: search.{d.key}: {exc}") from None
        count = math.prod(len(a) for a in axes)
        if count > MAX_GRID:
            sizes = " x ".join(str(len(a)) for a in axes)
            raise FxError(
                f"{self.source}: the grid has {sizes} = {count:,} points, over {MAX_GRID:,}: "
                "use coarser steps, fewer keys, or another sampler"
            )
        keys = [d.key for d in self.dimensions]
        points = (dict(zip(keys, values, strict=True)) for values in itertools.product(*axes))
        return [p for p in points if self.feasible(p)]

    def defaults(self) -> dict[str, Any]:
        """The strategy file's own value at every key, as trial parameters (a list as its TOML text)."""
        view = self._view()
        out = {}
        for d in self.dimensions:
            value = d.decode(view.get(split_key(d.key)))  # the spec's 120.0 is an int key's 120
            out[d.key] = literal(value) if isinstance(value, list) else value
        return out

    def tidy(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`params` as trial parameters with each stepped float on its decimal grid point (Optuna's
        0.13999999999999999 is the 0.14 a trial runs with): what results show."""
        decoded = self._decoded(params)
        return {k: literal(v) if isinstance(v, list) else v for k, v in decoded.items()}

    def realise(self, params: Mapping[str, Any]) -> Candidate:
        """The strategy with `params` applied; FxError naming the key if it is not a valid strategy
        (a combination the validator refuses, e.g. between's min > max, is best kept out by a constraint)."""
        values = self._decoded(params)
        document = copy.deepcopy(self.document)
        view = self._view()
        for key, value in values.items():
            assign(document, split_key(key), value, view)
        spec = self._validated(document, values)
        catalog = self.catalog
        assert catalog is not None
        for name, override in (document.get("variants") or {}).items():
            indicator, written, _ = base_of(spec, name, catalog)
            problems = params_errors(indicator, {**written, **override})
            if problems:
                key, why = problems[0]
                loc = ("variants", name, *split_key(key.removeprefix("params.")))
                raise self._invalid(loc, why, values)
        return Candidate(document, spec, resolve(spec, catalog, self.source))

    def changes_indicators(self, key: str) -> bool:
        """Whether a trial changing `key` needs new indicator columns (a variant's parameter, the clock)."""
        return key.startswith("variants.") or key == "clock_ms"

    # --- internals ------------------------------------------------------------------------------

    def _view(self) -> View:
        assert self.view is not None, "a Space comes from load_space"
        return self.view

    def _where(self, d: Dimension) -> str:
        return f"{self.source}:{d.line}" if d.line else "--param"

    def _decoded(self, params: Mapping[str, Any]) -> dict[str, Any]:
        by_key = {d.key: d for d in self.dimensions}
        out = {}
        for key, value in params.items():
            dimension = by_key.get(key)
            if dimension is None:
                raise FxError(
                    f"{self.source}: {key!r} is not a key of the search space ({', '.join(by_key)})"
                )
            out[key] = dimension.decode(value)
        return out

    def _lookup(self, values: Mapping[str, Any]) -> Callable[[str], Any]:
        """Each constraint key's value at `values`: a key of the point, an element of one, or the
        strategy's own value (found once per space: a grid asks for it at every point)."""
        static = self.static

        def lookup(key: str) -> Any:
            if key in values:
                return values[key]
            found = static.get(key)
            if found is None:
                found = static[key] = self._locate(key)
            outer, rest, constant = found
            if outer is None or outer not in values:
                return constant
            node = values[outer]
            for part in rest:
                node = node[part]
            return node

        return lookup

    def _locate(self, key: str) -> tuple[str | None, KeyPath, Any]:
        """(the dimension holding `key`, the path inside its value, the file's value at `key`)."""
        path = split_key(key)
        constant = self._view().get(path)
        for cut in range(len(path) - 1, 0, -1):
            outer = join_key(path[:cut])
            if any(d.key == outer for d in self.dimensions):
                return outer, path[cut:], constant
        return None, (), constant

    def _validated(self, document: dict[str, Any], values: Mapping[str, Any]) -> StrategySpec:
        from pydantic import ValidationError

        try:
            return StrategySpec.model_validate(document)
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = tuple(p for p in error["loc"] if isinstance(p, str | int))
            why = error_message(error)
            raise self._invalid(loc, why, values) from None

    def _invalid(self, loc: KeyPath, why: str, values: Mapping[str, Any]) -> InvalidPointError:
        """The error for a point the strategy validator refuses at `loc`: it names the keys of the
        space whose path holds `loc` or lies under it (the line of the first one)."""
        culprits = [
            d
            for d in self.dimensions
            if (path := split_key(d.key))[: len(loc)] == loc or loc[: len(path)] == path
        ]
        shown = ", ".join(f"{k} = {literal(v)}" for k, v in values.items())
        where = f"{self._where(culprits[0])}: search.{culprits[0].key}" if culprits else str(self.source)
        error = InvalidPointError(f"{where}: {shown} is not a valid strategy: {join_key(loc)}: {why}")
        error.culprits = tuple(d.key for d in culprits)
        return error


class InvalidPointError(FxError):
    """A point of the space that is not a valid strategy; `culprits` are the keys at fault."""

    culprits: tuple[str, ...] = ()


def load_space(strategy_path: Path, variants_dir: Path, overrides: Sequence[str] = ()) -> Space:
    """Read the strategy's `[search]` table and the CLI's `--param` overrides into a Space; every
    problem is one FxError naming file:line (or --param) and the key."""
    spec = load_strategy(strategy_path)
    document, text = read_toml(strategy_path)
    document.setdefault("name", spec.name)
    catalog = load_folder(variants_dir)
    resolve(spec, catalog, strategy_path)  # the strategy itself must run: its overrides, its variants
    view = View.of(spec, catalog)
    index = TextIndex.of(text)
    table = document.get("search", {})
    if not isinstance(table, dict):
        raise FxError(f"{strategy_path}:{index.key_line((), 'search') or 1}: search: a table of key = range")
    dimensions: dict[str, Dimension] = {}
    for key, entry in _flatten(table):
        line = _line(index, key)
        try:
            check_dimension(split_key(key), view)
            dimensions[key] = parse_dimension(key, entry, line)
        except (KeyPathError, DimensionError) as exc:
            raise FxError(f"{strategy_path}:{line}: search.{key}: {exc}") from None
    for text_ in overrides:
        try:
            d = parse_override(text_)
            check_dimension(split_key(d.key), view)
        except (KeyPathError, DimensionError) as exc:
            raise FxError(f"--param {text_!r}: {exc}") from None
        dimensions[d.key] = d
        table[d.key] = d.table()
    if not dimensions:
        raise FxError(f"{strategy_path}: no [search] table and no --param: nothing to search")
    _check_overlaps(strategy_path, list(dimensions.values()))
    if table:
        document["search"] = table
    space = Space(strategy_path, tuple(dimensions.values()), (), document, view, catalog)
    rules = tuple(_rules(space, table.get(CONSTRAINT), index, text))
    space = Space(strategy_path, space.dimensions, rules, document, view, catalog)
    for d in space.dimensions:
        _check_values(space, d)
    return space


def _flatten(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(key, entry) of every dimension; an unquoted dotted TOML key is a nested table: joined back."""
    out: list[tuple[str, Any]] = []
    for key, entry in table.items():
        if not prefix and key == CONSTRAINT:
            continue
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(entry, dict) and entry and not set(entry) & {"low", "high", "step", "log", "choices"}:
            out += _flatten(entry, full)
        else:
            out.append((full, entry))
    return out


def _line(index: TextIndex, key: str) -> int:
    """The line of a [search] key, written quoted, dotted, or as a [search."key"] header."""
    table = ("search",)
    parts = tuple(key.split(".")) if "[" not in key else ()
    return (
        index.key_line(table, key)
        or index.headers.get((*table, key))
        or (index.key_line(table, *parts) if parts else None)
        or (index.headers.get((*table, *parts)) if parts else None)
        or index.headers.get(table)
        or 1
    )


def _check_overlaps(source: Path, dimensions: list[Dimension]) -> None:
    for a, b in itertools.permutations(dimensions, 2):
        if b.key.startswith(a.key + "[") or b.key.startswith(a.key + "."):
            where = f"{source}:{b.line}" if b.line else "--param"
            raise FxError(f"{where}: search.{b.key}: overlaps search.{a.key} (set one or the other)")


def _rules(space: Space, raw: Any, index: TextIndex, text: str) -> list[Rule]:
    """Parse and type-check the constraints; each names a dimension or a value of the strategy."""
    if raw is None:
        return []
    first = index.key_line(("search",), CONSTRAINT) or 1
    items = raw if isinstance(raw, list) else [raw]
    lines = text.splitlines()
    rules = []
    for item in items:
        if not isinstance(item, str):
            raise FxError(f"{space.source}:{first}: search.constraint: {item!r} is not a string")
        # A constraint list may span lines: the line is the first from `constraint =` holding the text.
        line = next((n for n in range(first, len(lines) + 1) if item in lines[n - 1]), first)
        where = f"{space.source}:{line}: search.constraint {item!r}"
        try:
            constraint = parse(item)
        except ConstraintError as exc:
            raise FxError(f"{where}: {exc}") from None
        kinds = {}
        for key in sorted(constraint.keys):
            try:
                kinds[key] = _is_number(space, key)
            except KeyPathError as exc:
                raise FxError(
                    f"{where}: {key} is neither a key of [search] nor a value of the strategy ({exc})"
                ) from None
        try:
            constraint.check_types(kinds.__getitem__)
        except ConstraintError as exc:
            raise FxError(f"{where}: {exc}") from None
        rules.append(Rule(constraint, line))
    return rules


def _is_number(space: Space, key: str) -> bool:
    """Whether every value `key` can take in the space is a number (KeyPathError if it names nothing)."""
    path = split_key(key)
    for d in space.dimensions:
        outer = split_key(d.key)
        if path[: len(outer)] == outer:
            samples = list(d.choices) if d.choices is not None else [d.low]
            try:
                picked = [_dig(v, path[len(outer) :]) for v in samples]
            except (IndexError, KeyError, TypeError):
                raise KeyPathError(f"a value of {d.key} has no {join_key(path)}") from None
            return all(_numeric(v) for v in picked)
    return _numeric(space._view().get(path))


def _dig(value: Any, path: KeyPath) -> Any:
    for part in path:
        value = value[part]
    return value


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_values(space: Space, d: Dimension) -> None:
    """Each end of a range (each choice), the other keys as the file has them, must make a valid
    strategy when the fault is this key's alone: refused now, with its line, not mid-study. A fault
    shared with another key (e.g. between's min > max when max is searched too) is left to the
    constraints and to realise() at trial time."""
    for value in d.probe_values():
        try:
            space.realise({d.key: value})
        except InvalidPointError as exc:
            if exc.culprits == (d.key,):
                raise


def strategy_text(document: Mapping[str, Any]) -> str:
    """TOML text of a complete strategy file (best.toml), laid out as a person writes one: top-level
    values, [sizing] and [exits], one [[group]] table per condition, [variants.NAME], then [search]."""
    lines: list[str] = []
    tables: list[str] = []
    first = [k for k in ("schema", "name") if k in document]
    for key in [*first, *(k for k in document if k not in first)]:
        value = document[key]
        if key in TABLED and isinstance(value, Mapping):
            tables += ["", f"[{_toml_key(key)}]", *_entries(value)]
        elif key in GROUPS and isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
            for condition in value:
                tables += ["", f"[[{key}]]", *_entries(condition)]
        elif key == "variants" and isinstance(value, Mapping):
            for name, params in value.items():
                tables += ["", f"[variants.{_toml_key(name)}]", *_entries(params)]
        else:
            lines.append(f"{_toml_key(key)} = {literal(value)}")
    return "\n".join([*lines, *tables]) + "\n"


TABLED = ("sizing", "exits", "search")


def _entries(table: Mapping[str, Any]) -> list[str]:
    return [f"{_toml_key(k)} = {literal(v)}" for k, v in table.items()]


def _toml_key(key: str) -> str:
    return tomli_w.dumps({key: 0}).rsplit(" = ", 1)[0]
