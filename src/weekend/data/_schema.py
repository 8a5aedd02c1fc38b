"""The schema of a dataset, inferred by DuckDB, and the difference between two schemas.

A :class:`Schema` lists each column with its column type (``int``, ``float``, ``bool``,
``string``, ``category``, ``date``, ``timestamp``, ``binary``, ``other``: the vocabulary of
:mod:`weekend.core.types`) next to the exact DuckDB type, whether nulls occur, the allowed
categories of low-cardinality text columns, the observed range of numeric and temporal
columns and, for each declared key set, whether its values were unique. It round-trips
through plain JSON (``to_dict`` / ``from_dict``).

Rules taken here:

- NaN in a floating column counts as missing (as pandas and pandera count it).
- ``VARCHAR`` columns become ``category`` with an allowed set when they have at most
  ``max_categories`` distinct values *and* values repeat (distinct <= half the non-null rows),
  so a column of a few unique identifiers is not frozen into a closed set. ``ENUM`` columns
  (and pandas categoricals seen through DuckDB) are always ``category``.
- Timestamps with a time zone are kept in UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from weekend.core.errors import InvalidValueError
from weekend.core.sql import quote_ident
from weekend.core.types import (
    COLUMN_TYPES,
    NUMERIC_TYPES,
    TEMPORAL_TYPES,
    TEXT_TYPES,
    ColumnType,
    column_type,
    from_duckdb,
    parse,
)

if TYPE_CHECKING:
    import duckdb

SCHEMA_FORMAT = 1

Scalar = int | float | datetime | date
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


def logical_type_of(duckdb_type: str) -> ColumnType:
    """The column type of a DuckDB type string (``str(DuckDBPyType)``); see
    :func:`weekend.core.types.from_duckdb`."""
    return column_type(from_duckdb(duckdb_type))


def stored_type(value: object, physical: object, what: str) -> ColumnType:
    """The column type of a stored schema or profile column (``what`` names it in errors).

    Records written before the shared vocabulary had other words for two kinds of columns:
    ``other`` for a ``BLOB`` (now ``binary``) and the element's type for a list such as
    ``VARCHAR[]`` (now ``other``). Where the physical type says ``binary`` or ``other``, it
    decides; elsewhere the record's own type stands (string or category is the data's choice).
    """
    logical = column_type(parse(value, f"{what}: type", allowed=COLUMN_TYPES))
    if isinstance(physical, str) and physical:
        derived = logical_type_of(physical)
        if derived in ("binary", "other"):
            return derived
    return logical


def source_sql(relation_sql: str) -> str:
    """A SELECT for ``relation_sql``: a query, DuckDB's ``FROM ...`` shorthand or a table name."""
    text = relation_sql.strip().rstrip(";").strip()
    if not text:
        raise InvalidValueError(
            "relation_sql must be a SQL query or a table name, got an empty string"
        )
    if _IDENT.match(text):
        return "SELECT * FROM " + ".".join(quote_ident(part) for part in text.split("."))
    return text


def describe(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    """The (name, DuckDB type) of each column of a query, in order."""
    import duckdb

    try:
        rel = con.sql(sql)
    except duckdb.Error as exc:
        raise InvalidValueError(f"relation_sql could not be planned by DuckDB: {exc}") from exc
    if rel is None:
        raise InvalidValueError(f"relation_sql must return rows, got a statement: {sql[:80]!r}")
    return [(str(name), str(kind)) for name, kind in zip(rel.columns, rel.types, strict=True)]


def run_query(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None
) -> tuple[Any, ...]:
    """Run one aggregate query (named ``$parameters``) and return its single row."""
    import duckdb

    try:
        rows = con.execute(sql, dict(params or {})).fetchall()
    except duckdb.Error as exc:
        raise InvalidValueError(f"DuckDB could not compute the aggregate: {exc}") from exc
    if len(rows) != 1:
        raise AssertionError("an aggregate without GROUP BY returns one row")
    return tuple(rows[0])


def plain(value: object) -> Scalar | None:
    """A DuckDB result value as a plain Python scalar (UTC for aware timestamps)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, int | float | date):
        return value
    raise InvalidValueError(f"unsupported value {value!r} of type {type(value).__name__}")


def jsonable(value: object) -> Any:
    """A value as something the ``json`` module writes without help."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return float(value)
    if isinstance(value, tuple | list):
        return [jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item())
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def parse_scalar(logical: str, value: object) -> Scalar | None:
    """The inverse of :func:`jsonable` for a bound of a column of type ``logical``."""
    if value is None:
        return None
    if logical == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if logical == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise InvalidValueError(
        f"a bound of a {logical} column must be a number or ISO text, got {value!r}"
    )


@dataclass(frozen=True)
class ColumnSchema:
    """One column of a schema."""

    name: str
    logical_type: ColumnType
    physical_type: str
    nullable: bool = True
    categories: tuple[str, ...] | None = None
    min: Scalar | None = None
    max: Scalar | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.logical_type,
            "physical_type": self.physical_type,
            "nullable": self.nullable,
            "categories": None if self.categories is None else list(self.categories),
            "min": jsonable(self.min),
            "max": jsonable(self.max),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSchema:
        name = _field(data, "name", "column")
        logical = stored_type(
            _field(data, "type", f"column {name!r}"), data.get("physical_type"), f"column {name!r}"
        )
        cats = data.get("categories")
        return cls(
            name=str(name),
            logical_type=logical,
            physical_type=str(data.get("physical_type", "")),
            nullable=bool(data.get("nullable", True)),
            categories=None if cats is None else tuple(str(c) for c in cats),
            min=parse_scalar(logical, data.get("min")),
            max=parse_scalar(logical, data.get("max")),
        )


@dataclass(frozen=True)
class KeySchema:
    """A declared key set and whether its values were unique when inferred."""

    columns: tuple[str, ...]
    unique: bool
    duplicate_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "unique": self.unique,
            "duplicate_rows": self.duplicate_rows,
        }


@dataclass(frozen=True)
class Schema:
    """The columns (in table order) and key sets of a dataset."""

    columns: tuple[ColumnSchema, ...]
    keys: tuple[KeySchema, ...] = ()
    _by_name: dict[str, ColumnSchema] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {col.name: col for col in self.columns})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def column(self, name: str) -> ColumnSchema:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidValueError(
                f"column {name!r} is not in the schema; it has: {', '.join(self.names)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SCHEMA_FORMAT,
            "columns": [col.to_dict() for col in self.columns],
            "keys": [key.to_dict() for key in self.keys],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        columns = _field(data, "columns", "schema")
        keys = [
            KeySchema(
                columns=tuple(str(c) for c in _field(key, "columns", "schema key")),
                unique=bool(key.get("unique", False)),
                duplicate_rows=int(key.get("duplicate_rows", 0)),
            )
            for key in data.get("keys", ())
        ]
        return cls(tuple(ColumnSchema.from_dict(col) for col in columns), tuple(keys))


def _field(data: Mapping[str, Any], name: str, what: str) -> Any:
    if not isinstance(data, Mapping):
        raise InvalidValueError(f"{what} must be a mapping, got {type(data).__name__}")
    if name not in data:
        raise InvalidValueError(f"{what} is missing the field {name!r}; it has {sorted(data)}")
    return data[name]


def key_sets(
    keys: Sequence[str | Sequence[str]], available: Sequence[str]
) -> list[tuple[str, ...]]:
    """Normalise ``keys``: each item is a key set, a plain string a one-column key set."""
    if isinstance(keys, str):
        keys = [keys]
    result = []
    for key in keys:
        cols = (key,) if isinstance(key, str) else tuple(key)
        if not cols:
            raise InvalidValueError("keys: a key set must name at least one column, got ()")
        for col in cols:
            if col not in available:
                raise InvalidValueError(
                    f"keys: column {col!r} is not in the data; it has: {', '.join(available)}"
                )
        result.append(cols)
    return result


def infer_schema(
    con: duckdb.DuckDBPyConnection,
    relation_sql: str,
    *,
    keys: Sequence[str | Sequence[str]] = (),
    max_categories: int = 50,
) -> Schema:
    """Infer the schema of ``relation_sql`` with DuckDB (two or three aggregate queries).

    ``keys`` lists key sets whose uniqueness is checked and recorded; a plain string is a
    one-column key set, a tuple of names a composite one.
    """
    if max_categories < 0:
        raise InvalidValueError(f"max_categories must be >= 0, got {max_categories}")
    sql = source_sql(relation_sql)
    cols = describe(con, sql)
    keysets = key_sets(keys, [name for name, _ in cols])
    exprs = ["count(*)"]
    for name, physical in cols:
        q, logical = quote_ident(name), logical_type_of(physical)
        exprs.append(f"count({q})")
        exprs.append(f"count(*) FILTER (WHERE isnan({q}))" if logical == "float" else "0")
        if logical in NUMERIC_TYPES | TEMPORAL_TYPES:
            keep = f" FILTER (WHERE isfinite({q}))" if logical == "float" else ""
            exprs += [f"min({q}){keep}", f"max({q}){keep}"]
        elif logical in TEXT_TYPES:
            exprs += [f"approx_count_distinct({q})", "NULL"]
        else:
            exprs += ["NULL", "NULL"]
    row = run_query(con, f"SELECT {', '.join(exprs)} FROM ({sql}) AS _wk_src")
    n_rows = int(row[0])
    stats = [row[1 + 4 * i : 5 + 4 * i] for i in range(len(cols))]
    # exact distinct values for text columns that look small
    approx = {
        i: int(stats[i][2]) for i, (_, p) in enumerate(cols) if logical_type_of(p) in TEXT_TYPES
    }
    small = small_text_columns(cols, approx, max_categories)
    distinct: dict[int, list[str]] = {}
    if small:
        lists = ", ".join(
            f"list(DISTINCT CAST({quote_ident(cols[i][0])} AS VARCHAR))" for i in small
        )
        values = run_query(con, f"SELECT {lists} FROM ({sql}) AS _wk_src")
        distinct = {
            i: sorted(v for v in vals or () if v is not None)
            for i, vals in zip(small, values, strict=True)
        }
    key_schemas = [check_key(con, sql, ks) for ks in keysets]
    return build_schema(cols, n_rows, stats, distinct, key_schemas, max_categories)


def small_text_columns(
    cols: Sequence[tuple[str, str]], approx_distinct: Mapping[int, int], max_categories: int
) -> list[int]:
    """The text columns whose approximate distinct count says their values may be listed
    (HyperLogLog is within a few percent, hence the margin)."""
    return [
        i
        for i, (_, physical) in enumerate(cols)
        if logical_type_of(physical) in TEXT_TYPES and approx_distinct[i] <= 2 * max_categories + 8
    ]


def build_schema(
    cols: Sequence[tuple[str, str]],
    n_rows: int,
    stats: Sequence[Sequence[Any]],
    distinct: Mapping[int, list[str]],
    key_schemas: Sequence[KeySchema],
    max_categories: int = 50,
) -> Schema:
    """The schema from per-column ``(non_null, nan, min, max)`` (min and max only read for
    numeric and temporal columns) and the sorted distinct values of the text columns that
    :func:`small_text_columns` picked. :func:`infer_schema` and the profile's combined pass
    both end here, so they cannot disagree."""
    columns = []
    for i, (name, physical) in enumerate(cols):
        non_null, nan, lo, hi = stats[i]
        logical = logical_type_of(physical)
        missing = n_rows - int(non_null) + int(nan)
        cats = distinct.get(i)
        categories = None
        if cats is not None and len(cats) <= max_categories:
            present = int(non_null) - int(nan)
            if cats and (logical == "category" or 2 * len(cats) <= present):
                categories, logical = tuple(cats), "category"
        numeric_range = logical in NUMERIC_TYPES | TEMPORAL_TYPES
        columns.append(
            ColumnSchema(
                name=name,
                logical_type=logical,
                physical_type=physical,
                nullable=missing > 0,
                categories=categories,
                min=plain(lo) if numeric_range else None,
                max=plain(hi) if numeric_range else None,
            )
        )
    return Schema(tuple(columns), tuple(key_schemas))


def check_key(con: duckdb.DuckDBPyConnection, sql: str, cols: tuple[str, ...]) -> KeySchema:
    group = ", ".join(quote_ident(c) for c in cols)
    row = run_query(
        con,
        f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM ({sql}) AS _wk_src "
        f"GROUP BY {group} HAVING count(*) > 1) AS _wk_dups",
    )
    return KeySchema(columns=cols, unique=int(row[0]) == 0, duplicate_rows=int(row[1]))


@dataclass(frozen=True)
class Change:
    """One difference between two schemas or profiles (``before`` -> ``after``)."""

    kind: str
    column: str | None
    before: Any
    after: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "column": self.column,
            "before": jsonable(self.before),
            "after": jsonable(self.after),
            "message": self.message,
        }


def column_changes(before: Sequence[str], after: Sequence[str]) -> list[Change]:
    """Added and removed column names, in the order they appear."""
    changes = [
        Change("column_removed", name, name, None, f"column {name!r} was removed")
        for name in before
        if name not in after
    ]
    changes += [
        Change("column_added", name, None, name, f"column {name!r} was added")
        for name in after
        if name not in before
    ]
    return changes


def type_change(name: str, before: str, after: str) -> list[Change]:
    """A ``type_changed`` change for column ``name``, or none when its type is the same."""
    if before == after:
        return []
    message = f"column {name!r} changed type {before} -> {after}"
    return [Change("type_changed", name, before, after, message)]


def category_changes(name: str, added: Sequence[str], removed: Sequence[str]) -> list[Change]:
    """``categories_added`` / ``categories_removed`` changes for column ``name`` (the first
    ten named in the message), or none."""
    changes = []
    if added:
        message = f"column {name!r} has new categories {list(added)[:10]}"
        changes.append(Change("categories_added", name, None, list(added), message))
    if removed:
        message = f"column {name!r} lost categories {list(removed)[:10]}"
        changes.append(Change("categories_removed", name, list(removed), None, message))
    return changes


def schema_diff(a: Schema, b: Schema) -> tuple[Change, ...]:
    """What changed from schema ``a`` to schema ``b``, column by column in ``b``'s order."""
    changes = column_changes(a.names, b.names)
    for new in b.columns:
        if new.name not in a:
            continue
        old, name = a.column(new.name), new.name
        changes += type_change(name, old.logical_type, new.logical_type)
        if old.nullable != new.nullable:
            now = "nullable" if new.nullable else "not nullable"
            changes.append(
                Change(
                    "nullable_changed",
                    name,
                    old.nullable,
                    new.nullable,
                    f"column {name!r} is now {now}",
                )
            )
        if old.categories is not None and new.categories is not None:
            added = sorted(set(new.categories) - set(old.categories))
            removed = sorted(set(old.categories) - set(new.categories))
            changes += category_changes(name, added, removed)
        if (old.min, old.max) != (new.min, new.max) and old.logical_type == new.logical_type:
            changes.append(
                Change(
                    "range_changed",
                    name,
                    [old.min, old.max],
                    [new.min, new.max],
                    f"column {name!r} range [{old.min}, {old.max}] -> [{new.min}, {new.max}]",
                )
            )
    old_keys = {key.columns: key for key in a.keys}
    for key in b.keys:
        was = old_keys.get(key.columns)
        if was is not None and was.unique != key.unique:
            state = "unique" if key.unique else f"not unique ({key.duplicate_rows} duplicate rows)"
            changes.append(
                Change(
                    "key_uniqueness_changed",
                    ",".join(key.columns),
                    was.unique,
                    key.unique,
                    f"key ({', '.join(key.columns)}) is now {state}",
                )
            )
    return tuple(changes)
