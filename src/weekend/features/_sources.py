"""Offline sources of feature views inside one DuckDB session, and the push log.

An :class:`OfflineSession` turns each view's source into a DuckDB FROM-item: a Parquet/CSV
file or folder is read in place, a registered dataset through its verified Parquet file, a
DuckDB query as a sub-query, and a PostgreSQL query is streamed once into a temporary Parquet
snapshot (deleted with the session). The session runs in UTC and resolves relative file paths
against the project root.

The push log: ``ws.features.push(view, frame)`` appends one Parquet file per call under
``.weekend/features/push/<view>/``. Every offline read of the view (training sets,
materialization, skew checks) is ``source UNION ALL push log``, with the log's columns cast to
the source's types, so pushed values are never visible online only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from weekend.core.duck import DuckLimits, duckdb_session
from weekend.core.errors import DataValidationError, UserInputError
from weekend.core.scratch import new_scratch_dir
from weekend.core.sql import quote_ident, sql_string
from weekend.data import Query, file_relation, write_parquet
from weekend.features._definitions import (
    DatasetSource,
    Entity,
    FeatureView,
    FileSource,
    expand_url,
)
from weekend.features._pit import check_source_columns
from weekend.features._types import dtype_from_duckdb

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from weekend.core.settings import Settings
    from weekend.data.datasets import Datasets

_INT_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)
_FAMILY = {
    "int32": "number",
    "int64": "number",
    "float32": "number",
    "float64": "number",
    "bool": "bool",
    "string": "string",
    "timestamp": "timestamp",
    "date": "date",
    "binary": "binary",
}


def epoch_ns(column: str, duckdb_type: str) -> str:
    """SQL for a timestamp column as int64 nanoseconds since the epoch (naive = UTC)."""
    if duckdb_type == "DATE":
        return f"epoch_ns(CAST({quote_ident(column)} AS TIMESTAMP))"
    return f"epoch_ns({quote_ident(column)})"


def key_dtype(duckdb_type: str) -> str | None:
    """``int64`` or ``string`` for a join-key column type; None for any other type."""
    if duckdb_type in _INT_TYPES:
        return "int64"
    if duckdb_type == "VARCHAR":
        return "string"
    return None


def push_dir(settings: Settings, view: str) -> Path:
    return settings.state_dir / "features" / "push" / view


def _family(duckdb_type: str) -> str:
    mapped = dtype_from_duckdb(duckdb_type)
    if mapped is not None:
        return _FAMILY[mapped]
    if duckdb_type.startswith("DECIMAL") or duckdb_type in ("UBIGINT", "HUGEINT"):
        return "number"
    return duckdb_type


def object_store_relation(con: duckdb.DuckDBPyConnection, view: str, url: str) -> str:
    """A FROM-item reading Parquet or CSV on object storage through fsspec (``s3fs``): a
    file, or every Parquet file under a folder."""
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a dependency of weekend
        raise DataValidationError("reading object storage needs fsspec") from None
    protocol = url.split("://", 1)[0]
    try:
        fs = fsspec.filesystem(protocol)
    except ImportError:
        raise DataValidationError(
            f"view {view!r}: reading {protocol}:// needs s3fs: pip install 'weekend[s3]'"
        ) from None
    if protocol not in con.list_filesystems():
        con.register_filesystem(fs)
    target = url.rstrip("/")
    if not fs.exists(target):
        raise DataValidationError(f"view {view!r}: source {url!r} does not exist")
    if target.endswith(".csv"):
        return f"read_csv({sql_string(target)}, auto_detect = true)"
    if fs.isdir(target):
        target = f"{target}/**/*.parquet"
    return f"read_parquet({sql_string(target)})"


class OfflineSession:
    """Views' sources as DuckDB FROM-items, for the duration of one operation."""

    def __init__(
        self,
        settings: Settings,
        datasets: Datasets,
        con: duckdb.DuckDBPyConnection,
        workdir: Path,
    ) -> None:
        self.settings = settings
        self._datasets = datasets
        self.con = con
        self._workdir = workdir
        self._raw: dict[str, str] = {}
        self._types: dict[str, dict[str, str]] = {}
        self.datasets: dict[str, str] = {}

    # -- sources ----------------------------------------------------------------------------
    def _key(self, view: FeatureView) -> str:
        return f"{view.name}\x00{view.to_json().decode()}"

    def raw_source(self, view: FeatureView) -> str:
        """The view's own source (without the push log) as a FROM-item."""
        key = self._key(view)
        if key not in self._raw:
            self._raw[key] = self._make_raw(view)
        return self._raw[key]

    def _make_raw(self, view: FeatureView) -> str:
        source = view.source
        if isinstance(source, FileSource) and source.is_url:
            return object_store_relation(self.con, view.name, source.path)
        if isinstance(source, FileSource):
            path = source.resolve(self.settings.root)
            if not path.exists():
                raise DataValidationError(
                    f"view {view.name!r}: source path {str(path)!r} does not exist"
                )
            try:
                return file_relation(path)
            except UserInputError as exc:
                raise DataValidationError(f"view {view.name!r}: {exc}") from exc
        if isinstance(source, DatasetSource):
            version = self._datasets.get(source.ref)
            self.datasets[view.name] = version.ref
            return str(version.sql())
        assert isinstance(source, Query)
        sql = source.sql.strip().rstrip(";").strip()
        if source.url is None:
            return f"({sql})"
        dest = self._workdir / f"{uuid.uuid4().hex}.parquet"
        try:
            write_parquet(Query(sql, url=expand_url(source.url)), dest, self.con)
        except UserInputError as exc:
            raise DataValidationError(f"view {view.name!r}: {exc}") from exc
        return f"read_parquet({sql_string(str(dest))})"

    def source_types(self, view: FeatureView) -> dict[str, str]:
        """Column name -> DuckDB type of the view's own source."""
        key = self._key(view)
        if key not in self._types:
            raw = self.raw_source(view)
            try:
                relation = self.con.sql(f"SELECT * FROM {raw} LIMIT 0")
            except Exception as exc:  # duckdb raises many unrelated classes
                raise DataValidationError(
                    f"view {view.name!r}: its source cannot be read: {str(exc).splitlines()[0]}"
                ) from exc
            self._types[key] = {
                c: str(t) for c, t in zip(relation.columns, relation.types, strict=True)
            }
        return self._types[key]

    def from_sql(self, view: FeatureView) -> str:
        """The source with the push log appended, as a FROM-item."""
        raw = self.raw_source(view)
        folder = push_dir(self.settings, view.name)
        if not folder.is_dir() or not any(folder.glob("*.parquet")):
            return raw
        types = self.source_types(view)
        columns = view.columns()
        pattern = sql_string(str(folder / "*.parquet"))
        log = f"read_parquet({pattern}, union_by_name = true)"
        pushed = set(self.con.sql(f"SELECT * FROM {log} LIMIT 0").columns)
        own = ", ".join(quote_ident(c) for c in columns)
        cast = ", ".join(
            f"CAST({quote_ident(c) if c in pushed else 'NULL'} AS {types[c]}) AS {quote_ident(c)}"
            for c in columns
        )
        return f"(SELECT {own} FROM {raw} UNION ALL BY NAME SELECT {cast} FROM {log})"

    # -- validation -------------------------------------------------------------------------
    def check(self, view: FeatureView) -> FeatureView:
        """Check the source against the view; return the view with key types and feature
        dtypes that were not declared taken from the source."""
        types = self.source_types(view)
        check_source_columns(view, types, "the source")
        entities = []
        for entity in view.entity_objects():
            key_types = dict(entity.key_types)
            for key in entity.join_keys:
                found = key_dtype(types[key])
                if found is None:
                    raise DataValidationError(
                        f"view {view.name!r}: join key {key!r} must hold integers or strings "
                        f"in the source, got {types[key]}"
                    )
                declared = key_types.setdefault(key, found)
                if declared != found:
                    raise DataValidationError(
                        f"view {view.name!r}: entity {entity.name!r} declares join key {key!r} "
                        f"as {declared}, but the source has {types[key]}"
                    )
            entities.append(_with_key_types(entity, key_types))
        features: dict[str, str | None] = {}
        for feature, dtype in view.features.items():
            source_type = types[feature]
            if dtype is None:
                features[feature] = dtype_from_duckdb(source_type)
                continue
            lossy = dtype.startswith("int") and source_type not in _INT_TYPES
            if _family(source_type) != _FAMILY[dtype] or lossy:
                raise DataValidationError(
                    f"view {view.name!r}: feature {feature!r} is declared {dtype}, but the "
                    f"source column has type {source_type}"
                )
            features[feature] = dtype
        return view.with_entities(entities).with_features(features)


def _with_key_types(entity: Entity, key_types: dict[str, str]) -> Entity:
    return dataclasses.replace(entity, key_types=key_types)


@contextlib.contextmanager
def offline_session(settings: Settings, datasets: Datasets) -> Iterator[OfflineSession]:
    """A private DuckDB session (see :mod:`weekend.core.duck`) and the views' sources."""
    limits = DuckLimits.from_settings(settings, "features")
    with duckdb_session(limits, search_path=settings.root) as con:
        workdir = new_scratch_dir("features")
        try:
            yield OfflineSession(settings, datasets, con, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def append_push_log(settings: Settings, view: str, table: pa.Table) -> Path:
    """Write ``table`` as a new Parquet file of the view's push log, atomically."""
    import pyarrow.parquet as pq

    folder = push_dir(settings, view)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
    tmp = folder / f".{name}.tmp"
    final = folder / f"{name}.parquet"
    try:
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


__all__ = [
    "OfflineSession",
    "append_push_log",
    "epoch_ns",
    "key_dtype",
    "offline_session",
    "push_dir",
]
