"""Small, seeded data and fitted models shared by the registry tests (not a test module)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

CARRIERS = ["AA", "B6", "DL", "UA", "WN"]
NUMERIC = ["distance", "dep_hour", "temp"]
CATEGORICAL = ["carrier", "origin"]


def flights(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    """Features plus a ``delayed`` label (0/1) and an ``arr_delay`` target (minutes)."""
    frame = pd.DataFrame(
        {
            "distance": rng.normal(1000, 300, n),
            "dep_hour": rng.integers(5, 23, n),
            "temp": rng.normal(15, 8, n),
            "carrier": rng.choice(CARRIERS, n),
            "origin": rng.choice(["EWR", "JFK", "LGA"], n),
        }
    )
    score = frame["dep_hour"] / 6 + (frame["carrier"] == "B6") - frame["temp"] / 20
    noisy = score + rng.normal(0, 0.7, n)
    frame["delayed"] = (noisy > noisy.median()).astype(np.int64)
    frame["arr_delay"] = 3 * frame["dep_hour"] - frame["temp"] + rng.normal(0, 4, n)
    return frame


def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[NUMERIC + CATEGORICAL]


def _pre() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )


def classifier(frame: pd.DataFrame, labels: Any = None, c: float = 1.0) -> Pipeline:
    """One-hot + scaler + LogisticRegression on ``frame`` (labels default to ``delayed``)."""
    y = frame["delayed"] if labels is None else labels
    model = Pipeline([("pre", _pre()), ("lr", LogisticRegression(C=c, max_iter=500))])
    return model.fit(features(frame), y)


def regressor(frame: pd.DataFrame) -> Pipeline:
    model = Pipeline([("pre", _pre()), ("lr", LinearRegression())])
    return model.fit(features(frame), frame["arr_delay"])
