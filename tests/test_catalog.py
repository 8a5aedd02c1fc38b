"""The catalog beyond the shared contract: processes creating one SQLite catalog at once,
SQLite's settings and locks, configuration errors. Migrations, transactions, concurrent
writers and a read-only open are checked on SQLite and PostgreSQL by the conformance suite
(``tests/conformance/test_catalogs.py``)."""

from __future__ import annotations

import importlib.util
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import weekend.catalog.tables_features
import weekend.catalog.tables_registry  # noqa: F401 - their tables join the metadata
from weekend.catalog import HEAD, Catalog
from weekend.catalog.tables import experiments, metadata
from weekend.core.errors import ConfigurationError

TRACKING_TESTS = Path(__file__).parent / "tracking"


def _schema_diff(catalog: Catalog) -> list[object]:
    with catalog.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


# -- several processes -----------------------------------------------------------------------


@pytest.mark.slow
def test_processes_opening_a_new_sqlite_catalog_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(TRACKING_TESTS))  # spawned children inherit sys.path
    import _child

    url = f"sqlite:///{tmp_path / 'fresh' / 'catalog.db'}"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_child.open_catalog, args=(url, barrier)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=90)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    catalog = Catalog(url)
    try:
        assert catalog.revision() == HEAD
        assert _schema_diff(catalog) == []
        with catalog.read() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(HEAD,)]  # migrated exactly once
    finally:
        catalog.dispose()


# -- SQLite specifics ------------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with catalog.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
    finally:
        catalog.dispose()


def test_a_second_sqlite_writer_waits_for_the_first(tmp_path: Path) -> None:
    """Write transactions take the lock at BEGIN (no lock upgrade race)."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        raw = sqlite3.connect(str(tmp_path / "c.db"), timeout=0.05, isolation_level=None)
        try:
            with catalog.begin(), pytest.raises(sqlite3.OperationalError, match="locked"):
                raw.execute("BEGIN IMMEDIATE")
            with catalog.read():  # a reader does not hold the write lock
                raw.execute("BEGIN IMMEDIATE")
                raw.execute("ROLLBACK")
        finally:
            raw.close()
    finally:
        catalog.dispose()


def test_in_memory_sqlite_catalog(tmp_path: Path) -> None:
    catalog = Catalog("sqlite:///:memory:")
    try:
        assert catalog.revision() == HEAD
        with catalog.begin() as conn:
            catalog.insert_ignore(
                conn, experiments, [{"id": "b" * 32, "name": "x", "created_at": 1}]
            )
        with catalog.read() as conn:
            assert conn.execute(sa.select(experiments.c.name)).scalars().all() == ["x"]
    finally:
        catalog.dispose()


# -- configuration errors ---------------------------------------------------------------------


def test_unreachable_postgresql_is_a_configuration_error() -> None:
    url = "postgresql+psycopg://weekend:s3cret@127.0.0.1:1/catalog?connect_timeout=2"
    with pytest.raises(ConfigurationError, match="cannot open catalog postgresql") as info:
        Catalog(url)
    assert "s3cret" not in str(info.value)  # passwords never reach messages
    assert "***" in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_missing_postgresql_database_is_a_configuration_error(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/wk_no_such_database"
    with pytest.raises(ConfigurationError, match='database "wk_no_such_database" does not exist'):
        Catalog(missing)


def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    path.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(ConfigurationError, match=r"cannot open catalog .*file is not a database"):
        Catalog(f"sqlite:///{path}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://host/x", "invalid catalog url nosuchdb://host/x"),
        ("mysql://host/x", "the driver for catalog url mysql://host/x is not installed"),
    ],
)
def test_unsupported_catalog_urls(url: str, message: str) -> None:
    if url.startswith("mysql") and importlib.util.find_spec("MySQLdb") is not None:
        pytest.skip("a MySQL driver is installed here")
    with pytest.raises(ConfigurationError, match=message):
        Catalog(url)
