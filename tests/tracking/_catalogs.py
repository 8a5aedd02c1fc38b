"""The ``catalog_env`` fixture under the name the tracking tests import it by.

The fixture itself lives in the top-level conftest (every test can ask for it); importing it
here as well (``from _catalogs import catalog_env_fixture``) changes nothing.
"""

from __future__ import annotations

from conftest import catalog_env as catalog_env_fixture

__all__ = ["catalog_env_fixture"]
