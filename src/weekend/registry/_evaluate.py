"""Scoring a candidate (and its baseline) on the same data, overall and per slice, with gates.

Metrics: for classifiers ``auc``, ``accuracy``, ``log_loss``, ``precision``, ``recall``,
``f1`` (binary: the positive class is the second of the model's classes; more classes: macro
averages and one-vs-rest AUC); for regressors ``rmse``, ``mae``, ``r2``; for both ``rows``.
A metric that cannot be computed (AUC on a slice with one class, probabilities of a model
that has none) is NaN, "undefined" in summaries.

Slices are the groups of each slice column's values (missing values form their own group).
A slice with fewer than ``min_slice_rows`` rows is scored and reported but not gated, and so
is a slice gate whose metric is undefined on that slice: small or degenerate groups would
otherwise block every promotion on noise. Overall gates are always checked; an undefined
overall metric fails its gate.

An evaluation is *blessed* when it has at least one gate and every checked gate passed.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.registry._gates import CLASSIFIER_METRICS, REGRESSOR_METRICS, Gate

Array = np.ndarray[Any, Any]
MAX_SLICES_PER_COLUMN = 200


def _plain(value: Any) -> Any:
    """A JSON-able form of a slice value."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _show(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value)}"
    return f"{value:.4g}"


# -- metrics ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """One model's outputs on the evaluation rows."""

    prediction: Array
    proba: Array | None
    classes: Array | None


def classifier_metrics(y: Array, scores: Scores) -> dict[str, float]:
    from sklearn import metrics as skm

    out: dict[str, float] = {"rows": float(len(y))}
    if len(y) == 0:
        return out | dict.fromkeys(CLASSIFIER_METRICS, math.nan)
    classes = scores.classes if scores.classes is not None else np.unique(y)
    pred, proba = scores.prediction, scores.proba
    out["accuracy"] = float(np.mean(pred == y))
    binary = len(classes) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if binary:
            kwargs: dict[str, Any] = {"pos_label": classes[1], "average": "binary"}
        else:
            kwargs = {"labels": list(classes), "average": "macro"}
        for key, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            try:
                out[key] = float(fn(y, pred, zero_division=0, **kwargs))
            except ValueError:
                out[key] = math.nan
        out["auc"] = out["log_loss"] = math.nan
        if proba is not None:
            with contextlib.suppress(ValueError):  # a single class in y: AUC is undefined
                if binary:
                    out["auc"] = float(skm.roc_auc_score(y == classes[1], proba[:, 1]))
                else:
                    out["auc"] = float(
                        skm.roc_auc_score(y, proba, multi_class="ovr", labels=list(classes))
                    )
            with contextlib.suppress(ValueError):
                out["log_loss"] = float(skm.log_loss(y, proba, labels=list(classes)))
    return out


def regressor_metrics(y: Array, scores: Scores) -> dict[str, float]:
    out: dict[str, float] = {"rows": float(len(y))}
    if len(y) == 0:
        return out | dict.fromkeys(REGRESSOR_METRICS, math.nan)
    pred = np.asarray(scores.prediction, dtype=np.float64).reshape(len(y), -1)
    truth = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    err = pred - truth
    out["rmse"] = float(np.sqrt(np.mean(err**2)))
    out["mae"] = float(np.mean(np.abs(err)))
    total = float(np.sum((truth - truth.mean(axis=0)) ** 2))
    out["r2"] = 1.0 - float(np.sum(err**2)) / total if total > 0 else math.nan
    return out


def score_all(task: str, y: Array, scores: Scores, rows: Array | None = None) -> dict[str, float]:
    if rows is not None:
        y = y[rows]
        proba = None if scores.proba is None else scores.proba[rows]
        scores = Scores(scores.prediction[rows], proba, scores.classes)
    return (classifier_metrics if task == "classifier" else regressor_metrics)(y, scores)


def check_labels(y: pd.Series[Any], label: str, task: str, classes: Array | None) -> Array:
    """The label column as an array, refused when it has nulls or classes the model lacks."""
    missing = y.isna()
    if missing.any():
        raise DataValidationError(
            f"label column {label!r} has {int(missing.sum())} missing values (first at row "
            f"{int(np.flatnonzero(missing.to_numpy())[0])}); drop those rows before evaluating"
        )
    if task != "classifier" or classes is None:
        try:
            return y.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataValidationError(
                f"label column {label!r} must be numeric for a regressor, got {y.dtype}"
            ) from None
    values = y.to_numpy()
    integral = values.dtype.kind == "f" and bool(np.all(values == np.round(values)))
    if classes.dtype.kind in "iub" and integral:
        values = values.astype(classes.dtype)
    known = np.isin(values, classes)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise DataValidationError(
            f"label column {label!r} has a value the model does not know: {_show(values[row])} at "
            f"row {row} (the model's classes: {', '.join(repr(c) for c in classes.tolist())})"
        )
    return values


# -- results ------------------------------------------------------------------------------------


@dataclass
class SliceResult:
    """The metrics of one slice; ``gated`` False when below ``min_slice_rows``."""

    column: str
    value: Any
    rows: int
    gated: bool
    candidate: dict[str, float]
    baseline: dict[str, float] | None

    @property
    def label(self) -> str:
        return f"{self.column}={self.value}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GateResult:
    """One gate checked on one scope (``overall`` or ``column=value``)."""

    gate: str
    scope: str
    passed: bool
    left: float
    right: float
    op: str

    @property
    def detail(self) -> str:
        return f"{_fmt(self.left)} {self.op} {_fmt(self.right)}"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "detail": self.detail}


@dataclass
class Evaluation:
    """A stored evaluation: metrics overall and per slice, gate results, and the blessing."""

    id: str
    name: str
    version: int
    baseline: str | None
    baseline_alias: str | None
    task: str
    label: str
    data: dict[str, Any]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float] | None
    slices: list[SliceResult]
    gates: list[GateResult]
    blessed: bool
    min_slice_rows: int
    created_at: int
    notes: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("slices", "gates")}
        out["ref"] = self.ref
        out["slices"] = [s.to_dict() for s in self.slices]
        out["gates"] = [g.to_dict() for g in self.gates]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        fields = {k: v for k, v in data.items() if k not in ("ref", "slices", "gates")}
        slices = [SliceResult(**s) for s in data.get("slices", [])]
        gates = [
            GateResult(**{k: v for k, v in g.items() if k != "detail"})
            for g in data.get("gates", [])
        ]
        return cls(slices=slices, gates=gates, **fields)

    def summary(self) -> str:
        """A readable report: metrics, gates and slices, in plain text."""
        against = f" against {self.baseline}" if self.baseline else ""
        if self.baseline_alias:
            against += f" ({self.baseline_alias})"
        source = self.data.get("ref") or self.data.get("path") or "a DataFrame"
        verdict = "BLESSED" if self.blessed else "NOT BLESSED"
        lines = [
            f"evaluation {self.id[:12]} of {self.ref}{against} on {source} "
            f"({int(self.metrics.get('rows', 0))} rows, label {self.label!r}): {verdict}",
            "",
            f"  {'metric':<10} {'candidate':>10} {'baseline':>10} {'change':>10}",
        ]
        keys = CLASSIFIER_METRICS if self.task == "classifier" else REGRESSOR_METRICS
        for key in keys:
            cand = self.metrics.get(key, math.nan)
            base = (self.baseline_metrics or {}).get(key, math.nan)
            change = "" if self.baseline_metrics is None else _fmt(cand - base)
            base_text = "" if self.baseline_metrics is None else _fmt(base)
            lines.append(f"  {key:<10} {_fmt(cand):>10} {base_text:>10} {change:>10}")
        passed = sum(g.passed for g in self.gates)
        lines += ["", f"gates: {passed} passed, {len(self.gates) - passed} failed"]
        by_slice: dict[str, list[GateResult]] = {}
        for g in self.gates:
            if g.scope == "overall":
                lines.append(f"  {'pass' if g.passed else 'FAIL'}  {g.gate}: {g.detail}")
            else:
                by_slice.setdefault(g.gate, []).append(g)
        for gate, results in by_slice.items():
            ok = sum(r.passed for r in results)
            mark = "pass" if ok == len(results) else "FAIL"
            lines.append(f"  {mark}  {gate}: {ok} of {len(results)} slices passed")
            for r in results:
                if not r.passed:
                    lines.append(f"          {r.scope}: {r.detail}")
        if self.slices:
            small = [s for s in self.slices if not s.gated]
            lines.append(
                f"slices: {len(self.slices)} ({len(small)} below min_slice_rows="
                f"{self.min_slice_rows}, reported but not gated)"
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# -- the evaluation -----------------------------------------------------------------------------


def slice_groups(
    frame: pd.DataFrame, columns: Sequence[str], max_slices: int = MAX_SLICES_PER_COLUMN
) -> list[tuple[str, Any, Array]]:
    """``(column, value, row positions)`` per slice, values sorted, missing values last."""
    out = []
    for column in columns:
        if column not in frame.columns:
            raise InvalidValueError(
                f"slice column {column!r} is not in the evaluation data "
                f"(columns: {', '.join(map(repr, list(frame.columns)[:20]))})"
            )
        codes, uniques = pd.factorize(frame[column], sort=True, use_na_sentinel=True)
        n_groups = len(uniques) + int((codes < 0).any())
        if n_groups > max_slices:
            raise InvalidValueError(
                f"slice column {column!r} has {n_groups} distinct values; at most {max_slices} "
                "slices per column are allowed (bin it into fewer groups first)"
            )
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(-1, len(uniques) + 1))
        for code in range(len(uniques)):
            rows = order[bounds[code + 1] : bounds[code + 2]]
            out.append((column, _plain(uniques[code]), rows))
        nulls = order[bounds[0] : bounds[1]]
        if len(nulls):
            out.append((column, None, nulls))
    return out


def check_gates(
    gates: Sequence[Gate],
    overall: Mapping[str, Mapping[str, float]],
    slices: Sequence[tuple[SliceResult, Mapping[str, Mapping[str, float]]]],
) -> list[GateResult]:
    results = []
    for gate in gates:
        if gate.scope == "overall":
            passed, left, right = gate.check(overall)
            results.append(GateResult(gate.text, "overall", passed, left, right, gate.op))
            continue
        for result, values in slices:
            if not result.gated or not gate.applies_to(result.column):
                continue
            passed, left, right = gate.check(values)
            if math.isnan(left) or math.isnan(right):
                continue  # undefined on this slice: reported in the slice, not gated
            results.append(GateResult(gate.text, result.label, passed, left, right, gate.op))
    return results


def evaluate_scores(
    *,
    task: str,
    y: Array,
    candidate: Scores,
    baseline: Scores | None,
    groups: Sequence[tuple[str, Any, Array]],
    gates: Sequence[Gate],
    min_slice_rows: int,
) -> tuple[dict[str, float], dict[str, float] | None, list[SliceResult], list[GateResult]]:
    """Metrics overall and per slice for both models, and every gate checked."""
    overall = score_all(task, y, candidate)
    base_overall = None if baseline is None else score_all(task, y, baseline)
    per_slice = []
    for column, value, rows in groups:
        cand = score_all(task, y, candidate, rows)
        base = None if baseline is None else score_all(task, y, baseline, rows)
        result = SliceResult(column, value, len(rows), len(rows) >= min_slice_rows, cand, base)
        per_slice.append((result, {"candidate": cand, "baseline": base or {}}))
    values = {"candidate": overall, "baseline": base_overall or {}}
    gate_results = check_gates(gates, values, per_slice)
    return overall, base_overall, [r for r, _ in per_slice], gate_results


__all__ = [
    "Evaluation",
    "GateResult",
    "Scores",
    "SliceResult",
    "check_labels",
    "evaluate_scores",
    "slice_groups",
]
