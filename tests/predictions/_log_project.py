"""Shared by the prediction log tests: the conftest's workspaces under this folder's names
(``pws`` on each catalog backend, ``lws`` on SQLite only), and records.

Import the fixtures into a test module (``from _log_project import pws``); not a conftest,
because test modules import the top-level ``conftest`` by name.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import open_ws as open_project
from weekend.workspace import Workspace

__all__ = ["lws", "open_project", "pws", "record"]


@pytest.fixture
def pws(ws_any: Workspace) -> Workspace:
    """A project whose catalog is SQLite or a fresh PostgreSQL database."""
    return ws_any


@pytest.fixture
def lws(ws: Workspace) -> Workspace:
    """A project on SQLite only (for what does not depend on the catalog's backend)."""
    return ws


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
