"""Label-free performance estimation, validated where the realized performance is known.

A simulated world: five features, a fixed logistic relation to the label, a logistic
regression trained on a reference period. Under covariate shift (the features move, the
relation stays) CBPE's estimates must follow the realized metrics; under concept drift (the
relation changes) they cannot, and a test shows it (docs/monitoring.md, "Estimation").
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from weekend.core.errors import InvalidValueError
from weekend.monitoring import PerformanceEstimator, estimate_performance
from weekend.monitoring._estimate import _roc_auc

WEIGHTS = np.array([1.2, -0.8, 0.6, 0.0, 0.4])
BIAS = -0.5


def _world(
    rng: np.random.Generator,
    n: int,
    mean: float | np.ndarray = 0.0,
    sd: float = 1.0,
    weights: np.ndarray = WEIGHTS,
) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(mean, sd, size=(n, len(WEIGHTS)))
    p = 1 / (1 + np.exp(-(x @ weights + BIAS)))
    return x, (rng.random(n) < p).astype(int)


@pytest.fixture(scope="module")
def trained() -> tuple[Any, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2013)
    x, y = _world(rng, 60_000)
    model = LogisticRegression().fit(x[:20_000], y[:20_000])
    return model, model.predict_proba(x[20_000:])[:, 1], y[20_000:]


def _realized(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    predicted = scores >= 0.5
    return {
        "roc_auc": roc_auc_score(labels, scores),
        "f1": f1_score(labels, predicted),
        "precision": precision_score(labels, predicted),
        "recall": recall_score(labels, predicted),
        "accuracy": accuracy_score(labels, predicted),
    }


SHIFTS = [
    pytest.param(0.0, 1.0, id="none"),
    pytest.param(np.array([0.8, 0.0, -0.5, 1.0, 0.0]), 1.0, id="means"),
    pytest.param(0.0, 0.6, id="narrower"),
    pytest.param(np.array([-0.6, 0.6, 0.0, 0.0, 0.3]), 1.5, id="wider-and-moved"),
]


@pytest.mark.parametrize(("mean", "sd"), SHIFTS)
def test_cbpe_follows_realized_performance_under_covariate_shift(
    trained: tuple[Any, np.ndarray, np.ndarray], mean: Any, sd: float
) -> None:
    model, ref_scores, ref_labels = trained
    estimator = PerformanceEstimator().fit(ref_scores, ref_labels)
    rng = np.random.default_rng([7, int(sd * 10)])
    x, y = _world(rng, 40_000, mean, sd)
    scores = model.predict_proba(x)[:, 1]
    estimate = estimator.estimate(scores)
    realized = _realized(y, scores)
    assert estimate.task == "binary"
    assert estimate.n == 40_000
    assert abs(estimate["roc_auc"].value - realized["roc_auc"]) <= 0.02, (estimate, realized)
    for name in ("f1", "precision", "recall", "accuracy"):
        assert abs(estimate[name].value - realized[name]) <= 0.03, (name, estimate, realized)


def test_the_shifts_move_the_realized_auc(trained: tuple[Any, np.ndarray, np.ndarray]) -> None:
    """The covariate shifts above are not vacuous: the realized AUC moves well beyond 0.02."""
    model, ref_scores, ref_labels = trained
    rng = np.random.default_rng(3)
    base = roc_auc_score(ref_labels, ref_scores)
    x, y = _world(rng, 40_000, 0.0, 0.6)
    narrow = roc_auc_score(y, model.predict_proba(x)[:, 1])
    assert base - narrow > 0.05


def test_cbpe_cannot_see_concept_drift(trained: tuple[Any, np.ndarray, np.ndarray]) -> None:
    """The blind spot: the inputs stay, the relation to the label changes (one coefficient
    flips). The scores look as before, so the estimate stays where it was, while the
    realized AUC falls."""
    model, ref_scores, ref_labels = trained
    rng = np.random.default_rng(11)
    flipped = WEIGHTS * np.array([-1, 1, 1, 1, 1])
    x, y = _world(rng, 40_000, weights=flipped)
    scores = model.predict_proba(x)[:, 1]
    estimate = estimate_performance(ref_scores, ref_labels, scores)
    realized = roc_auc_score(y, scores)
    assert abs(estimate["roc_auc"].value - roc_auc_score(ref_labels, ref_scores)) < 0.01
    assert estimate["roc_auc"].value - realized > 0.15
    assert not estimate["roc_auc"].lower <= realized <= estimate["roc_auc"].upper


def test_the_band_covers_the_realized_value(trained: tuple[Any, np.ndarray, np.ndarray]) -> None:
    """Over 150 windows of 2,000 rows, each metric's 95% band holds the realized value in
    about 95% of them (a binomial margin: at least 88%, at most 99.5%)."""
    model, ref_scores, ref_labels = trained
    estimator = PerformanceEstimator().fit(ref_scores, ref_labels)
    rng = np.random.default_rng(5)
    inside = dict.fromkeys(("roc_auc", "f1", "precision", "recall", "accuracy"), 0)
    windows = 150
    for w in range(windows):
        x, y = _world(rng, 2000, 0.3 * math.sin(w), 1.0)
        scores = model.predict_proba(x)[:, 1]
        estimate, realized = estimator.estimate(scores), _realized(y, scores)
        for name in inside:
            inside[name] += estimate[name].lower <= realized[name] <= estimate[name].upper
    for name, count in inside.items():
        assert 0.88 * windows <= count <= 0.995 * windows, (name, count)


@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0.0, 1.0)), min_size=2, max_size=8))
def test_expected_auc_is_the_brute_force_expectation(rows: list[tuple[int, float]]) -> None:
    """Over every labelling of the rows (each label positive with its probability): the
    expected number of correctly ordered pairs over the expected number of pairs."""
    scores = np.array([float(s) for s, _ in rows])
    p = np.array([q for _, q in rows])
    expected_u = expected_pairs = 0.0
    for labels in itertools.product((0, 1), repeat=len(rows)):
        weight = math.prod(q if y else 1 - q for q, y in zip(p, labels, strict=True))
        for i, j in itertools.permutations(range(len(rows)), 2):
            if labels[i] == 1 and labels[j] == 0:
                expected_pairs += weight
                expected_u += weight * (
                    1.0 if scores[i] > scores[j] else 0.5 * (scores[i] == scores[j])
                )
    found = _roc_auc(p, scores, 1.96).value
    if expected_pairs < 1e-12:
        return
    assert found == pytest.approx(expected_u / expected_pairs, rel=1e-9, abs=1e-9)


def test_the_auc_band_is_the_spread_of_simulated_labels() -> None:
    """The delta method's standard deviation against the spread of the realized AUC when the
    labels are drawn from the calibrated probabilities themselves."""
    rng = np.random.default_rng(9)
    scores = rng.normal(size=3000)
    p = 1 / (1 + np.exp(-1.5 * scores))
    found = _roc_auc(p, scores, 1.96)
    draws = [roc_auc_score(rng.random(3000) < p, scores) for _ in range(400)]
    assert found.value == pytest.approx(np.mean(draws), abs=0.002)
    assert found.std == pytest.approx(np.std(draws), rel=0.15)


# ---------------------------------------------------------------- regression: DLE


def _regression_world(
    rng: np.random.Generator, n: int, center: float
) -> tuple[np.ndarray, np.ndarray]:
    x = np.column_stack([rng.normal(center, 1, n), rng.uniform(-1, 1, n)])
    noise = (0.2 + np.abs(x[:, 0])) * rng.normal(size=n)  # louder away from zero
    return x, 2 * x[:, 0] + np.sin(3 * x[:, 1]) + noise


def test_direct_loss_estimation_follows_the_realized_error() -> None:
    rng = np.random.default_rng(21)
    x, y = _regression_world(rng, 40_000, 0.0)
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(x[:20_000], y[:20_000])
    ref_x, ref_y = x[20_000:], y[20_000:]
    estimator = PerformanceEstimator("regression").fit(model.predict(ref_x), ref_y, ref_x)
    maes = []
    for center in (0.0, 0.5, 1.0):  # within the reference's range (trees do not extrapolate)
        cur_x, cur_y = _regression_world(rng, 20_000, center)
        predictions = model.predict(cur_x)
        estimate = estimator.estimate(predictions, cur_x)
        errors = cur_y - predictions
        realized_mae, realized_rmse = np.mean(np.abs(errors)), math.sqrt(np.mean(errors**2))
        assert estimate.method == "dle"
        assert estimate["mae"].value == pytest.approx(realized_mae, rel=0.05)
        assert estimate["rmse"].value == pytest.approx(realized_rmse, rel=0.07)
        maes.append(realized_mae)
    assert maes[2] > 1.25 * maes[0]  # the shift moved the error: the check is not vacuous


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: estimate_performance([0.1, np.nan], [0, 1], [0.5]),
            r"reference_scores must be finite numbers: row 1 is nan",
        ),
        (
            lambda: estimate_performance([0.1, 0.2], [0, 1, 1], [0.5]),
            r"reference: 2 scores but 3 labels",
        ),
        (
            lambda: estimate_performance([0.1, 0.2], [1, 1], [0.5], task="binary"),
            r"reference_labels must hold both classes to calibrate on, got only \[1\]",
        ),
        (
            lambda: estimate_performance([0.1, 0.2, 0.3], ["a", "b", "c"], [0.5], task="binary"),
            r"reference_labels of a binary classifier must hold two values, got 3",
        ),
        (
            lambda: estimate_performance([0.1, 0.9], [0, 1], [0.5], confidence=1.5),
            r"confidence must be in \(0, 1\), got 1.5",
        ),
        (lambda: PerformanceEstimator().estimate([0.5]), r"the estimator is not fitted"),
        (
            lambda: estimate_performance([0.1, 0.9], [0, 1], ["x"]),
            r"current_scores must be numbers",
        ),
        (lambda: PerformanceEstimator("classifier"), r"task must be auto, binary or regression"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_named(call: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        call()


def test_an_empty_window_has_no_estimate(trained: tuple[Any, np.ndarray, np.ndarray]) -> None:
    _, ref_scores, ref_labels = trained
    estimate = estimate_performance(ref_scores, ref_labels, [])
    assert estimate.n == 0
    assert math.isnan(estimate["roc_auc"].value)
    assert estimate.to_dict()["metrics"]["roc_auc"]["value"] is None
    with pytest.raises(KeyError, match=r"metric 'mae' is not estimated; estimated: roc_auc"):
        estimate["mae"]
