"""Conformance checks of catalogs: migrations to head (every table, the feature store's and
the registry's too), transactions, concurrent writers and a read-only open. Each check takes
a :class:`CatalogTarget`: the URL of a fresh, empty database."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

import sqlalchemy as sa

import weekend.catalog
import weekend.catalog.tables_features
import weekend.catalog.tables_monitoring
import weekend.catalog.tables_pipelines
import weekend.catalog.tables_predictions
import weekend.catalog.tables_registry
from weekend.catalog import HEAD, REVISIONS, Catalog
from weekend.catalog.tables import experiments, metadata
from weekend.core.errors import CatalogVersionError, ConfigurationError
from weekend.testing._checks import CheckSkipped, raises


@dataclass(frozen=True)
class CatalogTarget:
    """Where a catalog check runs.

    ``url``: a fresh, empty database. ``read_only``: called once the catalog holds data, it
    makes the same database read-only (or gives a read-only way in) and returns the URL to
    open it with; ``None`` skips the read-only check.
    """

    url: str
    read_only: Callable[[], str] | None = None


@contextmanager
def _opened(url: str, *, migrate: bool = True) -> Iterator[Catalog]:
    catalog = Catalog(url, migrate=migrate)
    try:
        yield catalog
    finally:
        catalog.dispose()


def _schema_diff(catalog: Catalog) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with catalog.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata) if d[0] != "remove_table"]


def _count(catalog: Catalog, table: sa.Table) -> int:
    with catalog.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def check_a_new_catalog_is_at_head_with_every_table(target: CatalogTarget) -> None:
    with _opened(target.url) as catalog:
        assert catalog.revision() == HEAD == REVISIONS[-1]
        assert _schema_diff(catalog) == []  # the migrations build exactly what the code says
        names = set(sa.inspect(catalog.engine).get_table_names())
        assert set(metadata.tables) <= names
        for table in ("feature_definitions", "materializations", "model_versions", "runs"):
            assert table in names
        assert "alembic_version" in names


def check_reopening_migrates_nothing_and_keeps_data(target: CatalogTarget) -> None:
    with _opened(target.url) as catalog, catalog.begin() as conn:
        conn.execute(experiments.insert().values(id="e" * 32, name="kept", created_at=1))
    refuse = AssertionError("a catalog at HEAD must not be migrated again")
    with (
        mock.patch.object(weekend.catalog, "_run_alembic_upgrade", side_effect=refuse),
        _opened(target.url) as again,
    ):
        assert again.revision() == HEAD
        with again.read() as conn:
            assert conn.execute(sa.select(experiments.c.name)).scalars().all() == ["kept"]


def check_a_catalog_opened_without_migration_is_empty_until_upgraded(
    target: CatalogTarget,
) -> None:
    with _opened(target.url, migrate=False) as bare:
        assert bare.revision() is None
        bare.upgrade()
        assert bare.revision() == HEAD
        bare.upgrade()  # idempotent
        assert bare.revision() == HEAD


def check_a_catalog_from_a_newer_weekend_is_refused(target: CatalogTarget) -> None:
    with _opened(target.url) as catalog, catalog.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with raises(CatalogVersionError, match=r"written by\s+a newer weekend.*pip install -U"):
        Catalog(target.url)
    with raises(ConfigurationError, match=re.escape(f"knows up to {HEAD!r}")):  # a subclass
        Catalog(target.url)


def check_write_transactions_roll_back_on_error(target: CatalogTarget) -> None:
    with _opened(target.url) as catalog:
        with raises(RuntimeError, match="boom"), catalog.begin() as conn:
            conn.execute(experiments.insert().values(id="c" * 32, name="ghost", created_at=1))
            raise RuntimeError("boom")
        assert _count(catalog, experiments) == 0


def check_insert_ignore_skips_existing_keys(target: CatalogTarget) -> None:
    rows = [{"id": f"{i:032d}", "name": f"exp{i}", "created_at": i} for i in range(3)]
    with _opened(target.url) as catalog:
        with catalog.begin() as conn:
            catalog.insert_ignore(conn, experiments, rows[:2])
            catalog.insert_ignore(conn, experiments, [])
        with catalog.begin() as conn:
            catalog.insert_ignore(conn, experiments, rows)  # two already there
        with catalog.read() as conn:
            names = conn.execute(sa.select(experiments.c.name).order_by(experiments.c.name))
            assert list(names.scalars()) == ["exp0", "exp1", "exp2"]


def check_a_reader_sees_the_last_committed_state(target: CatalogTarget) -> None:
    with _opened(target.url) as catalog:
        with catalog.begin() as writer:
            writer.execute(experiments.insert().values(id="a" * 32, name="pending", created_at=1))
            assert _count(catalog, experiments) == 0  # another connection, not committed yet
        with catalog.read() as reader:
            assert reader.execute(sa.select(experiments.c.name)).scalars().all() == ["pending"]


def check_concurrent_writers_all_land(target: CatalogTarget) -> None:
    """Eight threads, each with its own transactions: unique rows all land, and rows that
    several insert at once (``insert_ignore``) land once, without an error."""
    errors: list[BaseException] = []
    shared = [{"id": f"s{i:031d}", "name": f"shared{i}", "created_at": i} for i in range(20)]
    with _opened(target.url) as catalog:

        def work(worker: int) -> None:
            try:
                for i in range(15):
                    with catalog.begin() as conn:
                        row = {"id": f"w{worker}{i:030d}", "name": f"w{worker}-{i}"}
                        conn.execute(experiments.insert().values(**row, created_at=i))
                        catalog.insert_ignore(conn, experiments, shared[i : i + 6])
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], errors
        assert _count(catalog, experiments) == 8 * 15 + len(shared)


def check_the_feature_store_tables_hold_versions(target: CatalogTarget) -> None:
    tables = weekend.catalog.tables_features
    row = {
        "kind": "feature_view",
        "name": "driver_stats",
        "version": 1,
        "definition_json": "{}",
        "definition_hash": "0" * 64,
        "removed": 0,
        "created_at": 1,
    }
    with _opened(target.url) as catalog:
        with catalog.begin() as conn:
            conn.execute(tables.feature_definitions.insert().values(id="d" * 32, **row))
            conn.execute(
                tables.materializations.insert().values(
                    id="m" * 32,
                    view="driver_stats",
                    view_version=1,
                    start_ts=None,
                    end_ts=2,
                    rows=10,
                    entities=3,
                    store="sqlite",
                    created_at=3,
                )
            )
        with raises(sa.exc.IntegrityError), catalog.begin() as conn:  # one row per version
            conn.execute(tables.feature_definitions.insert().values(id="e" * 32, **row))
        assert _count(catalog, tables.feature_definitions) == 1
        assert _count(catalog, tables.materializations) == 1


def check_the_blobs_rows_refer_to_are_all_found(target: CatalogTarget) -> None:
    """What the garbage collector keeps: every blob a dataset version or a model package
    (its manifest, JSON in a text column) refers to."""
    registry = weekend.catalog.tables_registry
    digests = {name: name * 64 for name in "abc"}
    manifest = '{"flavor.json": {"sha256": "%s", "size": 1}, "m.bin": {"sha256": "%s", "size": 2}}'
    with _opened(target.url) as catalog:
        assert catalog.referenced_blobs() == set()
        with catalog.begin() as conn:
            conn.execute(registry.datasets.insert().values(id="d" * 32, name="d", created_at=1))
            conn.execute(
                registry.dataset_versions.insert().values(
                    id="v" * 32,
                    dataset_id="d" * 32,
                    version=1,
                    content_hash=digests["a"],
                    blob_sha256=digests["a"],
                    size=1,
                    num_rows=1,
                    num_columns=1,
                    schema_json="{}",
                    profile_json="{}",
                    created_at=1,
                )
            )
            conn.execute(
                registry.registered_models.insert().values(
                    id="m" * 32, name="m", tags_json="{}", created_at=1
                )
            )
            conn.execute(
                registry.model_versions.insert().values(
                    id="n" * 32,
                    model_id="m" * 32,
                    version=1,
                    flavor="sklearn",
                    trusted_required=False,
                    manifest_json=manifest % (digests["b"], digests["c"]),
                    requirements_json="{}",
                    lineage_json="{}",
                    tags_json="{}",
                    created_at=1,
                )
            )
        assert catalog.referenced_blobs() == set(digests.values())


def check_a_read_only_catalog_opens_and_reads(target: CatalogTarget) -> None:
    if target.read_only is None:
        raise CheckSkipped("the target gives no read-only way in")
    with _opened(target.url) as catalog, catalog.begin() as conn:
        conn.execute(experiments.insert().values(id="r" * 32, name="replica", created_at=1))
    url = target.read_only()
    with _opened(url) as replica:  # opening writes nothing: no migration, no lock
        assert replica.revision() == HEAD
        with replica.read() as conn:
            assert conn.execute(sa.select(experiments.c.name)).scalars().all() == ["replica"]
        with raises(sa.exc.DBAPIError), replica.begin() as conn:
            conn.execute(experiments.insert().values(id="s" * 32, name="refused", created_at=1))
        assert _count(replica, experiments) == 1


__all__ = ["CatalogTarget"]
