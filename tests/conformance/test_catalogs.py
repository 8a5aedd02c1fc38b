"""Every catalog database passes the public conformance suite (``weekend.testing``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from weekend.testing import CatalogTarget, Check, catalog_checks, parametrize_with_checks


def _sqlite_target(tmp_path: Path) -> CatalogTarget:
    path = tmp_path / "state" / "catalog.db"

    def read_only() -> str:
        return f"sqlite:///file:{path}?mode=ro&uri=true"

    return CatalogTarget(f"sqlite:///{path}", read_only)


def _postgres_target(url: str) -> CatalogTarget:
    def read_only() -> str:
        """Every new session of the database is read-only, as on a replica."""
        name = sa.make_url(url).database
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(
                    sa.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
                )
        finally:
            engine.dispose()
        return url

    return CatalogTarget(url, read_only)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> CatalogTarget:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return _sqlite_target(tmp_path)
    return _postgres_target(request.getfixturevalue("postgres_url"))


@parametrize_with_checks(catalog_checks())
def test_catalog(check: Check[CatalogTarget], target: CatalogTarget) -> None:
    check.run(target)


def test_opening_a_read_only_sqlite_catalog_leaves_no_file(tmp_path: Path) -> None:
    from weekend.catalog import Catalog

    target = _sqlite_target(tmp_path)
    Catalog(target.url).dispose()
    state = tmp_path / "state"
    before = sorted(p.name for p in state.iterdir())
    (state / "catalog.db.migrate.lock").unlink(missing_ok=True)
    replica = Catalog(target.read_only())  # type: ignore[misc]
    replica.dispose()
    after = sorted(p.name for p in state.iterdir())
    assert "catalog.db.migrate.lock" not in after  # no lock taken: only read
    # SQLite's own shared-memory files of a WAL reader may appear; nothing of weekend's
    assert set(after) - set(before) <= {"catalog.db-shm", "catalog.db-wal"}
    assert not Path("file:").exists()  # the URI is not taken for a folder to create
