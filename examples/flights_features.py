"""Feature definitions of the flights demo (applied with ``ws.features.apply``).

Every feature a flight gets is known before its scheduled departure:

- ``weather``: the hourly observation at the origin airport, at most 3 hours old;
- ``planes``: attributes of the aircraft, by tail number;
- ``carrier_delay_7d`` and ``origin_delay_7d``: the share of flights of the same carrier
  (or from the same airport) that arrived more than 15 minutes late over the 7 days before.
  A flight's outcome is known when it lands (``known_at``), so the rate that a flight sees
  at its departure can only include flights that had already landed: never its own
  outcome, never a later one. ``tests/test_flights_features.py`` proves it.
"""

from __future__ import annotations

import weekend as wk

airport = wk.Entity("airport", join_keys=["origin"], key_types={"origin": "string"})
carrier = wk.Entity("carrier", join_keys=["carrier"], key_types={"carrier": "string"})
plane = wk.Entity("plane", join_keys=["tailnum"], key_types={"tailnum": "string"})

weather = wk.FeatureView(
    "weather",
    entities=[airport],
    source="data/weather.parquet",
    timestamp_field="time_hour",
    features={
        "temp": "float64",
        "humid": "float64",
        "wind_speed": "float64",
        "precip": "float64",
        "visib": "float64",
    },
    ttl="3h",
    description="Hourly weather at the origin airport",
    owner="demo",
)

planes = wk.FeatureView(
    "planes",
    entities=[plane],
    source="data/planes.parquet",
    timestamp_field="registered_at",
    features={"plane_year": "float64", "seats": "float64", "engines": "float64"},
    description="Aircraft attributes by tail number",
    owner="demo",
)

_ROLLING = """
SELECT {key}, known_at,
       avg(delayed) OVER w AS {prefix}_delay_rate_7d,
       count(*) OVER w AS {prefix}_flights_7d
FROM read_parquet('data/outcomes.parquet')
WINDOW w AS (PARTITION BY {key} ORDER BY known_at
             RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW)
"""

carrier_delay = wk.FeatureView(
    "carrier_delay_7d",
    entities=[carrier],
    source=wk.Query(_ROLLING.format(key="carrier", prefix="carrier")),
    timestamp_field="known_at",
    features={"carrier_delay_rate_7d": "float64", "carrier_flights_7d": "int64"},
    ttl="7d",
    description="Share of the carrier's flights that landed late in the last 7 days",
    owner="demo",
)

origin_delay = wk.FeatureView(
    "origin_delay_7d",
    entities=[airport],
    source=wk.Query(_ROLLING.format(key="origin", prefix="origin")),
    timestamp_field="known_at",
    features={"origin_delay_rate_7d": "float64", "origin_flights_7d": "int64"},
    ttl="7d",
    description="Share of the airport's departures that landed late in the last 7 days",
    owner="demo",
)

flight_delay_features = wk.FeatureService(
    "flight-delay-features",
    ["weather:*", "planes:*", "carrier_delay_7d:*", "origin_delay_7d:*"],
)

ALL = [airport, carrier, plane, weather, planes, carrier_delay, origin_delay, flight_delay_features]
