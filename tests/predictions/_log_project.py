"""Shared by the prediction log tests: a project on each catalog backend, and records.

Import the fixtures into a test module (``from _log_project import pws``); not a conftest,
because test modules import the top-level ``conftest`` by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from weekend.core.settings import load_settings
from weekend.workspace import Workspace

__all__ = ["lws", "open_project", "pws", "record"]


def open_project(root: Path, env: dict[str, str] | None = None) -> Workspace:
    return Workspace(load_settings(root, env=env or {}))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def pws(request: pytest.FixtureRequest, project: Path) -> Iterator[Workspace]:
    """A project whose catalog is SQLite or a fresh PostgreSQL database."""
    env: dict[str, str] = {}
    if request.param == "postgresql":
        env = {"WEEKEND_CATALOG_URL": request.getfixturevalue("postgres_url")}
    ws = open_project(project, env)
    yield ws
    ws.close()


@pytest.fixture
def lws(project: Path) -> Iterator[Workspace]:
    """A project on SQLite only (for what does not depend on the catalog's backend)."""
    ws = open_project(project)
    yield ws
    ws.close()


def record(
    i: int, *, model: str = "flight-delay", version: int = 1, **extra: Any
) -> dict[str, Any]:
    """The record of one predicted row, ``in.seq`` = ``i``."""
    return {
        "request_id": f"req-{i}",
        "model": model,
        "version": version,
        "alias": "champion",
        "route": "primary",
        "latency_us": 400 + i,
        "in.seq": i,
        "in.carrier": "UA" if i % 2 else "DL",
        "in.distance": 100.0 + i,
        "out.prediction": i % 2,
        "out.proba.0": 0.25,
        "out.proba.1": 0.75,
        **extra,
    }
