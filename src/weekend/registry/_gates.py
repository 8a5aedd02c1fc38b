"""Promotion gates: a small language of metric thresholds, parsed and checked.

A gate compares two arithmetic expressions over metrics and numbers::

    auc >= 0.7                                   a value threshold
    auc >= baseline.auc - 0.005                  a change threshold against the baseline
    rmse <= baseline.rmse * 1.02                 a relative one
    slice: auc >= baseline.auc - 0.02            checked on every gated slice
    slice(carrier): recall >= 0.5                only on the slices of column 'carrier'

Grammar (whitespace is free)::

    gate    := [scope ":"] expr cmp expr
    scope   := "overall" | "slice" | "slice(" column ")"
    cmp     := ">=" | "<=" | ">" | "<" | "=="
    expr    := term (("+" | "-") term)*
    term    := factor (("*" | "/") factor)*
    factor  := number | metric | "(" expr ")" | "-" factor
    metric  := ["candidate." | "baseline."] name

A metric without a prefix is the candidate's. In a slice gate, both sides are computed on the
same slice. A comparison involving an undefined metric (NaN, e.g. the AUC of a slice holding
one class only) does not pass. Errors point at the offending character.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from weekend.core.errors import FilterSyntaxError

CLASSIFIER_METRICS = ("auc", "accuracy", "log_loss", "precision", "recall", "f1")
REGRESSOR_METRICS = ("rmse", "mae", "r2")
ALL_METRICS = (*CLASSIFIER_METRICS, *REGRESSOR_METRICS, "rows")
SIDES = ("candidate", "baseline")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": _close,
}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)"
    r"|(?P<op>>=|<=|==|[<>()+\-*/:]))"
)


class GateSyntaxError(FilterSyntaxError):
    """A gate that does not parse; ``position`` points at the offending character."""


# -- the syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float

    def eval(self, values: Mapping[str, Mapping[str, float]]) -> float:
        return self.value


@dataclass(frozen=True)
class Metric:
    side: str
    name: str

    def eval(self, values: Mapping[str, Mapping[str, float]]) -> float:
        return float(values.get(self.side, {}).get(self.name, math.nan))


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr

    def eval(self, values: Mapping[str, Mapping[str, float]]) -> float:
        a, b = self.left.eval(values), self.right.eval(values)
        if self.op == "+":
            return a + b
        if self.op == "-":
            return a - b
        if self.op == "*":
            return a * b
        return a / b if b != 0 else math.nan


@dataclass(frozen=True)
class Neg:
    operand: Expr

    def eval(self, values: Mapping[str, Mapping[str, float]]) -> float:
        return -self.operand.eval(values)


Expr = Num | Metric | BinOp | Neg


def _metrics_of(expr: Expr) -> Iterable[Metric]:
    if isinstance(expr, Metric):
        yield expr
    elif isinstance(expr, BinOp):
        yield from _metrics_of(expr.left)
        yield from _metrics_of(expr.right)
    elif isinstance(expr, Neg):
        yield from _metrics_of(expr.operand)


@dataclass(frozen=True)
class Gate:
    """A parsed gate. ``scope`` is ``overall`` or ``slice``; ``column`` limits a slice gate."""

    text: str
    scope: str
    column: str | None
    left: Expr
    op: str
    right: Expr

    @property
    def metrics(self) -> set[Metric]:
        return {*_metrics_of(self.left), *_metrics_of(self.right)}

    @property
    def uses_baseline(self) -> bool:
        return any(m.side == "baseline" for m in self.metrics)

    def applies_to(self, column: str) -> bool:
        return self.scope == "slice" and (self.column is None or self.column == column)

    def check(self, values: Mapping[str, Mapping[str, float]]) -> tuple[bool, float, float]:
        """``(passed, left value, right value)``; NaN on either side never passes."""
        left, right = self.left.eval(values), self.right.eval(values)
        if math.isnan(left) or math.isnan(right):
            return False, left, right
        return bool(_COMPARE[self.op](left, right)), left, right


# -- the parser ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []  # (kind, value, position)
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            match = _TOKEN.match(stripped, pos)
            if match is None or match.end() == pos:
                bad = pos + len(stripped[pos:]) - len(stripped[pos:].lstrip())
                raise GateSyntaxError(
                    f"gate: unexpected character {stripped[bad]!r}", self.text, bad
                )
            kind = str(match.lastgroup)
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
        self.i = 0

    def fail(self, message: str, position: int | None = None) -> None:
        if position is None:
            position = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)
        raise GateSyntaxError(f"gate: {message}", self.text, position)

    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int] | None:
        token = self.peek()
        if token is not None and (value is None or (token[0] == "op" and token[1] == value)):
            self.i += 1
            return token
        return None

    def expect(self, value: str, what: str) -> None:
        if self.take(value) is None:
            got = self.peek()
            self.fail(f"expected {what}, got {got[1]!r}" if got else f"expected {what}")

    # gate := [scope ":"] expr cmp expr
    def gate(self) -> Gate:
        scope, column = self.scope()
        left = self.expr()
        token = self.peek()
        if token is None or token[0] != "op" or token[1] not in _COMPARE:
            shown = f", got {token[1]!r}" if token else ""
            self.fail(f"expected a comparison (>=, <=, >, <, ==){shown}")
        assert token is not None
        self.i += 1
        right = self.expr()
        if self.peek() is not None:
            self.fail(f"unexpected {self.tokens[self.i][1]!r} after the comparison")
        gate = Gate(self.text.strip(), scope, column, left, token[1], right)
        if not gate.metrics:
            self.fail("a gate must use at least one metric", 0)
        return gate

    def scope(self) -> tuple[str, str | None]:
        first, second = self.peek(), self.peek(1)
        if first is None or first[0] != "name" or first[1] not in ("overall", "slice"):
            return "overall", None
        if second is not None and second[1] == ":":
            self.i += 2
            return first[1], None
        if first[1] == "slice" and second is not None and second[1] == "(":
            self.i += 2
            token = self.take()
            if token is None or token[0] != "name" or "." in token[1]:
                self.fail("expected a column name inside slice(...)")
            assert token is not None
            self.expect(")", "')' after the slice column")
            self.expect(":", "':' after slice(column)")
            return "slice", token[1]
        return "overall", None

    def expr(self) -> Expr:
        node = self.term()
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            self.i += 1
            node = BinOp(token[1], node, self.term())
        return node

    def term(self) -> Expr:
        node = self.factor()
        while (token := self.peek()) is not None and token[1] in ("*", "/"):
            self.i += 1
            node = BinOp(token[1], node, self.factor())
        return node

    def factor(self) -> Expr:
        token = self.peek()
        if token is None:
            self.fail("expected a number, a metric or '('")
        assert token is not None
        kind, value, position = token
        self.i += 1
        if kind == "num":
            return Num(float(value))
        if kind == "name":
            return self.metric(value, position)
        if value == "(":
            node = self.expr()
            self.expect(")", "')'")
            return node
        if value == "-":
            return Neg(self.factor())
        self.i -= 1
        self.fail(f"expected a number, a metric or '(', got {value!r}")
        raise AssertionError  # pragma: no cover - fail() raises

    def metric(self, value: str, position: int) -> Metric:
        side, _, name = value.rpartition(".")
        side = side or "candidate"
        if side not in SIDES:
            self.fail(f"unknown prefix {side!r}; use 'candidate.' or 'baseline.'", position)
        if name not in ALL_METRICS:
            offset = position + (len(value) - len(name))
            self.fail(f"unknown metric {name!r}; known metrics: {', '.join(ALL_METRICS)}", offset)
        return Metric(side, name)


def parse_gate(text: object) -> Gate:
    """Parse one gate; raises :class:`GateSyntaxError` pointing at the problem."""
    if not isinstance(text, str):
        raise GateSyntaxError(
            f"gate must be a string such as 'auc >= 0.7', got {type(text).__name__}", "", 0
        )
    if not text.strip():
        raise GateSyntaxError("gate: empty gate; expected e.g. 'auc >= 0.7'", text, 0)
    return _Parser(text).gate()


def parse_gates(
    texts: Iterable[object], *, task: str, has_baseline: bool, slices: Iterable[str]
) -> list[Gate]:
    """Parse gates and check that they fit the task, the baseline and the slice columns."""
    if isinstance(texts, str):
        texts = [texts]
    gates = [parse_gate(text) for text in texts]
    allowed = set(CLASSIFIER_METRICS if task == "classifier" else REGRESSOR_METRICS) | {"rows"}
    columns = set(slices)
    for gate in gates:
        for metric in sorted(gate.metrics, key=lambda m: (m.side, m.name)):
            if metric.name not in allowed:
                raise GateSyntaxError(
                    f"gate: metric {metric.name!r} does not apply to a {task}; use one of "
                    f"{', '.join(sorted(allowed))}",
                    gate.text,
                    max(0, gate.text.find(metric.name)),
                )
        if gate.uses_baseline and not has_baseline:
            raise GateSyntaxError(
                "gate: refers to the baseline, but no baseline was given (pass baseline=, e.g. "
                "'champion')",
                gate.text,
                max(0, gate.text.find("baseline")),
            )
        if gate.scope == "slice" and not columns:
            raise GateSyntaxError(
                "gate: is a slice gate, but no slices were given (pass slices=['column'])",
                gate.text,
                0,
            )
        if gate.column is not None and gate.column not in columns:
            raise GateSyntaxError(
                f"gate: slice column {gate.column!r} is not among the slices "
                f"({', '.join(sorted(columns))})",
                gate.text,
                max(0, gate.text.find(gate.column)),
            )
    return gates


__all__ = [
    "ALL_METRICS",
    "CLASSIFIER_METRICS",
    "REGRESSOR_METRICS",
    "Gate",
    "GateSyntaxError",
    "parse_gate",
    "parse_gates",
]
