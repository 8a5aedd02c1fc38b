"""The calibration simulation: windows of 20 columns drawn from one distribution, compared.

``python tests/monitoring/_simulation.py`` prints the false-alarm and power tables of
docs/monitoring.md ("Calibration"); tests/monitoring/test_calibration.py runs the same code
with fewer windows. Every window is a fresh draw; the reference is drawn once per size and
prepared once (as a monitor compares many windows with one reference).

The 20 columns: 12 numeric (normal, lognormal, uniform, exponential, and Poisson counts: the
KS test on ties), 5 categorical (5, 10, 20, 35 and 50 categories, Dirichlet(2) frequencies)
and 3 binary (positive shares 0.1, 0.3, 0.5). A shift moves ``num_0`` (standard normal) by
``shift`` standard deviations in the current windows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from weekend.monitoring.stats import DEFAULT_FDR, compare_columns, prepare_reference

LEVELS = (5, 10, 20, 35, 50)
SHARES = (0.1, 0.3, 0.5)
KINDS: dict[str, Any] = {
    **{f"num_{i}": "numeric" for i in range(12)},
    **{f"cat_{i}": "categorical" for i in range(5)},
    **{f"bin_{i}": "binary" for i in range(3)},
}
_FREQUENCIES = [np.random.default_rng(1234).dirichlet([2.0] * k) for k in LEVELS]


def _numeric(rng: np.random.Generator, i: int, n: int) -> np.ndarray:
    form = i % 5
    if form == 0:
        return rng.normal(size=n)
    if form == 1:
        return rng.lognormal(0.0, 0.5, size=n)
    if form == 2:
        return rng.uniform(0.0, 4.0, size=n)
    if form == 3:
        return rng.exponential(1.0, size=n)
    return rng.poisson(3.0, size=n).astype(np.float64)


def draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    """One table of ``n`` rows; ``shift`` moves num_0's mean by that many sds."""
    out: dict[str, np.ndarray] = {}
    for i in range(12):
        out[f"num_{i}"] = _numeric(rng, i, n)
    out["num_0"] += shift
    for i, p in enumerate(_FREQUENCIES):
        out[f"cat_{i}"] = rng.choice(len(p), size=n, p=p)
    for i, share in enumerate(SHARES):
        out[f"bin_{i}"] = rng.random(n) < share
    return out


@dataclass(frozen=True)
class Outcome:
    """What ``windows`` comparisons found."""

    n: int
    windows: int
    any_significant: int  # windows where some column is significant after BH (test alone)
    any_drifted: int  # windows where some column drifts (BH and the minimum effect)
    shifted_found: int  # windows where num_0 drifts
    others_drifted: int  # drifting columns other than num_0, over all windows
    raw_below: int  # column p-values under the fdr before BH, over all windows
    seconds: float

    def share(self, count: int) -> float:
        return count / self.windows


def simulate(
    n: int,
    windows: int,
    *,
    seed: int = 0,
    shift: float = 0.0,
    min_effect: Mapping[str, Any] | None = None,
) -> Outcome:
    rng = np.random.default_rng([seed, n])
    started = time.perf_counter()
    reference = prepare_reference(draw(rng, n), KINDS)
    any_sig = any_drift = found = others = raw = 0
    for _ in range(windows):
        result = compare_columns(reference, draw(rng, n, shift), min_effect=min_effect)
        any_sig += any(c.significant for c in result)
        any_drift += bool(result.drifted)
        found += "num_0" in result.drifted
        others += sum(1 for name in result.drifted if name != "num_0")
        raw += sum(1 for c in result if c.p_value < DEFAULT_FDR)
    seconds = time.perf_counter() - started
    return Outcome(n, windows, any_sig, any_drift, found, others, raw, seconds)


def margin(windows: int, level: float = DEFAULT_FDR, quantile: float = 0.999) -> int:
    """The most false-alarm windows a procedure at ``level`` shows with probability
    ``quantile``: the binomial margin of the calibration tests."""
    return int(sps.binom.ppf(quantile, windows, level))


def main() -> None:
    print(
        "| n | windows | any column significant (BH alone) | any column drifts (rule) | "
        "p < 0.05 before BH (of 20 per window) | margin | seconds |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, windows in ((1_000, 2000), (10_000, 1000), (100_000, 200), (1_000_000, 20)):
        o = simulate(n, windows, seed=1)
        print(
            f"| {n:,} | {windows} | {o.any_significant} ({o.share(o.any_significant):.1%}) | "
            f"{o.any_drifted} ({o.share(o.any_drifted):.1%}) | "
            f"{o.raw_below / (20 * windows):.1%} | {margin(windows)} | {o.seconds:.0f} |",
            flush=True,
        )
    print()
    print("| n | shift (sd) | windows | num_0 found | other columns drifting | seconds |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, shift, windows in ((1_000, 0.2, 1000), (10_000, 0.2, 1000), (10_000, 0.1, 500)):
        o = simulate(n, windows, seed=2, shift=shift)
        print(
            f"| {n:,} | {shift} | {windows} | {o.shifted_found} ({o.share(o.shifted_found):.1%}) "
            f"| {o.others_drifted} | {o.seconds:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
