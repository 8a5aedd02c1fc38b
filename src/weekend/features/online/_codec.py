"""The one record codec every online store shares: validation, key and value encoding, and
the "newest record wins" rule within a batch, so that SQLite and Redis cannot drift apart.

Entity keys are encoded as the JSON array of the join-key values, taken in the order of the
sorted join-key names: ``(1, 23)`` is ``[1,23]`` and ``(12, 3)`` is ``[12,3]``; ``1`` is
``[1]`` and ``"1"`` is ``["1"]``. Keys must be integers or strings.

Feature values are stored as the JSON array ``[[names...], [values...]]`` (a tuple is cheaper
to encode than an object). JSON-native values (int, finite float, str, bool, None) are stored
as they are; the rest are tagged lists, which plain feature values never are:
``["f", "nan"]`` for non-finite floats, ``["t", ns, tz]`` for timestamps (nanoseconds since
the epoch, time zone or null), ``["d", days]`` for dates and ``["b", base64]`` for bytes.
"""

from __future__ import annotations

import base64
import numbers
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from weekend.core.errors import DataValidationError, InvalidValueError

MIN_NS = -(2**63)
"""The created timestamp a record without one compares as (older than any real one)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_US = timedelta(microseconds=1)
_WRITE_CHUNK = 50_000


class StoredRecord(NamedTuple):
    """One record as a store hands it back: timestamps in ns and the encoded feature values."""

    event_ns: int
    created_ns: int | None
    payload: bytes | memoryview


class RecordBatch(NamedTuple):
    """Encoded records ready for a store, one entity each (already the newest of the batch)."""

    keys: list[bytes]
    event_ns: list[int]
    created_ns: list[int | None]
    payloads: list[bytes]


# ---------------------------------------------------------------- time


def datetime_to_ns(value: object, what: str) -> int:
    """Nanoseconds since the epoch; a naive datetime is taken as UTC."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.Timestamp):
        return int(value.value)
    if not isinstance(value, datetime) or (pandas is not None and value is pandas.NaT):
        raise InvalidValueError(
            f"{what} must be a datetime, got {type(value).__name__} {value!r:.80}"
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _US * 1000


def timedelta_to_ns(value: object, what: str) -> int:
    """Nanoseconds of a non-negative timedelta."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.Timedelta):
        ns = int(value.value)
    elif isinstance(value, timedelta):
        ns = value // _US * 1000
    else:
        raise InvalidValueError(
            f"{what} must be a timedelta or None, got {type(value).__name__} {value!r:.80}"
        )
    if ns < 0:
        raise InvalidValueError(f"{what} must not be negative, got {value}")
    return ns


# ---------------------------------------------------------------- keys


def check_names(names: Sequence[str], what: str, view: str) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InvalidValueError(
            f"{what} of view {view!r} must be a list of column names, got {names!r:.80}"
        )
    if not names:
        raise InvalidValueError(f"{what} of view {view!r} must name at least one column")
    if bad := [name for name in names if not isinstance(name, str) or not name]:
        raise InvalidValueError(f"{what} of view {view!r} must be non-empty strings, got {bad}")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if list(names).count(n) > 1})
        raise InvalidValueError(f"{what} of view {view!r} name {twice} more than once")
    return tuple(names)


def _key_value(value: object, key: str, row: int, view: str) -> int | str:
    kind = type(value)
    if kind is int or kind is str:
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise InvalidValueError(
        f"entity key {key!r} of view {view!r} must be an int or a str, got "
        f"{kind.__name__} {value!r:.80} in row {row}"
    )


def _key_column(table: pa.Table, key: str, view: str, what: str) -> list[Any]:
    if key not in table.column_names:
        raise DataValidationError(
            f"{what} for view {view!r} has no key column {key!r}; "
            f"its columns are {table.column_names}"
        )
    column = table.column(key)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    textual = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if not (pa.types.is_integer(kind) or textual or str(kind) == "string_view"):
        raise InvalidValueError(
            f"key column {key!r} of view {view!r} must hold integers or strings, got {kind}"
        )
    if column.null_count:
        first = pc.index(pc.is_null(column), True).as_py()
        raise DataValidationError(
            f"key column {key!r} of view {view!r} has {column.null_count} null value(s), "
            f"the first in row {first}; every row needs a key"
        )
    return column.to_pylist()  # type: ignore[no-any-return]


def _encode_key_columns(columns: list[list[Any]]) -> list[bytes]:
    # orjson hands back its page-sized output buffer shrunk in place: keeping a million of
    # them fragments the C heap (about 4 KB each, and slow). ``.decode().encode()`` copies
    # the value into an exactly sized object and frees the buffer at once (here and below).
    dumps = orjson.dumps
    return [dumps(values).decode().encode() for values in zip(*columns, strict=True)]


def encode_entity_keys(
    view: str, keys: Sequence[str], entity_rows: Sequence[Mapping[str, Any]] | pa.Table
) -> list[bytes]:
    """The encoded key of every entity row, in order."""
    names = sorted(check_names(keys, "keys", view))
    if isinstance(entity_rows, pa.Table | pa.RecordBatch):
        table = pa.table(entity_rows) if isinstance(entity_rows, pa.RecordBatch) else entity_rows
        columns = [_key_column(table, name, view, "entity rows") for name in names]
        return _encode_key_columns(columns)
    if isinstance(entity_rows, Mapping) or not isinstance(entity_rows, Sequence):
        raise InvalidValueError(
            f"entity rows for view {view!r} must be a list of dicts or a pyarrow table, "
            f"got {type(entity_rows).__name__}"
        )
    encoded: list[bytes] = []
    for index, row in enumerate(entity_rows):
        if not isinstance(row, Mapping):
            raise InvalidValueError(
                f"entity row {index} for view {view!r} must be a dict of join keys, "
                f"got {type(row).__name__} {row!r:.80}"
            )
        values = []
        for name in names:
            if name not in row:
                raise InvalidValueError(
                    f"entity row {index} for view {view!r} has no key {name!r}; "
                    f"it has {sorted(map(str, row))}"
                )
            values.append(_key_value(row[name], name, index, view))
        encoded.append(orjson.dumps(values).decode().encode())
    return encoded


# ---------------------------------------------------------------- values


def decode_value(value: list[Any]) -> Any:
    tag = value[0]
    if tag == "f":
        return float(value[1])
    if tag == "t":
        import pandas as pd

        return pd.Timestamp(value[1], tz=value[2])
    if tag == "d":
        return date.fromordinal(_EPOCH_ORDINAL + value[1])
    if tag == "b":
        return base64.b64decode(value[1])
    raise DataValidationError(f"stored feature value {value!r:.80} has an unknown tag {tag!r}")


_PLAIN = [getattr(pa.types, f"is_{kind}") for kind in ("integer", "floating", "boolean", "string")]
_PLAIN += [
    getattr(pa.types, f"is_{kind}") for kind in ("large_string", "timestamp", "date", "null")
]
_PLAIN += [pa.types.is_binary, pa.types.is_large_binary]


def _check_feature_type(name: str, kind: pa.DataType, view: str) -> None:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not (any(check(kind) for check in _PLAIN) or str(kind) in ("string_view", "binary_view")):
        raise InvalidValueError(
            f"feature {name!r} of view {view!r} has type {kind}; online features must be "
            "int, float, bool, string, timestamp, date or binary"
        )


def _feature_values(column: pa.ChunkedArray) -> list[Any]:
    """Python values of one feature column, tagged where JSON cannot hold them."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_floating(kind):
        if kind != pa.float64():
            column = column.cast(pa.float64())
        values: list[Any] = column.to_pylist()
        odd = pc.invert(pc.fill_null(pc.is_finite(column), True))
        if pc.any(odd).as_py():
            for i in pc.indices_nonzero(odd).to_pylist():
                values[i] = ["f", repr(values[i])]
        return values
    if pa.types.is_timestamp(kind):
        tz = kind.tz
        ns = column.cast(pa.timestamp("ns", tz)).cast(pa.int64()).to_pylist()
        return [None if v is None else ["t", v, tz] for v in ns]
    if pa.types.is_date(kind):
        days = column.cast(pa.date32()).cast(pa.int32()).to_pylist()
        return [None if v is None else ["d", v] for v in days]
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or str(kind) == "binary_view":
        raw = column.to_pylist()
        return [None if v is None else ["b", base64.b64encode(v).decode()] for v in raw]
    return column.to_pylist()  # type: ignore[no-any-return]


def _timestamps(table: pa.Table, name: str, view: str, what: str, *, nullable: bool) -> list[Any]:
    if name not in table.column_names:
        raise DataValidationError(
            f"table for view {view!r} has no {what} column {name!r}; "
            f"its columns are {table.column_names}"
        )
    column = table.column(name)
    if not pa.types.is_timestamp(column.type):
        raise InvalidValueError(
            f"{what} column {name!r} of view {view!r} must be a timestamp, got {column.type}"
        )
    if column.null_count and not nullable:
        first = pc.index(pc.is_null(column), True).as_py()
        raise DataValidationError(
            f"{what} column {name!r} of view {view!r} has {column.null_count} null value(s), "
            f"the first in row {first}; every row needs an event timestamp"
        )
    return _to_ns(column, name, view, what).cast(pa.int64()).to_pylist()  # type: ignore[no-any-return]


def _to_ns(column: pa.ChunkedArray, name: str, view: str, what: str) -> pa.ChunkedArray:
    try:
        return column.cast(pa.timestamp("ns", column.type.tz))
    except pa.ArrowInvalid as exc:
        raise DataValidationError(
            f"{what} column {name!r} of view {view!r} holds a time outside 1677..2262 "
            f"(the nanosecond range): {exc}"
        ) from exc


def as_table(table: object) -> pa.Table:
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(table, pandas.DataFrame):
        return pa.Table.from_pandas(table, preserve_index=False)
    raise InvalidValueError(
        f"table must be a pyarrow Table or a pandas DataFrame, got {type(table).__name__}"
    )


def encode_records(
    view: str,
    table: pa.Table,
    keys: Sequence[str],
    *,
    timestamp_field: str,
    created_timestamp_field: str | None,
    features: Sequence[str],
    chunk_rows: int = _WRITE_CHUNK,
) -> Iterator[RecordBatch]:
    """Validate ``table`` now, then encode the newest row per entity lazily, chunk by chunk."""
    names = sorted(check_names(keys, "keys", view))
    wanted = check_names(features, "features", view)
    for name in wanted:
        if name not in table.column_names:
            raise DataValidationError(
                f"table for view {view!r} has no feature column {name!r}; "
                f"its columns are {table.column_names}"
            )
        column = table.column(name)
        _check_feature_type(name, column.type, view)
        if pa.types.is_timestamp(column.type):  # cast now, so that encoding cannot fail later
            ns = _to_ns(column, name, view, "feature")
            table = table.set_column(table.column_names.index(name), name, ns)
    columns = [_key_column(table, name, view, "table") for name in names]
    encoded = _encode_key_columns(columns)
    event = _timestamps(table, timestamp_field, view, "timestamp", nullable=False)
    if created_timestamp_field is None:
        created: list[int | None] = [None] * table.num_rows
    else:
        created = _timestamps(table, created_timestamp_field, view, "created", nullable=True)
    selected = _newest(encoded, event, created)
    return _chunks(table, wanted, encoded, event, created, selected, chunk_rows)


def _newest(encoded: list[bytes], event: list[int], created: list[int | None]) -> list[int] | None:
    """Row numbers of the newest row per entity, or None when every entity occurs once."""
    last = dict(zip(encoded, range(len(encoded)), strict=True))
    if len(last) == len(encoded):
        return None
    best: dict[bytes, int] = {}
    for i, key in enumerate(encoded):
        j = best.get(key)
        if j is None:
            best[key] = i
            continue
        mine, theirs = created[i], created[j]
        if (event[i], MIN_NS if mine is None else mine) >= (
            event[j],
            MIN_NS if theirs is None else theirs,
        ):
            best[key] = i
    return sorted(best.values())


def _chunks(
    table: pa.Table,
    features: tuple[str, ...],
    encoded: list[bytes],
    event: list[int],
    created: list[int | None],
    selected: list[int] | None,
    chunk_rows: int,
) -> Iterator[RecordBatch]:
    total = table.num_rows if selected is None else len(selected)
    part = table.select(list(features))
    dumps = orjson.dumps
    for start in range(0, total, chunk_rows):
        stop = min(start + chunk_rows, total)
        if selected is None:
            rows = range(start, stop)
            sub = part.slice(start, stop - start)
        else:
            rows = selected[start:stop]  # type: ignore[assignment]
            sub = part.take(pa.array(rows, pa.int64()))
        values = [_feature_values(sub.column(name)) for name in features]
        payloads = [dumps((features, row)).decode().encode() for row in zip(*values, strict=True)]
        yield RecordBatch(
            keys=[encoded[i] for i in rows],
            event_ns=[event[i] for i in rows],
            created_ns=[created[i] for i in rows],
            payloads=payloads,
        )


__all__ = [
    "MIN_NS",
    "RecordBatch",
    "StoredRecord",
    "as_table",
    "check_names",
    "datetime_to_ns",
    "decode_value",
    "encode_entity_keys",
    "encode_records",
    "timedelta_to_ns",
]
