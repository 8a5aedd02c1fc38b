"""A fixture for tracking tests that need a fresh catalog per test on each backend.

Import it into a test module (``from _catalogs import catalog_env_fixture``): it registers
as ``catalog_env``. It is not in a conftest here because test modules of this folder import
the top-level ``conftest`` by name, which a ``tests/tracking/conftest.py`` would shadow.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"], name="catalog_env")
def catalog_env_fixture(request: pytest.FixtureRequest) -> dict[str, str]:
    """``WEEKEND_*`` overrides that put a project's catalog on one backend.

    SQLite is the project's own file (no override); PostgreSQL is a fresh database per test.
    """
    if request.param == "sqlite":
        return {}
    url: str = request.getfixturevalue("postgres_url")
    return {"WEEKEND_CATALOG_URL": url}
