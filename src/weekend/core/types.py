"""The column types of weekend: one vocabulary, and one table to and from Arrow, pandas, DuckDB.

Dataset schemas and profiles, model signatures and feature definitions all name the type of a
column with the words of this module, so a signature can be compared with a dataset profile
and with the rows a service receives.

*Column types* (:data:`COLUMN_TYPES`) are what a schema, a profile or a signature records:

``int``, ``float``, ``bool``, ``string``, ``category``, ``date``, ``timestamp``, ``binary``
and ``other`` (lists, structs, intervals, times of day ... anything weekend does not look
into).

Where a width matters (feature dtypes, exact conversions) an integer or a float is named with
it: ``int8`` ... ``int64``, ``uint8`` ... ``uint64``, ``float32``, ``float64``
(:data:`SIZED_TYPES`). :func:`column_type` maps a sized name to its column type; ``int`` and
``float`` without a width are written as ``int64`` and ``float64``. Integers and floats that
have no sized name here (DuckDB's ``HUGEINT``, decimals, Arrow's half floats) read as ``int``
or ``float``. A ``timestamp`` is an instant: weekend writes it as UTC nanoseconds and reads
time-zone-naive timestamps as UTC.

:func:`parse` checks a name a user (or a stored record) gives: it accepts the canonical names,
a few other spellings (``integer``, ``bigint``, ``double``, ``str``, ``text``, ``varchar``,
``boolean``, ``bytes``, and ``datetime``, which model signatures stored before this module
existed) and Python types (``int``, ``float``, ``str``, ``bool``, ``bytes``, ``date``,
``datetime``), and returns the canonical name: records are always written with it.

Nothing heavy is imported here: pyarrow and pandas load when a conversion needs them.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

from weekend.core.errors import InvalidValueError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from pandas.api.extensions import ExtensionDtype

ColumnType = Literal[
    "int", "float", "bool", "string", "category", "date", "timestamp", "binary", "other"
]
TypeName = Literal[
    "int",
    "float",
    "bool",
    "string",
    "category",
    "date",
    "timestamp",
    "binary",
    "other",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
]

COLUMN_TYPES: tuple[ColumnType, ...] = (
    "int",
    "float",
    "bool",
    "string",
    "category",
    "date",
    "timestamp",
    "binary",
    "other",
)
SIZED_TYPES: tuple[TypeName, ...] = (
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
)
TYPE_NAMES: tuple[TypeName, ...] = (*COLUMN_TYPES, *SIZED_TYPES)
NUMERIC_TYPES: frozenset[str] = frozenset({"int", "float"})
TEMPORAL_TYPES: frozenset[str] = frozenset({"date", "timestamp"})
TEXT_TYPES: frozenset[str] = frozenset({"string", "category"})


class _Row(NamedTuple):
    name: TypeName
    column_type: ColumnType
    arrow: str  # as pyarrow prints the type; "" when there is none
    duckdb: str
    pandas: str


# The one conversion table. Reading (from_*) takes the first row that matches, so the sized
# names come before the width-less int and float, and string before category.
# fmt: off
_TABLE: tuple[_Row, ...] = (
    #    name         type          Arrow                   DuckDB                    pandas
    _Row("bool",      "bool",       "bool",                 "BOOLEAN",                "bool"),
    _Row("int8",      "int",        "int8",                 "TINYINT",                "int8"),
    _Row("int16",     "int",        "int16",                "SMALLINT",               "int16"),
    _Row("int32",     "int",        "int32",                "INTEGER",                "int32"),
    _Row("int64",     "int",        "int64",                "BIGINT",                 "int64"),
    _Row("uint8",     "int",        "uint8",                "UTINYINT",               "uint8"),
    _Row("uint16",    "int",        "uint16",               "USMALLINT",              "uint16"),
    _Row("uint32",    "int",        "uint32",               "UINTEGER",               "uint32"),
    _Row("uint64",    "int",        "uint64",               "UBIGINT",                "uint64"),
    _Row("float32",   "float",      "float32",              "FLOAT",                  "float32"),
    _Row("float64",   "float",      "float64",              "DOUBLE",                 "float64"),
    _Row("string",    "string",     "string",               "VARCHAR",                "str"),
    _Row("category",  "category",   "dictionary<int32,string>", "VARCHAR",            "category"),
    _Row("date",      "date",       "date32",               "DATE",                   "object"),
    _Row("timestamp", "timestamp",  "timestamp[ns,UTC]",    "TIMESTAMP WITH TIME ZONE",
         "datetime64[ns, UTC]"),
    _Row("binary",    "binary",     "binary",               "BLOB",                   "object"),
    _Row("int",       "int",        "int64",                "BIGINT",                 "int64"),
    _Row("float",     "float",      "float64",              "DOUBLE",                 "float64"),
    _Row("other",     "other",      "",                     "",                       "object"),
)
# fmt: on
_BY_NAME: dict[str, _Row] = {row.name: row for row in _TABLE}
_BY_DUCKDB: dict[str, TypeName] = {}
for _entry in _TABLE:
    if _entry.duckdb:
        _BY_DUCKDB.setdefault(_entry.duckdb, _entry.name)
del _entry

_ALIASES: dict[str, TypeName] = {
    "integer": "int",
    "bigint": "int64",
    "double": "float64",
    "str": "string",
    "text": "string",
    "varchar": "string",
    "boolean": "bool",
    "bytes": "binary",
    "datetime": "timestamp",  # model signatures stored before this vocabulary
}
_PYTHON: dict[type, TypeName] = {
    bool: "bool",
    int: "int64",
    float: "float64",
    str: "string",
    bytes: "binary",
    datetime.date: "date",
    datetime.datetime: "timestamp",
}
_DEFAULT_WIDTH: dict[str, TypeName] = {"int": "int64", "float": "float64"}
# pandas.api.types.infer_dtype of an object column -> the type of its values
_INFERRED: dict[str, TypeName] = {
    "string": "string",
    "bytes": "binary",
    "boolean": "bool",
    "integer": "int64",
    "floating": "float64",
    "mixed-integer-float": "float64",
    "decimal": "float",
    "date": "date",
    "datetime": "timestamp",
    "datetime64": "timestamp",
}


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def column_type(name: str) -> ColumnType:
    """The column type of a canonical name: ``int32`` -> ``int``, ``float64`` -> ``float``."""
    try:
        return _BY_NAME[name].column_type
    except KeyError:
        raise InvalidValueError(
            f"type must be one of {', '.join(TYPE_NAMES)}, got {_show(name)}"
        ) from None


def with_width(name: str) -> TypeName:
    """``int`` and ``float`` with their default widths (``int64``, ``float64``); other names
    as they are."""
    return _DEFAULT_WIDTH.get(name) or _row(name, "name").name


def parse(
    value: object, field: str, *, allowed: Iterable[str] | None = None, sized: bool = False
) -> TypeName:
    """The canonical name of a type a user or a stored record gives.

    ``value`` is a name (any case, or another spelling listed in the module docstring) or a
    Python type. ``allowed`` restricts the names accepted (default: all of them); with
    ``sized=True`` the width-less ``int`` and ``float`` become ``int64`` and ``float64``.
    Anything else raises :class:`InvalidValueError` naming ``field``, the expected names and
    what was received.
    """
    name: TypeName | None = None
    if isinstance(value, type):
        name = _PYTHON.get(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        row = _BY_NAME.get(_ALIASES.get(text, text))
        name = None if row is None else row.name
    if name is not None and sized:
        name = with_width(name)
    names = TYPE_NAMES if allowed is None else tuple(allowed)
    if name is not None and name in names:
        return name
    hint = " (int and float mean int64 and float64)" if sized else ""
    raise InvalidValueError(f"{field} must be one of {', '.join(names)}{hint}, got {_show(value)}")


def _row(name: str, target: str) -> _Row:
    row = _BY_NAME.get(name)
    if row is None:
        raise InvalidValueError(f"type must be one of {', '.join(TYPE_NAMES)}, got {_show(name)}")
    if not getattr(row, target):
        raise InvalidValueError(
            f"type {name!r} has no {target} counterpart; convert the column to one of "
            f"{', '.join(n for n in COLUMN_TYPES if n != 'other')} first"
        )
    return row


# ---------------------------------------------------------------- Arrow


@functools.cache
def _arrow_types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    by_label = {
        "bool": pa.bool_(),
        "int8": pa.int8(),
        "int16": pa.int16(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "uint8": pa.uint8(),
        "uint16": pa.uint16(),
        "uint32": pa.uint32(),
        "uint64": pa.uint64(),
        "float32": pa.float32(),
        "float64": pa.float64(),
        "string": pa.string(),
        "dictionary<int32,string>": pa.dictionary(pa.int32(), pa.string()),
        "date32": pa.date32(),
        "timestamp[ns,UTC]": pa.timestamp("ns", tz="UTC"),
        "binary": pa.binary(),
    }
    return {row.name: by_label[row.arrow] for row in _TABLE if row.arrow}


def to_arrow(name: str) -> pa.DataType:
    """The Arrow type weekend writes for ``name`` (timestamps: nanoseconds, UTC)."""
    return _arrow_types()[_row(name, "arrow").name]


def from_arrow(kind: pa.DataType) -> TypeName:
    """The name of an Arrow type; any dictionary is a ``category``, any timestamp (unit, time
    zone) a ``timestamp``, types without a name here ``other``."""
    import pyarrow.types as pt

    if pt.is_dictionary(kind):
        return "category"
    if pt.is_integer(kind):
        return cast(TypeName, str(kind))
    if pt.is_floating(kind):
        return "float32" if pt.is_float32(kind) else "float64" if pt.is_float64(kind) else "float"
    checks: tuple[tuple[Any, TypeName], ...] = (
        (pt.is_boolean, "bool"),
        (pt.is_decimal, "float"),
        (_is_arrow_string, "string"),
        (_is_arrow_binary, "binary"),
        (pt.is_date, "date"),
        (pt.is_timestamp, "timestamp"),
    )
    for check, name in checks:
        if check(kind):
            return name
    return "other"


def _is_arrow_string(kind: pa.DataType) -> bool:
    import pyarrow.types as pt

    return bool(pt.is_string(kind) or pt.is_large_string(kind) or pt.is_string_view(kind))


def _is_arrow_binary(kind: pa.DataType) -> bool:
    import pyarrow.types as pt

    return bool(
        pt.is_binary(kind)
        or pt.is_large_binary(kind)
        or pt.is_fixed_size_binary(kind)
        or pt.is_binary_view(kind)
    )


# ---------------------------------------------------------------- DuckDB


def to_duckdb(name: str) -> str:
    """The DuckDB type weekend writes for ``name`` (a category: ``VARCHAR``, as DuckDB reads an
    Arrow dictionary)."""
    return _row(name, "duckdb").duckdb


def from_duckdb(duckdb_type: str) -> TypeName:
    """The name of a DuckDB type as DuckDB prints it (``str(DuckDBPyType)``).

    ``ENUM(...)`` is a ``category``; every ``TIMESTAMP`` variant a ``timestamp``;
    ``DECIMAL(p, s)`` a ``float`` and ``HUGEINT`` an ``int`` (no sized name holds them);
    lists, structs, maps, intervals, times of day, UUIDs ... are ``other``.
    """
    text = duckdb_type.strip().upper()
    exact = _BY_DUCKDB.get(text)
    if exact is not None:
        return exact
    if text.endswith("]"):  # a list or an array, e.g. VARCHAR[] or INTEGER[3]
        return "other"
    prefixes: tuple[tuple[str, TypeName], ...] = (
        ("VARCHAR", "string"),  # VARCHAR COLLATE ...
        ("ENUM", "category"),
        ("TIMESTAMP", "timestamp"),
        ("DECIMAL", "float"),
        ("HUGEINT", "int"),
        ("UHUGEINT", "int"),
    )
    for prefix, name in prefixes:
        if text.startswith(prefix):
            return name
    return "other"


# ---------------------------------------------------------------- pandas and numpy


def to_pandas(name: str) -> np.dtype[Any] | ExtensionDtype:
    """The pandas dtype a column of ``name`` has when Arrow converts it (dates and binary:
    ``object``; strings: pandas' ``str`` dtype, ``object`` before pandas 3)."""
    from pandas.api.types import pandas_dtype

    text = _row(name, "pandas").pandas
    if text == "str" and _pandas_major() < 3:
        text = "object"
    return pandas_dtype(text)


@functools.cache
def _pandas_major() -> int:
    import pandas as pd

    return int(pd.__version__.split(".")[0])


def from_pandas(value: pd.Series[Any] | np.dtype[Any] | ExtensionDtype | str) -> TypeName:
    """The name of a pandas or numpy dtype, or of a pandas Series.

    Nullable extension dtypes (``Int64``, ``boolean``, ``Float32`` ...) and Arrow-backed ones
    read like their values. An ``object`` dtype is ``other`` by itself; given a Series, its
    values decide (all strings: ``string``, bytes: ``binary``, dates: ``date`` ...).
    """
    import numpy as np
    import pandas as pd
    from pandas.api.types import infer_dtype, pandas_dtype

    series = value if isinstance(value, pd.Series) else None
    try:
        dtype: Any = series.dtype if series is not None else pandas_dtype(value)
    except TypeError as exc:
        raise InvalidValueError(f"{_show(value)} is not a pandas or numpy dtype: {exc}") from exc
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.SparseDtype):  # a storage layout: its values decide
        return from_pandas(dtype.subtype)
    if isinstance(dtype, pd.ArrowDtype):
        return from_arrow(dtype.pyarrow_dtype)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamp"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.BooleanDtype):
        return "bool"
    numpy_dtype = getattr(dtype, "numpy_dtype", dtype)  # Int64, Float32 ...
    if not isinstance(numpy_dtype, np.dtype):
        return "other"
    if numpy_dtype.kind == "O":
        if series is None:
            return "other"
        return _INFERRED.get(infer_dtype(series, skipna=True), "other")
    return _numpy_name(numpy_dtype)


def _numpy_name(dtype: np.dtype[Any]) -> TypeName:
    kind, bits = dtype.kind, dtype.itemsize * 8
    if kind in "iu":
        return cast(TypeName, f"{'u' if kind == 'u' else ''}int{bits}")
    if kind == "f":
        return "float32" if bits == 32 else "float64" if bits == 64 else "float"
    named: dict[str, TypeName] = {"b": "bool", "M": "timestamp", "U": "string", "S": "binary"}
    return named.get(kind, "other")


__all__ = [
    "COLUMN_TYPES",
    "NUMERIC_TYPES",
    "SIZED_TYPES",
    "TEMPORAL_TYPES",
    "TEXT_TYPES",
    "TYPE_NAMES",
    "ColumnType",
    "TypeName",
    "column_type",
    "from_arrow",
    "from_duckdb",
    "from_pandas",
    "parse",
    "to_arrow",
    "to_duckdb",
    "to_pandas",
    "with_width",
]
