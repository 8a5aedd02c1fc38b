"""Shared by the prediction service tests: models registered in a project, and the driver
model trained on the feature store's point-in-time join (import the fixtures into a test
module: ``from _served import flights_ws``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from feature_project import hours, open_ws, stats_frame, stats_view
from weekend.features import OnDemandFeatureView
from weekend.workspace import Workspace

FEATURES = ["carrier", "origin", "distance", "dep_hour"]
DRIVER_INPUTS = ["trips", "rating", "expected_tip"]


def flights(n: int, seed: int = 7) -> pd.DataFrame:
    """Synthetic flights (the registry docs' example): ``origin`` is a category."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "carrier": rng.choice(["AA", "B6", "DL", "UA"], n),
            "origin": pd.Categorical(rng.choice(["EWR", "JFK", "LGA"], n)),
            "distance": rng.integers(100, 3000, n).astype("float64"),
            "dep_hour": rng.integers(5, 24, n),
        }
    )
    risk = np.where(df["dep_hour"].between(16, 21), 2.0, -1.5) + 1.0 * (df["origin"] == "EWR")
    df["delayed"] = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype("int64")
    return df


def flight_model(c: float = 1.0) -> Any:
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["carrier", "origin"]),
        (StandardScaler(), ["distance", "dep_hour"]),
    )
    return make_pipeline(encode, LogisticRegression(C=c))


def register_flights(ws: Workspace, versions: int = 2) -> pd.DataFrame:
    """``versions`` versions of ``flight-delay`` (champion: 1, challenger: 2) and a regressor
    ``flight-minutes@prod``; returns the training frame."""
    train = flights(400)
    for number in range(versions):
        model = flight_model(c=10.0**-number).fit(train[FEATURES], train["delayed"])
        ws.models.register(model, "flight-delay", input_example=train[FEATURES])
    ws.models.set_alias("flight-delay", 1, "champion")
    if versions > 1:
        ws.models.set_alias("flight-delay", 2, "challenger")
    numeric = train[["distance", "dep_hour"]]
    minutes = LinearRegression().fit(numeric, train["distance"] / 8 + train["dep_hour"])
    ws.models.register(minutes, "flight-minutes", input_example=numeric)
    ws.models.set_alias("flight-minutes", 1, "prod")
    return train


@pytest.fixture(scope="session")
def _flights_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from weekend.core.settings import init_project

    root = init_project(tmp_path_factory.mktemp("flights") / "project")
    with open_ws(root) as ws:
        register_flights(ws)
    return root


@pytest.fixture
def flights_ws(_flights_template: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A project with the flight models registered (SQLite online store): a copy of one
    registered once per session (its settings hold relative paths only)."""
    root = tmp_path / "flights"
    shutil.copytree(_flights_template, root)
    ws = open_ws(root)
    yield ws
    ws.close()


def with_tip(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(expected_tip=df["rating"] * df["fare"] / 10)[["expected_tip"]]


def tip_view() -> OnDemandFeatureView:
    return OnDemandFeatureView(
        "tip",
        sources=[stats_view()],
        function=with_tip,
        request_schema={"fare": "float64"},
        features={"expected_tip": "float64"},
    )


ENTITY_ROWS = pd.DataFrame(
    {
        "driver_id": [1, 2, 3, 1, 2, 1],
        "event_timestamp": [hours(0.5), hours(2.5), hours(1), hours(5.5), hours(1), hours(6)],
        "fare": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        "label": [0, 1, 0, 1, 1, 0],
    }
)


def register_driver_model(ws: Workspace) -> pd.DataFrame:
    """Apply the driver views (one on-demand), build the training set offline, train and
    register ``driver-risk@champion`` with the views it read, materialize h0 to h6.
    Returns the training set."""
    stats_frame().to_parquet(ws.root / "stats.parquet")
    ws.features.apply([stats_view(), tip_view()])
    train = ws.features.training_set(ENTITY_ROWS, [f"driver_stats:{f}" for f in DRIVER_INPUTS[:2]]
                                      + ["tip:expected_tip"])  # fmt: skip
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(train[DRIVER_INPUTS], train["label"])
    ws.models.register(
        model,
        "driver-risk",
        input_example=train[DRIVER_INPUTS],
        features=train.attrs["weekend_feature_views"],
    )
    ws.models.set_alias("driver-risk", 1, "champion")
    ws.features.materialize(start=hours(0), end=hours(6))
    return train


class ListLog:
    """A prediction log that keeps the records in a list (the service's side of the
    contract: a non-blocking append)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def append(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)


__all__ = [
    "DRIVER_INPUTS",
    "ENTITY_ROWS",
    "FEATURES",
    "ListLog",
    "_flights_template",
    "flight_model",
    "flights",
    "flights_ws",
    "hours",
    "open_ws",
    "register_driver_model",
    "register_flights",
    "tip_view",
]
