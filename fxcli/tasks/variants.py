"""`fx variants`: CRUD on the variant files, and variants computed over stored data.

Compute reads the trades table alone when every variant reads only trades (vectorised
`Ticks.from_trades`); when one needs the book it replays trades, book_ticker, snapshots and deltas
into one event stream and every event is a row. `--check` runs the streaming pipeline over the
same events and compares it with the batch twins row by row.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fxcli.engine.variants import (
    Problem,
    Variant,
    VariantError,
    append_block,
    error_message,
    load_folder,
    params_errors,
    parse_param,
    read_file,
    remove_block,
    replace_block,
)
from fxcli.errors import FxError, NothingFoundError
from fxcli.model.units import NS_PER_MS, NS_PER_S, parse_window
from fxcli.outfile import make_folder, output_file, write_output
from fxcli.store.access import exchange_of, open_reader
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table

if TYPE_CHECKING:
    import numpy as np

    from fxcli.model.events import MarketEvent

DEFAULT_FILE = "custom.toml"
# Rows before --from are read so values are warm at --from: the longest window, plus this much for
# warm-ups counted in trades (EMA span, RSI period).
LEAD_IN_EXTRA_S = 60.0
BOOK_TABLES = (Table.TRADES, Table.BOOK_TICKER, Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS)
TWIN_RTOL = 1e-9
PROGRESS_EVERY = 16_384

Progress = Callable[[str, int, int | None], None]
"""progress(stage, done, total): what the work is at; total None while unknown."""


# --- the files ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """A variant and where it is defined."""

    variant: Variant
    path: Path
    line: int | None


def list_variants(variants_dir: Path, indicator: str | None = None, kind: str | None = None) -> list[Located]:
    """Every variant, in file order; a problem anywhere in the folder is an error."""
    from fxcli.engine.registry import get
    from fxcli.engine.variants import VariantType

    if indicator is not None:
        try:
            indicator = get(indicator).name
        except KeyError as exc:
            raise FxError(f"--indicator: {exc.args[0]}") from None
    if kind is not None and kind.upper() not in VariantType.__members__:
        raise FxError(f"--type {kind}: not one of {', '.join(VariantType)}")
    cat = load_folder(variants_dir)
    cat.raise_first_problem()
    out = []
    for entry in cat.entries.values():
        v = entry.variant
        assert v is not None
        if indicator is not None and v.indicator != indicator:
            continue
        if kind is not None and v.type.value != kind.upper():
            continue
        out.append(Located(v, entry.path, entry.line))
    return out


@dataclass(frozen=True)
class ParamRow:
    """One indicator parameter as a variant sets it."""

    name: str
    value: Any
    default: Any
    is_set: bool
    description: str


@dataclass(frozen=True)
class Shown:
    """One variant with every parameter (given or default) and its warm-up."""

    located: Located
    params: list[ParamRow]
    warmup_seconds: float
    warmup_trades: int
    needs_book: bool
    indicator_doc: str


def show(variants_dir: Path, name: str) -> Shown:
    """One variant, its parameters with their defaults and meanings, and what it needs to be warm."""
    cat = load_folder(variants_dir)
    v = cat.get(name)
    entry = cat.entries[name]
    effective = v.indicator_params().model_dump()
    rows = [
        ParamRow(
            key,
            effective[key],
            info.default,
            key in v.params,
            info.description or "",
        )
        for key, info in v.spec.params.model_fields.items()
    ]
    warm = v.spec.warmup(v.indicator_params())
    return Shown(
        Located(v, entry.path, entry.line),
        rows,
        warm.seconds,
        warm.trades,
        warm.needs_book,
        v.spec.doc.splitlines()[0] if v.spec.doc else "",
    )


@dataclass(frozen=True)
class Validation:
    """What `validate` found."""

    files: int
    variants: int
    problems: list[Problem]


def validate(variants_dir: Path) -> Validation:
    """Every problem of every file (syntax, schema, keys, params, duplicate names)."""
    if not variants_dir.is_dir():
        raise FxError(f"variants dir {variants_dir} does not exist")
    cat = load_folder(variants_dir)
    valid = sum(1 for e in cat.entries.values() if e.variant is not None)
    return Validation(len(cat.files), valid, cat.problems)


@dataclass(frozen=True)
class Written:
    """What a create / edit / delete did."""

    action: str  # created, edited, moved, deleted
    name: str
    variant: Variant | None  # None once deleted
    path: Path
    previous_path: Path | None = None


_OPTION_OF = {"indicator": "--indicator", "type": "--type", "description": "--description"}


def _build(name: str, indicator: Any, kind: Any, description: Any, params: dict[str, Any]) -> Variant:
    """A Variant from command-line values; errors name the option (and the parameter)."""
    data: dict[str, Any] = {"name": name, "params": params}
    for key, value in (("indicator", indicator), ("type", kind), ("description", description)):
        if value is not None:
            data[key] = value
    try:
        return Variant.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "variant_params":
            found = params_errors(str(data["indicator"]).upper(), params)
            key, message = found[0]
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise VariantError(f"--param {key.removeprefix('params.')}: {message}{more}") from None
        field_name = str(error["loc"][0]) if error["loc"] else ""
        option = _OPTION_OF.get(field_name, field_name)
        if field_name == "name":
            option = f"NAME {name!r}"
        message = error_message(error)
        if error["type"] == "missing":
            message = "missing (required for a new variant)"
        raise VariantError(f"{option}: {message}") from None


def _target(variants_dir: Path, file: Path | None) -> Path:
    """The file to write: a `.toml` file name inside the variants dir (default custom.toml)."""
    if file is None:
        return variants_dir / DEFAULT_FILE
    if file.suffix != ".toml":
        raise FxError(f"--file {file}: a variants file ends in .toml")
    if len(file.parts) == 1:
        return variants_dir / file
    if file.parent.resolve() != variants_dir.resolve():
        raise FxError(f"--file {file}: must be a file in the variants dir {variants_dir} (only it is read)")
    return variants_dir / file.name


def _parsed(path: Path) -> tuple[str, dict[str, Any]]:
    """Text and content of an existing, syntactically valid file (a missing file is empty)."""
    if not path.exists():
        return "", {}
    source = read_file(path)
    blocking = [p for p in source.problems if source.data is None or p.key == "schema"]
    if source.data is None or blocking:
        raise VariantError(f"{blocking[0]} (fix the file before editing it with fx)")
    return source.text, source.data


def _save(path: Path, new_text: str, expected: dict[str, Any]) -> None:
    """Write `new_text` atomically, after proving it parses to `expected` (the old content with only
    the intended table changed), so an edit never silently alters another table."""
    try:
        got = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        got = {"<unparsable>": str(exc)}
    if got != expected:
        raise VariantError(
            f"{path}: could not rewrite it in place without touching other tables; edit it by hand"
        )
    make_folder(path.parent)
    write_output(path, new_text.encode("utf-8"))


def _without(data: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != name}


def _params(texts: Sequence[str]) -> dict[str, Any]:
    return dict(parse_param(t) for t in texts)


def create(
    variants_dir: Path,
    name: str,
    indicator: str | None,
    kind: str | None,
    params: Sequence[str] = (),
    description: str | None = None,
    file: Path | None = None,
) -> Written:
    """Append a new variant to `file` (default custom.toml); its name must be new in the folder."""
    cat = load_folder(variants_dir)
    broken = next((f for f in cat.files if f.data is None), None)
    if broken is not None:
        raise VariantError(f"{broken.problems[0]} (names must be unique across files: fix it first)")
    if name in cat.entries:
        entry = cat.entries[name]
        where = f"{entry.path}:{entry.line}" if entry.line else str(entry.path)
        raise VariantError(f"variant {name!r} already exists ({where}); change it with fx variants edit")
    variant = _build(name, indicator, kind, description, _params(params))
    target = _target(variants_dir, file)
    text, data = _parsed(target)
    _save(target, append_block(text, variant), {**(data or {"schema": 1}), name: variant.to_table()})
    return Written("created", name, variant, target)


def edit(
    variants_dir: Path,
    name: str,
    indicator: str | None = None,
    kind: str | None = None,
    params: Sequence[str] = (),
    unset: Sequence[str] = (),
    description: str | None = None,
    file: Path | None = None,
) -> Written:
    """Change some fields of a variant in place (or move it with `file`); the rest of the file stays.

    A new `indicator` keeps only the parameters it also has.
    """
    cat = load_folder(variants_dir)
    entry = cat.entries.get(name)
    if entry is None:
        cat.get(name)  # raises "unknown variant" with a hint
    assert entry is not None
    table = entry.table
    old_indicator = str(table.get("indicator", ""))
    new_params: dict[str, Any] = dict(table["params"]) if isinstance(table.get("params"), dict) else {}
    if indicator is not None and indicator.upper() != old_indicator.upper():
        from fxcli.engine.registry import load_all

        spec = load_all().get(indicator.upper())
        new_params = {k: v for k, v in new_params.items() if spec is None or k in spec.params.model_fields}
    for key in unset:
        if key not in new_params:
            raise VariantError(
                f"--unset {key}: {name} does not set {key!r} (it sets: {', '.join(new_params) or 'none'})"
            )
        del new_params[key]
    new_params.update(_params(params))
    variant = _build(
        name,
        indicator if indicator is not None else table.get("indicator"),
        kind if kind is not None else table.get("type"),
        description if description is not None else table.get("description"),
        new_params,
    )
    here = entry.path
    target = _target(variants_dir, file) if file is not None else here
    text, data = _parsed(here)
    if target.resolve() == here.resolve():
        _save(here, replace_block(text, variant), {**data, name: variant.to_table()})
        return Written("edited", name, variant, here)
    target_text, target_data = _parsed(target)
    new_target = append_block(target_text, variant)
    _save(target, new_target, {**(target_data or {"schema": 1}), name: variant.to_table()})
    _save(here, remove_block(text, name), _without(data, name))
    return Written("moved", name, variant, target, here)


def delete(variants_dir: Path, name: str) -> Written:
    """Remove a variant's table from its file; everything else in the file stays."""
    cat = load_folder(variants_dir)
    entry = cat.entries.get(name)
    if entry is None:
        cat.get(name)
    assert entry is not None
    text, data = _parsed(entry.path)
    _save(entry.path, remove_block(text, name), _without(data, name))
    return Written("deleted", name, None, entry.path)


# --- computing over stored data ----------------------------------------------------------------------


@dataclass
class Computed:
    """Batch values of some variants over one symbol's stored rows (`first` = first row in the window)."""

    exchange: str
    symbol: str
    start_ns: int | None
    end_ns: int | None
    source: str  # "trades" or "events"
    variants: list[Variant]
    ts_ns: np.ndarray  # every row read, including the warm-up lead-in
    values: dict[str, np.ndarray]
    first: int
    events: list[MarketEvent] | None = None

    @property
    def rows(self) -> int:
        """Rows inside the requested window."""
        return len(self.ts_ns) - self.first

    def window(self, name: str) -> np.ndarray:
        """Values of one variant inside the requested window."""
        return self.values[name][self.first :]


def resolve(variants_dir: Path, names: Sequence[str]) -> list[Variant]:
    """The named variants (each once, in the order given); unknown or invalid ones are errors."""
    if not names:
        raise FxError("name at least one variant (fx variants list shows them)")
    cat = load_folder(variants_dir)
    out: list[Variant] = []
    for name in names:
        v = cat.get(name)
        if v not in out:
            out.append(v)
    return out


def needs_book(variants: Iterable[Variant]) -> bool:
    """True if any variant reads the book (its indicator's warm-up needs one)."""
    return any(v.spec.warmup(v.indicator_params()).needs_book for v in variants)


def _counting(items: Sequence[Any], stage: str, progress: Progress | None) -> Iterator[Any]:
    total = len(items)
    for i, item in enumerate(items):
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(stage, i, total)
        yield item
    if progress is not None:
        progress(stage, total, total)


def _last_full_snapshot(reader: StoreReader, exchange: str, symbol: str, at_ns: int) -> int | None:
    import polars as pl

    snaps = reader.scan(exchange, symbol, Table.BOOK_SNAPSHOTS, None, at_ns)
    full = snaps.filter(~pl.col("source").str.contains("top"))
    value = full.select(pl.col("exchange_ts_ns").max()).collect().item()
    return int(value) if value is not None else None


def compute_values(
    data_dir: Path,
    variants: list[Variant],
    symbol: str,
    exchange: str | None,
    start: str | None,
    end: str | None,
    *,
    keep_events: bool = False,
    progress: Progress | None = None,
) -> Computed:
    """Batch values of `variants` over the stored rows of `symbol` in [start, end], warm at start."""
    import numpy as np

    from fxcli.engine.ticks import Ticks
    from fxcli.store.replay import replay

    lo, hi = parse_window(start, end)
    reader = open_reader(data_dir)
    exchange = exchange_of(reader, symbol, exchange)
    warm_s = max(v.spec.warmup(v.indicator_params()).seconds for v in variants)
    read_lo = lo - round((warm_s + LEAD_IN_EXTRA_S) * NS_PER_S) if lo is not None else None
    events: list[MarketEvent] | None = None
    if progress is not None:
        progress("reading", 0, None)
    if needs_book(variants):
        source = "events"
        base = read_lo
        if read_lo is not None:  # rebuild the book from the last full snapshot before the lead-in
            snapshot = _last_full_snapshot(reader, exchange, symbol, read_lo)
            base = snapshot if snapshot is not None else read_lo
        events = list(replay(reader, exchange, symbol, BOOK_TABLES, base, hi))  # type: ignore[arg-type]
        levels = sorted({n for v in variants for n in v.spec.depth_levels(v.indicator_params())})
        ticks = Ticks.from_events(_counting(events, "building rows", progress), levels)
    else:
        source = "trades"
        trades = reader.scan(exchange, symbol, Table.TRADES, read_lo, hi).collect()
        ticks = Ticks.from_trades(trades)
        if keep_events:
            events = list(replay(reader, exchange, symbol, (Table.TRADES,), read_lo, hi))  # type: ignore[arg-type]
    values: dict[str, np.ndarray] = {}
    for i, v in enumerate(variants):
        if progress is not None:
            progress(f"computing {v.name}", i, len(variants))
        values[v.name] = np.asarray(v.spec.batch(ticks, v.indicator_params()), dtype=np.float64)
    first = int(np.searchsorted(ticks.ts_ns, lo, side="left")) if lo is not None else 0
    if len(ticks) - first == 0:
        what = "trades" if source == "trades" else "events"
        raise NothingFoundError(f"no {what} for {symbol} on {exchange} in the window")
    return Computed(
        exchange,
        symbol,
        lo,
        hi,
        source,
        variants,
        ticks.ts_ns,
        values,
        first,
        events if keep_events else None,
    )


@dataclass(frozen=True)
class Divergence:
    """The first row where the streaming pipeline and a batch twin differ."""

    row: int
    ts_ns: int
    variant: str
    batch: float
    stream: float


@dataclass(frozen=True)
class TwinCheck:
    """Streaming pipeline versus batch twins over the same rows."""

    rows: int
    variants: int
    divergence: Divergence | None

    @property
    def ok(self) -> bool:
        """True when every row of every variant agrees (relative 1e-9, NaN where NaN)."""
        return self.divergence is None


def check_twins(computed: Computed, progress: Progress | None = None) -> TwinCheck:
    """Run the streaming pipeline over the computed rows' events and compare every row."""
    import numpy as np

    from fxcli.engine.pipeline import Pipeline

    events = computed.events
    assert events is not None, "compute_values(keep_events=True) first"
    names = [v.name for v in computed.variants]
    pipeline = Pipeline(
        computed.symbol, [(v.name, v.indicator, v.indicator_params()) for v in computed.variants]
    )
    stream = np.empty((len(events), len(names)))
    for i, event in enumerate(_counting(events, "streaming check", progress)):
        snapshot = pipeline.on_event(event)
        stream[i] = [snapshot[n] for n in names]
    batch = np.column_stack([computed.values[n] for n in names])
    if batch.shape != stream.shape:
        raise FxError(f"twins see different rows: batch {batch.shape[0]}, stream {stream.shape[0]}")
    same = np.isclose(stream, batch, rtol=TWIN_RTOL, atol=0.0, equal_nan=True)
    if same.all():
        return TwinCheck(len(events), len(names), None)
    row, col = (int(x) for x in np.argwhere(~same)[0])
    return TwinCheck(
        len(events),
        len(names),
        Divergence(
            row, int(computed.ts_ns[row]), names[col], float(batch[row, col]), float(stream[row, col])
        ),
    )


@dataclass(frozen=True)
class SeriesSummary:
    """What one variant's values look like inside the window (NaN = not warm)."""

    variant: Variant
    rows: int
    warmup_nan: int  # NaN rows before the first value
    nan: int
    minimum: float | None
    mean: float | None
    maximum: float | None
    last: float | None
    first_warm_ns: int | None
    out_of_range: int  # values outside the type's range (RISK: 0-100)


def summarize(computed: Computed) -> list[SeriesSummary]:
    """Rows, NaN warm-up, min / mean / max and last value of each variant inside the window."""
    import numpy as np

    ts = computed.ts_ns[computed.first :]
    out = []
    for v in computed.variants:
        values = computed.window(v.name)
        finite = np.isfinite(values)
        warm = np.flatnonzero(~np.isnan(values))
        first_warm = int(warm[0]) if len(warm) else len(values)
        good = values[finite]
        bounds = v.type.bounds
        outside = int(((good < bounds[0]) | (good > bounds[1])).sum()) if bounds and len(good) else 0
        last = float(values[-1]) if len(values) and not np.isnan(values[-1]) else None
        out.append(
            SeriesSummary(
                v,
                len(values),
                first_warm,
                int(np.isnan(values).sum()),
                float(good.min()) if len(good) else None,
                float(good.mean()) if len(good) else None,
                float(good.max()) if len(good) else None,
                last,
                int(ts[first_warm]) if first_warm < len(values) else None,
                outside,
            )
        )
    return out


@dataclass
class ComputeReport:
    """The outcome of `fx variants compute`."""

    exchange: str
    symbol: str
    start_ns: int | None
    end_ns: int | None
    source: str
    rows: int
    first_ns: int
    last_ns: int
    summaries: list[SeriesSummary]
    check: TwinCheck | None = None
    files: list[Path] = field(default_factory=list)
    out_dir: Path | None = None


def compute(
    variants_dir: Path,
    data_dir: Path,
    names: Sequence[str],
    symbol: str,
    exchange: str | None = None,
    start: str | None = None,
    end: str | None = None,
    *,
    out_dir: Path | None = None,
    fmt: str = "parquet",
    check: bool = False,
    progress: Progress | None = None,
) -> ComputeReport:
    """Compute variants over stored data, write them (Parquet, or the seed's CSV layout) and
    optionally check the streaming twins against the batch ones."""
    if fmt not in ("parquet", "csv"):
        raise FxError(f"--format {fmt}: use parquet or csv")
    variants = resolve(variants_dir, names)
    computed = compute_values(
        data_dir, variants, symbol, exchange, start, end, keep_events=check, progress=progress
    )
    ts = computed.ts_ns[computed.first :]
    report = ComputeReport(
        computed.exchange,
        computed.symbol,
        computed.start_ns,
        computed.end_ns,
        computed.source,
        computed.rows,
        int(ts[0]),
        int(ts[-1]),
        summarize(computed),
        out_dir=out_dir,
    )
    if out_dir is not None:
        if progress is not None:
            progress("writing", 0, None)
        writer = write_csv if fmt == "csv" else write_parquet
        report.files = writer(computed, out_dir)
    if check:
        report.check = check_twins(computed, progress)
    return report


def _frame(computed: Computed, name: str) -> Any:
    import polars as pl

    ts = computed.ts_ns[computed.first :]
    return pl.DataFrame(
        {
            "exchange_ts_ns": pl.Series(ts, dtype=pl.Int64),
            "time": pl.from_epoch(pl.Series(ts, dtype=pl.Int64), time_unit="ns").dt.replace_time_zone("UTC"),
            "value": pl.Series(computed.window(name), dtype=pl.Float64),
        }
    )


def write_parquet(computed: Computed, out_dir: Path) -> list[Path]:
    """One file per variant: `<out>/<SYMBOL>/<variant>.parquet` with exchange_ts_ns, time, value."""
    files = []
    for v in computed.variants:
        path = out_dir / computed.symbol / f"{v.name}.parquet"
        make_folder(path.parent)
        with output_file(path) as handle:
            _frame(computed, v.name).write_parquet(handle, compression="zstd")
        files.append(path)
    return files


def write_csv(computed: Computed, out_dir: Path) -> list[Path]:
    """The seed's layout: `<out>/<SYMBOL>/<YYYY-MM-DD>/<variant>_values.csv` with `timestamp,value`
    (timestamp = exchange time in ms; split by UTC date; NaN rows written as NaN)."""
    import polars as pl

    files = []
    for v in computed.variants:
        frame = _frame(computed, v.name).select(
            (pl.col("exchange_ts_ns") // NS_PER_MS).alias("timestamp"),
            "value",
            pl.col("time").dt.date().alias("date"),
        )
        for (day,), part in frame.partition_by("date", as_dict=True, maintain_order=True).items():
            path = out_dir / computed.symbol / str(day) / f"{v.name}_values.csv"
            make_folder(path.parent)
            with output_file(path) as handle:
                part.drop("date").write_csv(handle)
            files.append(path)
    return files
