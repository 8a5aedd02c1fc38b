"""The Alembic migrations build exactly the tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import weekend.catalog.tables_features
import weekend.catalog.tables_registry  # noqa: F401
from weekend.catalog import HEAD, REVISIONS, Catalog
from weekend.catalog.tables import metadata


def _diff(catalog: Catalog) -> list[object]:
    with catalog.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata) if d[0] != "remove_table"]


def test_revisions_match_alembic_scripts() -> None:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "weekend.catalog:migrations")
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == HEAD
    chain = [rev.revision for rev in script.walk_revisions()][::-1]
    assert tuple(chain) == REVISIONS


def test_sqlite_schema_matches_metadata(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    assert catalog.revision() == HEAD
    assert _diff(catalog) == []


@pytest.mark.postgres
def test_postgres_schema_matches_metadata(postgres_url: str) -> None:
    catalog = Catalog(postgres_url)
    try:
        assert catalog.revision() == HEAD
        assert _diff(catalog) == []
    finally:
        catalog.dispose()
