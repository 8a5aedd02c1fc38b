"""The dataset service: immutable, content-addressed versions with schema and profile.

``ws.datasets.register("flights", frame)`` stores the data as Parquet in the artifact store,
identified by the sha256 of its bytes (registering identical data again returns the same
version), with its inferred schema and its profile. References are ``"name"`` (the latest
version) or ``"name/3"``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from weekend.catalog.tables_registry import dataset_versions, datasets
from weekend.core import refs
from weekend.core.duck import DuckLimits, duckdb_session
from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.core.ids import new_id, now_ms
from weekend.core.names import validate_name
from weekend.core.scratch import new_scratch_dir
from weekend.data._expectations import Expectation
from weekend.data._ingest import Query, check_columns, write_parquet
from weekend.data._inputs import empty_error, open_input
from weekend.data._profile import Profile, profile_diff
from weekend.data._schema import Change, Schema, schema_diff

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from weekend.artifacts import ArtifactStore
    from weekend.catalog import Catalog
    from weekend.core.settings import Settings
    from weekend.data._validate import ValidationReport


def parse_ref(ref: object, kind: str = "dataset") -> tuple[str, int | None]:
    """``"name"`` -> (name, None); ``"name/3"`` -> (name, 3) (see :mod:`weekend.core.refs`)."""
    parsed = refs.parse_ref(ref, kind, aliases=False)
    return parsed.name, parsed.version


@dataclass
class DatasetVersion:
    """One immutable version of a dataset."""

    id: str
    name: str
    version: int
    content_hash: str
    size: int
    num_rows: int
    num_columns: int
    schema: Schema
    profile_json: str = field(repr=False)
    source: str | None
    lineage: dict[str, Any]
    run_id: str | None
    description: str | None
    created_at: int
    _artifacts: ArtifactStore = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def profile(self) -> Profile:
        return Profile.from_dict(orjson.loads(self.profile_json))

    def path(self) -> Path:
        """A local Parquet file with the data, verified against its hash."""
        return self._artifacts.verified_path(self.content_hash)

    def sql(self) -> str:
        """A DuckDB FROM-expression reading this version."""
        return "read_parquet('" + str(self.path()).replace("'", "''") + "')"

    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The data (only ``columns``, if given); a column the version lacks is refused."""
        import pyarrow.parquet as pq

        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
                raise InvalidValueError(
                    f"columns must be a list of column names, got {columns!r:.80}"
                )
            check_columns(self.schema.names, columns, f"dataset {self.ref}")
        return pq.read_table(self.path(), columns=list(columns) if columns else None)

    def to_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        frame: pd.DataFrame = self.to_arrow(columns).to_pandas()
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "content_hash": self.content_hash,
            "size": self.size,
            "num_rows": self.num_rows,
            "num_columns": self.num_columns,
            "schema": self.schema.to_dict(),
            "source": self.source,
            "lineage": self.lineage,
            "run_id": self.run_id,
            "description": self.description,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class DatasetDiff:
    """Schema and profile changes from version ``a`` to version ``b``."""

    a: str
    b: str
    schema_changes: tuple[Change, ...]
    profile_changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "schema_changes": [c.to_dict() for c in self.schema_changes],
            "profile_changes": [c.to_dict() for c in self.profile_changes],
        }


class Datasets:
    """``ws.datasets``: register, read, validate, profile and compare dataset versions."""

    def __init__(self, catalog: Catalog, artifacts: ArtifactStore, settings: Settings) -> None:
        self._catalog = catalog
        self._artifacts = artifacts
        self._limits = DuckLimits.from_settings(settings, "data")

    # -- writing ----------------------------------------------------------------------------
    def register(
        self,
        name: str,
        data: Any,
        *,
        keys: Sequence[str | Sequence[str]] = (),
        description: str | None = None,
        run: Any = None,
        lineage: Mapping[str, Any] | None = None,
        validate_against: str | None = None,
        expectations: Sequence[Expectation] = (),
        severities: Mapping[str, str] | None = None,
        allow_empty: bool = False,
    ) -> DatasetVersion:
        """Store ``data`` as a new version of dataset ``name`` (or return the identical one).

        ``data``: a DataFrame, an Arrow table, a CSV or Parquet file or folder, a dataset
        version or reference, or a :class:`~weekend.Query` (see "What weekend reads" in
        docs/datasets.md). ``keys``: key columns whose uniqueness is recorded in the schema.
        ``run``: the run (or run id) that produced the data, for lineage.
        ``validate_against`` (a version reference) and ``expectations``: check the data
        first and refuse it, storing nothing, when the check finds an error. Data without
        rows is refused unless ``allow_empty``.
        """
        validate_name(name, "dataset name")
        run_id = getattr(run, "id", run)
        if run_id is not None and not isinstance(run_id, str):
            raise InvalidValueError(f"run must be a Run or a run id, got {type(run).__name__}")
        reference = self.get(validate_against) if validate_against is not None else None
        source = open_input(data, datasets=self)
        work = new_scratch_dir("register")  # named for weekend gc
        try:
            with duckdb_session(self._limits) as con:
                parquet = write_parquet(source, work / "data.parquet", con, allow_empty=allow_empty)
                if reference is not None or expectations:
                    from_text = source.kind in ("csv", "csv_folder")
                    checks = (reference, expectations, severities, from_text)
                    report = self._check(con, parquet, *checks)
                    report.raise_for_errors()  # nothing is stored when the data is refused
                stored = self._store(con, name, parquet, keys)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if isinstance(stored, DatasetVersion):
            return stored
        blob, prof, schema = stored
        record = {
            "content_hash": blob.sha256,
            "blob_sha256": blob.sha256,
            "size": blob.size,
            "num_rows": prof.n_rows,
            "num_columns": len(schema.columns),
            "schema_json": orjson.dumps(schema.to_dict()).decode(),
            "profile_json": orjson.dumps(prof.to_dict()).decode(),
            "source": source.describe()[:2000],
            "lineage_json": orjson.dumps(dict(lineage or {})).decode(),
            "run_id": run_id,
            "description": description,
        }
        return self._insert_version(name, record)

    def _store(
        self,
        con: duckdb.DuckDBPyConnection,
        name: str,
        parquet: Path,
        keys: Sequence[str | Sequence[str]],
    ) -> DatasetVersion | tuple[Any, Profile, Schema]:
        """The identical version if there is one, else ``(blob, profile, schema)``."""
        from weekend.data._profile import profile_and_schema

        # the file is read once: hashed while copied into the store's tmp folder
        with self._artifacts.staged_file(parquet) as staged:
            existing = self._find_by_hash(name, staged.sha256)
            if existing is not None:
                return existing
            quoted = str(parquet).replace("'", "''")
            relation = f"SELECT * FROM read_parquet('{quoted}')"
            prof, schema = profile_and_schema(con, relation, keys=keys)
            # installed only once schema and profile succeeded: a failure leaves no blob
            return staged.commit(), prof, schema

    def _insert_version(self, name: str, record: dict[str, Any]) -> DatasetVersion:
        catalog = self._catalog
        for _ in range(5):
            try:
                with catalog.begin() as conn:
                    stmt = catalog.insert(datasets).values(
                        id=new_id(), name=name, description=None, created_at=now_ms()
                    )
                    conn.execute(stmt.on_conflict_do_nothing())
                    dataset_id = conn.execute(
                        select(datasets.c.id).where(datasets.c.name == name)
                    ).scalar_one()
                    same = conn.execute(
                        select(dataset_versions.c.version).where(
                            dataset_versions.c.dataset_id == dataset_id,
                            dataset_versions.c.content_hash == record["content_hash"],
                        )
                    ).first()
                    if same is None:
                        latest = conn.execute(
                            select(func.max(dataset_versions.c.version)).where(
                                dataset_versions.c.dataset_id == dataset_id
                            )
                        ).scalar()
                        conn.execute(
                            dataset_versions.insert().values(
                                id=new_id(),
                                dataset_id=dataset_id,
                                version=(latest or 0) + 1,
                                created_at=now_ms(),
                                **record,
                            )
                        )
                break
            except SAIntegrityError:
                continue  # another process took this version number; try the next
        found = self._find_by_hash(name, record["content_hash"])
        if found is None:  # pragma: no cover - the loop above always inserts or finds it
            raise NotFoundError(f"dataset {name!r} version could not be registered")
        return found

    # -- reading ----------------------------------------------------------------------------
    def _select(self) -> Any:
        return select(dataset_versions, datasets.c.name).join(
            datasets, datasets.c.id == dataset_versions.c.dataset_id
        )

    def _version(self, row: Any) -> DatasetVersion:
        m = row._mapping
        return DatasetVersion(
            id=m["id"],
            name=m["name"],
            version=int(m["version"]),
            content_hash=m["content_hash"],
            size=int(m["size"]),
            num_rows=int(m["num_rows"]),
            num_columns=int(m["num_columns"]),
            schema=Schema.from_dict(orjson.loads(m["schema_json"])),
            profile_json=m["profile_json"],
            source=m["source"],
            lineage=orjson.loads(m["lineage_json"] or "{}"),
            run_id=m["run_id"],
            description=m["description"],
            created_at=int(m["created_at"]),
            _artifacts=self._artifacts,
        )

    def _find_by_hash(self, name: str, content_hash: str) -> DatasetVersion | None:
        with self._catalog.read() as conn:
            row = conn.execute(
                self._select().where(
                    datasets.c.name == name, dataset_versions.c.content_hash == content_hash
                )
            ).first()
        return None if row is None else self._version(row)

    def get(self, ref: str) -> DatasetVersion:
        """A version by reference: ``"name"`` (latest) or ``"name/3"``."""
        name, version = parse_ref(ref)
        stmt = self._select().where(datasets.c.name == name)
        if version is None:
            stmt = stmt.order_by(dataset_versions.c.version.desc()).limit(1)
        else:
            stmt = stmt.where(dataset_versions.c.version == version)
        with self._catalog.read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            what = f"dataset {name!r}" if version is None else f"dataset version {ref!r}"
            raise NotFoundError(f"{what} does not exist")
        return self._version(row)

    def versions(self, name: str) -> list[DatasetVersion]:
        validate_name(name, "dataset name")
        with self._catalog.read() as conn:
            rows = conn.execute(
                self._select().where(datasets.c.name == name).order_by(dataset_versions.c.version)
            ).all()
        if not rows:
            raise NotFoundError(f"dataset {name!r} does not exist")
        return [self._version(r) for r in rows]

    def list(self) -> list[dict[str, Any]]:
        """Every dataset with its number of versions and its latest version."""
        stmt = (
            select(
                datasets.c.name,
                func.count(dataset_versions.c.id).label("versions"),
                func.max(dataset_versions.c.version).label("latest"),
                func.max(dataset_versions.c.created_at).label("updated_at"),
            )
            .join(dataset_versions, dataset_versions.c.dataset_id == datasets.c.id)
            .group_by(datasets.c.name)
            .order_by(datasets.c.name)
        )
        with self._catalog.read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def load(self, ref: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return self.get(ref).to_pandas(columns)

    # -- checks and comparisons -------------------------------------------------------------
    def validate(
        self,
        ref: str,
        data: Any,
        expectations: Sequence[Expectation] = (),
        *,
        severities: Mapping[str, str] | None = None,
        allow_empty: bool = False,
    ) -> ValidationReport:
        """Check new data against the schema of version ``ref`` and declared expectations.

        ``data``: what :meth:`register` takes, or a DuckDB relation. The report lists each
        violation with its column, rule, number of offending rows and examples (the row and
        value of the first offending cells); ``report.ok`` is false when any violation is
        an error. Data without rows is refused unless ``allow_empty``.
        """
        version = self.get(ref)
        if not isinstance(data, str | os.PathLike | Query | DatasetVersion):  # in memory
            from weekend.data._validate import validate

            if type(data).__name__ != "DuckDBPyRelation":
                frame = open_input(data)
                if len(data) == 0 and not allow_empty:
                    raise empty_error(frame)
            return validate(data, version.schema, expectations, severities=_levels(severities))
        source = open_input(data, datasets=self)
        work = new_scratch_dir("validate")
        try:
            with duckdb_session(self._limits) as con:
                parquet = write_parquet(source, work / "data.parquet", con, allow_empty=allow_empty)
                from_text = source.kind in ("csv", "csv_folder")
                return self._check(con, parquet, version, expectations, severities, from_text)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _check(
        self,
        con: duckdb.DuckDBPyConnection,
        parquet: Path,
        reference: DatasetVersion | None,
        expectations: Sequence[Expectation],
        severities: Mapping[str, str] | None,
        from_text: bool = False,
    ) -> ValidationReport:
        from weekend.data._validate import validate

        relation = con.sql("SELECT * FROM read_parquet('" + str(parquet).replace("'", "''") + "')")
        schema = None if reference is None else reference.schema
        levels = _levels(severities)
        return validate(relation, schema, expectations, severities=levels, from_text=from_text)

    def profile(self, ref: str) -> Profile:
        return self.get(ref).profile

    def diff(self, a: str, b: str) -> DatasetDiff:
        """Schema and profile changes between two versions."""
        va, vb = self.get(a), self.get(b)
        return DatasetDiff(
            a=va.ref,
            b=vb.ref,
            schema_changes=tuple(schema_diff(va.schema, vb.schema)),
            profile_changes=tuple(profile_diff(va.profile, vb.profile)),
        )


def _levels(severities: Mapping[str, str] | None) -> Any:
    return None if severities is None else dict(severities)


__all__ = ["DatasetDiff", "DatasetVersion", "Datasets", "Query", "parse_ref"]
