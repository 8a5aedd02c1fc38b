"""The per-column checks of a model signature: validation and safe conversion of one column.

:class:`ColumnCheck` is prepared once per column when a :class:`~weekend.registry.Signature`
is built (its pandas dtype parsed, its categories indexed), and converts a column on every
request: safe casts only, else a :class:`ColumnError` naming the column, the expected and the
received type and the first bad value with its row. The signature module collects these into
one :class:`~weekend.core.errors.DataValidationError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from weekend.core.errors import InvalidValueError

if TYPE_CHECKING:
    from weekend.registry._signature import ColumnSpec

Series: TypeAlias = "pd.Series[Any]"


def show(value: Any) -> str:
    """A short repr of a value for a message."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def names_text(names: Sequence[str], limit: int = 20) -> str:
    """``'a', 'b', ... (N in all)``: column names for a message."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


class ColumnError(Exception):
    """One column's problem; collected into one DataValidationError by ``validate``."""


def _first(s: Series, mask: np.ndarray[Any, Any], expected: str) -> ColumnError:
    row = int(np.flatnonzero(mask)[0])
    return ColumnError(
        f"column {s.name!r} must be {expected}, got {s.dtype} "
        f"(first bad value {show(s.iloc[row])} at row {row})"
    )


def _new(s: Series, values: Any) -> Series:
    return pd.Series(values, index=s.index, name=s.name, copy=False)


def is_object(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _is_null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def _object_values(s: Series, ok: Callable[[Any], bool], expected: str) -> list[Any]:
    values = s.tolist()
    bad = np.fromiter((not (_is_null(v) or ok(v)) for v in values), bool, len(values))
    if bad.any():
        raise _first(s, bad, expected)
    return values


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_
    )


@functools.lru_cache(maxsize=256)
def cached_dtype(name: str) -> Any:
    """``pandas_dtype`` by name, remembered: parsing a dtype name walks pandas' registry of
    extension types, and a signature is rebuilt on every load of a model."""
    return pdt.pandas_dtype(name)


class ColumnCheck:
    """Validation and conversion for one column, prepared once per signature."""

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.categories: pd.Index[Any] | None = None
        if spec.type == "category":
            self.categories = pd.Index(list(spec.categories or ()))
            self.dtype: Any = pd.CategoricalDtype(self.categories)
        else:
            try:
                self.dtype = cached_dtype(spec.dtype)
            except TypeError as exc:
                raise InvalidValueError(
                    f"signature column {spec.name!r} has an unknown dtype {spec.dtype!r}"
                ) from exc
        self.can_hold_null = spec.type not in ("int", "bool") or not isinstance(
            self.dtype, np.dtype
        )

    def matches(self, dtype: Any) -> bool:
        if self.categories is not None:
            return isinstance(dtype, pd.CategoricalDtype) and dtype.categories.equals(
                self.categories
            )
        return bool(dtype == self.dtype)

    def convert(self, s: Series) -> Series:
        kind = self.spec.type
        if kind == "float":
            return self._float(s)
        if kind == "int":
            return self._int(s)
        if kind == "bool":
            return self._bool(s)
        if kind == "string":
            return self._string(s)
        if kind == "category":
            return self._category(s)
        return self._datetime(s)  # timestamp or date: the dtype says which

    def _mismatch(self, s: Series) -> ColumnError:
        values = s.to_numpy(dtype=object)
        nonnull = np.fromiter((not _is_null(v) for v in values), bool, len(values))
        if nonnull.any():
            return _first(s, nonnull, self.spec.dtype)
        return ColumnError(f"column {s.name!r} must be {self.spec.dtype}, got {s.dtype}")

    def _float(self, s: Series) -> Series:
        dtype = s.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
            return s.astype(self.dtype)
        if pdt.is_extension_array_dtype(dtype) and (
            pdt.is_integer_dtype(dtype) or pdt.is_float_dtype(dtype)
        ):
            return _new(s, s.to_numpy(dtype=self.dtype, na_value=np.nan))
        if is_object(dtype):
            values = _object_values(s, _is_number, self.spec.dtype)
            return _new(s, np.array([np.nan if _is_null(v) else v for v in values], self.dtype))
        raise self._mismatch(s)

    def _int(self, s: Series) -> Series:
        dtype, target = s.dtype, self.dtype
        nullable_target = not isinstance(target, np.dtype)
        limits = np.iinfo(target.numpy_dtype if nullable_target else target)
        if is_object(dtype):
            items = _object_values(s, _is_number, self.spec.dtype)
            if not nullable_target and any(_is_null(v) for v in items):
                raise _first(s, np.array([_is_null(v) for v in items]), self.spec.dtype)
            s = _new(s, np.array([np.nan if _is_null(v) else v for v in items], np.float64))
            dtype = s.dtype
        if pdt.is_extension_array_dtype(dtype) and (
            pdt.is_integer_dtype(dtype) or pdt.is_float_dtype(dtype)
        ):
            if nullable_target:
                s = _new(s, s.to_numpy(dtype=np.float64, na_value=np.nan))
            elif s.isna().any():
                raise _first(s, s.isna().to_numpy(), self.spec.dtype)
            else:
                s = s.astype(np.float64)
            dtype = s.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
            values = s.to_numpy()
            if dtype.kind in "iu" and np.can_cast(dtype, limits.dtype):
                return s.astype(target)
            with np.errstate(invalid="ignore"):
                bad = (values < limits.min) | (values > limits.max)
                if dtype.kind == "f":
                    nan = np.isnan(values)
                    bad |= (~nan & (values != np.floor(values))) | (nan & (not nullable_target))
            if bad.any():
                raise _first(s, bad, self.spec.dtype)
            return s.astype(target)
        raise self._mismatch(s)

    def _bool(self, s: Series) -> Series:
        dtype = s.dtype
        if pdt.is_bool_dtype(dtype) and not is_object(dtype):
            if isinstance(self.dtype, np.dtype) and s.isna().any():
                raise _first(s, s.isna().to_numpy(), self.spec.dtype)
            return s.astype(self.dtype)
        if is_object(dtype):
            values = _object_values(s, lambda v: isinstance(v, bool | np.bool_), self.spec.dtype)
            if isinstance(self.dtype, np.dtype) and any(_is_null(v) for v in values):
                raise _first(s, np.array([_is_null(v) for v in values]), self.spec.dtype)
            return _new(s, pd.array([None if _is_null(v) else v for v in values], dtype=self.dtype))
        raise self._mismatch(s)

    def _string(self, s: Series) -> Series:
        dtype = s.dtype
        if pdt.is_string_dtype(dtype) and not is_object(dtype):
            return s
        if is_object(dtype):
            if pdt.infer_dtype(s, skipna=True) in ("string", "empty"):
                return s
            _object_values(s, lambda v: isinstance(v, str), self.spec.dtype)
            return s
        if isinstance(dtype, pd.CategoricalDtype) and pdt.infer_dtype(dtype.categories) == "string":
            return s.astype(self.dtype)
        raise self._mismatch(s)

    def _category(self, s: Series) -> Series:
        assert self.categories is not None
        dtype = s.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy()
            known = dtype.categories.isin(self.categories)
            bad = (codes >= 0) & ~known[np.maximum(codes, 0)]
            if not bad.any():
                return s.cat.set_categories(self.categories)
        elif pdt.is_datetime64_any_dtype(dtype) or pdt.is_timedelta64_dtype(dtype):
            raise self._mismatch(s)
        else:
            codes = self.categories.get_indexer(pd.Index(s))
            bad = (codes < 0) & s.notna().to_numpy()
            if not bad.any():
                return _new(s, pd.Categorical.from_codes(codes, dtype=self.dtype))
        row = int(np.flatnonzero(bad)[0])
        raise ColumnError(
            f"column {s.name!r} has a category the model was not trained on: "
            f"{show(s.iloc[row])} at row {row} (known: {names_text(self.categories.tolist(), 10)})"
        )

    def _datetime(self, s: Series) -> Series:
        tz = getattr(self.dtype, "tz", None)
        if pdt.is_string_dtype(s.dtype) or is_object(s.dtype):
            try:
                parsed = pd.to_datetime(s, errors="coerce", format="ISO8601", utc=tz is not None)
            except (ValueError, TypeError) as exc:
                raise ColumnError(f"column {s.name!r} must be {self.spec.dtype}: {exc}") from exc
            bad = (parsed.isna() & s.notna()).to_numpy()
            if bad.any():
                raise _first(s, bad, self.spec.dtype)
            s = parsed
        if not pdt.is_datetime64_any_dtype(s.dtype):
            raise self._mismatch(s)
        got_tz = getattr(s.dtype, "tz", None)
        if (tz is None) != (got_tz is None):
            aware = "time-zone aware" if tz is not None else "time-zone naive"
            raise ColumnError(
                f"column {s.name!r} must be {self.spec.dtype} ({aware}), got {s.dtype}"
            )
        return s.astype(self.dtype)


__all__ = [
    "ColumnCheck",
    "ColumnError",
    "Series",
    "cached_dtype",
    "is_object",
    "names_text",
    "show",
]
