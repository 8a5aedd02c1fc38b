"""Online reads and pushes.

``online`` checks every join key against the key types of its view (declared on the entity or
taken from the source at apply), reads each view from the online store with the view's ttl
(valid iff ``now - ttl <= event_ts <= now``: the offline rule with ``now`` as the row time),
then runs the on-demand views on the same inputs as offline.

``push`` validates a frame against the view, appends it to the view's offline push log
(Parquet, see :mod:`weekend.features._sources`), then writes it to the online store, so the
online store never holds a value the offline store lacks.
"""

from __future__ import annotations

import datetime
import numbers
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import pyarrow as pa

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.features._definitions import FeatureView
from weekend.features._ondemand import compute, request_column
from weekend.features._resolve import Selection
from weekend.features._training import cast_features
from weekend.features._types import arrow_type
from weekend.features.online import OnlineResult, OnlineStore, WriteResult

Rows: TypeAlias = "list[Mapping[str, Any]] | pa.Table"
_CREATED = "__wk_created_ns"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def entity_rows(data: Any) -> Rows:
    """A list of dicts, or an Arrow table (from a pandas frame or a dict of lists too)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, Mapping):
        columns = list(data.values())
        lists = all(isinstance(v, Sequence) and not isinstance(v, str | bytes) for v in columns)
        if not columns or not lists or len({len(v) for v in columns}) != 1:
            raise InvalidValueError(
                "entity rows given as a dict must map each column to a list of values, all of "
                "one length ({'driver_id': [1, 2]}); for one row pass [{'driver_id': 1}]"
            )
        return [dict(zip(data, values, strict=True)) for values in zip(*columns, strict=True)]
    if type(data).__name__ == "DataFrame" and hasattr(data, "columns"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, list | tuple):
        for index, row in enumerate(data):
            if not isinstance(row, Mapping):
                raise InvalidValueError(
                    f"entity row {index} must be a dict of join keys, got {type(row).__name__}"
                )
        return list(data)
    raise InvalidValueError(
        "entity rows must be a list of dicts, a dict of lists, a pandas DataFrame or a pyarrow "
        f"Table, got {type(data).__name__}"
    )


def _bad_key(view: str, key: str, dtype: str, value: object, row: int) -> InvalidValueError:
    want = "an integer" if dtype == "int64" else "a string"
    return InvalidValueError(
        f"entity row {row}: key {key!r} of view {view!r} must be {want} ({dtype}), got "
        f"{type(value).__name__} {value!r:.40}"
    )


def _out_of_range(view: str, key: str, value: object, row: int) -> InvalidValueError:
    return InvalidValueError(
        f"entity row {row}: key {key!r} of view {view!r} must be an integer within 64 bits "
        f"(-2**63 to 2**63-1), got {value!r:.40}"
    )


def check_keys(view: FeatureView, rows: Rows) -> None:
    """Reject keys that are missing or of another type than the view's key types."""
    types = view.key_types
    if isinstance(rows, pa.Table):
        for key in view.join_keys:
            if key not in rows.column_names:
                raise DataValidationError(
                    f"entity rows have no column {key!r}, a join key of view {view.name!r}; "
                    f"columns are {rows.column_names}"
                )
            kind = rows.column(key).type
            if pa.types.is_dictionary(kind):
                kind = kind.value_type
            dtype = types.get(key)
            is_int = pa.types.is_integer(kind)
            is_str = pa.types.is_string(kind) or pa.types.is_large_string(kind)
            if (dtype == "int64" and not is_int) or (dtype == "string" and not is_str):
                raise InvalidValueError(
                    f"entity column {key!r} of view {view.name!r} must hold {dtype} keys, "
                    f"got {kind}"
                )
            if pa.types.is_uint64(rows.column(key).type) and rows.num_rows:
                import pyarrow.compute as pc

                top = pc.max(rows.column(key)).as_py()
                if top is not None and top > _INT64_MAX:
                    raise InvalidValueError(
                        f"entity column {key!r} of view {view.name!r} must hold integers "
                        f"within 64 bits (-2**63 to 2**63-1), got {top}"
                    )
        return
    for index, row in enumerate(rows):
        for key in view.join_keys:
            if key not in row:
                raise InvalidValueError(
                    f"entity row {index} has no key {key!r}, a join key of view {view.name!r}; "
                    f"it has {sorted(map(str, row))}"
                )
            value = row[key]
            dtype = types.get(key)
            if dtype == "string":
                if not isinstance(value, str):
                    raise _bad_key(view.name, key, dtype, value, index)
            elif type(value) is int or (
                isinstance(value, numbers.Integral) and not isinstance(value, bool)
            ):
                if not _INT64_MIN <= int(value) <= _INT64_MAX:  # no stored key matches it
                    raise _out_of_range(view.name, key, value, index)
            elif dtype == "int64":
                raise _bad_key(view.name, key, dtype, value, index)


def _request_values(rows: Rows, name: str, view: str) -> list[Any] | pa.ChunkedArray:
    if isinstance(rows, pa.Table):
        if name not in rows.column_names:
            raise DataValidationError(
                f"entity rows have no column {name!r}, a request field of on-demand view {view!r}"
            )
        return rows.column(name)
    values = []
    for index, row in enumerate(rows):
        if name not in row:
            raise InvalidValueError(
                f"entity row {index} has no field {name!r}, a request field of on-demand view "
                f"{view!r}"
            )
        values.append(row[name])
    return values


def read_online(
    store: OnlineStore,
    selection: Selection,
    rows: Rows,
    *,
    now: datetime.datetime | None = None,
) -> OnlineResult:
    """Every selected feature for every entity row, in order, with event timestamps."""
    if now is None:
        now = datetime.datetime.fromtimestamp(time.time(), datetime.UTC)
    for use in selection.views:
        check_keys(use.view, rows)
    results = {
        use.view.name: store.read(
            use.view.name,
            list(use.view.join_keys),
            rows,
            list(use.features),
            ttl=use.view.window,
            now=now,
        )
        for use in selection.views
    }
    plain = not selection.on_demand and len(results) == 1
    if plain:
        only = next(iter(results.values()))
        if only.features == selection.columns:
            return only
    computed: dict[tuple[str, str], list[Any]] = {}
    for odfv in selection.on_demand:
        inputs: dict[str, Any] = {
            name: request_column(odfv.view, name, _request_values(rows, name, odfv.view.name))
            for name in odfv.view.request_schema
        }
        for source in odfv.view.source_names:
            result = results[source]
            view = next(u.view for u in selection.views if u.view.name == source)
            for feature in view.features:
                dtype = view.features[feature]
                values = [row[feature] for row in result.rows]
                inputs[feature] = pa.array(values, type=arrow_type(dtype) if dtype else None)
        out = compute(odfv.view, pa.table(inputs))
        for feature in odfv.features:
            computed[(odfv.view.name, feature)] = out.column(feature).to_pylist()
    size = len(rows) if not isinstance(rows, pa.Table) else rows.num_rows
    out_rows: list[dict[str, Any]] = [{} for _ in range(size)]
    for output in selection.outputs:
        key = (output.view, output.feature)
        if key in computed:
            values = computed[key]
        else:
            values = [row[output.feature] for row in results[output.view].rows]
        for target, value in zip(out_rows, values, strict=True):
            target[output.column] = value
    stamps = {name: result.event_ns[name] for name, result in results.items()}
    return OnlineResult(features=selection.columns, rows=out_rows, event_ns=stamps)


def prepare_push(view: FeatureView, data: Any) -> tuple[pa.Table, pa.Table]:
    """(the push-log table, the online-store table) for a frame pushed to ``view``."""
    if isinstance(data, pa.Table):
        table = data
    elif type(data).__name__ == "DataFrame" and hasattr(data, "columns"):
        table = pa.Table.from_pandas(data, preserve_index=False)
    else:
        raise InvalidValueError(
            f"push takes a pandas DataFrame or a pyarrow Table, got {type(data).__name__}"
        )
    columns = [*view.join_keys, view.timestamp_field, *view.features]
    for column in columns:
        if column not in table.column_names:
            raise DataValidationError(
                f"pushed frame for view {view.name!r} has no column {column!r}; it needs "
                f"{columns} (every feature: a push replaces the whole online record)"
            )
    check_keys(view, table)
    stamp = pa.timestamp("ns", tz="UTC")
    naive = pa.timestamp("ns")
    out: dict[str, Any] = {key: table.column(key) for key in view.join_keys}
    fields = [view.timestamp_field]
    created = view.created_timestamp_field
    if created is not None:
        if created not in table.column_names:
            arrived = pa.array([time.time_ns()] * table.num_rows, pa.int64()).cast(stamp)
            table = table.append_column(created, arrived)
        fields.append(created)
    for name in fields:
        column = table.column(name)
        if not pa.types.is_timestamp(column.type) and not pa.types.is_date(column.type):
            raise DataValidationError(
                f"pushed column {name!r} of view {view.name!r} must hold timestamps, "
                f"got {column.type}"
            )
        try:
            aware = column.cast(stamp)  # naive times are UTC
        except pa.ArrowInvalid as exc:
            raise DataValidationError(f"pushed column {name!r}: {exc}") from exc
        if aware.null_count and name == view.timestamp_field:
            raise DataValidationError(
                f"pushed column {name!r} of view {view.name!r} has {aware.null_count} null "
                "value(s); every pushed row needs an event timestamp"
            )
        out[name] = aware
    for feature in view.features:
        out[feature] = table.column(feature)
    online = cast_features(pa.table(out), view, {f: f for f in view.features})
    log = online
    for name in fields:
        index = log.column_names.index(name)
        log = log.set_column(index, name, log.column(index).cast(naive))
    return log, online


def write_pushed(store: OnlineStore, view: FeatureView, table: pa.Table) -> WriteResult:
    """Write pushed rows with the created time the offline join uses: created, else event."""
    import pyarrow.compute as pc

    event = table.column(view.timestamp_field)
    created = event
    if view.created_timestamp_field is not None:
        created = pc.coalesce(table.column(view.created_timestamp_field), event)
    table = table.append_column(_CREATED, created)
    return store.write(
        view.name,
        list(view.join_keys),
        table,
        timestamp_field=view.timestamp_field,
        created_timestamp_field=_CREATED,
        features=list(view.features),
    )


__all__ = ["check_keys", "entity_rows", "prepare_push", "read_online", "write_pushed"]
