"""Model signatures: which columns a model takes, of which types, and what it returns.

:func:`infer_signature` reads them off an input example (usually the training frame): each
column's name, type (``int``, ``float``, ``bool``, ``string``, ``category``, ``date``,
``timestamp``: column types of :mod:`weekend.core.types`), exact pandas dtype, whether it may
be null (it may when the example holds a null), and the category set of categorical columns;
plus the output: class labels and classes for a classifier, ``float`` for a regressor, and
whether probabilities are available. Signatures stored before the shared vocabulary say
``datetime`` for a timestamp (or a date): they read as ``timestamp`` (or ``date``).

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

import json
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.core.types import ColumnType, column_type, from_pandas, parse
from weekend.registry._column_checks import (
    ColumnCheck,
    ColumnError,
    Series,
    cached_dtype,
    is_object,
    names_text,
    show,
)

OutputType = Literal["label", "float"]
# The column types a signature describes (of weekend.core.types' vocabulary).
SIGNATURE_TYPES: tuple[ColumnType, ...] = (
    "int",
    "float",
    "bool",
    "string",
    "category",
    "date",
    "timestamp",
)
_CANONICAL = frozenset(SIGNATURE_TYPES)
SIGNATURE_VERSION = 1


def _json_scalar(value: Any, what: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        raise InvalidValueError(
            f"{what} must be strings, numbers or booleans, got {type(value).__name__} {show(value)}"
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

    def __post_init__(self) -> None:
        if self.type not in _CANONICAL:  # another spelling, or not a type a signature holds
            object.__setattr__(self, "type", _parse_type(self.type, self.name))

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
        name = data["name"]
        kind = _parse_type(data.get("type"), name)
        dtype = str(data.get("dtype", kind))
        if data.get("type") == "datetime" and _reads_as(dtype) == "date":
            kind = "date"  # written before signatures had dates: the dtype says what it is
        categories = data.get("categories")
        if (kind == "category") != isinstance(categories, list):
            raise InvalidValueError(
                f"signature column {name!r}: a list of categories goes with type "
                f"'category' and only with it, got type {kind!r} and categories {categories!r}"
            )
        return cls(
            name=name,
            type=kind,
            dtype=dtype,
            nullable=bool(data.get("nullable", False)),
            categories=None if categories is None else tuple(categories),
        )


def _parse_type(value: object, column: str) -> ColumnType:
    if isinstance(value, str) and value in _CANONICAL:
        return value
    kind = parse(value, f"signature column {column!r}: type", allowed=SIGNATURE_TYPES)
    return column_type(kind)


def _reads_as(dtype: str) -> str | None:
    """The type name of a stored dtype name; None when pandas cannot read the name back."""
    try:
        return from_pandas(cached_dtype(dtype))
    except (TypeError, ValueError, NotImplementedError):
        return None


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


# -- the signature ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """The input columns a model takes and the output it gives; see the module docstring."""

    inputs: tuple[ColumnSpec, ...]
    output: OutputSpec | None = None
    _checks: tuple[ColumnCheck, ...] = field(init=False, repr=False, compare=False)
    _names: list[str] = field(init=False, repr=False, compare=False)
    _required: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.inputs]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InvalidValueError(f"signature has duplicate column names: {names_text(dupes)}")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "_checks", tuple(ColumnCheck(c) for c in self.inputs))
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
            f"no column {name!r} in the signature; columns: {names_text(self.names)}"
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
            return df, [f"duplicate column names {names_text(dupes)}"]
        present = set(got)
        wanted = set(self.names)
        problems = []
        missing = [n for n in self.names if n not in present]
        if missing:
            problems.append(
                f"missing column{'s' if len(missing) > 1 else ''} {names_text(missing)} "
                f"(the model expects {names_text(self.names)})"
            )
        extra = [c for c in got if c not in wanted]
        if extra and strict:
            problems.append(
                f"unexpected column{'s' if len(extra) > 1 else ''} {names_text(extra)} "
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
            except ColumnError as exc:
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
                    rows = np.flatnonzero(na[:, j])
                    shown = ", ".join(str(int(r)) for r in rows[:5])
                    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
                    problems.append(
                        f"column {spec.name!r} must not be null ({spec.dtype}, not nullable in the "
                        f"signature: the input example had no missing value), got "
                        f"{len(rows)} missing value(s) at row(s) {shown}{more}"
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
    elif is_object(dtype):
        if pdt.infer_dtype(s, skipna=True) not in ("string", "empty"):
            raise InvalidValueError(
                f"column {name!r} has object dtype with {pdt.infer_dtype(s, skipna=True)} values; "
                "convert it to str, category, bool or a number dtype first"
            )
        kind = "string"
    else:
        kind = column_type(from_pandas(dtype))
        # category: pandas' own only; a dtype whose name pandas cannot read back (a decimal
        # with its precision) cannot be stored
        if kind not in SIGNATURE_TYPES or kind == "category" or _reads_as(str(dtype)) is None:
            raise InvalidValueError(
                f"column {name!r} has dtype {dtype}, which a signature cannot describe; "
                f"expected {', '.join(SIGNATURE_TYPES)}"
            )
    # A column, floats included, is nullable only when the example holds a missing value:
    # a model trained without NaN is refused NaN at predict time with the column and rows
    # named, instead of failing inside the model. Pass a Signature to decide otherwise.
    return ColumnSpec(name, kind, str(dtype), nullable, categories)


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

    A column is nullable when the example holds a missing value in it, so pass the training
    frame (or a faithful sample of it). Float columns are nullable too when the model predicts
    on a row whose floats are all NaN (it imputes, or handles missing values natively): the
    signature then says what the model can take, not only what the example happened to hold.
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
    floats = [c.name for c in inputs if c.type == "float" and not c.nullable]
    if floats and _takes_missing_floats(model, input_example, floats):
        inputs = tuple(replace(c, nullable=True) if c.name in floats else c for c in inputs)
    return Signature(inputs, _infer_output(model, output, input_example))


def _takes_missing_floats(model: Any, example: pd.DataFrame, floats: list[str]) -> bool:
    """Whether ``model`` predicts on the example's first row with every float in ``floats``
    missing (one probe; any failure or warning means no)."""
    if model is None or not hasattr(model, "predict") or example.empty:
        return False
    probe = example.head(1).copy()
    probe[floats] = np.nan
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.predict(probe)
    except Exception:
        return False
    return True


__all__ = ["SIGNATURE_TYPES", "ColumnSpec", "OutputSpec", "Signature", "infer_signature"]
