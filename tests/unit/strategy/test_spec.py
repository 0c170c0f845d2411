"""Strategy files: valid ones load; bad ones give one message naming file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fxcli.errors import FxError
from fxcli.strategy.conditions import Condition, Op, Result
from fxcli.strategy.spec import Side, load_strategy

GOOD = """schema = 1
side = "short"
signal_timeout_s = 30

[sizing]
base_position_pct = 0.5

[[s1]]
indicator = "pump_10s"
op = "gte"
value = 3.0

[[z1]]
indicator = "spread"
op = "between"
min = 0.0
max = 0.5

[[z1]]
indicator = "rush"
op = "allowed"
values = [1, 2, 3]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dump_fader.toml"
    path.write_text(text)
    return path


def test_spec_good_file_loads_with_name_from_file(tmp_path: Path) -> None:
    spec = load_strategy(write(tmp_path, GOOD))

    assert (spec.name, spec.side, spec.signal_timeout_s) == ("dump_fader", Side.SHORT, 30.0)
    assert [c.op for c in spec.z1] == [Op.BETWEEN, Op.ALLOWED]
    assert spec.indicator_names() == {"pump_10s", "spread", "rush"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('op = "between"', 'op = "gtee"'),
            r"dump_fader\.toml:15: z1\[0\]\.op: 'gtee' is not one of 'gte', 'lte'",
        ),
        (("max = 0.5\n", ""), r"dump_fader\.toml:13: z1\[0\]: between needs min and max"),
        (("schema = 1", "schema = 2"), r"dump_fader\.toml:1: schema: expected schema = 1, got 2"),
        (
            ('side = "short"', 'side = "sideways"'),
            r"dump_fader\.toml:2: side: 'sideways' is not one of 'long' or 'short'",
        ),
        (
            ("base_position_pct = 0.5", "base_position_pct = 0.5\nmax_notinal = 5"),
            r"dump_fader\.toml:7: sizing\.max_notinal: Extra inputs",
        ),
        (
            ("values = [1, 2, 3]", "values = []"),
            r"dump_fader\.toml:\d+: z1\[1\]: allowed needs a non-empty values list",
        ),
        (
            ("value = 3.0", 'value = "lots"'),
            r"dump_fader\.toml:11: s1\[0\]\.value: Input should be a valid number",
        ),
    ],
)
def test_spec_bad_file_names_file_key_and_line(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write(tmp_path, GOOD.replace(*edit))

    with pytest.raises(FxError, match=message):
        load_strategy(path)


def test_spec_unrealized_pnl_before_a_position_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace('indicator = "pump_10s"', 'indicator = "UNREALIZED_PNL_PCT"')

    with pytest.raises(FxError, match=r"s1\[0\]: UNREALIZED_PNL_PCT exists only in ze1 and e1"):
        load_strategy(write(tmp_path, text))


def test_spec_without_s1_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace('[[s1]]\nindicator = "pump_10s"\nop = "gte"\nvalue = 3.0\n', "")

    with pytest.raises(FxError, match="s1"):
        load_strategy(write(tmp_path, text))


def test_spec_broken_toml_names_line(tmp_path: Path) -> None:
    with pytest.raises(FxError, match=r"line 3"):
        load_strategy(write(tmp_path, "schema = 1\nside = 'long'\nvalue = = 3\n"))


@pytest.mark.parametrize(
    ("condition", "x", "expected"),
    [
        ({"op": "gt", "value": 1}, 1.0, Result.FALSE),
        ({"op": "gte", "value": 1}, 1.0, Result.TRUE),
        ({"op": "lt", "value": 1}, 0.5, Result.TRUE),
        ({"op": "lte", "value": 1}, 1.5, Result.FALSE),
        ({"op": "eq", "value": 2}, 2.0, Result.TRUE),
        ({"op": "between", "min": 1, "max": 2}, 2.0, Result.TRUE),
        ({"op": "between", "min": 1, "max": 2}, 2.1, Result.FALSE),
        ({"op": "allowed", "values": [1, 3]}, 3.0, Result.TRUE),
        ({"op": "allowed", "values": [1, 3]}, 2.0, Result.FALSE),
        ({"op": "gte", "value": 1}, float("nan"), Result.PENDING),
    ],
)
def test_condition_operators(condition: dict[str, object], x: float, expected: Result) -> None:
    assert Condition.model_validate({"indicator": "x", **condition}).evaluate({"x": x}) is expected
