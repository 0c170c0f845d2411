"""Which indicator, with which parameters, each name a strategy reads.

A name is a variant of the variants folder or an indicator's registry name (its defaults). A
strategy file may replace a variant's parameters for itself alone, in a `[variants.NAME]` table
with the variants file's value syntax, so that one file (e.g. `fx optimize`'s best.toml) says
everything a run needs:

    [variants.pump_10s]
    recent = [20, 0]          # the variants file says [10, 0]; baseline stays as it is there

Problems name the strategy file's line: `pump.toml:40: variants.pump_10s.recnt: unknown parameter ...`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import load_all
from fxcli.engine.variants import Catalog, TextIndex, VariantError, params_errors
from fxcli.errors import FxError
from fxcli.strategy.spec import StrategySpec, check_variant_types

Resolved = list[tuple[str, str, IndicatorParams]]
"""(name the strategy reads, registry indicator, parameters), sorted by name."""


def resolve(spec: StrategySpec, catalog: Catalog, source: Path | None = None) -> Resolved:
    """Each name the strategy reads as (name, indicator, params), the file's overrides applied.

    A risk, stop-loss or take-profit variant of the wrong type, or a bad override, is an error
    naming `source`'s line (the strategy's name when there is no file).
    """
    check_overrides(spec, catalog, source)
    resolved: Resolved = []
    types: dict[str, str] = {}
    for name in sorted(spec.indicator_names()):
        indicator, written, kind = base_of(spec, name, catalog)
        if kind is not None:
            types[name] = kind
        params = {**written, **spec.variants.get(name, {})}
        resolved.append((name, indicator, load_all()[indicator].params.model_validate(params)))
    check_variant_types(spec, types, source)
    return resolved


def base_of(spec: StrategySpec, name: str, catalog: Catalog) -> tuple[str, dict[str, Any], str | None]:
    """(indicator, parameters as the variants file writes them, variant type or None) of a name:
    an indicator's own name, not shadowed by a variant, has no written parameters and no type."""
    specs = load_all()
    if name.upper() in specs and name not in catalog.entries:
        return name.upper(), {}, None
    try:
        variant = catalog.get(name)
    except VariantError as exc:
        raise FxError(f"strategy {spec.name}: {exc}") from None
    return variant.indicator, dict(variant.params), variant.type.value


def effective_params(spec: StrategySpec, name: str, catalog: Catalog) -> dict[str, Any]:
    """Every parameter of a name the strategy reads, as TOML-ready values: the indicator's defaults,
    then the variants file's values (as written there: [10, 0] stays ints), then the overrides."""
    indicator, written, _ = base_of(spec, name, catalog)
    defaults = load_all()[indicator].params().model_dump(mode="json")
    defaults.pop("kind", None)
    return {**defaults, **written, **spec.variants.get(name, {})}


def check_overrides(spec: StrategySpec, catalog: Catalog, source: Path | None) -> None:
    """Raise FxError on the first `[variants.NAME]` table that names something the strategy does
    not read, or a parameter its indicator does not have, or a value the indicator refuses."""
    if not spec.variants:
        return
    where = _Where(spec, source)
    reads = spec.indicator_names()
    for name, override in spec.variants.items():
        if name not in reads:
            known = name in catalog.entries or name.upper() in load_all()
            why = "is not read by this strategy" if known else "is not a variant or an indicator"
            raise FxError(
                f"{where.line(name)}: variants.{name}: {name!r} {why} "
                f"(it reads {', '.join(sorted(reads))}); an override applies to a name the strategy reads"
            )
        indicator, written, _ = base_of(spec, name, catalog)
        problems = params_errors(indicator, {**written, **override})
        if problems:
            key, message = problems[0]
            param = key.removeprefix("params.")
            top = param.split("[")[0].split(".")[0]
            raise FxError(f"{where.line(name, top)}: variants.{name}.{param}: {message}")


class _Where:
    """`file:line` of a `[variants.NAME]` table or one of its keys, found in the file's text once."""

    def __init__(self, spec: StrategySpec, source: Path | None) -> None:
        self.spec, self.source = spec, source
        self.index: TextIndex | None = None
        if source is not None:
            try:
                self.index = TextIndex.of(source.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                self.index = None

    def line(self, name: str, key: str | None = None) -> str:
        """Where `variants.NAME[.key]` is set (the table's header when the key is not found)."""
        if self.source is None:
            return f"strategy {self.spec.name}"
        found = None
        if self.index is not None:
            table = ("variants", name)
            found = (self.index.key_line(table, key) if key else None) or self.index.headers.get(table)
            found = found or self.index.key_line(("variants",), name) or self.index.key_line((), "variants")
        return f"{self.source}:{found}" if found else str(self.source)
