"""Shared fixtures: seeded RNG, real PostgreSQL and Redis (skipped or failed when absent),
projects and workspaces on each catalog backend.

This is the only conftest: test modules import it by name (``from conftest import
need_module``), which a ``conftest.py`` in a sub-folder would shadow.

A test that needs an open project asks for ``ws`` (SQLite) or ``ws_any`` (SQLite and
PostgreSQL); a test that opens the project itself (several times, or in a child process) asks
for ``project`` and ``catalog_env`` and calls ``open_ws(project, catalog_env)``.
"""

from __future__ import annotations

import importlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from weekend.workspace import Workspace

# Shared machines are noisy: no per-example deadline; a failure prints how to reproduce it.
settings.register_profile("weekend", deadline=None, print_blob=True)
settings.load_profile("weekend")

REQUIRE_SERVICES = os.environ.get("WEEKEND_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get(
    "WEEKEND_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("WEEKEND_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or fail under WEEKEND_REQUIRE_SERVICES=1) when a service is not listening."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}, and WEEKEND_REQUIRE_SERVICES=1 requires it")
    pytest.skip(f"{message}; start it to run this test")


def need_module(name: str) -> ModuleType:
    """Import an optional dependency: skip when it is missing, or fail under
    WEEKEND_REQUIRE_SERVICES=1 (CI installs every extra, so no test may skip there)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = f"the optional dependency {name!r} is not installed ({exc})"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}, and WEEKEND_REQUIRE_SERVICES=1 requires it")
        pytest.skip(f"{message}; install weekend's extras to run this test")


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A seeded generator; the seed is printed with the failure report."""
    seed = int(os.environ.get("WEEKEND_TEST_SEED", "20130101"))
    request.node.user_properties.append(("seed", seed))
    return np.random.default_rng(seed)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    name = "wk_test_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """The Redis URL; use together with ``redis_prefix`` so runs never share keys."""
    need_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted afterwards."""
    import redis

    prefix = "wktest:" + uuid.uuid4().hex[:12]
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An initialised, empty weekend project folder."""
    from weekend.core.settings import init_project

    return init_project(tmp_path / "project")


def open_ws(root: Path, env: dict[str, str] | None = None) -> Workspace:
    """Open the project at ``root`` with exactly the ``WEEKEND_*`` overrides in ``env``
    (never this process's environment, so a developer's settings cannot leak into a test)."""
    from weekend.core.settings import load_settings
    from weekend.workspace import Workspace

    return Workspace(load_settings(root, env=env or {}))


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    """The ``project``, opened on its SQLite catalog; closed after the test."""
    workspace = open_ws(project)
    try:
        yield workspace
    finally:
        workspace.close()


CATALOGS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=CATALOGS)
def catalog_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The ``WEEKEND_*`` overrides that put a project's catalog on one backend: SQLite is the
    project's own file (no override), PostgreSQL a fresh database for the test."""
    if request.param == "sqlite":
        return {}
    return {"WEEKEND_CATALOG_URL": request.getfixturevalue("postgres_url")}


@pytest.fixture
def ws_any(project: Path, catalog_env: dict[str, str]) -> Iterator[Workspace]:
    """The ``project`` opened on SQLite and on PostgreSQL (the test runs once per catalog)."""
    workspace = open_ws(project, catalog_env)
    try:
        yield workspace
    finally:
        workspace.close()
