"""Validate data against an inferred :class:`Schema` and declared :class:`Expectation` s.

``validate(data, schema, expectations)`` accepts a pandas DataFrame, a pyarrow Table or a
DuckDB relation. Rows are checked in chunks of ``chunk_rows`` (a relation streams as Arrow
batches, so data larger than memory works); each chunk goes through a pandera
``DataFrameSchema`` validated with ``lazy=True``, and its failure cases are folded into
per-rule counts, up to five distinct example values and the 0-based positions of the first
offending rows. Uniqueness is checked over the whole data (pandas for a DataFrame, DuckDB
otherwise), never per chunk.

What the schema implies, and the default severity of each violation:

======================  ========  =================================================
rule                    severity  when
======================  ========  =================================================
``missing_column``      error     a schema column (or one an expectation names) is absent
``extra_column``        warning   a column the schema does not list
``dtype``               error     values not of the column's logical type (int data in a
                                  float column and string data in a category column are
                                  fine; float data in an int column only where not integral)
``not_null``            error     nulls (or NaN) in a column the schema saw without any
``new_category``        error     a value outside the schema's categories
``out_of_range``        warning   a value outside the schema's observed [min, max]: ranges
                                  are a sample's, so new extremes are news, not errors
``unique``              error     a key set that was unique when inferred has duplicates
======================  ========  =================================================

``severities={"out_of_range": "error"}`` changes these defaults; expectations carry their
own severity. A report is ``ok`` when it has no error, whatever its warnings.
Temporal values are compared in UTC (naive timestamps are taken as UTC).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.core.types import NUMERIC_TYPES, TEMPORAL_TYPES, TEXT_TYPES
from weekend.data._expectations import SEVERITIES, Expectation, Severity
from weekend.data._frames import (
    MAX_EXAMPLES,
    bound,
    coerce,
    compatible,
    offending,
    open_source,
    parse_text,
    to_utc,
    unparsed,
)
from weekend.data._schema import Schema, jsonable

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SEVERITIES: Mapping[str, Severity] = {"out_of_range": "warning", "extra_column": "warning"}
_PARSED = {  # types a text value can be parsed as, and how a message names one
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "date": "a date",
    "timestamp": "a date and time",
}
Test = Callable[["pd.Series[Any]"], "pd.Series[Any]"]


@dataclass(frozen=True)
class Violation:
    """One broken rule: how many rows, a few example values and where the first ones are."""

    rule: str
    column: str | None
    severity: Severity
    count: int
    message: str
    examples: tuple[Any, ...] = ()
    rows: tuple[int, ...] = ()
    source: str = "expectation"
    cells: tuple[tuple[int, Any], ...] = ()  # (row, value) of the first offending cells

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "column": self.column,
            "severity": self.severity,
            "count": self.count,
            "examples": jsonable(list(self.examples)),
            "rows": list(self.rows),
            "cells": [[row, jsonable([value])[0]] for row, value in self.cells],
            "source": self.source,
            "message": self.message,
        }


@dataclass(frozen=True)
class ValidationReport:
    """All violations found; ``ok`` when none of them is an error."""

    n_rows: int
    violations: tuple[Violation, ...]

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_rule(self, rule: str, column: str | None = None) -> list[Violation]:
        return [v for v in self.violations if v.rule == rule and column in (None, v.column)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "n_rows": self.n_rows,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "violations": [v.to_dict() for v in self.violations],
        }

    def summary(self) -> str:
        head = (
            f"{'OK' if self.ok else 'FAILED'}: {_plural(self.n_rows, 'row')}, "
            f"{_plural(len(self.errors), 'error')}, {_plural(len(self.warnings), 'warning')}"
        )
        lines = [
            f"  {v.severity:<7} {v.rule:<15} {v.column or '-':<20} {v.count:>9} rows  {v.message}"
            for v in self.violations
        ]
        return "\n".join([head, *lines])

    def raise_for_errors(self) -> None:
        """Raise :class:`DataValidationError` naming the first few errors, if there are any."""
        errors = self.errors
        if errors:
            shown = "; ".join(v.message for v in errors[:3])
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            raise DataValidationError(
                f"{_plural(len(errors), 'validation error')} in {_plural(self.n_rows, 'row')}: "
                f"{shown}{more}"
            )


@dataclass
class _Check:
    """A rule being evaluated, and what it has found so far."""

    rule: str
    column: str | None
    severity: Severity
    source: str
    text: str
    test: Test | None = None  # pass mask over the coerced values of ``column``
    raw: bool = False  # the test gets the raw values (nulls included) instead
    count: int = 0
    examples: list[Any] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    cells: list[tuple[int, Any]] = field(default_factory=list)

    def add(
        self,
        count: int,
        examples: Sequence[Any],
        rows: Sequence[int],
        cells: Sequence[tuple[int, Any]] = (),
    ) -> None:
        self.count += count
        for value in examples:
            plain = _plain(value)
            if len(self.examples) < MAX_EXAMPLES and plain not in self.examples:
                self.examples.append(plain)
        self.rows += list(rows)[: MAX_EXAMPLES - len(self.rows)]
        self.cells += [(r, _plain(v)) for r, v in cells][: MAX_EXAMPLES - len(self.cells)]

    def violation(self) -> Violation:
        message = self.text
        listed = self.rule not in ("freshness", "row_count") and self.examples + self.rows
        if self.count and self.cells:  # the offending cells: value and row
            shown = ", ".join(f"{_shown(v)} (row {r})" for r, v in self.cells[:3])
            message += f": {_plural(self.count, 'row')}, e.g. {shown}"
        elif self.count and listed:
            shown = ", ".join(_shown(e) for e in self.examples[:3])
            at = f" at rows {self.rows[:3]}" if self.rows else ""
            message += (
                f": {_plural(self.count, 'row')}, e.g. {shown}{at}"
                if shown
                else f": {_plural(self.count, 'row')}{at}"
            )
        return Violation(
            self.rule,
            self.column,
            self.severity,
            self.count,
            message,
            tuple(self.examples),
            tuple(self.rows),
            self.source,
            tuple(self.cells),
        )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def validate(
    data: Any,
    schema: Schema | None = None,
    expectations: Sequence[Expectation] = (),
    *,
    severities: Mapping[str, Severity] | None = None,
    chunk_rows: int = 100_000,
    from_text: bool = False,
) -> ValidationReport:
    """Check ``data`` (DataFrame, Arrow table or DuckDB relation) against a schema and rules.

    ``from_text``: the data was read from text (a CSV file), so a string column that the
    schema has as a number, date, time or bool was only read as text because some of its
    values are not one; those values are the offending cells, the others are checked as
    parsed.
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidValueError(f"chunk_rows must be an integer >= 1, got {chunk_rows!r}")
    levels = {**DEFAULT_SEVERITIES, **(severities or {})}
    for rule, level in levels.items():
        if level not in SEVERITIES:
            raise InvalidValueError(f"severities[{rule!r}] must be error or warning, got {level!r}")
    for exp in expectations:
        if not isinstance(exp, Expectation):
            raise InvalidValueError(f"expectations must be Expectation objects, got {exp!r}")
    source = open_source(data, chunk_rows)
    plan = _Plan(source.types, levels, from_text)
    if schema is not None:
        plan.add_schema(schema, expectations)
    for exp in expectations:
        plan.add_expectation(exp)
    n_rows, fresh = 0, _Freshness(plan.fresh)
    row_checks = [c for c in plan.checks if c.test is not None]
    for chunk in source.chunks():
        n_rows += len(chunk)
        coerced = {
            name: plan.coerce(chunk[name], name)
            for name in {c.column for c in row_checks if c.column and not c.raw}
        }
        _run_pandera(chunk, coerced, row_checks)
        fresh.update(chunk)
    for check, cols in plan.unique:
        check.add(*source.duplicates(cols))
    for check in plan.checks:
        if check.rule in ("missing_column", "extra_column"):
            check.count = n_rows
    for exp in plan.counts:
        if not (exp.min is None or n_rows >= exp.min) or not (exp.max is None or n_rows <= exp.max):
            text = f"row count {n_rows} is outside [{exp.min}, {exp.max}]"
            plan.checks.append(
                _Check("row_count", None, exp.severity, "expectation", text, count=n_rows)
            )
    plan.checks += fresh.checks()
    whole = ("missing_column", "extra_column", "row_count", "freshness")  # found, not counted
    found = tuple(c.violation() for c in plan.checks if c.count or c.rule in whole)
    return ValidationReport(n_rows, found)


# ---------------------------------------------------------------- planning


class _Plan:
    """Turns a schema and expectations into checks over the columns present."""

    def __init__(
        self, types: Mapping[str, str], levels: Mapping[str, Severity], from_text: bool = False
    ) -> None:
        self.types, self.levels, self.from_text = types, levels, from_text
        self.checks: list[_Check] = []
        self.expected: dict[str, str] = {}
        self.parsed: set[str] = set()  # text columns checked and compared as parsed values
        self.unique: list[tuple[_Check, tuple[str, ...]]] = []
        self.counts: list[Expectation] = []
        self.fresh: list[tuple[Expectation, _Check]] = []
        self.missing: set[tuple[str, str]] = set()

    def target(self, name: str) -> str:
        return self.expected.get(name) or self.types[name]

    def coerce(self, values: pd.Series[Any], name: str) -> pd.Series[Any]:
        if name in self.parsed:
            return parse_text(values, self.target(name))
        return coerce(values, self.target(name), self.types[name])

    def _present(self, name: str, source: str, why: str) -> bool:
        if name in self.types:
            return True
        if (name, source) not in self.missing:
            self.missing.add((name, source))
            level = self.levels.get("missing_column", "error")
            text = f"column {name!r} is missing ({why})"
            self.checks.append(_Check("missing_column", name, level, source, text))
        return False

    def _dtype(self, name: str, expected: str, severity: Severity, source: str) -> None:
        actual = self.types[name]
        if compatible(expected, actual) is True:
            return
        if self.from_text and actual in TEXT_TYPES and expected in _PARSED:
            self._text_dtype(name, expected, severity, source)
            return
        got = "object values of mixed types" if actual == "mixed" else actual
        text = f"column {name!r} must be {expected}, got {got}"

        def test(s: pd.Series[Any]) -> pd.Series[Any]:
            return ~offending(s, expected, actual)

        self.checks.append(_Check("dtype", name, severity, source, text, test, raw=True))

    def _text_dtype(self, name: str, expected: str, severity: Severity, source: str) -> None:
        noun = _PARSED[expected]
        text = f"column {name!r} must be {expected}, got text that is not {noun}"

        def test(s: pd.Series[Any]) -> pd.Series[Any]:
            return ~unparsed(s, expected)

        self.parsed.add(name)
        self.checks.append(_Check("dtype", name, severity, source, text, test, raw=True))

    def add_schema(self, schema: Schema, expectations: Sequence[Expectation]) -> None:
        declared = {(e.rule, e.column) for e in expectations}
        for col in schema.columns:
            name, kind = col.name, col.logical_type
            if not self._present(name, "schema", f"the schema has it as {kind}"):
                continue
            self.expected[name] = kind
            if ("dtype", name) not in declared:
                self._dtype(name, kind, self.levels.get("dtype", "error"), "schema")
            if not col.nullable and ("not_null", name) not in declared:
                self.checks.append(_not_null(name, self.levels.get("not_null", "error"), "schema"))
            if col.categories is not None:
                allowed = list(col.categories)
                text = f"column {name!r} has values outside its {len(allowed)} schema categories"
                level = self.levels.get("new_category", "error")
                self.checks.append(
                    _Check("new_category", name, level, "schema", text, _isin(allowed))
                )
            if col.min is not None or col.max is not None:
                text = f"column {name!r} has values outside the schema range [{col.min}, {col.max}]"
                level = self.levels.get("out_of_range", "warning")
                test = _between(col.min, col.max)
                self.checks.append(_Check("out_of_range", name, level, "schema", text, test))
        for name in self.types:
            if name not in schema:
                level = self.levels.get("extra_column", "warning")
                text = f"column {name!r} is not in the schema"
                self.checks.append(_Check("extra_column", name, level, "schema", text))
        declared_keys = {e.columns for e in expectations if e.rule == "unique"}
        for key in schema.keys:
            if key.unique and key.columns not in declared_keys:
                self._unique(key.columns, self.levels.get("unique", "error"), "schema")

    def _unique(self, cols: tuple[str, ...], severity: Severity, source: str) -> None:
        why = f"it is in the key ({', '.join(cols)})"
        if all([self._present(c, source, why) for c in cols]):  # noqa: C419 (report every one)
            text = f"key ({', '.join(cols)}) must be unique; rows share a key with another row"
            check = _Check("unique", ",".join(cols), severity, source, text)
            self.checks.append(check)
            self.unique.append((check, cols))

    def add_expectation(self, exp: Expectation) -> None:
        level, rule, name = exp.severity, exp.rule, exp.column
        if rule == "unique":
            self._unique(exp.columns, level, "expectation")
            return
        if rule == "row_count":
            self.counts.append(exp)
            return
        assert name is not None  # every other rule names a column (checked on construction)
        if not self._present(name, "expectation", f"named by {exp.describe()}"):
            return
        if rule == "dtype":
            assert exp.type is not None
            self._dtype(name, exp.type, level, "expectation")
            return
        if rule == "not_null":
            self.checks.append(_not_null(name, level, "expectation"))
            return
        if rule == "freshness":
            self.fresh.append((exp, _Check("freshness", name, level, "expectation", "")))
            return
        test: Test
        if rule == "in_range":
            test, text = (
                _between(exp.min, exp.max),
                f"column {name!r} must be within [{exp.min}, {exp.max}]",
            )
            edge = exp.min if exp.min is not None else exp.max
            needed = "float" if isinstance(edge, numbers.Real) else "timestamp"
            kinds = NUMERIC_TYPES if needed == "float" else TEMPORAL_TYPES
            if self.target(name) not in kinds:  # bounds and values cannot be compared
                self._dtype(name, needed, level, "expectation")
                self.expected[name] = needed
        elif rule == "allowed_values":
            test, text = (
                _isin(list(exp.values)),
                f"column {name!r} must be one of {list(exp.values)[:10]}",
            )
        else:
            assert exp.pattern is not None
            test, text = (
                _fullmatch(exp.pattern),
                f"column {name!r} must fully match {exp.pattern!r}",
            )
        self.checks.append(_Check(rule, name, level, "expectation", text, test))


def _not_null(name: str, severity: Severity, source: str) -> _Check:
    def test(s: pd.Series[Any]) -> pd.Series[Any]:
        return s.notna()

    text = f"column {name!r} must not be null"
    return _Check("not_null", name, severity, source, text, test, raw=True)


def _isin(values: list[Any]) -> Test:
    return lambda c: c.isin(values)


def _fullmatch(pattern: str) -> Test:
    return lambda c: c.astype("string").str.fullmatch(pattern)


def _between(low: Any, high: Any) -> Test:
    lo, hi = bound(low), bound(high)

    def test(c: pd.Series[Any]) -> pd.Series[Any]:
        ok = c == c
        if lo is not None:
            ok &= c >= lo
        if hi is not None:
            ok &= c <= hi
        return ok

    return test


# ---------------------------------------------------------------- running the checks


def _run_pandera(
    chunk: pd.DataFrame, coerced: Mapping[str, pd.Series[Any]], checks: Sequence[_Check]
) -> None:
    """Validate one chunk with pandera (lazy) and fold its failure cases into ``checks``."""
    import pandera.pandas as pa

    keyed: dict[str, _Check] = {}
    by_column: dict[str, list[Any]] = {}
    for i, check in enumerate(checks):
        assert check.column is not None
        assert check.test is not None
        key = f"wk{i}"
        keyed[key] = check
        fn = check.test if check.raw else _aligned(check.test, coerced[check.column])
        ignore_na = check.rule != "not_null"
        by_column.setdefault(check.column, []).append(pa.Check(fn, name=key, ignore_na=ignore_na))
    if not by_column:
        return
    columns = {
        name: pa.Column(None, checks=cs, nullable=True, required=False)
        for name, cs in by_column.items()
    }
    try:
        pa.DataFrameSchema(columns).validate(chunk, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return
    for key, group in cases.groupby("check", sort=False):
        found = keyed.get(str(key))
        if found is None:  # pandera's own rules cannot fail: every column is optional, untyped
            continue
        rows = [int(i) for i in group["index"] if i is not None and i == i]
        values = [] if found.rule == "not_null" else list(group["failure_case"][: MAX_EXAMPLES * 4])
        pairs = zip(group["index"], group["failure_case"], strict=True)
        cells = [(int(i), v) for i, v in pairs if i is not None and i == i][:MAX_EXAMPLES]
        cells = [] if found.rule == "not_null" else cells
        found.add(len(group), values, rows, cells)


def _aligned(test: Test, values: pd.Series[Any]) -> Test:
    """A pandera check that applies ``test`` to the coerced values; null ones pass."""

    def check(s: pd.Series[Any]) -> pd.Series[Any]:
        mine = values.loc[s.index]
        return mine.isna() | test(mine).fillna(False).astype(bool)

    return check


class _Freshness:
    """The newest value of each freshness column, and how many values are older than allowed."""

    def __init__(self, items: Sequence[tuple[Expectation, _Check]]) -> None:
        import pandas as pd

        self.items = list(items)
        self.cutoffs = []
        for exp, _ in self.items:
            assert exp.max_age is not None
            now = bound(exp.now or datetime.now(UTC))
            self.cutoffs.append((now, now - pd.Timedelta(exp.max_age)))
        self.newest: list[Any] = [None] * len(self.items)
        self.rows = 0

    def update(self, chunk: pd.DataFrame) -> None:
        self.rows += len(chunk)
        for i, (exp, check) in enumerate(self.items):
            assert exp.column is not None
            values = to_utc(chunk[exp.column])
            newest, cutoff = values.max(), self.cutoffs[i][1]
            if newest == newest and (self.newest[i] is None or newest > self.newest[i]):
                self.newest[i] = newest
            check.count += int((values < cutoff).sum())

    def checks(self) -> list[_Check]:
        out = []
        for i, (exp, check) in enumerate(self.items):
            now, cutoff = self.cutoffs[i]
            newest = self.newest[i]
            if newest is None:
                check.text = f"column {exp.column!r} has no date or time values to be fresh"
                check.count = self.rows
            elif newest < cutoff:
                check.text = (
                    f"column {exp.column!r} is stale: newest value {newest} is older than "
                    f"{exp.max_age} before {now}"
                )
                check.add(0, [newest], [])
            else:
                continue
            out.append(check)
        return out
