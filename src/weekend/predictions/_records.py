"""The prediction log's record: its columns, the checks made at the call, and Arrow columns.

A record is one predicted row::

    {"request_id": "7f9c...", "model": "flight-delay", "version": 3, "alias": "champion",
     "route": "primary", "latency_us": 412, "row_key": None,
     "in.distance": 1400.0, "in.carrier": "UA", "out.prediction": 1, "out.proba.1": 0.81}

``ts`` (the time of the prediction) and ``row`` (the row's position in its request) are
filled when absent. Every value is checked when it is appended, so the background writer
never meets a record it cannot write: fixed columns have their type, input and output
values are scalars (null, bool, integers within 64 bits, floats, strings, bytes, dates and
times, or numpy scalars of those), and a column keeps one kind of value per model version
(numbers, strings, booleans, times, dates or bytes; integers and floats are both numbers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from weekend.core.errors import InvalidNameError, InvalidValueError
from weekend.core.names import validate_name

ROUTES = ("primary", "canary", "shadow")
INPUT_PREFIX = "in."
OUTPUT_PREFIX = "out."
MAX_TEXT = 250  # request ids and row keys
MAX_REQUEST_ID = 128
_INT64 = (-(2**63), 2**63 - 1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

TS_TYPE = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("row", pa.int32(), nullable=False),
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("alias", pa.string()),
        pa.field("route", pa.string(), nullable=False),
        pa.field("latency_us", pa.int64()),
        pa.field("row_key", pa.string()),
    ]
)
"""The fixed columns of every segment, in order; input (``in.``) and output (``out.``)
columns follow."""
FIXED = tuple(SCHEMA.names)

# The kind of a value: a column holds one kind per model version.
NUM, STR, BOOL, TIME, DATE, BYTES = "number", "string", "bool", "timestamp", "date", "bytes"
_ARROW_OF_KIND = {
    STR: pa.string(),
    BOOL: pa.bool_(),
    TIME: TS_TYPE,
    DATE: pa.date32(),
    BYTES: pa.binary(),
}
_KIND_OF_TYPE: dict[type, str | None] = {
    int: NUM,
    float: NUM,
    bool: BOOL,
    str: STR,
    bytes: BYTES,
    dt.datetime: TIME,
    dt.date: DATE,
    type(None): None,
}


def _fail(field: str, message: str) -> InvalidValueError:
    return InvalidValueError(f"prediction record: {field} {message}", field=field)


def _kind_of(value: object, field: str) -> str | None:
    """The kind of an input or output value (None for null), or a refusal naming ``field``."""
    kind = type(value)
    found = _KIND_OF_TYPE.get(kind, "")
    if found == NUM and kind is int:
        if not _INT64[0] <= value <= _INT64[1]:  # type: ignore[operator]
            raise _fail(field, f"must be an integer within 64 bits, got {value}")
        return NUM
    if found != "":
        return found
    if isinstance(value, bool | np.bool_):
        return BOOL
    if isinstance(value, float | np.floating):
        return NUM
    if isinstance(value, np.integer):
        return NUM
    if isinstance(value, str):
        return STR
    if isinstance(value, dt.datetime | np.datetime64):
        return TIME
    if isinstance(value, dt.date):
        return DATE
    raise _fail(
        field,
        "must be null, a boolean, a number, a string, bytes, a date or a time, got "
        f"{kind.__name__} {value!r:.60}",
    )


def _text(value: object, field: str, limit: int, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if type(value) is not str or not 0 < len(value) <= limit:  # type: ignore[arg-type]
        raise _fail(field, f"must be a string of 1 to {limit} characters, got {value!r:.60}")
    if "\x00" in value:
        raise _fail(field, "must not contain NUL characters")
    return value


def _int(value: object, field: str, least: int, most: int) -> int:
    if isinstance(value, np.integer):
        value = int(value)
    if type(value) is not int or not least <= value <= most:
        raise _fail(field, f"must be an integer from {least} to {most}, got {value!r:.60}")
    return value


def ts_us(value: object, field: str = "ts") -> int:
    """Microseconds since the epoch of an aware (or naive: UTC) time or of an integer (µs)."""
    if type(value) is int:
        return _int(value, field, 0, 2**62)
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").astype(object)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    raise _fail(field, f"must be a datetime or microseconds since the epoch, got {value!r:.60}")


Check = Callable[[object, str], object]
_FIXED_CHECKS: dict[str, Check] = {
    "request_id": lambda v, f: _text(v, f, MAX_REQUEST_ID, required=True),
    "row": lambda v, f: _int(v, f, 0, 2**31 - 1),
    "ts": ts_us,
    "model": lambda v, f: v,  # checked once per model version by _known_kinds
    "version": lambda v, f: v,
    "alias": lambda v, f: None if v is None else _text(v, f, 128, required=True),
    "route": lambda v, f: v if v in ROUTES else _route(v, f),
    "latency_us": lambda v, f: None if v is None else _int(v, f, 0, 2**62),
    "row_key": lambda v, f: _text(v, f, MAX_TEXT, required=False),
}


def _route(value: object, field: str) -> str:
    raise _fail(field, f"must be one of {', '.join(ROUTES)}, got {value!r:.60}")


def check_column_name(name: object, field: str) -> str:
    """A fixed column, or ``in.<name>`` / ``out.<name>`` (1 to 250 characters)."""
    if (
        isinstance(name, str)
        and name.startswith((INPUT_PREFIX, OUTPUT_PREFIX))
        and name not in (INPUT_PREFIX, OUTPUT_PREFIX)
        and len(name) <= MAX_TEXT
        and "\x00" not in name
    ):
        return name
    raise InvalidValueError(
        f"prediction record: unknown column {name!r:.80}; expected one of "
        f"{', '.join(FIXED)}, or input and output values named 'in.<feature>' and "
        "'out.prediction', 'out.proba.<class>' ...",
        field=field,
    )


Kinds = dict[str, str]


def _known_kinds(record: dict[str, Any], field: str, kinds: dict[tuple[str, int], Kinds]) -> Kinds:
    """The kinds of the record's model version (its model and version checked once)."""
    try:
        known = kinds.get((record["model"], record["version"]))
    except KeyError as exc:
        raise _fail(
            f"{field}.{exc.args[0]}", "is missing: every record names its request and model"
        ) from None
    except TypeError:  # an unhashable model or version: refused just below
        known = None
    if known is None:
        try:
            model = validate_name(record["model"], f"{field}.model (a model name)")
        except InvalidNameError as exc:
            exc.field = f"{field}.model"
            raise
        version = _int(record["version"], f"{field}.version", 1, 2**31 - 1)
        known = kinds.setdefault((model, version), {})
    return known


def _short_text(limit: int) -> Callable[[object], bool]:
    return lambda v: type(v) is str and 0 < len(v) <= limit and "\x00" not in v


_ROUTES = frozenset(ROUTES)
_QUICK: dict[str, Callable[[object], bool] | None] = {
    # a cheap test that lets the usual value through; anything else goes to _FIXED_CHECKS
    "request_id": _short_text(MAX_REQUEST_ID),
    "row": lambda v: type(v) is int and 0 <= v < 2**31,  # type: ignore[operator]
    "ts": lambda v: type(v) is dt.datetime or (type(v) is int and 0 <= v <= 2**62),  # type: ignore[operator]
    "model": None,  # checked once per model version by _known_kinds
    "version": None,
    "alias": lambda v: v is None or _short_text(128)(v),
    "route": lambda v: type(v) is str and v in _ROUTES,
    "latency_us": lambda v: v is None or (type(v) is int and 0 <= v <= 2**62),  # type: ignore[operator]
    "row_key": lambda v: v is None or _short_text(MAX_TEXT)(v),
}


def _new_value(record: dict[str, Any], known: Kinds, key: str, value: object, field: str) -> None:
    """The slow path of :func:`check_record`: a new column, or a value of an unusual type."""
    kind = _kind_of(value, f"{field}.{key}")
    had = known.get(key)
    if had is None:
        check_column_name(key, f"{field}.{key}")
        if kind is not None:
            known[key] = kind
    elif kind is not None and had != kind:
        raise _fail(
            f"{field}.{key}",
            f"holds {kind} values here but {had} values in earlier records of "
            f"{record['model']} version {record['version']}; a column keeps one kind",
        )


def check_record(record: object, field: str, kinds: dict[tuple[str, int], Kinds]) -> None:
    """Check one record (see module); remembers the kind of each column per model version.

    One pass over its items, each usual value decided by one type lookup; a refusal names
    ``<field>.<column>``."""
    if type(record) is not dict:
        raise _fail(field, f"must be a dict of column values, got {type(record).__name__}")
    known = _known_kinds(record, field, kinds)
    if "request_id" not in record:
        raise _fail(f"{field}.request_id", "is missing: every record names its request and model")
    for key, value in record.items():
        if key in _QUICK:
            quick = _QUICK[key]
            if quick is not None and not quick(value):
                _FIXED_CHECKS[key](value, f"{field}.{key}")
            continue
        kind = _KIND_OF_TYPE.get(type(value), "")
        if kind is NUM and type(value) is int and not _INT64[0] <= value <= _INT64[1]:  # type: ignore[operator]
            _kind_of(value, f"{field}.{key}")  # raises: beyond 64 bits
        if kind and known.get(key) is kind:
            continue  # a value of the column's kind: the usual case
        _new_value(record, known, key, value, field)


def check_table(table: object, kinds: dict[tuple[str, int], Kinds]) -> pa.Table:
    """Check a columnar append: the required columns, their types, the column names."""
    if not isinstance(table, pa.Table):
        raise InvalidValueError(
            f"records must be a pyarrow Table or a list of dicts, got {type(table).__name__}",
            field="records",
        )
    for key in ("request_id", "model", "version"):
        if key not in table.column_names:
            raise _fail(f"records.{key}", "is missing: every record names its request and model")
    for index, name in enumerate(table.column_names):
        if name in FIXED:
            target = SCHEMA.field(name).type
            if not _castable(table.schema.field(name).type, target):
                raise _fail(
                    f"records.{name}",
                    f"must be {target}, got {table.schema.field(name).type}",
                )
        else:
            check_column_name(name, f"records.{name}")
        if table.column(index).null_count and name in ("request_id", "model", "version"):
            raise _fail(f"records.{name}", "must not be null")
    return table


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    if source == target:
        return True
    if pa.types.is_integer(target):
        return bool(pa.types.is_integer(source))
    if pa.types.is_string(target):
        return bool(pa.types.is_string(source) or pa.types.is_large_string(source))
    if pa.types.is_timestamp(target):
        return bool(pa.types.is_timestamp(source))
    return False


def _column(values: list[Any], kind: str | None) -> pa.Array:
    if kind == TIME:
        return pa.array([None if v is None else ts_us(v) for v in values], pa.int64()).cast(TS_TYPE)
    if kind == NUM:
        return pa.array(values)
    return pa.array(values, _ARROW_OF_KIND.get(kind or STR, pa.string()))


Entry = tuple[dict[str, Any], int, Any]  # (record, row, ts: µs or a checked datetime)


def records_table(entries: Sequence[Entry], kinds: Kinds) -> pa.Table:
    """The Arrow table of checked records of one model version (fixed columns first)."""
    names: dict[str, None] = {}
    for record, _, _ in entries:
        names.update(dict.fromkeys(record))
    arrays: dict[str, pa.Array] = {
        "request_id": pa.array([r["request_id"] for r, _, _ in entries], pa.string()),
        "row": pa.array([row for _, row, _ in entries], pa.int32()),
        "ts": pa.array(
            [ts if type(ts) is int else ts_us(ts) for _, _, ts in entries], pa.int64()
        ).cast(TS_TYPE),
    }
    defaults = {"route": "primary"}
    for name in FIXED[3:]:
        values = [r.get(name, defaults.get(name)) for r, _, _ in entries]
        arrays[name] = pa.array(values, SCHEMA.field(name).type)
    for name in names:
        if name not in arrays and name not in FIXED:
            arrays[name] = _column([r.get(name) for r, _, _ in entries], kinds.get(name))
    return pa.table(arrays)


def conform(table: pa.Table, appended_us: int) -> pa.Table:
    """A columnar append with every fixed column, in order and of its type."""
    rows = table.num_rows
    fill: dict[str, pa.Array] = {
        "row": pa.array(np.arange(rows, dtype=np.int32)),
        "ts": pa.array(np.full(rows, appended_us, dtype=np.int64)).cast(TS_TYPE),
        "route": pa.array(["primary"] * rows, pa.string()),
    }
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for field in SCHEMA:
        if field.name in table.column_names:
            columns[field.name] = table.column(field.name).cast(field.type)
        else:
            columns[field.name] = fill.get(field.name, pa.nulls(rows, field.type))
    for name in table.column_names:
        if name not in columns:
            columns[name] = table.column(name)
    return pa.table(columns)


def split_by_version(table: pa.Table) -> Iterable[tuple[tuple[str, int], pa.Table]]:
    """The rows of a table grouped by (model, version)."""
    import pyarrow.compute as pc

    pairs = table.select(["model", "version"]).group_by(["model", "version"]).aggregate([])
    for model, version in zip(
        pairs.column("model").to_pylist(), pairs.column("version").to_pylist(), strict=True
    ):
        mask = pc.and_(
            pc.equal(table.column("model"), model), pc.equal(table.column("version"), version)
        )
        yield (model, version), table.filter(mask)


__all__ = [
    "FIXED",
    "INPUT_PREFIX",
    "OUTPUT_PREFIX",
    "ROUTES",
    "SCHEMA",
    "TS_TYPE",
    "Entry",
    "Kinds",
    "check_column_name",
    "check_record",
    "check_table",
    "conform",
    "records_table",
    "split_by_version",
    "ts_us",
]
