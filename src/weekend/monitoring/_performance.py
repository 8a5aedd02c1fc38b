"""Realized performance of a window, from the labels that arrived (scikit-learn's metrics).

- binary classifiers with a score (``out.proba.<positive class>``): ROC AUC, F1, precision,
  recall, accuracy, log loss, and calibration: the mean score minus the observed positive
  rate (calibration in the large) and the expected calibration error over 10 equal-width
  bins of the score;
- other classifiers: accuracy (and F1, macro-averaged);
- regressors: MAE, RMSE and the mean error (bias).

Only labelled rows count; ``label_coverage`` is their share of the window. A metric that is
undefined on the labelled rows (AUC with one class) is left out, never reported as 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MIN_LABELS = 10
"""Fewer labelled rows than this: no realized metric (only the coverage)."""


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def calibration(scores: np.ndarray[Any, Any], truth: np.ndarray[Any, Any]) -> dict[str, float]:
    """Calibration in the large and the expected calibration error (10 bins)."""
    bins = np.minimum((scores * 10).astype(np.int64), 9)
    ece = 0.0
    for b in range(10):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(scores[mask].mean() - truth[mask].mean())
    return {
        "calibration_in_the_large": float(scores.mean() - truth.mean()),
        "ece": float(ece),
    }


def binary_metrics(
    scores: np.ndarray[Any, Any], truth: np.ndarray[Any, Any], threshold: float = 0.5
) -> dict[str, float | None]:
    """The realized metrics of a binary classifier (``truth`` in {0, 1})."""
    from sklearn import metrics as m

    predicted = (scores >= threshold).astype(np.int64)
    found: dict[str, float | None] = {
        "accuracy": float(m.accuracy_score(truth, predicted)),
        "f1": float(m.f1_score(truth, predicted, zero_division=0.0)),
        "precision": float(m.precision_score(truth, predicted, zero_division=0.0)),
        "recall": float(m.recall_score(truth, predicted, zero_division=0.0)),
    }
    if len(np.unique(truth)) == 2:
        found["roc_auc"] = float(m.roc_auc_score(truth, scores))
        clipped = np.clip(scores, 1e-15, 1 - 1e-15)
        found["log_loss"] = _finite(float(m.log_loss(truth, clipped, labels=[0, 1])))
    found.update(calibration(scores, truth))
    return found


def label_metrics(predicted: list[str], truth: list[str]) -> dict[str, float | None]:
    """Accuracy and macro F1 of class labels compared as text."""
    from sklearn import metrics as m

    return {
        "accuracy": float(m.accuracy_score(truth, predicted)),
        "f1_macro": float(m.f1_score(truth, predicted, average="macro", zero_division=0.0)),
    }


def regression_metrics(
    predicted: np.ndarray[Any, Any], truth: np.ndarray[Any, Any]
) -> dict[str, float | None]:
    """MAE, RMSE and bias (mean of prediction minus truth)."""
    error = predicted - truth
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(math.sqrt(float((error**2).mean()))),
        "bias": float(error.mean()),
    }


__all__ = ["MIN_LABELS", "binary_metrics", "calibration", "label_metrics", "regression_metrics"]
