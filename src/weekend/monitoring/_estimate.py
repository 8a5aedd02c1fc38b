"""Label-free performance estimation: what a model's metrics are likely to be on a window
whose labels have not arrived yet.

**Binary classifiers: confidence-based performance estimation (CBPE).** On a reference period
with labels, an isotonic regression maps the model's score to the observed frequency of the
positive class (``sklearn.isotonic.IsotonicRegression``, increasing, clipped to [0, 1]). On a
window, each row's calibrated probability ``p_i`` is the chance its label is positive, so
the expected confusion matrix is ``TP = sum p_i`` over the rows predicted positive (score >=
``threshold``), ``FP = sum (1 - p_i)`` over them, ``FN`` and ``TN`` likewise over the rows
predicted negative; precision, recall, F1 and accuracy follow. The ROC AUC is the expected
number of correctly ordered (positive, negative) pairs over the expected number of pairs,
ties counted half: with midranks ``R_i`` of the scores, ``m = sum p_i`` and ``v = sum
p_i (1 - p_i)``, ``E[U] = sum p_i R_i - (v + m^2 + m) / 2`` and ``E[P N] = n m - v - m^2``.

**The band.** Given the calibrated probabilities, a window's labels are independent Bernoulli
draws, so its realized metric is a random variable; its standard deviation comes from the
delta method on the sums it is made of (for the AUC, ``S = sum y_i R_i`` and ``P = sum
y_i``, whose variances and covariance are sums over the rows). The band is ``value +-
z * std`` (``z`` of the two-sided ``confidence``), clipped to [0, 1]. It is the sampling
band of the realized value; it does not cover an error of the calibration itself.

**Regressors: direct loss estimation (DLE).** On the reference, two gradient-boosted trees
(``sklearn.ensemble.HistGradientBoostingRegressor``) learn the absolute and the squared error
from the prediction and the features, on a seeded 80% of the rows; the other 20% measure
how far a row's error scatters around its estimate. On a window, the estimated MAE and MSE
are the means of the predicted errors (RMSE the square root of the MSE), with the band
``z * sqrt(scatter / n)``.

**The blind spot: concept drift.** Both estimators assume that the relation between the
model's output (and features) and the label is the one of the reference: under covariate
shift (the inputs move, the relation stays) they follow the realized performance; when the
relation itself changes (concept drift), they cannot see it, and only realized performance
from labels can.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from weekend.core.errors import InvalidValueError
from weekend.monitoring._effects import FloatArray

Task = Literal["binary", "regression"]
BINARY_METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")
REGRESSION_METRICS = ("mae", "mse", "rmse")
HOLDOUT_SHARE = 0.2


@dataclass(frozen=True)
class MetricEstimate:
    """One estimated metric: its value, the band ``[lower, upper]`` and the sampling
    standard deviation of the realized metric."""

    name: str
    value: float
    lower: float
    upper: float
    std: float

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (v if not isinstance(v, float) or math.isfinite(v) else None)
            for k, v in self.__dict__.items()
        }


@dataclass(frozen=True)
class Estimate:
    """Estimated metrics of one window (``estimate["roc_auc"].value``)."""

    task: Task
    method: str
    n: int
    confidence: float
    metrics: Mapping[str, MetricEstimate]

    def __getitem__(self, name: str) -> MetricEstimate:
        try:
            return self.metrics[name]
        except KeyError:
            raise KeyError(
                f"metric {name!r} is not estimated; estimated: {', '.join(self.metrics)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "method": self.method,
            "n": self.n,
            "confidence": self.confidence,
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
        }


def _vector(values: Any, what: str) -> FloatArray:
    """A 1-d float array of finite values, or an error naming the first bad row."""
    try:
        array = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InvalidValueError(f"{what} must be numbers, got {type(values).__name__}") from None
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidValueError(
            f"{what} must be finite numbers: row {row} is {array[row]} (drop or fill the "
            "missing scores first)",
            field=what,
        )
    return array


def _labels(values: Any, what: str) -> FloatArray:
    """Binary labels as 0.0 / 1.0 (the larger of two values, or True, is positive)."""
    raw = np.asarray(values).ravel()
    if raw.dtype == object:
        raw = raw.astype(str) if any(isinstance(v, str) for v in raw[:100]) else raw
    kinds = np.unique(raw)
    if len(kinds) > 2:
        raise InvalidValueError(
            f"{what} of a binary classifier must hold two values, got {len(kinds)} "
            f"({', '.join(map(repr, kinds[:5].tolist()))}); pass task='regression' for a "
            "regressor",
            field=what,
        )
    if len(kinds) < 2:
        raise InvalidValueError(
            f"{what} must hold both classes to calibrate on, got only {kinds.tolist()!r}",
            field=what,
        )
    return np.asarray(raw == kinds[1], dtype=np.float64)


def _same_length(a: FloatArray, b: FloatArray, what: str) -> None:
    if len(a) != len(b):
        raise InvalidValueError(f"{what}: {len(a)} scores but {len(b)} labels; they pair by row")


def _check_confidence(confidence: object) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise InvalidValueError(f"confidence must be a number in (0, 1), got {confidence!r:.40}")
    if not 0 < confidence < 1:
        raise InvalidValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(confidence)


def _metric(name: str, value: float, std: float, z: float, clip: bool = True) -> MetricEstimate:
    low, high = value - z * std, value + z * std
    if clip:
        low, high = max(low, 0.0), min(high, 1.0)
    else:
        low = max(low, 0.0)
    return MetricEstimate(name, value, low, high, std)


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


# ---------------------------------------------------------------- CBPE


def _confusion(p: FloatArray, predicted: np.ndarray[Any, Any], z: float) -> list[MetricEstimate]:
    """Accuracy, precision, recall and F1 of the expected confusion matrix, with the delta
    method's standard deviations of their realized values."""
    n = len(p)
    q = p * (1 - p)
    tp, fn = float(p[predicted].sum()), float(p[~predicted].sum())
    v1, v0 = float(q[predicted].sum()), float(q[~predicted].sum())
    n1 = int(predicted.sum())
    fp, tn = n1 - tp, (n - n1) - fn
    recall_sd = _ratio(math.sqrt(fn**2 * v1 + tp**2 * v0), (tp + fn) ** 2)
    f1_base = n1 + tp + fn
    f1_sd = _ratio(2 * math.sqrt((n1 + fn) ** 2 * v1 + tp**2 * v0), f1_base**2)
    return [
        _metric("f1", _ratio(2 * tp, 2 * tp + fp + fn), f1_sd, z),
        _metric("precision", _ratio(tp, n1), _ratio(math.sqrt(v1), n1), z),
        _metric("recall", _ratio(tp, tp + fn), recall_sd, z),
        _metric("accuracy", _ratio(tp + tn, n), _ratio(math.sqrt(v1 + v0), n), z),
    ]


def _roc_auc(p: FloatArray, scores: FloatArray, z: float) -> MetricEstimate:
    """The expected ROC AUC and the delta method's standard deviation of the realized one."""
    from scipy.stats import rankdata

    n = len(p)
    ranks = rankdata(scores)  # midranks: ties count half
    q = p * (1 - p)
    m, v = float(p.sum()), float(q.sum())
    expected_u = float(np.sum(p * ranks)) - (v + m * m + m) / 2
    expected_pairs = n * m - v - m * m
    value = expected_u / expected_pairs if expected_pairs > 0 else math.nan
    pairs = m * (n - m)
    if math.isnan(value) or pairs < 1e-9 or v < 1e-12:  # (almost) no labelling varies
        return _metric("roc_auc", value, 0.0 if not math.isnan(value) else math.nan, z)
    s = float(np.sum(p * ranks))
    d_s = 1 / pairs
    d_p = (-(m + 0.5) * pairs - (s - m * (m + 1) / 2) * (n - 2 * m)) / pairs**2
    var_s, cov = float(np.sum(q * ranks * ranks)), float(np.sum(q * ranks))
    variance = d_s * d_s * var_s + 2 * d_s * d_p * cov + d_p * d_p * v
    return _metric("roc_auc", value, math.sqrt(max(variance, 0.0)), z)


def _cbpe(calibrator: Any, scores: FloatArray, threshold: float, confidence: float) -> Estimate:
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    if not len(scores):
        nan = {k: MetricEstimate(k, math.nan, math.nan, math.nan, math.nan) for k in BINARY_METRICS}
        return Estimate("binary", "cbpe", 0, confidence, nan)
    p = np.clip(np.asarray(calibrator.predict(scores), dtype=np.float64), 0.0, 1.0)
    found = [_roc_auc(p, scores, z), *_confusion(p, scores >= threshold, z)]
    return Estimate("binary", "cbpe", len(scores), confidence, {m.name: m for m in found})


# ---------------------------------------------------------------- DLE


def _features(scores: FloatArray, features: Any, columns: list[str] | None) -> Any:
    """The loss models' input: the prediction and the features (a frame or a 2-d array)."""
    import pandas as pd

    if features is None:
        return pd.DataFrame({"prediction": scores})
    frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame(np.asarray(features))
    if len(frame) != len(scores):
        raise InvalidValueError(
            f"features have {len(frame)} rows but there are {len(scores)} predictions"
        )
    frame = frame.reset_index(drop=True).rename(columns=str)
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InvalidValueError(f"current_features lack the reference's columns {missing}")
        frame = frame[columns]
    out: dict[str, Any] = {"prediction": scores}
    for name in frame.columns:
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
        out[name] = column.astype("float64") if numeric else column.astype("category")
    return pd.DataFrame(out)


def _loss_model(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.1, categorical_features="from_dtype", random_state=seed
    )


@dataclass
class _LossModels:
    absolute: Any
    squared: Any
    scatter_abs: float  # mean squared deviation of |error| around its estimate (held out)
    scatter_sq: float
    columns: list[str] | None
    categories: dict[str, Any]


def _fit_dle(predictions: FloatArray, targets: FloatArray, features: Any, seed: int) -> _LossModels:
    frame = _features(predictions, features, None)
    errors = targets - predictions
    rng = np.random.default_rng(seed)
    held = rng.random(len(frame)) < HOLDOUT_SHARE
    if held.sum() < 10 or (~held).sum() < 10:
        raise InvalidValueError(
            f"direct loss estimation needs at least 50 reference rows, got {len(frame)}"
        )
    models = []
    for target in (np.abs(errors), errors**2):
        model = _loss_model(seed).fit(frame[~held], target[~held])
        guess = np.maximum(model.predict(frame[held]), 0.0)
        models.append((model, float(np.mean((target[held] - guess) ** 2))))
    columns = None if features is None else [c for c in frame.columns if c != "prediction"]
    categories = {c: frame[c].cat.categories for c in frame.columns if frame[c].dtype == "category"}
    return _LossModels(models[0][0], models[1][0], models[0][1], models[1][1], columns, categories)


def _dle(
    fitted: _LossModels, predictions: FloatArray, features: Any, z: float
) -> list[MetricEstimate]:
    import pandas as pd

    frame = _features(predictions, features, fitted.columns)
    for name, categories in fitted.categories.items():
        frame[name] = pd.Categorical(frame[name].astype(str), categories=categories)
    n = len(frame)
    mae = float(np.mean(np.maximum(fitted.absolute.predict(frame), 0.0)))
    mse = float(np.mean(np.maximum(fitted.squared.predict(frame), 0.0)))
    mae_sd, mse_sd = math.sqrt(fitted.scatter_abs / n), math.sqrt(fitted.scatter_sq / n)
    rmse = math.sqrt(mse)
    rmse_sd = _ratio(mse_sd, 2 * rmse) if rmse else math.nan
    return [
        _metric("mae", mae, mae_sd, z, clip=False),
        _metric("mse", mse, mse_sd, z, clip=False),
        _metric("rmse", rmse, rmse_sd, z, clip=False),
    ]


# ---------------------------------------------------------------- the estimator


class PerformanceEstimator:
    """Fit once on a labelled reference, estimate many windows (CBPE or DLE).

    ``PerformanceEstimator(task="auto").fit(reference_scores, reference_labels)`` then
    ``.estimate(current_scores)`` per window. ``task``: ``binary`` (scores are the positive
    class's score, any real scale; ``threshold`` makes the predicted class), ``regression``
    (scores are predictions, labels are targets; ``reference_features`` /
    ``current_features`` help the loss models), or ``auto`` (binary when the labels hold two
    values). ``confidence``: the band's two-sided level.
    """

    def __init__(
        self,
        task: Literal["auto", "binary", "regression"] = "auto",
        *,
        threshold: float = 0.5,
        confidence: float = 0.95,
        seed: int = 0,
    ) -> None:
        if task not in ("auto", "binary", "regression"):
            raise InvalidValueError(f"task must be auto, binary or regression, got {task!r:.40}")
        self.task = task
        self.threshold = float(threshold)
        self.confidence = _check_confidence(confidence)
        self.seed = seed
        self.fitted_task_: Task | None = None
        self._calibrator: Any = None
        self._losses: _LossModels | None = None

    def fit(
        self, reference_scores: Any, reference_labels: Any, reference_features: Any = None
    ) -> PerformanceEstimator:
        scores = _vector(reference_scores, "reference_scores")
        task = self.task
        if task == "auto":
            task = "binary" if len(np.unique(np.asarray(reference_labels))) <= 2 else "regression"
        if task == "binary":
            from sklearn.isotonic import IsotonicRegression

            labels = _labels(reference_labels, "reference_labels")
            _same_length(scores, labels, "reference")
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self._calibrator = iso.fit(scores, labels)
        else:
            targets = _vector(reference_labels, "reference_labels")
            _same_length(scores, targets, "reference")
            self._losses = _fit_dle(scores, targets, reference_features, self.seed)
        self.fitted_task_ = task
        return self

    def estimate(self, current_scores: Any, current_features: Any = None) -> Estimate:
        if self.fitted_task_ is None:
            raise InvalidValueError("the estimator is not fitted: call fit(...) first")
        scores = _vector(current_scores, "current_scores")
        if self.fitted_task_ == "binary":
            return _cbpe(self._calibrator, scores, self.threshold, self.confidence)
        from scipy.stats import norm

        assert self._losses is not None
        z = float(norm.ppf(0.5 + self.confidence / 2))
        if not len(scores):
            raise InvalidValueError("current_scores is empty: there is no window to estimate")
        found = _dle(self._losses, scores, current_features, z)
        return Estimate(
            "regression", "dle", len(scores), self.confidence, {m.name: m for m in found}
        )


def estimate_performance(
    reference_scores: Any,
    reference_labels: Any,
    current_scores: Any,
    *,
    task: Literal["auto", "binary", "regression"] = "auto",
    reference_features: Any = None,
    current_features: Any = None,
    threshold: float = 0.5,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """The estimated metrics of ``current_scores``, whose labels are not known, from a
    labelled reference: ROC AUC, F1, precision, recall and accuracy of a binary classifier
    (CBPE), or MAE, MSE and RMSE of a regressor (direct loss estimation), each with its
    band. See :class:`PerformanceEstimator` for the arguments and ``docs/monitoring.md``
    for the method and its blind spot (concept drift)."""
    estimator = PerformanceEstimator(task, threshold=threshold, confidence=confidence, seed=seed)
    estimator.fit(reference_scores, reference_labels, reference_features)
    return estimator.estimate(current_scores, current_features)


__all__ = [
    "BINARY_METRICS",
    "REGRESSION_METRICS",
    "Estimate",
    "MetricEstimate",
    "PerformanceEstimator",
    "estimate_performance",
]
