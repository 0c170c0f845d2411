"""Hard constraints of a search space: a small expression language over the space's dotted keys.

    exits.tp_pct > exits.sl_buffer_pct
    s1[0].value <= 2 * s1[1].value and not cooldown_s == 0
    variants.pump_10s.recent[0] < variants.pump_10s.baseline[1]

Grammar, loosest binding first (a hand-written tokenizer and recursive-descent parser: user text is
never given to eval, compile or ast):

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)*   # a < b <= c: a < b and b <= c
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := ("-" | "+") unary | atom
    atom    := NUMBER | KEY | "(" expr ")"
    KEY     := name ("." name | "[" digits "]")*       name := [A-Za-z_][A-Za-z0-9_]*

`and`, `or` and `not` are reserved words. Arithmetic and ordering take numbers; `==` and `!=`
compare any two values; a constraint as a whole must be a comparison (true or false). A division
by zero makes the constraint false: the point cannot be shown to be admissible.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<key>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*)"
    r"|(?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)))"
)
KEYWORDS = ("and", "or", "not")
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


class ConstraintError(ValueError):
    """A constraint that cannot be parsed or typed; the message says where (column) and why."""


@dataclass(frozen=True)
class Token:
    """One lexeme and its 1-based column."""

    kind: str  # "number", "key", "op", "word" (and/or/not) or "end"
    text: str
    column: int


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an "end" token; an unknown character is an error."""
    tokens: list[Token] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            tokens.append(Token("end", "", position + 1))
            return tokens
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise ConstraintError(f"unexpected {text[position]!r} at column {position + 1}")
        kind = str(found.lastgroup)
        word = found.group(kind)
        start = found.start(kind)
        if kind == "key" and word in KEYWORDS:
            kind = "word"
        elif (
            kind == "number"
            and found.end() < len(text)
            and (text[found.end()].isalnum() or text[found.end()] == "_")
        ):
            raise ConstraintError(f"unexpected {text[found.end()]!r} at column {found.end() + 1}")
        tokens.append(Token(kind, word, start + 1))
        position = found.end()


# --- the tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A literal number."""

    value: float

    def keys(self) -> set[str]:
        """No keys."""
        return set()


@dataclass(frozen=True)
class Key:
    """A dotted key: its value comes from the point being checked or from the strategy file."""

    name: str

    def keys(self) -> set[str]:
        """Itself."""
        return {self.name}


@dataclass(frozen=True)
class Unary:
    """`-x`, `+x` or `not x`."""

    op: str
    operand: Node

    def keys(self) -> set[str]:
        """The operand's keys."""
        return self.operand.keys()


@dataclass(frozen=True)
class Binary:
    """Arithmetic (`+ - * /`) or logic (`and`, `or`)."""

    op: str
    left: Node
    right: Node

    def keys(self) -> set[str]:
        """Both sides' keys."""
        return self.left.keys() | self.right.keys()


@dataclass(frozen=True)
class Compare:
    """A chain of comparisons: `a < b <= c` holds when every link holds."""

    operands: tuple[Node, ...]
    ops: tuple[str, ...]

    def keys(self) -> set[str]:
        """Every operand's keys."""
        return set().union(*(o.keys() for o in self.operands))


Node = Number | Key | Unary | Binary | Compare


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, kind: str, *texts: str) -> Token | None:
        token = self.token
        if token.kind == kind and (not texts or token.text in texts):
            return self.take()
        return None

    def parse(self) -> Node:
        node = self.expr()
        if self.token.kind != "end":
            raise ConstraintError(f"unexpected {self.token.text!r} at column {self.token.column}")
        return node

    def expr(self) -> Node:
        node = self.conjunction()
        while self.accept("word", "or"):
            node = Binary("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.accept("word", "and"):
            node = Binary("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.accept("word", "not"):
            return Unary("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        operands = [self.sum()]
        ops: list[str] = []
        while (op := self.accept("op", *COMPARE)) is not None:
            ops.append(op.text)
            operands.append(self.sum())
        return Compare(tuple(operands), tuple(ops)) if ops else operands[0]

    def sum(self) -> Node:
        node = self.product()
        while (op := self.accept("op", "+", "-")) is not None:
            node = Binary(op.text, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (op := self.accept("op", "*", "/")) is not None:
            node = Binary(op.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if (op := self.accept("op", "-", "+")) is not None:
            return Unary(op.text, self.unary())
        return self.atom()

    def atom(self) -> Node:
        token = self.token
        if self.accept("number"):
            return Number(float(token.text))
        if self.accept("key"):
            return Key(token.text)
        if self.accept("op", "("):
            node = self.expr()
            if not self.accept("op", ")"):
                raise ConstraintError(
                    f"expected ')' at column {self.token.column} (for '(' at {token.column})"
                )
            return node
        if token.kind == "end":
            raise ConstraintError(f"expected a number, a key or '(' at the end (column {token.column})")
        raise ConstraintError(f"expected a number, a key or '(' at column {token.column}, got {token.text!r}")


# --- types and values --------------------------------------------------------------------------------

NUMBER, BOOL, VALUE = "number", "true/false", "value"


def _type_of(node: Node, is_number: Callable[[str], bool]) -> str:
    """The type of `node` (number, true/false, or any value), or ConstraintError on a misuse."""
    if isinstance(node, Number):
        return NUMBER
    if isinstance(node, Key):
        return NUMBER if is_number(node.name) else VALUE
    if isinstance(node, Unary):
        wanted = BOOL if node.op == "not" else NUMBER
        _expect(node.operand, wanted, f"'{node.op}'", is_number)
        return wanted
    if isinstance(node, Binary):
        wanted = BOOL if node.op in ("and", "or") else NUMBER
        _expect(node.left, wanted, f"'{node.op}'", is_number)
        _expect(node.right, wanted, f"'{node.op}'", is_number)
        return wanted
    types = [_type_of(o, is_number) for o in node.operands]
    for i, op in enumerate(node.ops):
        pair = types[i : i + 2]
        if BOOL in pair:
            raise ConstraintError(f"'{op}' compares numbers or values, not a comparison's true/false")
        if op not in ("==", "!=") and VALUE in pair:
            culprit = node.operands[i] if types[i] == VALUE else node.operands[i + 1]
            raise ConstraintError(f"'{op}' needs numbers: {describe(culprit)} is not a number")
    return BOOL


def _expect(node: Node, wanted: str, where: str, is_number: Callable[[str], bool]) -> None:
    got = _type_of(node, is_number)
    if got != wanted:
        raise ConstraintError(f"{where} needs {_article(wanted)}: {describe(node)} is {_article(got)}")


def _article(kind: str) -> str:
    return {NUMBER: "a number", BOOL: "a comparison", VALUE: "not a number"}[kind]


def describe(node: Node) -> str:
    """A short text of a node for messages."""
    if isinstance(node, Key):
        return node.name
    if isinstance(node, Number):
        return f"{node.value:g}"
    if isinstance(node, Unary):
        return f"{node.op} ..."
    return "the expression"


def _value(node: Node, lookup: Callable[[str], Any]) -> Any:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Key):
        return lookup(node.name)
    if isinstance(node, Unary):
        inner = _value(node.operand, lookup)
        return (not inner) if node.op == "not" else (-inner if node.op == "-" else inner)
    if isinstance(node, Binary):
        if node.op == "and":
            return _value(node.left, lookup) and _value(node.right, lookup)
        if node.op == "or":
            return _value(node.left, lookup) or _value(node.right, lookup)
        return ARITHMETIC[node.op](_value(node.left, lookup), _value(node.right, lookup))
    values = [_value(o, lookup) for o in node.operands]
    return all(COMPARE[op](values[i], values[i + 1]) for i, op in enumerate(node.ops))


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint, with the text it came from."""

    text: str
    tree: Node

    @property
    def keys(self) -> set[str]:
        """Every dotted key the constraint reads."""
        return self.tree.keys()

    def check_types(self, is_number: Callable[[str], bool]) -> None:
        """ConstraintError unless the constraint is a comparison whose arithmetic and ordering
        take only numbers (`is_number(key)` says which keys hold numbers)."""
        kind = _type_of(self.tree, is_number)
        if kind != BOOL:
            raise ConstraintError(f"a constraint is a comparison (e.g. a < b), not {_article(kind)}")

    def holds(self, lookup: Callable[[str], Any]) -> bool:
        """Whether the constraint holds with keys valued by `lookup` (False on a division by zero)."""
        try:
            return bool(_value(self.tree, lookup))
        except ZeroDivisionError:
            return False


def parse(text: str) -> Constraint:
    """Parse one constraint; ConstraintError names the column of the problem."""
    if not text.strip():
        raise ConstraintError("empty constraint")
    return Constraint(text, _Parser(text).parse())
