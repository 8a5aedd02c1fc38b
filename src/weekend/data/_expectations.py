"""Expectations a user declares about a dataset, checked by :func:`weekend.data._validate.validate`.

One frozen dataclass with a constructor per rule keeps them easy to store (``to_dict`` /
``from_dict``) and to write::

    Expectation.not_null("carrier")
    Expectation.in_range("dep_delay", -60, 1440)
    Expectation.allowed_values("origin", ["EWR", "JFK", "LGA"])
    Expectation.unique(["flight", "time_hour"])
    Expectation.row_count(min=1)
    Expectation.freshness("time_hour", timedelta(days=2))
    Expectation.dtype("distance", "float")
    Expectation.regex("tailnum", r"N[0-9A-Z]{3,5}")

Bounds of ``in_range`` and ``row_count`` are inclusive and either may be ``None``
(unbounded). ``regex`` must match the whole value. ``freshness`` holds when the newest
value is at least ``now - max_age`` (``now`` defaults to the time of validation; naive
timestamps are taken as UTC).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from weekend.core.errors import InvalidValueError
from weekend.core.types import COLUMN_TYPES as LOGICAL_TYPES
from weekend.data._schema import jsonable

Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")
RULES = (
    "not_null",
    "in_range",
    "allowed_values",
    "unique",
    "row_count",
    "freshness",
    "dtype",
    "regex",
)
_NEEDS_COLUMN = frozenset(RULES) - {"unique", "row_count"}


@dataclass(frozen=True)
class Expectation:
    """One declared rule; build it with the class methods named after the rules."""

    rule: str
    column: str | None = None
    columns: tuple[str, ...] = ()
    min: Any = None
    max: Any = None
    values: tuple[Any, ...] = ()
    pattern: str | None = None
    max_age: timedelta | None = None
    now: datetime | None = None
    type: str | None = None
    severity: Severity = "error"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise InvalidValueError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        what = f"expectation {self.rule}"
        if self.severity not in SEVERITIES:
            raise InvalidValueError(
                f"{what}: severity must be error or warning, got {self.severity!r}"
            )
        if self.rule in _NEEDS_COLUMN and (not isinstance(self.column, str) or not self.column):
            raise InvalidValueError(
                f"{what}: column must be a non-empty string, got {self.column!r}"
            )
        if self.rule == "unique" and (
            not self.columns or not all(isinstance(c, str) and c for c in self.columns)
        ):
            raise InvalidValueError(
                f"{what}: columns must name at least one column, got {self.columns!r}"
            )
        if self.rule in ("in_range", "row_count"):
            self._check_bounds(what)
        if self.rule == "allowed_values" and not self.values:
            raise InvalidValueError(f"{what}: values must list at least one allowed value, got ()")
        if self.rule == "regex":
            try:
                re.compile(self.pattern or "")
            except (re.error, TypeError) as exc:
                raise InvalidValueError(
                    f"{what}: pattern {self.pattern!r} is not a valid regex: {exc}"
                ) from exc
            if not self.pattern:
                raise InvalidValueError(
                    f"{what}: pattern must be a non-empty regex, got {self.pattern!r}"
                )
        if self.rule == "freshness":
            if not isinstance(self.max_age, timedelta) or self.max_age <= timedelta(0):
                raise InvalidValueError(
                    f"{what}: max_age must be a positive timedelta, got {self.max_age!r}"
                )
            if self.now is not None and not isinstance(self.now, datetime):
                raise InvalidValueError(f"{what}: now must be a datetime or None, got {self.now!r}")
        if self.rule == "dtype" and self.type not in LOGICAL_TYPES:
            raise InvalidValueError(
                f"{what}: type must be one of {', '.join(LOGICAL_TYPES)}, got {self.type!r}"
            )

    def _check_bounds(self, what: str) -> None:
        number = (int, float, datetime, date) if self.rule == "in_range" else (int,)
        for name, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, number)):
                kinds = "a number, date or datetime" if self.rule == "in_range" else "an integer"
                raise InvalidValueError(f"{what}: {name} must be {kinds} or None, got {bound!r}")
        if self.min is None and self.max is None:
            raise InvalidValueError(f"{what}: give min, max or both; got neither")
        if self.min is not None and self.max is not None:
            try:
                inverted = _comparable(self.min) > _comparable(self.max)
            except TypeError as exc:
                raise InvalidValueError(
                    f"{what}: min {self.min!r} and max {self.max!r} are not comparable"
                ) from exc
            if inverted:
                raise InvalidValueError(
                    f"{what}: min {self.min!r} is greater than max {self.max!r}"
                )

    # ------------------------------------------------------------ constructors

    @classmethod
    def not_null(cls, column: str, *, severity: Severity = "error") -> Expectation:
        return cls("not_null", column=column, severity=severity)

    @classmethod
    def in_range(
        cls, column: str, min: Any = None, max: Any = None, *, severity: Severity = "error"
    ) -> Expectation:
        return cls("in_range", column=column, min=min, max=max, severity=severity)

    @classmethod
    def allowed_values(
        cls, column: str, values: Sequence[Any], *, severity: Severity = "error"
    ) -> Expectation:
        if isinstance(values, str):
            raise InvalidValueError(
                f"expectation allowed_values: values must be a list, got the string {values!r}"
            )
        return cls("allowed_values", column=column, values=tuple(values), severity=severity)

    @classmethod
    def unique(cls, columns: str | Sequence[str], *, severity: Severity = "error") -> Expectation:
        cols = (columns,) if isinstance(columns, str) else tuple(columns)
        return cls("unique", columns=cols, severity=severity)

    @classmethod
    def row_count(
        cls, min: int | None = None, max: int | None = None, *, severity: Severity = "error"
    ) -> Expectation:
        return cls("row_count", min=min, max=max, severity=severity)

    @classmethod
    def freshness(
        cls,
        column: str,
        max_age: timedelta,
        now: datetime | None = None,
        *,
        severity: Severity = "error",
    ) -> Expectation:
        return cls("freshness", column=column, max_age=max_age, now=now, severity=severity)

    @classmethod
    def dtype(cls, column: str, type: str, *, severity: Severity = "error") -> Expectation:
        return cls("dtype", column=column, type=type, severity=severity)

    @classmethod
    def regex(cls, column: str, pattern: str, *, severity: Severity = "error") -> Expectation:
        return cls("regex", column=column, pattern=pattern, severity=severity)

    # ------------------------------------------------------------ storage

    def describe(self) -> str:
        """The rule in words, e.g. ``in_range(dep_delay, -60, 1440)``."""
        args = {
            "not_null": [self.column],
            "in_range": [self.column, self.min, self.max],
            "allowed_values": [self.column, list(self.values)],
            "unique": [", ".join(self.columns)],
            "row_count": [self.min, self.max],
            "freshness": [self.column, self.max_age],
            "dtype": [self.column, self.type],
            "regex": [self.column, self.pattern],
        }[self.rule]
        return f"{self.rule}({', '.join(str(arg) for arg in args)})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "severity": self.severity}
        for name in ("column", "min", "max", "pattern", "now", "type"):
            value = getattr(self, name)
            if value is not None:
                out[name] = jsonable(value)
        if self.columns:
            out["columns"] = list(self.columns)
        if self.values:
            out["values"] = jsonable(list(self.values))
        if self.max_age is not None:
            out["max_age_seconds"] = self.max_age.total_seconds()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expectation:
        if not isinstance(data, Mapping) or "rule" not in data:
            raise InvalidValueError(f"an expectation must be a mapping with a 'rule', got {data!r}")
        known = {"rule", "severity", "column", "columns", "min", "max", "values", "pattern"}
        known |= {"now", "type", "max_age_seconds"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidValueError(f"expectation {data['rule']}: unknown fields {unknown}")
        age = data.get("max_age_seconds")
        now = data.get("now")
        return cls(
            rule=data["rule"],
            column=data.get("column"),
            columns=tuple(data.get("columns", ())),
            min=_parse_bound(data.get("min")),
            max=_parse_bound(data.get("max")),
            values=tuple(data.get("values", ())),
            pattern=data.get("pattern"),
            max_age=None if age is None else timedelta(seconds=float(age)),
            now=None if now is None else datetime.fromisoformat(now),
            type=data.get("type"),
            severity=data.get("severity", "error"),
        )


def _comparable(value: Any) -> Any:
    """Dates as midnight, aware datetimes as naive UTC, so that any two bounds compare."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return value


def _parse_bound(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidValueError(
            f"a bound must be a number or ISO date/time, got {value!r}"
        ) from exc
