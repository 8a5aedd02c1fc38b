"""Calibration, by simulation: no drift rarely alarms at any size; a small real shift is found.

Windows of 20 columns (12 numeric of five shapes, 5 categorical, 3 binary; see
``_simulation.py``) are compared with a reference drawn from the same distribution. With no
drift, the share of windows where any column is flagged must stay at or below the nominal
level (the false discovery rate, 0.05: under no drift at all, BH's FDR is the chance of any
false alarm) within a binomial margin, for the tests alone (BH, no minimum effect) and for
the full rule. The fast variants run few windows; the ``slow`` ones (opt-in) are the tables of
docs/monitoring.md, seed for seed. Seeds are fixed: a failure reproduces exactly.
"""

from __future__ import annotations

import os

import pytest
from _simulation import margin, simulate

from weekend.monitoring.stats import DEFAULT_FDR

# The tables' runs take tens of minutes on 2 cores: opt in (they are the figures of
# docs/monitoring.md, regenerated with `python tests/monitoring/_simulation.py`).
LONG = pytest.mark.skipif(
    os.environ.get("WEEKEND_LONG_SIMULATIONS") != "1",
    reason="the long simulations run with WEEKEND_LONG_SIMULATIONS=1 (tens of minutes)",
)

LONG_MARKS = [pytest.mark.slow, LONG, pytest.mark.timeout(3600)]

NO_DRIFT = [  # (rows, windows, seed); the slow ones are docs/monitoring.md's table
    pytest.param(1_000, 200, 11, id="1k"),
    pytest.param(10_000, 30, 11, id="10k"),
    pytest.param(100_000, 5, 11, id="100k"),
    pytest.param(1_000_000, 2, 11, id="1M", marks=[pytest.mark.timeout(600)]),
    pytest.param(1_000, 2000, 1, id="1k-table", marks=LONG_MARKS),
    pytest.param(10_000, 1000, 1, id="10k-table", marks=LONG_MARKS),
    pytest.param(100_000, 200, 1, id="100k-table", marks=LONG_MARKS),
    pytest.param(1_000_000, 20, 1, id="1M-table", marks=LONG_MARKS),
]


@pytest.mark.parametrize(("n", "windows", "seed"), NO_DRIFT)
def test_no_drift_keeps_false_alarms_at_the_nominal_level(n: int, windows: int, seed: int) -> None:
    found = simulate(n, windows, seed=seed)
    limit = margin(windows)
    assert found.any_significant <= limit, (
        f"{found.any_significant} of {windows} windows had a significant column after BH "
        f"(nominal {DEFAULT_FDR:.0%}, at most {limit} allowed); reproduce with "
        f"_simulation.simulate({n}, {windows}, seed={seed})"
    )
    assert found.any_drifted <= found.any_significant
    # each column's test is calibrated too (p-values of 20 columns, before BH)
    assert found.raw_below <= margin(20 * windows), found
    if n >= 100_000:  # large windows: the minimum effect keeps sampling noise from alarming
        assert found.any_drifted == 0, found


POWER = [
    pytest.param(30, 12, id="fast"),
    pytest.param(1000, 2, id="table", marks=LONG_MARKS),
]


@pytest.mark.parametrize(("windows", "seed"), POWER)
def test_a_fifth_of_a_standard_deviation_is_found_at_10k(windows: int, seed: int) -> None:
    found = simulate(10_000, windows, seed=seed, shift=0.2)
    assert found.shifted_found >= 0.9 * windows, found
    # and the 19 columns that did not move do not come along
    assert found.others_drifted <= margin(windows), found


def test_the_simulation_can_fail() -> None:
    """The same harness with a mean shift everywhere it matters: the checks above would fail
    (so they are not vacuous)."""
    found = simulate(1_000, 20, seed=13, shift=0.5)
    assert found.any_drifted > margin(20)
