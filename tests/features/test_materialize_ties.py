"""Materialization keeps the same row as a training set: ties on event time go to the latest
created time, then to the last row in source order."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from feature_project import DRIVER, hours, open_ws
from weekend.features import FeatureView


def test_ties_on_event_time(project: Path) -> None:
    frame = pd.DataFrame(
        {
            "driver_id": [1, 1, 1, 2, 2],
            "event_ts": [hours(1)] * 5,
            "created_ts": [hours(3), hours(2), hours(1), hours(2), hours(2)],
            "trips": [30, 20, 10, 1, 2],
        }
    )
    frame.to_parquet(project / "ties.parquet")
    view = FeatureView(
        "ties",
        entities=[DRIVER],
        source="ties.parquet",
        timestamp_field="event_ts",
        created_timestamp_field="created_ts",
        features={"trips": "int64"},
    )
    ws = open_ws(project)
    try:
        ws.features.apply([DRIVER, view])
        ws.features.materialize(["ties"], end=hours(10).to_pydatetime())
        online = ws.features.online(
            [{"driver_id": 1}, {"driver_id": 2}], ["ties:trips"], now=hours(10).to_pydatetime()
        )
        entities = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [hours(10)] * 2})
        offline = ws.features.training_set(entities, ["ties:trips"])
    finally:
        ws.close()
    assert [row["trips"] for row in online.to_dicts()] == [30, 2]
    assert offline["trips"].tolist() == [30, 2]
