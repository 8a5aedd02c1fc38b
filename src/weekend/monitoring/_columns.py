"""One column's values, made ready for the tests: sorted finite numbers, or category counts.

A column comes as a numpy array, a pandas Series, an Arrow array (chunked or not), or, for a
categorical or binary reference known only by its frequencies, :class:`Counts`. Missing
values (None, NaN, null; and +-inf in a numeric column) are counted and left out: the tests
compare the distributions of the values that are there, and the data-quality checks report
the missing share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from weekend.core.errors import InvalidValueError
from weekend.monitoring._effects import FloatArray

Kind = Literal["numeric", "categorical", "binary"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical", "binary")


@dataclass(frozen=True)
class Counts:
    """A categorical (or binary) column known by its category counts, not by its rows.

    ``Counts({"JFK": 1200, "LGA": 800}, missing=3)``; what a dataset profile records exactly
    for a text column. Category labels are compared with ``==``: ``1`` and ``"1"`` differ.
    """

    counts: Mapping[Any, int]
    missing: int = 0

    def __post_init__(self) -> None:
        for label, count in self.counts.items():
            if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
                raise InvalidValueError(
                    f"Counts: the count of category {label!r:.40} must be a non-negative "
                    f"integer, got {count!r:.40}"
                )
        if isinstance(self.missing, bool) or not isinstance(self.missing, int) or self.missing < 0:
            raise InvalidValueError(
                f"Counts: missing must be a non-negative integer, got {self.missing!r:.40}"
            )


@dataclass(frozen=True)
class NumericValues:
    """A numeric column: its finite values, sorted, and how many were missing."""

    sorted: FloatArray = field(repr=False)
    missing: int

    @property
    def n(self) -> int:
        return len(self.sorted)


@dataclass(frozen=True)
class CategoryValues:
    """A categorical column: the count of each category, and how many were missing."""

    counts: dict[Any, int]
    missing: int

    @property
    def n(self) -> int:
        return sum(self.counts.values())


def _family(values: object) -> str:
    module = type(values).__module__
    if module.startswith("pyarrow"):
        return "arrow"
    if module.startswith("pandas"):
        return "pandas"
    return "numpy"


def _first_non_number(name: str, values: Any) -> InvalidValueError:
    """The error for a numeric column that holds something else, naming the first one."""
    items = values.to_pylist() if _family(values) == "arrow" else list(values)
    for row, value in enumerate(items):
        if value is None:
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            return InvalidValueError(
                f"column {name!r} is numeric but holds {value!r:.40} at row {row}: expected "
                f"numbers; pass kinds={{{name!r}: 'categorical'}} if it is a category",
                field=name,
            )
    return InvalidValueError(f"column {name!r} cannot be read as numbers", field=name)


def _text_dtype(values: Any, family: str) -> str | None:
    """The name of a text type a numeric column must not have, or None."""
    if family == "arrow":
        import pyarrow.types as pt

        kind = values.type
        numeric = pt.is_integer(kind) or pt.is_floating(kind) or pt.is_boolean(kind)
        ok = numeric or pt.is_decimal(kind) or pt.is_null(kind)
        return None if ok else str(kind)
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        return None
    text = getattr(dtype, "kind", "") in "USM" or str(dtype) in ("str", "string")
    return str(dtype) if text else None


def numeric_values(name: str, values: Any) -> NumericValues:
    """The finite values of a numeric column, sorted."""
    if isinstance(values, Counts):
        raise InvalidValueError(
            f"column {name!r} is numeric: it needs its values, not Counts (KS and the "
            "Wasserstein distance compare exact samples)",
            field=name,
        )
    family = _family(values)
    text = _text_dtype(values, family)
    if text is not None:
        raise InvalidValueError(
            f"column {name!r} is numeric but its values are of type {text}: expected numbers; "
            f"pass kinds={{{name!r}: 'categorical'}} if it is a category",
            field=name,
        )
    try:
        if family == "arrow":  # nulls come out as NaN (numbers) or None (booleans)
            array = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
        elif family == "pandas":
            array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise _first_non_number(name, values) from None
    array = np.ravel(array)
    finite = np.isfinite(array)
    kept = array if finite.all() else array[finite]
    return NumericValues(np.sort(kept), len(array) - len(kept))


def category_values(name: str, values: Any) -> CategoryValues:
    """The count of each category of a column (missing values left out)."""
    if isinstance(values, Counts):
        return CategoryValues({k: int(v) for k, v in values.counts.items() if v}, values.missing)
    family = _family(values)
    if family == "arrow":
        counted = values.value_counts()
        labels = counted.field("values").to_pylist()
        numbers = counted.field("counts").to_pylist()
        counts = {k: int(c) for k, c in zip(labels, numbers, strict=True) if k is not None}
        return CategoryValues(counts, int(values.null_count))
    if family == "numpy":
        array = np.ravel(np.asarray(values))
        if array.dtype.kind in "biuUS":
            labels, numbers = np.unique(array, return_counts=True)
            return CategoryValues(dict(zip(labels.tolist(), numbers.tolist(), strict=True)), 0)
    import pandas as pd

    series = values if family == "pandas" else pd.Series(np.ravel(np.asarray(values)))
    counted = series.value_counts(dropna=True, sort=False)
    counts = {
        label: int(count)
        for label, count in zip(counted.index.tolist(), counted.tolist(), strict=True)
        if not (isinstance(label, float) and math.isnan(label))
    }
    return CategoryValues(counts, len(series) - sum(counts.values()))


def check_kind(name: str, kind: object) -> Kind:
    if kind not in KINDS:
        raise InvalidValueError(
            f"kinds[{name!r}] must be one of {', '.join(KINDS)}, got {kind!r:.40}", field=name
        )
    return kind  # type: ignore[return-value]


__all__ = [
    "KINDS",
    "CategoryValues",
    "Counts",
    "Kind",
    "NumericValues",
    "category_values",
    "check_kind",
    "numeric_values",
]
