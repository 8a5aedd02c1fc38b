"""A model's signature applied to the JSON values of a request: one error per bad field.

:class:`RowSchema` is built once per served model version. For each input column of the
signature it checks the request's values in one pass and builds the column in the exact
dtype the signature records, so the model's own validation finds nothing to convert. Every
problem is reported, up to :data:`MAX_ERRORS`, as ``{"field": "rows[3].distance",
"message": ...}`` in one :class:`~weekend.serving.RequestValidationError` (HTTP 422):

- a **missing column**: a row without the key (``rows[*].x`` when every row lacks it);
- a **wrong type**: a string for a number, a number for a string, 1.5 for an integer, an
  integer beyond the column's width, a list or an object anywhere;
- a **null where the signature forbids one** (JSON has no NaN: a null is how a client sends
  a missing number; float columns accept it as NaN, as they did in training);
- an **unknown category**: a ``category`` column's values are the closed set the signature
  records, so a value outside it is refused. A ``string`` column is open: any string goes to
  the model, whose own encoder decides (for example ``OneHotEncoder(handle_unknown=...)``).
- a time that is not ISO 8601, for ``timestamp`` and ``date`` columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from weekend.registry import ColumnSpec, Signature
from weekend.serving._errors import RequestValidationError
from weekend.serving._rows import MISSING, Rows

MAX_ERRORS = 50
"""Per-field errors reported for one request (the message says how many there were)."""

Problems = list[tuple[int, str]]
"""(row, message) of one column; row -1: the column as a whole."""
Check = Callable[[list[Any], Problems], None]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: Any) -> str:
    names = {str: "a string", bool: "true/false", int: "an integer", float: "a number"}
    if value is None:
        return "null"
    return names.get(type(value), f"a JSON {type(value).__name__}")


class _Column:
    """Checks (pure Python, one pass) and builds (arrays, only when asked) one input column."""

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.dtype: Any = pdt.pandas_dtype(spec.dtype) if spec.type != "category" else None
        self.numpy = isinstance(self.dtype, np.dtype)
        self.allows_null = spec.nullable
        self.categories: pd.Index[Any] | None = None
        self.codes: dict[Any, int] = {}
        if spec.type == "category":
            self.categories = pd.Index(list(spec.categories or ()))
            self.dtype = pd.CategoricalDtype(self.categories)
            self.codes = {(type(c), c): i for i, c in enumerate(spec.categories or ())}
        checks: dict[str, Check] = {
            "int": self._int,
            "float": self._number,
            "bool": self._of(bool),
            "string": self._of(str),
            "category": self._category,
            "date": self._time,
            "timestamp": self._time,
        }
        self.check = checks[spec.type]
        if spec.type == "int":
            self.limits = np.iinfo(self.dtype if self.numpy else self.dtype.numpy_dtype)

    def expected(self) -> str:
        return f"{self.spec.type} ({self.spec.dtype})"

    def _wrong(self, value: Any) -> str:
        return f"must be {self.expected()}, got {_json_type(value)} {_show(value)}"

    def _null(self) -> str:
        return f"must not be null: column {self.name!r} is not nullable in the model's signature"

    def _nulls(self, values: list[Any], problems: Problems) -> None:
        if not self.allows_null and None in values:
            problems += [(i, self._null()) for i, v in enumerate(values) if v is None]

    # -- checks: one pass over the JSON values -------------------------------------------------
    def _int(self, values: list[Any], problems: Problems) -> None:
        self._nulls(values, problems)
        low, high = int(self.limits.min), int(self.limits.max)
        for i, v in enumerate(values):
            kind = type(v)
            if kind is float and v.is_integer():
                v, kind = int(v), int
            if kind is int:
                if not low <= v <= high:
                    problems.append((i, f"must be an integer within {self.spec.dtype}, got {v}"))
            elif v is not None:
                problems.append((i, self._wrong(v)))

    def _number(self, values: list[Any], problems: Problems) -> None:
        self._nulls(values, problems)
        problems += [
            (i, self._wrong(v))
            for i, v in enumerate(values)
            if type(v) is not float and type(v) is not int and v is not None
        ]

    def _of(self, kind: type) -> Check:
        def check(values: list[Any], problems: Problems) -> None:
            self._nulls(values, problems)
            problems += [
                (i, self._wrong(v))
                for i, v in enumerate(values)
                if type(v) is not kind and v is not None
            ]

        return check

    def _category(self, values: list[Any], problems: Problems) -> None:
        self._nulls(values, problems)
        codes = self.codes
        for i, v in enumerate(values):
            if v is None or (type(v), v) in codes:
                continue
            if type(v) in (int, float) and ((float, v) in codes or (int, v) in codes):
                continue
            if type(v) not in {kind for kind, _ in codes}:
                problems.append((i, self._wrong(v)))
                continue
            assert self.categories is not None
            known = ", ".join(_show(c) for c in self.categories[:10])
            more = f", ... ({len(self.categories)} in all)" if len(self.categories) > 10 else ""
            problems.append(
                (
                    i,
                    f"unknown category {_show(v)}: column {self.name!r} takes only the "
                    f"categories the model was trained on ({known}{more})",
                )
            )

    def _time(self, values: list[Any], problems: Problems) -> None:
        self._of(str)(values, problems)
        if problems:
            return
        for i in np.flatnonzero(self._parse(values).isna().to_numpy()).tolist():
            if values[i] is not None:
                problems.append(
                    (i, f"must be an ISO 8601 {self.spec.type}, got {_show(values[i])}")
                )

    def _parse(self, values: list[Any]) -> pd.Series[Any]:
        tz = getattr(self.dtype, "tz", None)
        return pd.to_datetime(
            pd.Series(values, dtype=object), errors="coerce", format="ISO8601", utc=tz is not None
        )

    # -- building: the column in the signature's dtype (values already checked) -----------------
    def build(self, values: list[Any]) -> Any:
        kind = self.spec.type
        nulls = None in values
        if kind == "category":
            assert self.categories is not None
            codes = self.categories.get_indexer(pd.Index(values, dtype=object))
            return pd.Categorical.from_codes(codes, dtype=self.dtype)
        if kind in ("date", "timestamp"):
            return self._parse(values).astype(self.dtype).array
        if kind == "float" and nulls:
            values = [np.nan if v is None else v for v in values]
        elif kind == "int":
            values = [int(v) if type(v) is float else v for v in values]
        if self.numpy and not (nulls and kind in ("int", "bool")):
            return np.array(values, dtype=object if kind == "string" else self.dtype)
        if self.numpy:  # nulls in an int or bool column held in a numpy dtype
            return pd.array(values, dtype="Int64" if kind == "int" else "boolean")
        return pd.array(values, dtype=self.dtype)


class RowSchema:
    """The signature of one model version, ready to check and build request rows."""

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self.columns = tuple(_Column(spec) for spec in signature.inputs)
        self.names = [c.name for c in self.columns]

    def frame(self, rows: Rows, *, sources: dict[str, str] | None = None) -> pd.DataFrame:
        """The signature's columns of ``rows``, checked, as a frame in the signature's dtypes."""
        self.check(rows, sources=sources)
        return pd.DataFrame(self.build(rows), copy=False)

    def check(self, rows: Rows, *, sources: dict[str, str] | None = None) -> None:
        """Check the signature's columns of ``rows`` (one pass per column, no arrays built).

        ``sources`` names where a column's values came from when the client did not send
        them (``"the online store"``), for the messages. Raises
        :class:`RequestValidationError` listing every bad field.
        """
        errors: list[dict[str, str]] = []
        count = 0
        for column in self.columns:
            values = rows.columns.get(column.name)
            problems: Problems = []
            if values is None or MISSING in values:
                problems = self._missing(column, values, rows.count)
            else:
                column.check(values, problems)
            origin = (sources or {}).get(column.name)
            for row, message in problems:
                count += 1
                if len(errors) < MAX_ERRORS:
                    where = f"{rows.prefix}[*].{column.name}" if row < 0 else None
                    text = f"{message} (read from {origin})" if origin else message
                    errors.append({"field": where or rows.field(row, column.name), "message": text})
        if errors:
            _raise(errors, count)

    def build(self, rows: Rows) -> dict[str, Any]:
        """The checked columns of ``rows`` as arrays in the signature's dtypes."""
        built: dict[str, Any] = {}
        for column in self.columns:
            try:
                built[column.name] = column.build(rows.columns[column.name])
            except (TypeError, ValueError, OverflowError) as exc:  # values numpy refuses
                message = f"must be {column.expected()}: {exc}"
                field = f"{rows.prefix}[*].{column.name}"
                _raise([{"field": field, "message": message}], 1)
        return built

    def _missing(self, column: _Column, values: Sequence[Any] | None, count: int) -> Problems:
        text = f"missing column {column.name!r} ({column.expected()})"
        if values is None:
            return [(-1, f"{text}: no row has it")]
        present = [i for i, v in enumerate(values) if v is not MISSING]
        if not present:
            return [(-1, f"{text}: no row has it")]
        problems: Problems = []
        column.check([values[i] for i in present], problems)  # the other rows' values too
        found = {i: text for i, v in enumerate(values) if v is MISSING}
        found.update({present[j]: message for j, message in problems if j >= 0})
        return sorted(found.items())


def _raise(errors: list[dict[str, str]], count: int) -> None:
    first = errors[0]
    if count == 1:
        message = f"{first['field']}: {first['message']}"
    else:
        shown = "" if count <= len(errors) else f" (the first {len(errors)} are listed)"
        message = f"{count} fields do not match the model's signature{shown}; first: " + (
            f"{first['field']}: {first['message']}"
        )
    raise RequestValidationError(message, errors, field=first["field"])


__all__ = ["MAX_ERRORS", "RowSchema"]
