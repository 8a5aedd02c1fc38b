"""Served traffic for the monitoring tests: a registered classifier and a prediction log.

Import the helpers into a test module (``from _traffic import ...``); not a conftest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from weekend.workspace import Workspace

FEATURES = ["carrier", "distance", "dep_hour"]
DAY0 = dt.datetime(2013, 6, 1, tzinfo=dt.UTC)
CARRIERS = ["AA", "B6", "DL", "UA"]


def flights(n: int, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    """Synthetic flights; ``shift`` moves ``distance`` (covariate shift)."""
    df = pd.DataFrame(
        {
            "carrier": rng.choice(CARRIERS, n),
            "distance": rng.uniform(100, 3000, n) + shift,
            "dep_hour": rng.integers(5, 24, n),
        }
    )
    risk = np.where(df["dep_hour"].between(16, 21), 2.0, -1.5) + (df["distance"] - 1500) / 1000
    df["delayed"] = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype("int64")
    return df


def model() -> Any:
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["carrier"]),
        (StandardScaler(), ["distance", "dep_hour"]),
    )
    return make_pipeline(encode, LogisticRegression())


@dataclass
class Traffic:
    """What was logged: per day, the frame (with ``score`` and ``request_id``)."""

    train: pd.DataFrame
    days: list[pd.DataFrame]
    model: Any


def serve(
    ws: Workspace,
    rng: np.random.Generator,
    *,
    rows: int = 600,
    shifts: tuple[float, ...] = (0.0, 0.0, 800.0, 800.0),
    label_share: float = 0.5,
) -> Traffic:
    """Register ``flight-delay`` (champion), log ``rows`` predictions a day for each shift,
    and send labels for ``label_share`` of the rows (request id and row)."""
    train = flights(2000, rng)
    fitted = model().fit(train[FEATURES], train["delayed"])
    ws.models.register(fitted, "flight-delay", input_example=train[FEATURES])
    ws.models.set_alias("flight-delay", 1, "champion")
    log = ws.predictions.open_log(flush_rows=100_000, flush_seconds=3600)
    days: list[pd.DataFrame] = []
    feedback: list[dict[str, Any]] = []
    for day, shift in enumerate(shifts):
        df = flights(rows, rng, shift)
        df["score"] = fitted.predict_proba(df[FEATURES])[:, 1]
        df["request_id"] = [f"d{day}-{i}" for i in range(rows)]
        df["labelled"] = rng.random(rows) < label_share
        start = DAY0 + dt.timedelta(days=day)
        rows_of_day: list[Any] = list(df.itertuples())  # named tuples: typed per column here
        records = [
            {
                "request_id": r.request_id,
                "row": 0,
                "ts": start + dt.timedelta(seconds=60 * i),
                "model": "flight-delay",
                "version": 1,
                "alias": "champion",
                "route": "primary",
                "latency_us": 1000 + i,
                "in.carrier": r.carrier,
                "in.distance": float(r.distance),
                "in.dep_hour": int(r.dep_hour),
                "out.prediction": int(r.score >= 0.5),
                "out.proba.0": float(1 - r.score),
                "out.proba.1": float(r.score),
            }
            for i, r in enumerate(rows_of_day)
        ]
        log.append(records)
        feedback += [
            {"request_id": r.request_id, "row": 0, "label": int(r.delayed)}
            for r in rows_of_day
            if r.labelled
        ]
        days.append(df)
    log.close()
    for i in range(0, len(feedback), 500):
        ws.predictions.feedback("flight-delay", feedback[i : i + 500])
    return Traffic(train, days, fitted)


__all__ = ["DAY0", "FEATURES", "Traffic", "flights", "serve"]
