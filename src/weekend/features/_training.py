"""Training sets: the point-in-time join of the selected views, then on-demand features.

The join itself is :func:`weekend.features._pit.point_in_time_join` (the rules are in
``docs/features.md``); this module feeds it each view's source (with the push log), the view's
ttl and timestamp fields, casts every feature to its declared dtype (the same cast
materialization and pushes use, so offline and online values have one type), and runs the
on-demand views on the joined columns.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.core.hashing import sha256_bytes
from weekend.features._ondemand import check_request_fields, compute, request_column
from weekend.features._pit import ViewSpec, point_in_time_join
from weekend.features._resolve import Selection
from weekend.features._sources import OfflineSession
from weekend.features._types import arrow_type

if TYPE_CHECKING:
    from weekend.features._definitions import FeatureView


def entity_table(entity: Any) -> pa.Table:
    """The entity frame as Arrow (pandas index dropped), checked for its type."""
    if isinstance(entity, pa.Table):
        return entity
    import pandas as pd

    if isinstance(entity, pd.DataFrame):
        try:
            return pa.Table.from_pandas(entity, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataValidationError(f"entity frame cannot be converted to Arrow: {exc}") from exc
    raise InvalidValueError(
        f"entity frame must be a pandas DataFrame or a pyarrow Table, got {type(entity).__name__}"
    )


def entity_hash(table: pa.Table) -> str:
    """sha256 of the entity rows (Arrow IPC of the data, schema metadata dropped)."""
    table = table.replace_schema_metadata(None).combine_chunks()
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sha256_bytes(sink.getvalue())


def cast_features(table: pa.Table, view: FeatureView, columns: dict[str, str]) -> pa.Table:
    """Cast the view's feature columns (``feature -> column in table``) to declared dtypes."""
    for feature, column in columns.items():
        dtype = view.features.get(feature)
        if dtype is None:
            continue
        index = table.column_names.index(column)
        current = table.column(index)
        wanted = arrow_type(dtype)
        if current.type == wanted:
            continue
        try:
            cast = current.cast(wanted)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise DataValidationError(
                f"view {view.name!r}: feature {feature!r} is declared {dtype}, but its values "
                f"({current.type}) do not convert: {exc}"
            ) from exc
        table = table.set_column(index, column, cast)
    return table


def _internal(view: str, feature: str) -> str:
    return f"{view}__{feature}"


def build_training_set(
    session: OfflineSession,
    selection: Selection,
    entity: pa.Table,
    *,
    timestamp_column: str,
    strict: bool,
) -> pa.Table:
    """The entity rows (unchanged, in order) with one column per selected feature."""
    for output in selection.outputs:
        if output.column in entity.column_names:
            raise InvalidValueError(
                f"feature column {output.column!r} would overwrite the entity column of the "
                "same name; rename the column or pass full_feature_names=True "
                "(--full-feature-names)"
            )
    for use in selection.on_demand:
        check_request_fields(use.view, entity.column_names, "the entity frame")
    specs = [
        ViewSpec(
            name=use.view.name,
            source=session.from_sql(use.view),
            join_keys=use.view.join_keys,
            timestamp_field=use.view.timestamp_field,
            features=use.features,
            created_timestamp_field=use.view.created_timestamp_field,
            ttl=use.view.window,
        )
        for use in selection.views
    ]
    joined = point_in_time_join(
        session.con,
        entity,
        specs,
        timestamp_column=timestamp_column,
        strict=strict,
        full_feature_names=True,
    )
    for read in selection.views:
        mapping = {f: _internal(read.view.name, f) for f in read.features}
        joined = cast_features(joined, read.view, mapping)
    computed: dict[str, pa.ChunkedArray | pa.Array] = {}
    for odfv in selection.on_demand:
        inputs: dict[str, Any] = {
            name: request_column(odfv.view, name, entity.column(name))
            for name in odfv.view.request_schema
        }
        for source in odfv.view.source_names:
            view = next(u.view for u in selection.views if u.view.name == source)
            for feature in view.features:
                inputs[feature] = joined.column(_internal(source, feature))
        result = compute(odfv.view, pa.table(inputs) if inputs else pa.table({}))
        for feature in odfv.features:
            computed[_internal(odfv.view.name, feature)] = result.column(feature)
    columns = {name: entity.column(name) for name in entity.column_names}
    for output in selection.outputs:
        key = _internal(output.view, output.feature)
        columns[output.column] = computed[key] if key in computed else joined.column(key)
    return pa.table(columns)


__all__ = ["build_training_set", "cast_features", "entity_hash", "entity_table"]
