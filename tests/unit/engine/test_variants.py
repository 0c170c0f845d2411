"""Variants: the model, the files (problems name file, line and key), in-place edits, the twin check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fxcli.engine.registry import load_all
from fxcli.engine.variants import (
    Problem,
    Variant,
    VariantError,
    VariantType,
    append_block,
    literal,
    load_folder,
    parse_param,
    remove_block,
    replace_block,
)
from fxcli.tasks.variants import Computed, check_twins, needs_book
from tests.conftest import REPO

SHIPPED = REPO / "variants"

TWO_TABLES = """schema = 1

# Pump detectors: keep this header comment
[pump_10s]  # the main trigger
indicator = "PUMP_MAGNITUDE_PCT"
type = "GENERAL"  # seed type
# ten seconds against five minutes
params = { recent = [10, 0], baseline = [300, 10] }

# volume, hand-tuned
[vol_1m]
indicator = "VOLUME"   # base quantity
type = "GENERAL"
params = { window = [60, 0] }
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(folder: Path) -> list[str]:
    return [str(p) for p in load_folder(folder).problems]


def test_shipped_variants_are_valid_and_cover_the_pump_research_set() -> None:
    catalog = load_folder(SHIPPED)

    variants = {v.name: v for v in catalog.variants()}
    assert catalog.problems == []
    by_indicator = {(v.indicator, v.type) for v in variants.values()}
    for indicator, kind in [
        ("PUMP_MAGNITUDE_PCT", VariantType.GENERAL),
        ("VOLUME_SURGE_RATIO", VariantType.GENERAL),
        ("RUSH_ORDERS", VariantType.GENERAL),
        ("TRADE_RATE", VariantType.GENERAL),
        ("SPREAD_PCT", VariantType.GENERAL),
        ("RSI", VariantType.RISK),
        ("EMA", VariantType.PRICE),
        ("VWAP", VariantType.PRICE),
        ("TWPA", VariantType.PRICE),
        ("MIN_PRICE", VariantType.STOP_LOSS),
        ("MAX_PRICE", VariantType.TAKE_PROFIT),
        ("PRICE_MOMENTUM", VariantType.GENERAL),
        ("VELOCITY_CASCADE", VariantType.GENERAL),
        ("BOOK_IMBALANCE", VariantType.GENERAL),
    ]:
        assert (indicator, kind) in by_indicator, (indicator, kind)
    assert all(len(v.description) > 20 for v in variants.values())
    assert variants["pump_10s"].indicator_params().model_dump() == {
        "recent": (10.0, 0.0),
        "baseline": (300.0, 10.0),
    }


def test_variant_round_trips_through_a_new_file(tmp_path: Path) -> None:
    variant = Variant(
        name="pump_30s",
        indicator="pump_magnitude_pct",
        type="general",
        description='30 s against 10 min, "quoted" and \\ escaped',
        params={"recent": [30, 0], "baseline": [600.5, 30]},
    )

    write(tmp_path, "custom.toml", append_block("", variant))
    again = load_folder(tmp_path).get("pump_30s")

    assert again == variant
    assert again.indicator == "PUMP_MAGNITUDE_PCT"
    assert (tmp_path / "custom.toml").read_text().startswith("schema = 1\n\n[pump_30s]\n")


def test_edit_rewrites_only_its_block_and_keeps_every_comment() -> None:
    edited = Variant(
        name="pump_10s",
        indicator="PUMP_MAGNITUDE_PCT",
        type=VariantType.GENERAL,
        description="new",
        params={"recent": [20, 0]},
    )

    text = replace_block(TWO_TABLES, edited)

    before, after = TWO_TABLES.split("[vol_1m]"), text.split("[vol_1m]")
    assert after[1] == before[1]  # the other table, its comments and spacing, byte for byte
    assert "# volume, hand-tuned\n" in after[0]
    assert "# Pump detectors: keep this header comment\n[pump_10s]  # the main trigger\n" in text
    assert 'type = "GENERAL"  # seed type\n' in text
    assert "# ten seconds against five minutes\nparams = { recent = [20, 0] }\n" in text
    assert 'description = "new"\n' in text


def test_remove_block_leaves_the_rest_of_the_file() -> None:
    text = remove_block(TWO_TABLES, "vol_1m")

    assert "[vol_1m]" not in text
    assert text.startswith(TWO_TABLES.split("# volume")[0].rstrip("\n"))
    assert "# volume, hand-tuned" in text  # a comment above a header may head a section: kept


def test_append_block_adds_a_table_at_the_end_after_a_blank_line() -> None:
    extra = Variant(name="spread", indicator="SPREAD_PCT", type=VariantType.GENERAL)

    text = append_block(TWO_TABLES, extra)

    assert text.startswith(TWO_TABLES)
    assert text.endswith('\n\n[spread]\nindicator = "SPREAD_PCT"\ntype = "GENERAL"\n')


def test_duplicate_names_across_files_name_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", TWO_TABLES)
    b = write(tmp_path, "b.toml", 'schema = 1\n\n[vol_1m]\nindicator = "PRICE"\ntype = "PRICE"\n')

    problems = problems_of(tmp_path)

    assert problems == [f"{b}:3: vol_1m: defined again (first in {tmp_path / 'a.toml'}:11)"]
    with pytest.raises(VariantError, match="defined again"):
        load_folder(tmp_path).variants()
    with pytest.raises(VariantError, match="defined again"):
        load_folder(tmp_path).get("vol_1m")  # ambiguous: never silently the first one
    assert load_folder(tmp_path).get("pump_10s").indicator == "PUMP_MAGNITUDE_PCT"


def test_bad_param_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "x.toml", TWO_TABLES.replace("window = [60, 0]", "windw = [60, 0]"))

    problems = problems_of(tmp_path)

    assert problems == [f"{path}:14: vol_1m.params.windw: unknown parameter of VOLUME (takes window)"]


def test_bad_param_value_in_a_subtable_names_its_own_line(tmp_path: Path) -> None:
    text = 'schema = 1\n\n[vol]\nindicator = "VOLUME"\ntype = "GENERAL"\n\n[vol.params]\nwindow = [5, 10]\n'
    path = write(tmp_path, "x.toml", text)

    problems = problems_of(tmp_path)

    assert problems == [
        f"{path}:8: vol.params.window: window (5, 10) must have t1 > t2 >= 0 (seconds back from now)"
    ]


def test_bad_type_lists_the_types(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.toml", TWO_TABLES.replace('type = "GENERAL"  # seed', 'type = "GENRAL"  # seed')
    )

    problems = problems_of(tmp_path)

    assert problems == [
        f"{path}:6: pump_10s.type: 'GENRAL' is not one of 'GENERAL', 'RISK', 'PRICE', 'STOP_LOSS', "
        "'TAKE_PROFIT', 'CLOSE_ORDER'"
    ]


def test_every_problem_of_a_table_is_listed_not_just_the_first(tmp_path: Path) -> None:
    text = 'schema = 1\n[v]\nindicator = "VOLUM"\ntypo = 1\n[w]\ntype = "RISK"\nparams = { windw = 1 }\n'
    path = write(tmp_path, "x.toml", text)

    problems = problems_of(tmp_path)

    assert problems == [
        f"{path}:2: v.type: missing",
        f"{path}:3: v.indicator: 'VOLUM' is not an indicator (did you mean VOLUME?)",
        f"{path}:4: v.typo: unknown key (a variant has indicator, type, description, params)",
        f"{path}:5: w.indicator: missing",
    ]


def test_params_problems_are_listed_with_other_field_problems(tmp_path: Path) -> None:
    text = 'schema = 1\n[v]\nindicator = "VOLUME"\ntype = "BAD"\nparams = { windw = 1 }\n'
    path = write(tmp_path, "x.toml", text)

    problems = problems_of(tmp_path)

    assert problems[1:] == [f"{path}:5: v.params.windw: unknown parameter of VOLUME (takes window)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[v]\nindicator = "PRICE"\ntype = "PRICE"\n', "x.toml:1: schema: missing: a variants file starts"),
        (
            'schema = 2\n[v]\nindicator = "PRICE"\n',
            "x.toml:1: schema: 2 is not supported (this fx reads schema = 1)",
        ),
        ('schema = "1"\n', "x.toml:1: schema: '1' is not supported"),
        ("schema = 1\n[v]\ntype = [1,\n", "x.toml:3: v.type: invalid TOML: "),
        ("schema = 1\nname = 3\n", "x.toml:2: name: unexpected top-level key"),
        ('schema = 1\n[[v]]\nindicator = "PRICE"\n', "x.toml:2: v: a variant is one [v] table, not [[v]]"),
        ('schema = 1\n[Bad]\nindicator = "PRICE"\ntype = "PRICE"\n', "x.toml:2: Bad: bad name: a name is"),
        (
            'schema = 1\n[price]\nindicator = "PRICE"\ntype = "PRICE"\n',
            "x.toml:2: price: bad name: 'price' is an",
        ),
    ],
)
def test_file_problems_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "x.toml", text)

    problems = problems_of(tmp_path)

    assert problems[0].startswith(f"{tmp_path}/{expected}"), problems


def test_unknown_variant_suggests_a_close_name() -> None:
    with pytest.raises(VariantError, match=r"unknown variant 'pump_1s' \(did you mean pump_10s\?\)"):
        load_folder(SHIPPED).get("pump_1s")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("window=[60,0]", ("window", [60, 0])),
        ("span = 20", ("span", 20)),
        ("ratio=0.5", ("ratio", 0.5)),
        ("flag=true", ("flag", True)),
        ('mode="fast"', ("mode", "fast")),
        ("mode=fast", ("mode", "fast")),
    ],
)
def test_parse_param_reads_toml_values(text: str, expected: tuple[str, object]) -> None:
    assert parse_param(text) == expected


@pytest.mark.parametrize("text", ["window", "window=", "=3", "window=[60,", "a b=1"])
def test_parse_param_refuses_what_is_not_key_equals_value(text: str) -> None:
    with pytest.raises(VariantError, match="--param"):
        parse_param(text)


def test_literal_writes_one_line_values_with_tomli_w_escaping() -> None:
    assert literal({"recent": [10, 0.5], "s": 'a"b\n', "on": False}) == (
        '{ recent = [10, 0.5], s = "a\\"b\\n", on = false }'
    )


def test_problem_text_is_file_line_key_message() -> None:
    assert str(Problem(Path("v/p.toml"), 7, "pump.type", "bad")) == "v/p.toml:7: pump.type: bad"
    assert str(Problem(Path("v/p.toml"), None, "", "cannot read")) == "v/p.toml: cannot read"


@pytest.mark.parametrize(
    "name", ["BEST_BID", "BEST_ASK", "BID_QTY", "ASK_QTY", "SPREAD_PCT", "BOOK_IMBALANCE"]
)
def test_book_indicators_make_compute_replay_events(name: str) -> None:
    variant = Variant(name="v", indicator=name, type=VariantType.GENERAL)

    assert needs_book([variant])
    assert not needs_book([Variant(name="p", indicator="PRICE", type=VariantType.PRICE)])


def test_trade_only_registry_indicators_do_not_need_the_book() -> None:
    book = {"BEST_BID", "BEST_ASK", "BID_QTY", "ASK_QTY", "SPREAD_PCT", "BOOK_IMBALANCE"}

    trade_only = [n for n in load_all() if n not in book]

    assert not needs_book([Variant(name="v", indicator=n, type=VariantType.GENERAL) for n in trade_only])


def _computed(batch: np.ndarray) -> Computed:
    from fxcli.model.events import Trade

    events = [Trade(i * 1_000_000_000, i, "S", 100.0 + i, 1.0, 1, i) for i in range(5)]
    variant = Variant(name="p", indicator="PRICE", type=VariantType.PRICE)
    ts = np.array([e.exchange_ts_ns for e in events], dtype=np.int64)
    return Computed("ex", "S", None, None, "trades", [variant], ts, {"p": batch}, 0, events)  # type: ignore[arg-type]


def test_check_twins_agrees_when_batch_equals_stream() -> None:
    check = check_twins(_computed(np.array([100.0, 101.0, 102.0, 103.0, 104.0])))

    assert (check.ok, check.rows, check.variants) == (True, 5, 1)


def test_check_twins_reports_the_first_divergent_row() -> None:
    check = check_twins(_computed(np.array([100.0, 101.0, 102.5, 0.0, 104.0])))

    assert check.divergence is not None
    d = check.divergence
    assert (d.row, d.ts_ns, d.variant, d.batch, d.stream) == (2, 2_000_000_000, "p", 102.5, 102.0)
