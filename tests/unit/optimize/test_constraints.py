"""The constraint language: precedence, chains, types, and errors that say where."""

from __future__ import annotations

from typing import Any

import pytest

from fxcli.optimize.constraints import ConstraintError, parse, tokenize

VALUES: dict[str, Any] = {"a": 2.0, "b": 3.0, "c": 4.0, "s1[0].value": 5.0, "w": [10, 0], "side": "long"}


def holds(text: str, **values: Any) -> bool:
    merged = {**VALUES, **values}
    constraint = parse(text)
    constraint.check_types(lambda key: isinstance(merged[key], int | float))
    return constraint.holds(merged.__getitem__)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + b * c == 14", True),  # * before +: 2 + 12
        ("(a + b) * c == 20", True),
        ("a - b - c == -5", True),  # left to right: (2 - 3) - 4
        ("c / a / a == 1", True),
        ("-a * -b == 6", True),
        ("- -a == 2", True),
        ("a < b and b < a or c == 4", True),  # and before or: (F) or T
        ("a < b or b < a and c == 5", True),  # a < b or (F and F)
        ("not a < b", False),  # not binds looser than the comparison: not (a < b)
        ("not a > b and c == 4", True),  # (not F) and T
        ("not (a < b and c == 4)", False),
        ("a < b < c", True),  # a chain: a < b and b < c
        ("a < c < b", False),
        ("a <= 2 <= b != c", True),
        ("s1[0].value >= 2 * a + 1", True),
        ("1.5e1 > c", True),
        (".5 < a", True),
        ("a / 0 > 1", False),  # a division by zero cannot be shown to hold
        ("side == side", True),
    ],
)
def test_constraint_precedence_and_chains_evaluate_like_arithmetic(text: str, expected: bool) -> None:
    assert holds(text) is expected


def test_constraint_keys_are_every_dotted_key_read() -> None:
    constraint = parse("variants.pump_10s.recent[0] < 2 * s1[1].value and not cooldown_s == 0")

    assert constraint.keys == {"variants.pump_10s.recent[0]", "s1[1].value", "cooldown_s"}


def test_constraint_tokens_carry_columns() -> None:
    tokens = tokenize("a<=  s1[0].value")

    assert [(t.kind, t.text, t.column) for t in tokens] == [
        ("key", "a", 1),
        ("op", "<=", 2),
        ("key", "s1[0].value", 6),
        ("end", "", 17),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty constraint"),
        ("a <", "expected a number, a key or '(' at the end (column 4)"),
        ("a < (b", "expected ')' at column 7 (for '(' at 5)"),
        ("a < b)", "unexpected ')' at column 6"),
        ("a = b", "unexpected '=' at column 3"),
        ("a < b; c", "unexpected ';' at column 6"),
        ("__import__('os') == 1", 'unexpected "\'" at column 12'),
        ("a < 3x", "unexpected 'x' at column 6"),
        ("a b", "unexpected 'b' at column 3"),
        ("and < 1", "expected a number, a key or '(' at column 1, got 'and'"),
    ],
)
def test_constraint_syntax_errors_name_the_column(text: str, message: str) -> None:
    with pytest.raises(ConstraintError) as caught:
        parse(text)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a + b", "a constraint is a comparison (e.g. a < b), not a number"),
        ("a", "a constraint is a comparison (e.g. a < b), not a number"),
        ("w < 3", "'<' needs numbers: w is not a number"),
        ("w + 1 > 2", "'+' needs a number: w is not a number"),
        ("a < b and c", "'and' needs a comparison: c is a number"),
        ("not a", "'not' needs a comparison: a is a number"),
        ("(a < b) + 1 > 0", "'+' needs a number: the expression is a comparison"),
        ("(a < b) == (b < c)", "'==' compares numbers or values, not a comparison's true/false"),
    ],
)
def test_constraint_type_errors_say_which_operand(text: str, message: str) -> None:
    constraint = parse(text)

    with pytest.raises(ConstraintError) as caught:
        constraint.check_types(lambda key: isinstance(VALUES[key], int | float))

    assert str(caught.value) == message
