"""The catalog: migrations on SQLite and PostgreSQL, version checks, concurrency, errors."""

from __future__ import annotations

import importlib.util
import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import weekend.catalog
from weekend.catalog import HEAD, REVISIONS, Catalog
from weekend.catalog.tables import experiments, metadata
from weekend.core.errors import CatalogVersionError, ConfigurationError

TRACKING_TESTS = Path(__file__).parent / "tracking"


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new, empty catalog database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'catalog.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    opened = Catalog(catalog_url)
    yield opened
    opened.dispose()


def _schema_diff(catalog: Catalog) -> list[object]:
    with catalog.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


# -- migrations ----------------------------------------------------------------------------


def test_new_catalog_is_at_head_and_matches_the_tables(catalog: Catalog) -> None:
    assert catalog.revision() == HEAD == REVISIONS[-1]
    assert _schema_diff(catalog) == []  # the migrations build exactly what tables.py says
    names = set(sa.inspect(catalog.engine).get_table_names())
    assert set(metadata.tables) <= names
    assert "alembic_version" in names


def test_reopening_migrates_nothing_and_keeps_data(
    catalog_url: str, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    with catalog.begin() as conn:
        conn.execute(experiments.insert().values(id="e" * 32, name="kept", created_at=1))

    def no_migration(_engine: sa.Engine) -> None:
        raise AssertionError("a catalog at HEAD must not be migrated again")

    monkeypatch.setattr(weekend.catalog, "_run_alembic_upgrade", no_migration)
    again = Catalog(catalog_url)
    try:
        assert again.revision() == HEAD
        with again.read() as conn:
            assert conn.execute(sa.select(experiments.c.name)).scalars().all() == ["kept"]
    finally:
        again.dispose()


def test_catalog_without_migration_is_empty(catalog_url: str) -> None:
    bare = Catalog(catalog_url, migrate=False)
    try:
        assert bare.revision() is None
        bare.upgrade()
        assert bare.revision() == HEAD
        bare.upgrade()  # idempotent
        assert bare.revision() == HEAD
    finally:
        bare.dispose()


def test_catalog_from_a_newer_weekend_is_refused(catalog_url: str, catalog: Catalog) -> None:
    with catalog.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with pytest.raises(CatalogVersionError, match=r"written by\s+a newer weekend") as info:
        Catalog(catalog_url)
    message = str(info.value)
    assert "'0099_from_the_future'" in message
    assert f"knows up to {HEAD!r}" in message
    assert "pip install -U weekend" in message
    assert isinstance(info.value, ConfigurationError)


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


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with catalog.begin() as writer:
            writer.execute(experiments.insert().values(id="a" * 32, name="pending", created_at=1))
            # a reader in another connection sees the last committed state at once
            with catalog.read() as reader:
                assert (
                    reader.execute(sa.select(sa.func.count()).select_from(experiments)).scalar()
                    == 0
                )
        with catalog.read() as reader:
            assert reader.execute(sa.select(experiments.c.name)).scalars().all() == ["pending"]
        # and a second writer is refused while the first holds the lock (no lock upgrade race)
        raw = sqlite3.connect(str(tmp_path / "c.db"), timeout=0.05, isolation_level=None)
        try:
            with catalog.begin(), pytest.raises(sqlite3.OperationalError, match="locked"):
                raw.execute("BEGIN IMMEDIATE")
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


def test_insert_ignore_skips_existing_keys(catalog: Catalog) -> None:
    rows = [{"id": f"{i:032d}", "name": f"exp{i}", "created_at": i} for i in range(3)]
    with catalog.begin() as conn:
        catalog.insert_ignore(conn, experiments, rows[:2])
        catalog.insert_ignore(conn, experiments, [])
    with catalog.begin() as conn:
        catalog.insert_ignore(conn, experiments, rows)  # two already there
    with catalog.read() as conn:
        names = conn.execute(sa.select(experiments.c.name).order_by(experiments.c.name)).scalars()
        assert list(names) == ["exp0", "exp1", "exp2"]


def test_write_transactions_roll_back_on_error(catalog: Catalog) -> None:
    def insert_then_fail() -> None:
        with catalog.begin() as conn:
            conn.execute(experiments.insert().values(id="c" * 32, name="ghost", created_at=1))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        insert_then_fail()
    with catalog.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(experiments)).scalar() == 0


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
