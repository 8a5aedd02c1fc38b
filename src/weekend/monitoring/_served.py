"""Monitoring served traffic: the windows of a model version's prediction log, measured.

:func:`served_report` opens one DuckDB session over the log's segments
(:mod:`weekend.monitoring._windows`), runs the quality query once
(:mod:`weekend.monitoring._quality`), then reads one window at a time: its features are
compared with the model version's reference by :func:`weekend.monitoring.stats.compare_columns`
(the reference is prepared once), its scores and classes with the reference period (the
first window), its labelled rows give the realized metrics and, for a binary classifier or a
regressor, the first window's labelled rows calibrate the label-free estimate
(:func:`weekend.monitoring.stats.estimate_performance`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from weekend.core.duck import DuckLimits, duckdb_session
from weekend.core.errors import InvalidValueError, NotFoundError, WeekendError
from weekend.monitoring import _performance as perf
from weekend.monitoring._compare import _model_side, _reference_values, _table_side
from weekend.monitoring._quality import expectations, window_quality
from weekend.monitoring._report import ServedReport, WindowReport, iso
from weekend.monitoring._windows import (
    WindowSpec,
    create_labels,
    create_log_view,
    log_columns,
    parse_window,
    segment_files,
    window_table,
)
from weekend.monitoring.stats import (
    DEFAULT_FDR,
    DriftResult,
    Estimate,
    Reference,
    compare_columns,
    estimate_performance,
    prepare_reference,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from weekend.artifacts import ArtifactStore
    from weekend.core.settings import Settings
    from weekend.data import Datasets
    from weekend.predictions import PredictionLogs
    from weekend.registry import ModelVersion

Progress = Callable[[int, int], None]
MIN_REFERENCE_LABELS = 100
"""Labelled rows the reference period needs before the label-free estimate is made."""
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_us(value: object, field: str) -> int | None:
    """A time (datetime, date, ISO text; naive means UTC) as µs since the epoch."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValueError(
                f"{field} must be a datetime or ISO 8601 text such as '2013-06-01' or "
                f"'2013-06-01T12:00:00Z', got {value!r:.40}",
                field=field,
            ) from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise InvalidValueError(
            f"{field} must be a datetime, date or ISO text, got {type(value).__name__}",
            field=field,
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


@dataclass
class _Outputs:
    """Which logged output columns the report reads, and how."""

    prediction: str | None
    score: str | None
    positive: str | None
    task: str

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.prediction, self.score) if c is not None]


def _outputs(version: ModelVersion, logged: Mapping[str, str]) -> _Outputs:
    prediction = "out.prediction" if "out.prediction" in logged else None
    output = version.signature.output if version.signature is not None else None
    classes = list(output.classes or ()) if output is not None else []
    task = version.task
    score = positive = None
    if task == "classifier" and len(classes) == 2:
        positive = str(classes[1])
        name = f"out.proba.{positive}"
        score = name if name in logged else None
        task = "binary"
    return _Outputs(prediction, score, positive, task)


@dataclass
class _Plan:
    """The reference prepared once, and what the windows compare."""

    reference: Reference | None
    features: list[str]
    label: str
    skipped: dict[str, str]
    ref_columns: dict[str, Any]


def _plan(
    version: ModelVersion,
    reference: object,
    logged: Mapping[str, str],
    artifacts: ArtifactStore,
    datasets: Datasets,
) -> _Plan:
    side = (
        _model_side(version, artifacts)
        if reference is None
        else _table_side(reference, "reference", datasets)
    )
    kinds: dict[str, Any] = {}
    skipped: dict[str, str] = dict(side.unusable)
    for name, kind in side.kinds.items():
        if f"in.{name}" not in logged:
            skipped[name] = "not compared: not in the prediction log"
        elif kind in ("numeric", "categorical", "binary"):
            kinds[name] = kind
        else:
            skipped[name] = str(kind)
    if not kinds:
        return _Plan(None, [], side.label, skipped, {})
    values = {n: _reference_values(side, n, k) for n, k in kinds.items()}
    prepared = prepare_reference(values, kinds)
    ref_columns = {n: v for n, v in values.items() if n in side.columns}
    return _Plan(prepared, list(kinds), side.label, skipped, ref_columns)


def _array(table: pa.Table, name: str) -> np.ndarray[Any, Any]:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def _realized(table: pa.Table, out: _Outputs) -> tuple[float, dict[str, float | None]]:
    rows = table.num_rows
    labelled = table.filter(table.column("__label").is_valid())
    coverage = labelled.num_rows / rows if rows else 0.0
    if labelled.num_rows < perf.MIN_LABELS or out.prediction is None:
        return coverage, {}
    if out.task == "binary" and out.score is not None and out.positive is not None:
        truth = (_array(labelled, "__label").astype(str) == out.positive).astype(np.int64)
        return coverage, perf.binary_metrics(_array(labelled, out.score).astype(float), truth)
    if out.task == "classifier" or out.task == "binary":
        predicted = [str(v) for v in _array(labelled, out.prediction)]
        return coverage, perf.label_metrics(
            predicted, [str(v) for v in _array(labelled, "__label")]
        )
    numbers = labelled.filter(labelled.column("__label_num").is_valid())
    if numbers.num_rows < perf.MIN_LABELS:
        return coverage, {}
    predicted_num = _array(numbers, out.prediction).astype(float)
    return coverage, perf.regression_metrics(predicted_num, _array(numbers, "__label_num"))


@dataclass
class _Baseline:
    """The reference period (the first window): its outputs and labelled scores."""

    outputs: dict[str, Any]
    kinds: dict[str, Any]
    scores: np.ndarray[Any, Any] | None = None
    labels: np.ndarray[Any, Any] | None = None


def _baseline(table: pa.Table, out: _Outputs) -> _Baseline:
    outputs: dict[str, Any] = {}
    kinds: dict[str, Any] = {}
    if out.score is not None:
        outputs["score"], kinds["score"] = _array(table, out.score).astype(float), "numeric"
    if out.prediction is not None:
        values = _array(table, out.prediction)
        if out.task in ("binary", "classifier"):
            outputs["class"], kinds["class"] = values.astype(str), "categorical"
        else:
            outputs["prediction"], kinds["prediction"] = values.astype(float), "numeric"
    base = _Baseline(outputs, kinds)
    labelled = table.filter(table.column("__label").is_valid())
    if labelled.num_rows >= MIN_REFERENCE_LABELS:
        if out.task == "binary" and out.score is not None:
            base.scores = _array(labelled, out.score).astype(float)
            base.labels = (_array(labelled, "__label").astype(str) == out.positive).astype(float)
        elif out.task == "regressor" and out.prediction is not None:
            numbers = labelled.filter(labelled.column("__label_num").is_valid())
            base.scores = _array(numbers, out.prediction).astype(float)
            base.labels = _array(numbers, "__label_num").astype(float)
    return base


def _current_outputs(table: pa.Table, out: _Outputs, base: _Baseline) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if "score" in base.kinds and out.score is not None:
        found["score"] = _array(table, out.score).astype(float)
    if "class" in base.kinds and out.prediction is not None:
        found["class"] = _array(table, out.prediction).astype(str)
    if "prediction" in base.kinds and out.prediction is not None:
        found["prediction"] = _array(table, out.prediction).astype(float)
    return found


def _estimate(table: pa.Table, out: _Outputs, base: _Baseline) -> Estimate | None:
    if base.scores is None or base.labels is None or table.num_rows == 0:
        return None
    column = out.score if out.task == "binary" else out.prediction
    if column is None:
        return None
    task: Literal["binary", "regression"] = "binary" if out.task == "binary" else "regression"
    current = _array(table, column).astype(float)
    try:
        return estimate_performance(base.scores, base.labels, current, task=task)
    except WeekendError:
        return None


def _drift(
    reference: Mapping[str, Any] | Reference,
    current: Mapping[str, Any],
    kinds: Mapping[str, Any] | None,
    options: Mapping[str, Any],
) -> DriftResult | None:
    if not current:
        return None
    try:
        return compare_columns(reference, current, kinds, **options)
    except InvalidValueError:
        return None  # e.g. a window whose column holds no value at all


def _histogram(reference: Any, current: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Reference and current shares over 20 bins spanning the reference's range."""
    ref = np.asarray(reference, dtype=float)
    ref, cur = ref[np.isfinite(ref)], current[np.isfinite(current)]
    if not ref.size:
        return {}
    edges = np.histogram_bin_edges(ref, bins=20)
    ref_counts, _ = np.histogram(np.clip(ref, edges[0], edges[-1]), edges)
    cur_counts, _ = np.histogram(np.clip(cur, edges[0], edges[-1]), edges)
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "reference": (ref_counts / max(ref.size, 1)).tolist(),
        "current": (cur_counts / max(cur.size, 1)).tolist(),
    }


def _bars(reference: Any, current: np.ndarray[Any, Any], top: int = 20) -> dict[str, Any]:
    """Reference and current shares of the most frequent reference categories."""
    from weekend.monitoring.stats import Counts

    if isinstance(reference, Counts):
        ref_counts = {str(k): int(v) for k, v in reference.counts.items()}
    else:
        values, counts = np.unique(np.asarray(reference).astype(str), return_counts=True)
        ref_counts = dict(zip(values.tolist(), counts.tolist(), strict=True))
    total = sum(ref_counts.values()) or 1
    names = sorted(ref_counts, key=lambda k: -ref_counts[k])[:top]
    cur_values, cur_counts = np.unique(current.astype(str), return_counts=True)
    cur_map = dict(zip(cur_values.tolist(), cur_counts.tolist(), strict=True))
    size = max(int(current.size), 1)
    return {
        "kind": "categorical",
        "categories": names,
        "reference": [ref_counts[n] / total for n in names],
        "current": [cur_map.get(n, 0) / size for n in names],
    }


def _distributions(
    plan: _Plan, values: Mapping[str, Any], kinds: Mapping[str, Any]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in plan.features:
        if plan.reference is None:
            break
        ref = plan.ref_columns.get(name)
        current = np.asarray(values[name].drop_null().to_numpy(zero_copy_only=False))
        if kinds[name] == "numeric" and ref is not None:
            ref_np = np.asarray(ref.to_numpy(zero_copy_only=False), dtype=float)
            found[name] = _histogram(ref_np, current.astype(float))
        elif kinds[name] != "numeric":
            source = ref if ref is not None else plan_counts(plan, name)
            if source is not None:
                ref_np = (
                    source
                    if not hasattr(source, "to_numpy")
                    else source.to_numpy(zero_copy_only=False)
                )
                found[name] = _bars(ref_np, current)
    return found


def plan_counts(plan: _Plan, name: str) -> Any:
    """The reference counts of a categorical column known only by its profile."""
    assert plan.reference is not None
    column = plan.reference.columns.get(name)
    return getattr(column, "counts", None)


@dataclass
class _Context:
    con: duckdb.DuckDBPyConnection
    plan: _Plan
    out: _Outputs
    options: dict[str, Any]


def _window(
    ctx: _Context, index: int, spec: WindowSpec, start_us: int, agg: Mapping[str, Any]
) -> tuple[WindowReport, pa.Table]:
    columns = [f"in.{n}" for n in ctx.plan.features] + ctx.out.columns
    table = window_table(ctx.con, columns, index)
    current = {n: table.column(f"in.{n}") for n in ctx.plan.features}
    notes: list[str] = []
    drift = None
    if ctx.plan.reference is not None:
        drift = _drift(ctx.plan.reference, current, None, ctx.options)
        if drift is None:
            notes.append("feature drift not computed: a compared column holds no value")
    coverage, realized = _realized(table, ctx.out)
    if spec.seconds is not None:
        w_start = start_us + index * spec.seconds * 1_000_000
        w_end = w_start + spec.seconds * 1_000_000
    else:
        w_start, w_end = int(agg["first_us"]), int(agg["last_us"]) + 1
    report = WindowReport(
        index=index,
        start_us=w_start,
        end_us=w_end,
        rows=int(agg["rows"]),
        latency_ms_p50=agg["latency_ms_p50"],
        latency_ms_p95=agg["latency_ms_p95"],
        quality=agg["quality"],
        drift=drift,
        prediction_drift=None,
        label_coverage=coverage,
        realized=realized,
        estimated=None,
        notes=tuple(notes),
    )
    return report, table


MEMORY_LIMIT = "1GB"
"""DuckDB's memory for the windows unless ``[monitor] duckdb_memory_limit`` says otherwise;
beyond it the session spills to disk, so that monitoring beside a service stays bounded."""


def duck_limits(settings: Settings) -> DuckLimits:
    """``[monitor] duckdb_memory_limit`` (default :data:`MEMORY_LIMIT`), ``[duckdb] threads``."""
    section = settings.values.get("monitor", {})
    memory = section.get("duckdb_memory_limit", MEMORY_LIMIT) if isinstance(section, dict) else ""
    threads = settings.values.get("duckdb", {}).get("threads", 0)
    return DuckLimits(memory_limit=str(memory or ""), threads=int(threads or 0))


def _span(
    predictions: PredictionLogs, version: ModelVersion, start: object, end: object, spec: WindowSpec
) -> tuple[int, int, list[Any]]:
    start_us, end_us = to_us(start, "start"), to_us(end, "end")
    if start_us is not None and end_us is not None and start_us >= end_us:
        raise InvalidValueError(
            f"start must be before end, got {start!r:.40} and {end!r:.40}", field="end"
        )
    segments = predictions.segments(
        version.name,
        None if start_us is None else iso(start_us),
        None if end_us is None else iso(end_us),
        versions=[version.version],
    )
    if not segments:
        span = f" between {start} and {end}" if start is not None or end is not None else ""
        raise NotFoundError(
            f"model {version.ref} has no logged predictions{span}; serve it with the "
            "prediction log on (weekend serve), or pick another time range or version"
        )
    if start_us is None:
        first = min(s.min_ts for s in segments)
        width = (spec.seconds or 1) * 1_000_000
        start_us = first - first % width  # whole windows: days start at midnight UTC
    if end_us is None:
        end_us = max(s.max_ts for s in segments) + 1
    return start_us, end_us, segments


def served_report(
    version: ModelVersion,
    *,
    predictions: PredictionLogs,
    artifacts: ArtifactStore,
    datasets: Datasets,
    settings: Settings,
    start: object = None,
    end: object = None,
    window: object = "1d",
    reference: object = None,
    fdr: float = DEFAULT_FDR,
    min_effect: Mapping[str, float | tuple[str, float]] | None = None,
    progress: Progress | None = None,
) -> ServedReport:
    """The report of ``version``'s served traffic; see the module documentation."""
    spec = parse_window(window)
    start_us, end_us, segments = _span(predictions, version, start, end, spec)
    files = segment_files(artifacts, segments)
    with duckdb_session(duck_limits(settings)) as con:
        create_log_view(con, files, start_us, end_us, spec)
        create_labels(con, predictions.labels(version.name))
        logged = log_columns(con)
        quality = window_quality(con, expectations(version.signature, version.profile), logged)
        plan = _plan(version, reference, logged, artifacts, datasets)
        ctx = _Context(con, plan, _outputs(version, logged), {"fdr": fdr, "min_effect": min_effect})
        windows, distributions = _run_windows(ctx, spec, start_us, quality, progress)
    return ServedReport(
        model=version.name,
        version=version.version,
        task=ctx.out.task,
        start_us=start_us,
        end_us=end_us,
        window=spec.text,
        reference=plan.label,
        windows=tuple(windows),
        distributions=distributions,
        skipped=plan.skipped,
    )


def _run_windows(
    ctx: _Context,
    spec: WindowSpec,
    start_us: int,
    quality: Mapping[int, Mapping[str, Any]],
    progress: Progress | None,
) -> tuple[list[WindowReport], dict[str, Any]]:
    from dataclasses import replace

    windows: list[WindowReport] = []
    base: _Baseline | None = None
    distributions: dict[str, Any] = {}
    indexes = sorted(quality)
    for done, index in enumerate(indexes):
        report, table = _window(ctx, index, spec, start_us, quality[index])
        if base is None:
            base = _baseline(table, ctx.out)
        outputs = _current_outputs(table, ctx.out, base)
        pred_drift = _drift(base.outputs, outputs, base.kinds, ctx.options) if base.kinds else None
        report = replace(
            report, prediction_drift=pred_drift, estimated=_estimate(table, ctx.out, base)
        )
        windows.append(report)
        if done == len(indexes) - 1 and ctx.plan.reference is not None:
            current = {n: table.column(f"in.{n}") for n in ctx.plan.features}
            distributions = _distributions(ctx.plan, current, ctx.plan.reference.kinds)
        if progress is not None:
            progress(done + 1, len(indexes))
    return windows, distributions


__all__ = ["MIN_REFERENCE_LABELS", "Progress", "served_report", "to_us"]
