"""The search space in a strategy file: errors name file:line and key; the grid is exact; a realised
point is a strategy file that loads to the same spec; Optuna's storage round-trips every choice."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from pathlib import Path

import pytest

from fxcli.errors import FxError
from fxcli.optimize.space import load_space, strategy_text
from fxcli.strategy.spec import load_strategy
from fxcli.tasks.backtest import resolve_indicators
from tests.conftest import REPO

VARIANTS = REPO / "variants"
BASE = """schema = 1
cooldown_s = 120

[sizing]
base_position_pct = 0.5

[exits]
sl_buffer_pct = 10
tp_pct = 25

[[s1]]
indicator = "pump_10s"
op = "gte"
value = 3.0

[[s1]]
indicator = "volume_surge_10s"
op = "gte"
value = 5.0

[[z1]]
indicator = "spread"
op = "between"
min = 0.0
max = 0.5

[search]
"""
SEARCH_LINE = BASE.count("\n") + 1  # the first line after [search]


def write(tmp_path: Path, search: str, base: str = BASE) -> Path:
    path = tmp_path / "rider.toml"
    path.write_text(base + search)
    return path


@pytest.mark.parametrize(
    ("search", "at", "message"),
    [
        ('"foo" = { low = 1, high = 2 }', 1, "search.foo: unknown key (a key is sN[i].value"),
        (
            '"exits.tp" = { low = 1, high = 2 }',
            1,
            "search.exits.tp: [exits] has no field tp (it has sl_buffer_pct",
        ),
        ('"s1[0].value" = { low = 8.0, high = 2.0 }', 1, r"search.s1[0].value: low 8.0 > high 2.0"),
        (
            '"cooldown_s" = { low = 0, high = 1 }\n"s1[0].value" = { low = 2.0, high = 8.0, step = 0.7 }',
            2,
            "search.s1[0].value: step 0.7 does not divide high - low = 6.0 (from 2.0 to 8.0)",
        ),
        (
            '"exits.tp_pct" = { low = 0, high = 40, log = true }',
            1,
            "search.exits.tp_pct: log needs low > 0, got low = 0",
        ),
        (
            '"exits.tp_pct" = { low = 1, high = 40, step = 1, log = true }',
            1,
            "log and step cannot be combined",
        ),
        ('"exits.tp_pct" = { choices = [] }', 1, "search.exits.tp_pct: choices must be a non-empty array"),
        ('"exits.tp_pct" = { choices = [5, 10, 5] }', 1, "search.exits.tp_pct: choice 5 is given twice"),
        ('"exits.tp_pct" = { low = 5, hi = 40 }', 1, "search.exits.tp_pct: unknown field 'hi'"),
        ('"exits.tp_pct" = { low = 5 }', 1, "search.exits.tp_pct: high is missing"),
        ('"exits.tp_pct" = { low = 5, high = 40, choices = [1] }', 1, "choices cannot be combined with low"),
        ('"exits.tp_pct" = 5', 1, "search.exits.tp_pct: 5 is not a range { low"),
        ('"exits.tp_pct" = { low = "a", high = 40 }', 1, 'search.exits.tp_pct: low = "a" is not a number'),
        ("[search.cooldown_s]\nlow = 10\nhigh = 5", 1, "search.cooldown_s: low 10 > high 5"),
        (
            '"s1[2].value" = { low = 1.0, high = 2.0 }',
            1,
            r"search.s1[2].value: s1 has 2 condition(s) (s1[0] to s1[1])",
        ),
        (
            '"s1[0].min" = { low = 1.0, high = 2.0 }',
            1,
            r"search.s1[0].min: s1[0] (op gte) has no min; it has value",
        ),
        ('"s1.value" = { low = 1.0, high = 2.0 }', 1, r"a condition's key is s1[i].value, .min or .max"),
        ('"cooldown_s[0]" = { low = 1, high = 2 }', 1, "search.cooldown_s[0]: cooldown_s is a single value"),
        ('"s1[0]..value" = { low = 1, high = 2 }', 1, "is not a dotted key"),
        (
            '"variants.pump_60s.recent" = { choices = [[10, 0]] }',
            1,
            "search.variants.pump_60s.recent: 'pump_60s' is not read by this strategy "
            "(it reads pump_10s, spread",
        ),
        (
            '"variants.pump_10s.recnt" = { choices = [[10, 0]] }',
            1,
            "PUMP_MAGNITUDE_PCT (pump_10s) has no parameter recnt (it has recent, baseline)",
        ),
        (
            '"variants.pump_10s.recent[2]" = { low = 1, high = 2 }',
            1,
            "pump_10s.recent has 2 elements ([0] to [1])",
        ),
        (
            '"variants.pump_10s.recent" = { choices = [[10, 0], [0, 10]] }',
            1,
            r"search.variants.pump_10s.recent: variants.pump_10s.recent = \[0, 10\] is not a valid strategy: "
            r"variants.pump_10s.recent: window \(0, 10\) must have t1 > t2 >= 0",
        ),
        (
            '"exits.sl_buffer_pct" = { low = 50, high = 150 }',
            1,
            "search.exits.sl_buffer_pct: exits.sl_buffer_pct = 150 is not a valid strategy: "
            "exits.sl_buffer_pct: Input should be less than 100",
        ),
        (
            '"clock_ms" = { low = 100.0, high = 1000.0, step = 100.0 }',
            1,
            "search.clock_ms: clock_ms = 100.0 is not a valid strategy: clock_ms:",
        ),
        (
            '"variants.pump_10s.recent" = { choices = [[10, 0]] }\n'
            '"variants.pump_10s.recent[0]" = { low = 5, high = 9 }',
            2,
            r"search.variants.pump_10s.recent\[0\]: overlaps search.variants.pump_10s.recent",
        ),
        (
            '"exits.tp_pct" = { low = 5, high = 40 }\nconstraint = "exits.tp_pct >"',
            2,
            "search.constraint 'exits.tp_pct >': expected a number, a key or '(' at the end (column 15)",
        ),
        (
            '"exits.tp_pct" = { low = 5, high = 40 }\nconstraint = "exits.tp_pct > foo.bar"',
            2,
            "foo.bar is neither a key of [search] nor a value of the strategy",
        ),
        (
            '"exits.tp_pct" = { low = 5, high = 40 }\n'
            'constraint = [\n  "exits.tp_pct > 1",\n  "s1[0].value < 2 *",\n]',
            4,
            r"search.constraint 's1\[0\].value < 2 \*': expected a number",
        ),
        (
            '"exits.tp_pct" = { low = 5, high = 40 }\nconstraint = "z1[0].value > 1"',
            2,
            r"z1\[0\].value is neither a key of \[search\] nor a value of the strategy "
            r"\(z1\[0\].value: the strategy does not set it\)",
        ),
        (
            '"variants.pump_10s.recent" = { choices = [[10, 0]] }\n'
            'constraint = "variants.pump_10s.recent > 1"',
            2,
            "'>' needs numbers: variants.pump_10s.recent is not a number",
        ),
    ],
)
def test_space_bad_entry_is_one_error_naming_file_line_and_key(
    tmp_path: Path, search: str, at: int, message: str
) -> None:
    path = write(tmp_path, search + "\n")

    with pytest.raises(FxError) as caught:
        load_space(path, VARIANTS)

    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}:{SEARCH_LINE + at - 1}: "), text
    pattern = message if "\\" in message else re.escape(message)
    assert re.search(pattern, text), text


def test_space_without_search_or_param_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "", BASE.replace("[search]\n", ""))

    with pytest.raises(FxError, match=r"rider\.toml: no \[search\] table and no --param: nothing to search"):
        load_space(path, VARIANTS)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("exits.tp_pct=40:5", "--param 'exits.tp_pct=40:5': low 40 > high 5"),
        (
            "exits.tp_pct",
            "--param 'exits.tp_pct': expected KEY=LOW:HIGH[:STEP], KEY=LOW:HIGH:log or KEY=a,b,c",
        ),
        ("exits.tp_pct=1:2:3:4", "--param 'exits.tp_pct=1:2:3:4': '1:2:3:4': a range is LOW:HIGH"),
        ("exits.tp_pct=5:40:8", "--param 'exits.tp_pct=5:40:8': step 8 does not divide high - low = 35"),
        ("exits.tp_pct=0:40:log", "--param 'exits.tp_pct=0:40:log': log needs low > 0"),
        (
            "exits.tp_pct=5:4.0.1",
            "--param 'exits.tp_pct=5:4.0.1': HIGH '4.0.1' is not a number or a TOML value",
        ),
        ("exits.tp_pct=5,,6", "--param 'exits.tp_pct=5,,6': '5,,6': an empty choice"),
        ("nope=1:2", "--param 'nope=1:2': unknown key"),
        ("s1[0].value=[1,2", "--param 's1[0].value=[1,2': choice '[1,2' is not a number or a TOML value"),
    ],
)
def test_space_bad_param_names_param_and_the_bad_part(tmp_path: Path, param: str, message: str) -> None:
    path = write(tmp_path, '"cooldown_s" = { low = 0, high = 60, step = 30 }\n')

    with pytest.raises(FxError) as caught:
        load_space(path, VARIANTS, [param])

    assert str(caught.value).startswith(message), str(caught.value)


def test_space_params_replace_and_add_dimensions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '"cooldown_s" = { low = 0, high = 60, step = 30 }\n"exits.tp_pct" = { low = 5, high = 40 }\n',
    )

    space = load_space(
        path,
        VARIANTS,
        [
            "cooldown_s=10:20",
            "exits.sl_buffer_pct=0.5:8:log",
            "variants.pump_10s.recent=[10,0],[20, 0]",
            "side=long,short",
        ],
    )

    by_key = {d.key: d for d in space.dimensions}
    assert list(by_key) == [
        "cooldown_s",
        "exits.tp_pct",
        "exits.sl_buffer_pct",
        "variants.pump_10s.recent",
        "side",
    ]
    assert (by_key["cooldown_s"].low, by_key["cooldown_s"].high, by_key["cooldown_s"].step) == (10, 20, None)
    assert (by_key["exits.sl_buffer_pct"].log, by_key["exits.sl_buffer_pct"].integer) == (True, False)
    assert by_key["variants.pump_10s.recent"].choices == ([10, 0], [20, 0])
    assert by_key["side"].choices == ("long", "short")
    assert space.document["search"]["cooldown_s"] == {"low": 10, "high": 20}


GRID = """"cooldown_s" = { low = 0, high = 100, step = 10 }
"s1[0].value" = { low = 1.0, high = 3.0, step = 0.5 }
"sizing.base_position_pct" = { choices = [0.1, 0.25, 0.5] }
constraint = [
  "cooldown_s / 10 + s1[0].value * 2 <= 12",
  "sizing.base_position_pct != 0.25 or cooldown_s == 0",
]
"""


def test_space_grid_is_exactly_the_admissible_points_once_in_order(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, GRID), VARIANTS)

    grid = space.grid()

    everything = itertools.product(range(0, 101, 10), [1.0, 1.5, 2.0, 2.5, 3.0], [0.1, 0.25, 0.5])
    admissible = [
        {"cooldown_s": c, "s1[0].value": v, "sizing.base_position_pct": p}
        for c, v, p in everything
        if c / 10 + v * 2 <= 12 and (p != 0.25 or c == 0)
    ]
    assert len(admissible) < 11 * 5 * 3  # the constraints do cut
    assert grid == admissible  # the same points, the same order (last key fastest)
    assert len({tuple(p.values()) for p in grid}) == len(grid)


def test_space_grid_steps_are_exact_decimals_and_int_ranges_step_one(tmp_path: Path) -> None:
    search = '"s1[0].value" = { low = 0.1, high = 0.7, step = 0.2 }\n"cooldown_s" = { low = 3, high = 5 }\n'
    space = load_space(write(tmp_path, search), VARIANTS)

    grid = space.grid()

    assert [(p["s1[0].value"], p["cooldown_s"]) for p in grid[:4]] == [(0.1, 3), (0.1, 4), (0.1, 5), (0.3, 3)]
    assert sorted({p["s1[0].value"] for p in grid}) == [0.1, 0.3, 0.5, 0.7]


def test_space_a_sampled_stepped_float_runs_and_shows_as_its_decimal_grid_point(tmp_path: Path) -> None:
    # Optuna steps in binary floats: 0.02 + 3 * 0.04 is 0.13999999999999999, 0.0002 * 3 0.0006000000000000001.
    search = '"exits.sl_buffer_pct" = { low = 0.02, high = 0.18, step = 0.04 }\n'
    space = load_space(write(tmp_path, search), VARIANTS)
    sampled = 0.02 + 3 * 0.04
    assert sampled != 0.14

    assert space.tidy({"exits.sl_buffer_pct": sampled}) == {"exits.sl_buffer_pct": 0.14}
    assert space.realise({"exits.sl_buffer_pct": sampled}).spec.exits.sl_buffer_pct == 0.14
    assert "sl_buffer_pct = 0.14\n" in strategy_text(space.realise({"exits.sl_buffer_pct": sampled}).document)


def test_space_grid_refuses_a_continuous_range_and_a_huge_grid(tmp_path: Path) -> None:
    continuous = load_space(write(tmp_path, '"s1[0].value" = { low = 1.0, high = 3.0 }\n'), VARIANTS)
    huge = load_space(
        write(
            tmp_path,
            '"cooldown_s" = { low = 0, high = 1000 }\n"emergency_cooldown_s" = { low = 0, high = 1000 }\n',
        ),
        VARIANTS,
    )

    with pytest.raises(
        FxError, match=rf"rider\.toml:{SEARCH_LINE}: search.s1\[0\].value: a continuous range"
    ):
        continuous.grid()
    with pytest.raises(FxError, match=r"the grid has 1001 x 1001 = 1,002,001 points, over 1,000,000"):
        huge.grid()


def test_space_feasible_reads_elements_of_list_choices_and_file_values(tmp_path: Path) -> None:
    search = (
        '"variants.pump_10s.recent" = { choices = [[5, 0], [10, 0], [20, 0]] }\n'
        'constraint = "variants.pump_10s.recent[0] < variants.pump_10s.baseline[1] and s1[1].value == 5"\n'
    )
    space = load_space(write(tmp_path, search), VARIANTS)

    grid = space.grid()

    assert grid == [{"variants.pump_10s.recent": "[5, 0]"}]  # baseline is (300, 10) in variants/pump.toml
    assert space.feasible({"variants.pump_10s.recent": [5, 0]})
    assert not space.feasible({"variants.pump_10s.recent": "[10, 0]"})


def test_space_distributions_round_trip_through_optuna_storage(tmp_path: Path) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    search = (
        '"s1[0].value" = { low = 2.0, high = 8.0, step = 0.5 }\n'
        '"exits.tp_pct" = { low = 11, high = 40, log = true }\n'
        '"cooldown_s" = { low = 30, high = 600, step = 30 }\n'
        '"sizing.base_position_pct" = { choices = [0.1, 0.25] }\n'
        '"variants.pump_10s.recent" = { choices = [[10, 0], [20, 0]] }\n'
    )
    space = load_space(write(tmp_path, search), VARIANTS)
    journal = str(tmp_path / "study.journal")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(journal)), study_name="s")

    trial = study.ask(space.distributions())
    study.tell(trial, 1.0)
    stored = optuna.load_study(storage=JournalStorage(JournalFileBackend(journal)), study_name="s").trials[0]

    kinds = {k: type(d).__name__ for k, d in space.distributions().items()}
    assert kinds == {
        "s1[0].value": "FloatDistribution",
        "exits.tp_pct": "IntDistribution",
        "cooldown_s": "IntDistribution",
        "sizing.base_position_pct": "CategoricalDistribution",
        "variants.pump_10s.recent": "CategoricalDistribution",
    }
    assert stored.distributions == space.distributions()
    assert stored.params == trial.params
    assert stored.params["variants.pump_10s.recent"] in ("[10, 0]", "[20, 0]")
    candidate = space.realise(stored.params)
    recent = {n: p for n, _, p in candidate.indicators}["pump_10s"].recent  # type: ignore[attr-defined]
    assert list(recent) == [
        float(x) for x in stored.params["variants.pump_10s.recent"].strip("[]").split(",")
    ]


def test_space_defaults_are_the_files_values(tmp_path: Path) -> None:
    search = (
        '"exits.tp_pct" = { low = 5, high = 40 }\n"s1[1].value" = { low = 1.0, high = 9.0 }\n'
        '"variants.pump_10s.baseline" = { choices = [[300, 10]] }\n'
        '"emergency_cooldown_s" = { low = 0, high = 1000 }\n'
    )
    space = load_space(write(tmp_path, search), VARIANTS)

    assert space.defaults() == {
        "exits.tp_pct": 25,
        "s1[1].value": 5.0,
        "variants.pump_10s.baseline": "[300, 10]",
        "emergency_cooldown_s": 900,  # the spec's default: the file does not set it
    }


def test_space_realised_text_loads_to_the_same_spec_and_indicators(tmp_path: Path) -> None:
    search = (
        '"s1[0].value" = { low = 2.0, high = 8.0, step = 0.5 }\n"z1[0].max" = { choices = [0.3, 0.6] }\n'
        '"variants.pump_10s.recent" = { choices = [[10, 0], [20, 0]] }\n'
        '"variants.volume_surge_10s.baseline[0]" = { low = 120, high = 600, step = 60 }\n'
        '"sizing.risk_points" = { choices = [[[20, 1.5], [80, 0.5]]] }\n'
        'constraint = "z1[0].max > z1[0].min"\n'
    )
    path = write(tmp_path, search)
    space = load_space(path, VARIANTS)
    params = {
        "s1[0].value": 6.5,
        "z1[0].max": 0.6,
        "variants.pump_10s.recent": "[20, 0]",
        "variants.volume_surge_10s.baseline[0]": 540,
        "sizing.risk_points": "[[20, 1.5], [80, 0.5]]",
    }

    candidate = space.realise(params)
    best = tmp_path / "best" / "rider.toml"
    best.parent.mkdir()
    best.write_text(strategy_text(candidate.document))
    loaded = load_strategy(best)

    assert loaded == candidate.spec
    assert resolve_indicators(loaded, VARIANTS, best) == candidate.indicators
    assert (loaded.s1[0].value, loaded.z1[0].max, loaded.sizing.risk_points) == (
        6.5,
        0.6,
        [(20, 1.5), (80, 0.5)],
    )
    by_name = {n: p for n, _, p in candidate.indicators}
    assert by_name["pump_10s"].recent == (20.0, 0.0)  # type: ignore[attr-defined]
    assert by_name["volume_surge_10s"].baseline == (540.0, 10.0)  # type: ignore[attr-defined]
    kept = load_space(best, VARIANTS).dimensions  # [search] is kept (on other lines)
    assert [replace(d, line=0) for d in kept] == [replace(d, line=0) for d in space.dimensions]
    assert load_strategy(path).s1[0].value == 3.0  # the source file is not touched


def test_space_realise_names_the_key_of_an_invalid_combination(tmp_path: Path) -> None:
    search = '"z1[0].min" = { low = 0.0, high = 1.0 }\n"z1[0].max" = { low = 0.0, high = 1.0 }\n'
    space = load_space(write(tmp_path, search), VARIANTS)

    with pytest.raises(FxError) as caught:
        space.realise({"z1[0].min": 0.8, "z1[0].max": 0.2})

    assert str(caught.value) == (
        f"{tmp_path / 'rider.toml'}:{SEARCH_LINE}: search.z1[0].min: z1[0].min = 0.8, z1[0].max = 0.2 "
        "is not a valid strategy: z1[0]: between needs min <= max, got 0.8 > 0.2"
    )


def test_space_changes_indicators_only_for_variants_and_the_clock(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, '"cooldown_s" = { low = 0, high = 60 }\n'), VARIANTS)

    assert space.changes_indicators("variants.pump_10s.recent")
    assert space.changes_indicators("clock_ms")
    assert not space.changes_indicators("s1[0].value")
    assert not space.changes_indicators("exits.tp_pct")


@pytest.mark.parametrize("name", ["pump_rider", "momentum_scalper"])
def test_space_shipped_strategies_have_a_valid_search_space(name: str) -> None:
    space = load_space(REPO / "strategies" / f"{name}.toml", VARIANTS)

    defaults = space.realise({})

    assert len(space.dimensions) >= 4
    assert defaults.spec == load_strategy(REPO / "strategies" / f"{name}.toml")
    assert space.grid()  # every key has a step or choices: a grid search runs on it as shipped
