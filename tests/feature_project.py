"""Shared by the feature store and serving tests: a project with a small driver-stats source,
and fixtures (import them into a test module: ``from feature_project import ws``; that ``ws``
replaces the conftest's for the module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from conftest import open_ws
from weekend.features import Entity, FeatureView
from weekend.workspace import Workspace

T0 = pd.Timestamp("2024-01-01T00:00:00Z")


def hours(value: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=value)


def stats_frame() -> pd.DataFrame:
    """Driver 1 at h0, h1, h5; driver 2 at h0, h2; driver 3 at h0."""
    return pd.DataFrame(
        {
            "driver_id": [1, 1, 1, 2, 2, 3],
            "event_ts": [hours(0), hours(1), hours(5), hours(0), hours(2), hours(0)],
            "trips": [1, 2, 3, 10, 20, 100],
            "rating": [4.0, 4.5, 4.8, 3.0, 3.5, 5.0],
        }
    )


DRIVER = Entity("driver", ["driver_id"])


def stats_view(**changes: object) -> FeatureView:
    args: dict[str, object] = {
        "entities": [DRIVER],
        "source": "stats.parquet",
        "timestamp_field": "event_ts",
        "features": {"trips": "int64", "rating": "float64"},
        "ttl": "2h",
    }
    args.update(changes)
    return FeatureView("driver_stats", **args)  # type: ignore[arg-type]


@pytest.fixture
def local_ws(project: Path) -> Iterator[Workspace]:
    """A project whose online store is SQLite, with ``stats.parquet`` at its root."""
    stats_frame().to_parquet(project / "stats.parquet")
    workspace = open_ws(project)
    yield workspace
    workspace.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def ws(request: pytest.FixtureRequest, project: Path) -> Iterator[Workspace]:
    """The same project with a SQLite or a Redis online store."""
    env: dict[str, str] = {}
    if request.param == "redis":
        env = {
            "WEEKEND_ONLINE_STORE_URL": request.getfixturevalue("redis_url"),
            "WEEKEND_ONLINE_STORE_KEY_PREFIX": request.getfixturevalue("redis_prefix"),
        }
    stats_frame().to_parquet(project / "stats.parquet")
    workspace = open_ws(project, env)
    yield workspace
    workspace.close()
