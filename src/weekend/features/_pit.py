"""Point-in-time (PIT) join of feature views onto an entity frame, on DuckDB.

For every entity row (key values plus a timestamp ``t``) and every requested feature, the
answer is the value from the latest source row of the view with the same keys and
``event_ts <= t`` (and ``event_ts >= t - ttl`` when the view has a ttl). Ties on event time go
to the latest created timestamp, then to the last row in source order. ``strict=True`` also
requires ``created_ts <= t``. The full rules are in ``docs/features.md``.

The plan, per view (each view is joined on its own, then the columns are put side by side in
entity order, so several views never make a cross product):

* Every timestamp becomes an ``int64`` count of nanoseconds since the epoch, UTC (naive
  timestamps are read as UTC), so zones and precisions never mix.
* The source gets a source-order number ``o`` (``source_order``: from Parquet's row numbers
  during the scan, else ``row_number() OVER ()``) and the created time
  ``c`` (the event time when the view has none or the value is null).
* Default mode: keep one row per (keys, event time), the one with the largest ``(c, o)``
  (``QUALIFY``), then ``ASOF LEFT JOIN`` on ``entity.t >= source.e``.
* Strict mode: a row becomes *visible* at ``v = max(e, c)``. A running ``arg_max`` window,
  ordered by ``v`` per key, gives at every visibility time the best row by ``(e, c, o)`` among
  the rows visible by then; ``ASOF LEFT JOIN`` on ``entity.t >= v`` then picks it.
* The ttl is checked after the match: if the best eligible row is too old, every other
  eligible row is older still, so the answer is null.

DuckDB runs the source side out of core (it spills); only the result becomes Arrow.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pyarrow as pa

from weekend.core.errors import DataValidationError, UserInputError
from weekend.core.names import validate_name
from weekend.core.sql import quote_ident

if TYPE_CHECKING:
    import pandas as pd

_PREFIX = "__wk_pit_"
_NS_PER_US = 1_000
_NUMBER_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
    }
)
TEMPORAL_TYPES = frozenset(
    {
        "DATE",
        "TIMESTAMP",
        "TIMESTAMP_S",
        "TIMESTAMP_MS",
        "TIMESTAMP_NS",
        "TIMESTAMP WITH TIME ZONE",
        "TIMESTAMPTZ_NS",
    }
)


@dataclass(frozen=True)
class ViewSpec:
    """What the join needs to know about one feature view.

    ``source`` is anything DuckDB accepts after ``FROM``: a registered relation or table name,
    ``read_parquet('dir/*.parquet')``, or a parenthesised sub-query.
    """

    name: str
    source: str
    join_keys: tuple[str, ...]
    timestamp_field: str
    features: tuple[str, ...]
    created_timestamp_field: str | None = None
    ttl: datetime.timedelta | None = None

    def __post_init__(self) -> None:
        validate_name(self.name, "feature view name")
        for attr in ("join_keys", "features"):
            value = getattr(self, attr)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise UserInputError(
                    f"view {self.name!r}: {attr} must be a sequence of column names, got {value!r}"
                )
            object.__setattr__(self, attr, tuple(value))
        if not self.features:
            raise UserInputError(f"view {self.name!r}: features must name at least one column")
        for attr, value in (("join_keys", self.join_keys), ("features", self.features)):
            if len(set(value)) != len(value):
                raise UserInputError(f"view {self.name!r}: {attr} has duplicates: {value!r}")
        if not isinstance(self.source, str) or not self.source.strip():
            raise UserInputError(f"view {self.name!r}: source must be a non-empty SQL FROM item")
        if self.ttl is not None and (
            not isinstance(self.ttl, datetime.timedelta) or self.ttl < datetime.timedelta(0)
        ):
            raise UserInputError(
                f"view {self.name!r}: ttl must be a non-negative timedelta or None, "
                f"got {self.ttl!r}"
            )

    def output_name(self, feature: str, full_feature_names: bool) -> str:
        """The column name of ``feature`` in a training set."""
        return f"{self.name}__{feature}" if full_feature_names else feature


_VIRTUAL = {"file_index", "file_row_number"}


def source_order(from_item: str, columns: Iterable[str]) -> str:
    """An expression numbering a source's rows in the order DuckDB reads them (files in list
    or glob order, rows in file order), for the last-row-wins rule of ties.

    For a Parquet source it is built from DuckDB's virtual columns ``file_index`` and
    ``file_row_number``, known during the parallel scan; ``row_number() OVER ()``, the
    fallback for other sources (and for Parquet files with a column of those names, which
    hides the virtual one), is a serial pass over the whole source that also keeps filters
    and joins from reaching the scan. Same numbers in the same order, for up to 2**40 rows
    per file.
    """
    if from_item.startswith("read_parquet(") and not _VIRTUAL & {c.lower() for c in columns}:
        return "((CAST(file_index AS BIGINT) << 40) + CAST(file_row_number AS BIGINT))"
    return "row_number() OVER ()"


def _family(duckdb_type: str) -> str:
    """Group DuckDB types whose values compare meaningfully with ``=``."""
    if duckdb_type in _NUMBER_TYPES or duckdb_type.startswith("DECIMAL"):
        return "number"
    if duckdb_type == "VARCHAR" or duckdb_type.startswith("ENUM"):
        return "string"
    if duckdb_type in TEMPORAL_TYPES:
        return "timestamp"
    return duckdb_type


def _entity_to_arrow(
    con: duckdb.DuckDBPyConnection, entity: pd.DataFrame | pa.Table | str
) -> pa.Table:
    if isinstance(entity, pa.Table):
        return entity
    if isinstance(entity, str):
        try:
            return con.sql(f"SELECT * FROM {entity}").to_arrow_table()
        except duckdb.Error as exc:
            raise UserInputError(f"entity source {entity!r} cannot be read: {exc}") from exc
    import pandas as pd

    if isinstance(entity, pd.DataFrame):
        try:
            return pa.Table.from_pandas(entity, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataValidationError(f"entity frame cannot be converted: {exc}") from exc
    raise UserInputError(
        "entity must be a pandas DataFrame, a pyarrow Table or a DuckDB FROM item, "
        f"got {type(entity).__name__}"
    )


def _timestamps_ns(table: pa.Table, column: str) -> pa.ChunkedArray:
    """The entity timestamps as int64 nanoseconds since the epoch, UTC."""
    values = table[column]
    kind = values.type
    try:
        if pa.types.is_timestamp(kind):
            if kind.unit != "ns":
                values = values.cast(pa.timestamp("ns", tz=kind.tz))
        elif pa.types.is_date(kind):
            values = values.cast(pa.timestamp("ns"))
        else:
            raise DataValidationError(
                f"entity column {column!r} must hold timestamps (or dates), got {kind}; "
                "convert it, e.g. with pandas.to_datetime"
            )
        return values.cast(pa.int64())
    except pa.ArrowInvalid as exc:
        raise DataValidationError(
            f"entity column {column!r} has timestamps outside the nanosecond range "
            f"(years 1677 to 2262): {exc}"
        ) from exc


def _source_types(con: duckdb.DuckDBPyConnection, view: ViewSpec) -> dict[str, str]:
    try:
        relation = con.sql(f"SELECT * FROM {view.source} LIMIT 0")
        return {
            name: str(kind) for name, kind in zip(relation.columns, relation.types, strict=True)
        }
    except duckdb.Error as exc:
        raise UserInputError(
            f"view {view.name!r}: source {view.source!r} cannot be read: {exc}"
        ) from exc


def _entity_types(con: duckdb.DuckDBPyConnection, table: pa.Table) -> dict[str, str]:
    name = _PREFIX + "types_" + uuid.uuid4().hex
    con.register(name, table.slice(0, 0))
    try:
        relation = con.sql(f"SELECT * FROM {quote_ident(name)}")
        return {col: str(kind) for col, kind in zip(relation.columns, relation.types, strict=True)}
    finally:
        con.unregister(name)


def check_source_columns(view: Any, types: Mapping[str, str], source: str) -> None:
    """Every column a view declares is in its source, and its time fields are temporal.

    ``view`` is a :class:`ViewSpec` or a feature view (same attribute names); ``types`` maps
    the source's columns to DuckDB types; ``source`` names the source in messages.
    """
    declared = [(key, "join key") for key in view.join_keys]
    declared.append((view.timestamp_field, "timestamp field"))
    if view.created_timestamp_field:
        declared.append((view.created_timestamp_field, "created timestamp field"))
    declared += [(feature, "feature") for feature in view.features]
    for column, role in declared:
        if column not in types:
            raise DataValidationError(
                f"view {view.name!r}: {source} has no column {column!r} "
                f"(declared as {role}); its columns are {list(types)}"
            )
    for field in (view.timestamp_field, view.created_timestamp_field):
        if field and types[field] not in TEMPORAL_TYPES:
            raise DataValidationError(
                f"view {view.name!r}: column {field!r} must be a timestamp or a date, "
                f"got {types[field]}"
            )


def _check(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    views: Sequence[ViewSpec],
    timestamp_column: str,
    full_feature_names: bool,
) -> list[dict[str, str]]:
    """Validate everything before any heavy work; return each view's source column types."""
    columns = table.column_names
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise DataValidationError(f"entity frame has duplicate column names: {dupes}")
    if timestamp_column not in columns:
        raise DataValidationError(
            f"entity frame has no timestamp column {timestamp_column!r}; columns are {columns}. "
            "Pass timestamp_column= to name the one that holds the row times"
        )
    if not views:
        raise UserInputError("views must name at least one feature view")
    _timestamps_ns(table.slice(0, 0), timestamp_column)
    entity_types = _entity_types(con, table)
    owners: dict[str, str] = {}
    all_types = []
    for view in views:
        source_types = _source_types(con, view)
        check_source_columns(view, source_types, f"source {view.source!r}")
        for key in view.join_keys:
            if key not in entity_types:
                raise DataValidationError(
                    f"entity frame has no column {key!r}, a join key of view {view.name!r}; "
                    f"columns are {columns}"
                )
            mine, theirs = entity_types[key], source_types[key]
            if mine != '"NULL"' and _family(mine) != _family(theirs):
                raise DataValidationError(
                    f"join key {key!r}: the entity frame has {mine} but view {view.name!r} "
                    f"has {theirs}; cast one side so both are the same kind of value"
                )
        for feature in view.features:
            out = view.output_name(feature, full_feature_names)
            if out in columns:
                raise UserInputError(
                    f"feature column {out!r} of view {view.name!r} would overwrite the entity "
                    "column of the same name; rename it or pass full_feature_names=True "
                    "(--full-feature-names)"
                )
            if out in owners:
                hint = "; pass full_feature_names=True (--full-feature-names)"
                hint = "" if full_feature_names else hint
                raise UserInputError(
                    f"feature column {out!r} is produced by both view {owners[out]!r} and "
                    f"view {view.name!r}{hint}"
                )
            owners[out] = view.name
        all_types.append(source_types)
    return all_types


def validate_entity_frame(
    con: duckdb.DuckDBPyConnection,
    entity: pd.DataFrame | pa.Table | str,
    views: Sequence[ViewSpec],
    *,
    timestamp_column: str = "event_timestamp",
    full_feature_names: bool = False,
) -> None:
    """Raise a :class:`UserInputError` (often a :class:`DataValidationError`) for bad input.

    Checks that the entity frame has the timestamp column (of a timestamp type) and every
    join key, that each key has the same kind of values as in the source, that every source
    has the columns its view declares, and that no two output columns share a name.
    """
    table = _entity_to_arrow(con, entity)
    _check(con, table, views, timestamp_column, full_feature_names)


def _epoch_ns(column: str, duckdb_type: str) -> str:
    quoted = quote_ident(column)
    if duckdb_type == "DATE":
        return f"epoch_ns(CAST({quoted} AS TIMESTAMP))"
    return f"epoch_ns({quoted})"


def _source_sql(view: ViewSpec, types: dict[str, str]) -> str:
    """The source projected to internal names, with ``e``, ``c`` and ``o`` added."""
    event = _epoch_ns(view.timestamp_field, types[view.timestamp_field])
    created = event
    if view.created_timestamp_field is not None:
        field = view.created_timestamp_field
        created = f"coalesce({_epoch_ns(field, types[field])}, {event})"
    items = [f"{quote_ident(key)} AS k{i}" for i, key in enumerate(view.join_keys)]
    items += [f"{event} AS e", f"{created} AS c", f"{source_order(view.source, types)} AS o"]
    items += [f"{quote_ident(feature)} AS f{i}" for i, feature in enumerate(view.features)]
    not_null = " AND ".join(
        [f"k{i} IS NOT NULL" for i in range(len(view.join_keys))] + ["e IS NOT NULL"]
    )
    return f"SELECT * FROM (SELECT {', '.join(items)} FROM {view.source}) WHERE {not_null}"


def _view_sql(
    view: ViewSpec,
    types: dict[str, str],
    entity_name: str,
    key_columns: dict[str, str],
    strict: bool,
) -> str:
    """One view's query: one row per entity row, in entity order, the features as f0, f1 ..."""
    keys = [f"k{i}" for i in range(len(view.join_keys))]
    on = [f"x.{key_columns[key]} = m.k{i}" for i, key in enumerate(view.join_keys)]
    partition = f"PARTITION BY {', '.join(keys)} " if keys else ""
    n = len(view.features)
    if strict:
        packed = ", ".join(["e := e"] + [f"f{i} := f{i}" for i in range(n)])
        matched = (
            f"SELECT {', '.join([*keys, 'greatest(e, c) AS v'])}, "
            f"arg_max(struct_pack({packed}), struct_pack(e := e, c := c, o := o)) OVER "
            f"({partition}ORDER BY greatest(e, c) "
            "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS b FROM src"
        )
        on.append("x.ts >= m.v")
        event, values = "m.b.e", [f"m.b.f{i}" for i in range(n)]
    else:
        group = ", ".join([*keys, "e"])
        matched = (
            f"SELECT * FROM src QUALIFY row_number() OVER "
            f"(PARTITION BY {group} ORDER BY c DESC, o DESC) = 1"
        )
        on.append("x.ts >= m.e")
        event, values = "m.e", [f"m.f{i}" for i in range(n)]
    if view.ttl is not None:
        ttl_ns = (view.ttl // datetime.timedelta(microseconds=1)) * _NS_PER_US
        fresh = f"CAST(x.ts AS HUGEINT) - {event} <= CAST({ttl_ns} AS HUGEINT)"
        values = [f"CASE WHEN {fresh} THEN {value} END" for value in values]
    select = ", ".join(f"{value} AS f{i}" for i, value in enumerate(values))
    return (
        f"WITH src AS ({_source_sql(view, types)}), matched AS ({matched}) "
        f"SELECT {select} FROM {quote_ident(entity_name)} AS x "
        f"ASOF LEFT JOIN matched AS m ON {' AND '.join(on)} ORDER BY x.rid"
    )


def _window_sql(
    view: ViewSpec,
    types: dict[str, str],
    entity_name: str,
    key_columns: dict[str, str],
    strict: bool,
) -> str:
    """The other plan, for a view whose ttl keeps few candidates per entity row: a hash join
    on the keys within the ttl, then the best candidate (latest event, then created, then
    source order) per entity row. Same answers as the ASOF plan, without its passes over
    the whole source; quadratic in the candidates, so only chosen when they are few."""
    if view.ttl is None or not view.join_keys:  # the caller checks; this keeps mypy sure
        raise UserInputError(f"view {view.name!r}: the window plan needs a ttl and join keys")
    ttl_ns = (view.ttl // datetime.timedelta(microseconds=1)) * _NS_PER_US
    on = [f"x.{key_columns[key]} = s.k{i}" for i, key in enumerate(view.join_keys)]
    on += ["s.e <= x.ts", f"CAST(x.ts AS HUGEINT) - s.e <= CAST({ttl_ns} AS HUGEINT)"]
    if strict:
        on.append("s.c <= x.ts")
    n = len(view.features)
    picked = ", ".join(f"s.f{i}" for i in range(n))
    select = ", ".join(f"m.f{i} AS f{i}" for i in range(n))
    entity = quote_ident(entity_name)
    return (
        f"WITH src AS ({_source_sql(view, types)}), "
        f"m AS (SELECT x.rid, {picked} FROM {entity} AS x JOIN src AS s ON {' AND '.join(on)} "
        "QUALIFY row_number() OVER (PARTITION BY x.rid ORDER BY s.e DESC, s.c DESC, s.o DESC) "
        f"= 1) SELECT {select} FROM {entity} AS x LEFT JOIN m ON m.rid = x.rid ORDER BY x.rid"
    )


# The window plan is chosen when an entity row has at most this many candidate source rows
# on average (rows per key, times the share of the source's time span that the ttl covers).
WINDOW_PLAN_MAX_CANDIDATES = 16.0
_FILE_SOURCES = ("read_parquet(", "read_csv(", "read_csv_auto(")


def _use_window_plan(con: duckdb.DuckDBPyConnection, view: ViewSpec, types: dict[str, str]) -> bool:
    """Estimate the candidates per entity row from one cheap aggregate over a file source.

    Query sources are never scanned twice for this (they may be expensive): they take ASOF.
    """
    if view.ttl is None or not view.join_keys:
        return False
    if not view.source.lstrip().lower().startswith(_FILE_SOURCES):
        return False
    event = _epoch_ns(view.timestamp_field, types[view.timestamp_field])
    keys = ", ".join(quote_ident(key) for key in view.join_keys)
    rows = con.execute(
        f"SELECT count(*), approx_count_distinct(hash({keys})), min({event}), max({event}) "
        f"FROM {view.source}"
    ).fetchall()
    row = rows[0] if rows else None
    if row is None or not row[0] or not row[1] or row[2] is None:
        return False
    rows_per_key = row[0] / row[1]
    span = max(int(row[3]) - int(row[2]), 1)
    ttl_ns = (view.ttl // datetime.timedelta(microseconds=1)) * _NS_PER_US
    return bool(rows_per_key * min(1.0, ttl_ns / span) <= WINDOW_PLAN_MAX_CANDIDATES)


def _join_view(
    con: duckdb.DuckDBPyConnection,
    view: ViewSpec,
    types: dict[str, str],
    entity_name: str,
    key_columns: dict[str, str],
    strict: bool,
    plan: str,
) -> pa.Table:
    """One view's features (columns ``f0``, ``f1`` ...) for every entity row, in row order."""
    if plan == "window":
        windowed = view.ttl is not None and bool(view.join_keys)
    else:
        windowed = plan == "auto" and _use_window_plan(con, view, types)
    build = _window_sql if windowed else _view_sql
    sql = build(view, types, entity_name, key_columns, strict)
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.ConversionException as exc:
        raise DataValidationError(
            f"view {view.name!r}: a timestamp does not fit in int64 nanoseconds "
            f"(years 1677 to 2262): {_first_line(exc)}"
        ) from exc
    except duckdb.Error as exc:
        raise DataValidationError(
            f"view {view.name!r}: the point-in-time join failed: {_first_line(exc)}"
        ) from exc


def point_in_time_join(
    con: duckdb.DuckDBPyConnection,
    entity: pd.DataFrame | pa.Table | str,
    views: Sequence[ViewSpec],
    *,
    timestamp_column: str = "event_timestamp",
    strict: bool = False,
    full_feature_names: bool = False,
    plan: Literal["auto", "asof", "window"] = "auto",
) -> pa.Table:
    """Join every view's features onto the entity rows as of each row's timestamp.

    Returns the entity columns unchanged and in order (same rows, same order, duplicates
    kept), then one column per feature, named ``feature`` or ``view__feature`` when
    ``full_feature_names`` is true. A feature with no eligible source row is null.

    ``plan``: ``"asof"`` (an ASOF join; any history length), ``"window"`` (a hash join
    within the ttl, for views with a ttl and join keys; others take ASOF) or ``"auto"``
    (window when a file source's statistics promise few candidates per entity row).
    """
    if plan not in ("auto", "asof", "window"):
        raise UserInputError(f"plan must be 'auto', 'asof' or 'window', got {plan!r}")
    table = _entity_to_arrow(con, entity)
    source_types = _check(con, table, views, timestamp_column, full_feature_names)
    key_columns: dict[str, str] = {}
    for view in views:
        for key in view.join_keys:
            key_columns.setdefault(key, f"k{len(key_columns)}")
    probe = pa.table(
        {
            "rid": pa.array(range(table.num_rows), pa.int64()),
            "ts": _timestamps_ns(table, timestamp_column),
            **{internal: table[key] for key, internal in key_columns.items()},
        }
    )
    entity_name = _PREFIX + uuid.uuid4().hex
    con.register(entity_name, probe)
    try:
        for view, types in zip(views, source_types, strict=True):
            result = _join_view(con, view, types, entity_name, key_columns, strict, plan)
            for i, feature in enumerate(view.features):
                table = table.append_column(
                    view.output_name(feature, full_feature_names), result[f"f{i}"]
                )
    finally:
        con.unregister(entity_name)
    return table


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


__all__ = ["ViewSpec", "point_in_time_join", "source_order", "validate_entity_frame"]
