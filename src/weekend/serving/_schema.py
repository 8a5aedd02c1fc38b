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
Build = Callable[[list[Any], Problems], Any]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: Any) -> str:
    names = {str: "a string", bool: "true/false", int: "an integer", float: "a number"}
    if value is None:
        return "null"
    return names.get(type(value), f"a JSON {type(value).__name__}")


class _Column:
    """Checks and builds one input column of the signature."""

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.dtype: Any = pdt.pandas_dtype(spec.dtype) if spec.type != "category" else None
        self.numpy = isinstance(self.dtype, np.dtype)
        self.allows_null = spec.nullable
        self.categories: pd.Index[Any] | None = None
        if spec.type == "category":
            self.categories = pd.Index(list(spec.categories or ()))
            self.dtype = pd.CategoricalDtype(self.categories)
        builders: dict[str, Build] = {
            "int": self._int,
            "float": self._float,
            "bool": self._bool,
            "string": self._string,
            "category": self._category,
            "date": self._time,
            "timestamp": self._time,
        }
        self.build = builders[spec.type]

    def expected(self) -> str:
        return f"{self.spec.type} ({self.spec.dtype})"

    def _wrong(self, value: Any) -> str:
        return f"must be {self.expected()}, got {_json_type(value)} {_show(value)}"

    def _null(self) -> str:
        return f"must not be null: column {self.name!r} is not nullable in the model's signature"

    def _nulls(self, values: list[Any], problems: Problems) -> bool:
        """True when the column holds nulls; a problem per null when it may not."""
        if None not in values:
            return False
        if not self.allows_null:
            problems += [(i, self._null()) for i, v in enumerate(values) if v is None]
        return True

    def _int(self, values: list[Any], problems: Problems) -> Any:
        info = np.iinfo(self.dtype if self.numpy else self.dtype.numpy_dtype)
        nulls = self._nulls(values, problems)
        out: list[Any] = []
        for i, v in enumerate(values):
            kind = type(v)
            if kind is float and v.is_integer():
                v = int(v)
                kind = int
            if kind is int:
                if not info.min <= v <= info.max:
                    problems.append((i, f"must be an integer within {self.spec.dtype}, got {v}"))
            elif v is not None:
                problems.append((i, self._wrong(v)))
            out.append(v)
        if problems:
            return None
        if nulls:
            return pd.array(out, dtype=self.dtype)
        return np.array(out, dtype=self.dtype)

    def _float(self, values: list[Any], problems: Problems) -> Any:
        nulls = self._nulls(values, problems)
        for i, v in enumerate(values):
            kind = type(v)
            if kind is not float and kind is not int and v is not None:
                problems.append((i, self._wrong(v)))
        if problems:
            return None
        if nulls:
            values = [np.nan if v is None else v for v in values]
        if self.numpy:
            return np.array(values, dtype=self.dtype)
        return pd.array(values, dtype=self.dtype)

    def _bool(self, values: list[Any], problems: Problems) -> Any:
        nulls = self._nulls(values, problems)
        problems += [
            (i, self._wrong(v))
            for i, v in enumerate(values)
            if type(v) is not bool and v is not None
        ]
        if problems:
            return None
        if self.numpy and not nulls:
            return np.array(values, dtype=self.dtype)
        return pd.array(values, dtype="boolean" if self.numpy else self.dtype)

    def _string(self, values: list[Any], problems: Problems) -> Any:
        self._nulls(values, problems)
        problems += [
            (i, self._wrong(v))
            for i, v in enumerate(values)
            if type(v) is not str and v is not None
        ]
        if problems:
            return None
        if self.numpy:
            return np.array(values, dtype=object)
        return pd.array(values, dtype=self.dtype)

    def _category(self, values: list[Any], problems: Problems) -> Any:
        assert self.categories is not None
        self._nulls(values, problems)
        kinds = {type(c) for c in self.categories}
        if kinds & {int, float}:
            kinds |= {int, float}
        problems += [
            (i, self._wrong(v))
            for i, v in enumerate(values)
            if v is not None and type(v) not in kinds
        ]
        if problems:
            return None
        codes = self.categories.get_indexer(pd.Index(values, dtype=object))
        known = ", ".join(_show(c) for c in self.categories[:10])
        more = f", ... ({len(self.categories)} in all)" if len(self.categories) > 10 else ""
        for i in np.flatnonzero(codes < 0).tolist():
            if values[i] is not None:
                problems.append(
                    (
                        i,
                        f"unknown category {_show(values[i])}: column {self.name!r} takes only "
                        f"the categories the model was trained on ({known}{more})",
                    )
                )
        if problems:
            return None
        return pd.Categorical.from_codes(codes, dtype=self.dtype)

    def _time(self, values: list[Any], problems: Problems) -> Any:
        self._nulls(values, problems)
        problems += [
            (i, self._wrong(v))
            for i, v in enumerate(values)
            if type(v) is not str and v is not None
        ]
        if problems:
            return None
        tz = getattr(self.dtype, "tz", None)
        parsed = pd.to_datetime(
            pd.Series(values, dtype=object), errors="coerce", format="ISO8601", utc=tz is not None
        )
        for i in np.flatnonzero(parsed.isna().to_numpy()).tolist():
            if values[i] is not None:
                problems.append(
                    (i, f"must be an ISO 8601 {self.spec.type}, got {_show(values[i])}")
                )
        if problems:
            return None
        try:
            return parsed.astype(self.dtype).array
        except (TypeError, ValueError) as exc:
            problems.append((-1, f"must be {self.expected()}: {exc}"))
            return None


class RowSchema:
    """The signature of one model version, ready to check and build request rows."""

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self.columns = tuple(_Column(spec) for spec in signature.inputs)
        self.names = [c.name for c in self.columns]

    def frame(self, rows: Rows, *, sources: dict[str, str] | None = None) -> pd.DataFrame:
        """The signature's columns of ``rows`` as a frame in the signature's dtypes (see
        :meth:`check`)."""
        return pd.DataFrame(self.check(rows, sources=sources), copy=False)

    def check(self, rows: Rows, *, sources: dict[str, str] | None = None) -> dict[str, Any]:
        """The signature's columns of ``rows``, checked, as arrays in the signature's dtypes.

        ``sources`` names where a column's values came from when the client did not send
        them (``"the online store"``), for the messages. Raises
        :class:`RequestValidationError` listing every bad field.
        """
        built: dict[str, Any] = {}
        errors: list[dict[str, str]] = []
        count = 0
        for column in self.columns:
            values = rows.columns.get(column.name)
            problems: Problems = []
            if values is None or MISSING in values:
                problems = self._missing(column, values, rows.count)
            else:
                try:
                    built[column.name] = column.build(values, problems)
                except (TypeError, ValueError, OverflowError) as exc:  # values numpy refuses
                    problems.append((-1, f"must be {column.expected()}: {exc}"))
            origin = (sources or {}).get(column.name)
            for row, message in problems:
                count += 1
                if len(errors) < MAX_ERRORS:
                    where = f"{rows.prefix}[*].{column.name}" if row < 0 else None
                    text = f"{message} (read from {origin})" if origin else message
                    errors.append({"field": where or rows.field(row, column.name), "message": text})
        if errors:
            _raise(errors, count)
        return built

    def _missing(self, column: _Column, values: Sequence[Any] | None, count: int) -> Problems:
        text = f"missing column {column.name!r} ({column.expected()})"
        if values is None:
            return [(-1, f"{text}: no row has it")]
        present = [i for i, v in enumerate(values) if v is not MISSING]
        if not present:
            return [(-1, f"{text}: no row has it")]
        problems: Problems = []
        try:  # the values the other rows have are checked too
            column.build([values[i] for i in present], problems)
        except (TypeError, ValueError, OverflowError):
            problems = []
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
