"""Model signatures: which columns a model takes, of which types, and what it returns.

:func:`infer_signature` reads them off an input example (usually the training frame): each
column's name, type (``int``, ``float``, ``bool``, ``string``, ``category``, ``datetime``),
exact dtype, whether it may be null (it may when the example holds a null), and the category
set of categorical columns; plus the output: class labels and classes for a classifier,
``float`` for a regressor, and whether probabilities are available.

:meth:`Signature.validate` runs on every request in serving, so everything it can is worked
out once, when the signature is built. It returns a frame ready for the model:

* columns in signature order; **extra columns are dropped** by default (clients often send ids
  and timestamps along), and with ``strict=True`` they are an error; missing columns always are;
* safe casts only: integers to float, other float widths, other integer widths when the
  values fit, integral floats to int, object columns whose values all have the right Python type,
  ISO-8601 strings to datetimes, strings (or another category order) to the signature's
  categories;
* everything else raises :class:`~weekend.core.errors.DataValidationError` naming the column,
  the expected and the received type, and the first bad value with its row (0-based position),
  e.g. ``column 'dep_delay' must be float64, got object (first bad value 'abc' at row 17)``.
  All problems of one frame are reported together.

A frame that already matches is returned as it is, without a copy.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from weekend.core.errors import DataValidationError, InvalidValueError

ColumnType = Literal["int", "float", "bool", "string", "category", "datetime"]
OutputType = Literal["label", "float"]
COLUMN_TYPES: tuple[str, ...] = ("int", "float", "bool", "string", "category", "datetime")
SIGNATURE_VERSION = 1

Series: TypeAlias = "pd.Series[Any]"


def _show(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _names(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _json_scalar(value: Any, what: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        raise InvalidValueError(
            f"{what} must be strings, numbers or booleans, "
            f"got {type(value).__name__} {_show(value)}"
        )
    return value


@dataclass(frozen=True)
class ColumnSpec:
    """One input column: name, type, exact dtype, nullability, categories."""

    name: str
    type: ColumnType
    dtype: str
    nullable: bool = False
    categories: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "dtype": self.dtype}
        data["nullable"] = self.nullable
        if self.categories is not None:
            data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise InvalidValueError(f"signature column must be a dict with a 'name', got {data!r}")
        kind = data.get("type")
        if kind not in COLUMN_TYPES:
            raise InvalidValueError(
                f"signature column {data['name']!r} has type {kind!r}; expected one of "
                f"{', '.join(COLUMN_TYPES)}"
            )
        categories = data.get("categories")
        if (kind == "category") != isinstance(categories, list):
            raise InvalidValueError(
                f"signature column {data['name']!r}: a list of categories goes with type "
                f"'category' and only with it, got type {kind!r} and categories {categories!r}"
            )
        return cls(
            name=data["name"],
            type=cast(ColumnType, kind),
            dtype=str(data.get("dtype", kind)),
            nullable=bool(data.get("nullable", False)),
            categories=None if categories is None else tuple(categories),
        )


@dataclass(frozen=True)
class OutputSpec:
    """What the model returns: class labels (with the classes) or floats."""

    type: OutputType
    dtype: str
    classes: tuple[Any, ...] | None = None
    probabilities: bool = False
    width: int = 1
    """Values per row (more than one for multi-output regressors)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "dtype": self.dtype,
            "classes": None if self.classes is None else list(self.classes),
            "probabilities": self.probabilities,
            "width": self.width,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputSpec:
        if not isinstance(data, dict) or data.get("type") not in ("label", "float"):
            raise InvalidValueError(
                f"signature output must be a dict with type 'label' or 'float', got {data!r}"
            )
        classes = data.get("classes")
        return cls(
            type=data["type"],
            dtype=str(data.get("dtype", "")),
            classes=None if classes is None else tuple(classes),
            probabilities=bool(data.get("probabilities", False)),
            width=int(data.get("width", 1)),
        )


# -- per-column conversion --------------------------------------------------------------------


class _ColumnError(Exception):
    """One column's problem; collected into one DataValidationError by ``validate``."""


def _first(s: Series, mask: np.ndarray[Any, Any], expected: str) -> _ColumnError:
    row = int(np.flatnonzero(mask)[0])
    return _ColumnError(
        f"column {s.name!r} must be {expected}, got {s.dtype} "
        f"(first bad value {_show(s.iloc[row])} at row {row})"
    )


def _new(s: Series, values: Any) -> Series:
    return pd.Series(values, index=s.index, name=s.name, copy=False)


def _is_object(dtype: Any) -> bool:
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
def _dtype(name: str) -> Any:
    """``pandas_dtype`` by name, remembered: parsing a dtype name walks pandas' registry of
    extension types, and a signature is rebuilt on every load of a model."""
    return pdt.pandas_dtype(name)


class _Check:
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
                self.dtype = _dtype(spec.dtype)
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
        return self._datetime(s)

    def _mismatch(self, s: Series) -> _ColumnError:
        values = s.to_numpy(dtype=object)
        nonnull = np.fromiter((not _is_null(v) for v in values), bool, len(values))
        if nonnull.any():
            return _first(s, nonnull, self.spec.dtype)
        return _ColumnError(f"column {s.name!r} must be {self.spec.dtype}, got {s.dtype}")

    def _float(self, s: Series) -> Series:
        dtype = s.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
            return s.astype(self.dtype)
        if pdt.is_extension_array_dtype(dtype) and (
            pdt.is_integer_dtype(dtype) or pdt.is_float_dtype(dtype)
        ):
            return _new(s, s.to_numpy(dtype=self.dtype, na_value=np.nan))
        if _is_object(dtype):
            values = _object_values(s, _is_number, self.spec.dtype)
            return _new(s, np.array([np.nan if _is_null(v) else v for v in values], self.dtype))
        raise self._mismatch(s)

    def _int(self, s: Series) -> Series:
        dtype, target = s.dtype, self.dtype
        nullable_target = not isinstance(target, np.dtype)
        limits = np.iinfo(target.numpy_dtype if nullable_target else target)
        if _is_object(dtype):
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
        if pdt.is_bool_dtype(dtype) and not _is_object(dtype):
            if isinstance(self.dtype, np.dtype) and s.isna().any():
                raise _first(s, s.isna().to_numpy(), self.spec.dtype)
            return s.astype(self.dtype)
        if _is_object(dtype):
            values = _object_values(s, lambda v: isinstance(v, bool | np.bool_), self.spec.dtype)
            if isinstance(self.dtype, np.dtype) and any(_is_null(v) for v in values):
                raise _first(s, np.array([_is_null(v) for v in values]), self.spec.dtype)
            return _new(s, pd.array([None if _is_null(v) else v for v in values], dtype=self.dtype))
        raise self._mismatch(s)

    def _string(self, s: Series) -> Series:
        dtype = s.dtype
        if pdt.is_string_dtype(dtype) and not _is_object(dtype):
            return s
        if _is_object(dtype):
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
        raise _ColumnError(
            f"column {s.name!r} has a category the model was not trained on: "
            f"{_show(s.iloc[row])} at row {row} (known: {_names(self.categories.tolist(), 10)})"
        )

    def _datetime(self, s: Series) -> Series:
        tz = getattr(self.dtype, "tz", None)
        if pdt.is_string_dtype(s.dtype) or _is_object(s.dtype):
            try:
                parsed = pd.to_datetime(s, errors="coerce", format="ISO8601", utc=tz is not None)
            except (ValueError, TypeError) as exc:
                raise _ColumnError(f"column {s.name!r} must be {self.spec.dtype}: {exc}") from exc
            bad = (parsed.isna() & s.notna()).to_numpy()
            if bad.any():
                raise _first(s, bad, self.spec.dtype)
            s = parsed
        if not pdt.is_datetime64_any_dtype(s.dtype):
            raise self._mismatch(s)
        got_tz = getattr(s.dtype, "tz", None)
        if (tz is None) != (got_tz is None):
            aware = "time-zone aware" if tz is not None else "time-zone naive"
            raise _ColumnError(
                f"column {s.name!r} must be {self.spec.dtype} ({aware}), got {s.dtype}"
            )
        return s.astype(self.dtype)


# -- the signature ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """The input columns a model takes and the output it gives; see the module docstring."""

    inputs: tuple[ColumnSpec, ...]
    output: OutputSpec | None = None
    _checks: tuple[_Check, ...] = field(init=False, repr=False, compare=False)
    _names: list[str] = field(init=False, repr=False, compare=False)
    _required: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.inputs]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InvalidValueError(f"signature has duplicate column names: {_names(dupes)}")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "_checks", tuple(_Check(c) for c in self.inputs))
        object.__setattr__(self, "_names", names)
        required = [
            i for i, c in enumerate(self._checks) if not c.spec.nullable and c.can_hold_null
        ]
        object.__setattr__(self, "_required", required)

    @property
    def names(self) -> list[str]:
        """Input column names, in order."""
        return [c.name for c in self.inputs]

    def column(self, name: str) -> ColumnSpec:
        """The spec of the input column ``name``."""
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise InvalidValueError(
            f"no column {name!r} in the signature; columns: {_names(self.names)}"
        )

    # -- JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SIGNATURE_VERSION,
            "inputs": [c.to_dict() for c in self.inputs],
            "output": None if self.output is None else self.output.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
            raise InvalidValueError(
                f"a signature must be a dict with an 'inputs' list, got {data!r}"
            )
        if data.get("version", SIGNATURE_VERSION) > SIGNATURE_VERSION:
            raise InvalidValueError(
                f"signature version {data['version']} is newer than this weekend reads "
                f"({SIGNATURE_VERSION}); upgrade weekend"
            )
        output = data.get("output")
        return cls(
            inputs=tuple(ColumnSpec.from_dict(c) for c in data["inputs"]),
            output=None if output is None else OutputSpec.from_dict(output),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Signature:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidValueError(f"signature is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    # -- validation ---------------------------------------------------------------------------

    def _select(self, df: pd.DataFrame, strict: bool) -> tuple[pd.DataFrame, list[str]]:
        got = list(df.columns)
        if len(set(got)) != len(got):
            dupes = sorted({c for c in got if got.count(c) > 1})
            return df, [f"duplicate column names {_names(dupes)}"]
        present = set(got)
        wanted = set(self.names)
        problems = []
        missing = [n for n in self.names if n not in present]
        if missing:
            problems.append(
                f"missing column{'s' if len(missing) > 1 else ''} {_names(missing)} "
                f"(the model expects {_names(self.names)})"
            )
        extra = [c for c in got if c not in wanted]
        if extra and strict:
            problems.append(
                f"unexpected column{'s' if len(extra) > 1 else ''} {_names(extra)} "
                "(strict validation: drop them, or validate with strict=False)"
            )
        if problems:
            return df, problems
        return df[self.names], []

    def validate(self, df: pd.DataFrame, *, strict: bool = False) -> pd.DataFrame:
        """Check ``df`` against the signature and return it ready for the model.

        Extra columns are dropped unless ``strict=True``, which makes them an error.
        Raises :class:`DataValidationError` listing every problem found.
        """
        if not isinstance(df, pd.DataFrame):
            raise DataValidationError(
                f"model input must be a pandas DataFrame, got {type(df).__name__}"
            )
        if df.columns.tolist() != self._names:
            df, problems = self._select(df, strict)
            if problems:
                _raise(problems)
        problems = []
        converted: dict[str, Series] = {}
        dtypes = df.dtypes.tolist()
        for check, dtype in zip(self._checks, dtypes, strict=True):
            if check.matches(dtype):
                continue
            try:
                converted[check.name] = check.convert(df[check.name])
            except _ColumnError as exc:
                problems.append(str(exc))
        if problems:
            _raise(problems)
        if converted:
            df = df.copy(deep=False)
            for name, series in converted.items():
                df[name] = series
        required = self._required
        if required and len(df):
            na = df.isna().to_numpy()[:, required]
            if na.any():
                for j in np.flatnonzero(na.any(axis=0)):
                    spec = self._checks[required[j]].spec
                    row = int(np.flatnonzero(na[:, j])[0])
                    problems.append(
                        f"column {spec.name!r} must not be null ({spec.dtype}, not nullable in the "
                        f"signature), got a missing value at row {row}"
                    )
                _raise(problems)
        return df


def _raise(problems: list[str]) -> None:
    if len(problems) == 1:
        raise DataValidationError(problems[0])
    raise DataValidationError(f"{len(problems)} problems: " + "; ".join(problems))


# -- inference --------------------------------------------------------------------------------


def _infer_column(name: Any, s: Series) -> ColumnSpec:
    if not isinstance(name, str):
        raise InvalidValueError(f"column names must be strings, got {type(name).__name__} {name!r}")
    dtype = s.dtype
    nullable = bool(s.isna().any())
    categories = None
    kind: ColumnType
    if isinstance(dtype, pd.CategoricalDtype):
        kind = "category"
        categories = tuple(
            _json_scalar(v, f"categories of column {name!r}") for v in dtype.categories
        )
    elif _is_object(dtype):
        if pdt.infer_dtype(s, skipna=True) not in ("string", "empty"):
            raise InvalidValueError(
                f"column {name!r} has object dtype with {pdt.infer_dtype(s, skipna=True)} values; "
                "convert it to str, category, bool or a number dtype first"
            )
        kind = "string"
    elif pdt.is_bool_dtype(dtype):
        kind = "bool"
    elif pdt.is_integer_dtype(dtype):
        kind = "int"
    elif pdt.is_float_dtype(dtype):
        kind = "float"
    elif pdt.is_datetime64_any_dtype(dtype):
        kind = "datetime"
    elif pdt.is_string_dtype(dtype):
        kind = "string"
    else:
        raise InvalidValueError(
            f"column {name!r} has dtype {dtype}, which a signature cannot describe; expected "
            "int, float, bool, string, category or datetime"
        )
    # NaN is a float value: a float column may always hold it (models that cannot take
    # missing values fail on them with their own error, as they would unwrapped).
    return ColumnSpec(name, kind, str(dtype), nullable or kind == "float", categories)


def _labels_dtype(arr: np.ndarray[Any, Any]) -> str:
    if arr.dtype.kind in "OU":
        return "str" if all(isinstance(v, str) for v in arr.tolist()) else "object"
    return str(arr.dtype)


def _infer_output(model: Any, output: Any, example: pd.DataFrame) -> OutputSpec | None:
    if model is not None:
        classes = getattr(model, "classes_", None)
        if classes is not None:
            arr = np.asarray(classes)
            has_proba = getattr(model, "has_proba", None)
            if not isinstance(has_proba, bool):
                has_proba = callable(getattr(model, "predict_proba", None))
            labels = tuple(_json_scalar(v, "class labels") for v in arr.tolist())
            return OutputSpec("label", _labels_dtype(arr), labels, has_proba)
        if output is None and len(example):
            output = model.predict(example)
    if output is None:
        return None
    arr = np.asarray(output)
    width = arr.shape[1] if arr.ndim == 2 else 1
    if arr.dtype.kind == "f":
        return OutputSpec("float", str(arr.dtype), width=width)
    return OutputSpec("label", _labels_dtype(arr), width=width)


def infer_signature(
    input_example: pd.DataFrame, model: Any = None, output: Any = None
) -> Signature:
    """The signature of ``model`` from an example of its input (and optionally its output).

    A float column is always nullable (NaN is a float); any other column is nullable when the
    example holds a null in it, so pass the training frame (or a faithful sample of it).
    With a classifier the output lists its classes; without ``output`` the model predicts on
    the example to learn the output type.
    """
    if not isinstance(input_example, pd.DataFrame):
        raise InvalidValueError(
            f"input_example must be a pandas DataFrame, got {type(input_example).__name__}"
        )
    names = list(input_example.columns)
    if len(set(names)) != len(names):
        raise InvalidValueError(f"input_example has duplicate column names: {names!r}")
    inputs = tuple(_infer_column(name, input_example[name]) for name in names)
    return Signature(inputs, _infer_output(model, output, input_example))


__all__ = ["COLUMN_TYPES", "ColumnSpec", "OutputSpec", "Signature", "infer_signature"]
