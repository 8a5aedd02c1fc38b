"""Compiling a model version for serving, where a library does it faithfully.

``loaded.compiled()`` (see :class:`~weekend.registry.LoadedVersion`) compiles the version the
first time a process asks, and keeps the result for every later load of the same package:

1. the **candidates** for the model's family, in order: scikit-learn linear pipelines try the
   hand-written numpy backend, then ONNX Runtime (skl2onnx, numbers fed as float64, then as
   float32); scikit-learn tree models (HistGradientBoosting included) ONNX Runtime (float64,
   float32), then Treelite behind a compiled encoder; other scikit-learn estimators ONNX
   Runtime; LightGBM and XGBoost ONNX Runtime (onnxmltools, float32), then Treelite. The
   candidate that served this package before is tried first; ONNX exports and pickled
   models are not compiled;
2. the **check**: the original model and the candidate predict the same probe set
   (:mod:`weekend.registry._compile_probe`: the signature's columns, the profile's values,
   every category and split threshold of the model, the caller's rows). Class labels must be
   equal on every row and probabilities within :data:`TOLERANCE` (absolute); a regressor's
   values within :data:`TOLERANCE` of ``max(1, |value|)``. The first candidate that passes
   serves; when none does, the original model serves;
3. the **record**: a :class:`CompileCheck` (every attempt with its reason, largest difference
   and time, the library versions) written as JSON to
   ``<state_dir>/cache/compiled/<sha256 of the manifest>.json``, beside the verified package
   cache, and kept on the compiled model (``compiled.check``). A refusal recorded with the same
   library versions is not tried again; a success is checked again in every new process (the
   record is a cache file, not evidence a process may trust).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib.metadata
import json
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weekend.registry._compiled import (
    TOLERANCE,
    Attempt,
    BackendError,
    CompileCheck,
    CompiledModel,
    CompileUnsupportedError,
)
from weekend.registry._flavors import LoadedModel
from weekend.registry._signature import Signature

Array = np.ndarray[Any, Any]
Compiler = Callable[[LoadedModel, Sequence[tuple[str, str]]], CompiledModel]
RECORD_FORMAT = 1
_LIBRARIES = (
    "scikit-learn",
    "onnxruntime",
    "skl2onnx",
    "onnxmltools",
    "treelite",
    "lightgbm",
    "xgboost",
)


def _versions() -> dict[str, str]:
    out = {"weekend-compile": str(RECORD_FORMAT)}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _final(raw: Any) -> Any:
    steps = getattr(raw, "steps", None)
    return steps[-1][1] if steps else raw


def candidates(original: LoadedModel) -> list[tuple[str, Compiler]]:
    """The backends to try for ``original``, in order (see the module doc)."""
    from weekend.registry import _compile_linear, _compile_onnx, _compile_trees
    from weekend.registry._flavor_sklearn_fast import _linear_types

    onnx: list[tuple[str, Compiler]] = [
        ("onnxruntime:float64", functools.partial(_compile_onnx.compile_sklearn, dtype=np.float64)),
        ("onnxruntime:float32", functools.partial(_compile_onnx.compile_sklearn, dtype=np.float32)),
    ]
    if original.flavor == "sklearn":
        final = _final(original.raw)
        classifiers, regressors = _linear_types()
        if type(final) in classifiers | regressors:
            return [("numpy-linear", _compile_linear.compile_sklearn), *onnx]
        if type(final).__name__ in _compile_trees._SKLEARN_TREES:
            return [*onnx, ("treelite", _compile_trees.compile_sklearn)]
        return onnx
    if original.flavor in ("lightgbm", "xgboost"):
        return [
            ("onnxruntime:float32", _compile_onnx.compile_booster),
            ("treelite", _compile_trees.compile_booster),
        ]
    return []


def _inputs(signature: Signature) -> list[tuple[str, str]]:
    inputs = []
    for spec in signature.inputs:
        if spec.type in ("float", "int", "bool"):
            inputs.append((spec.name, "number"))
        elif spec.type in ("string", "category"):
            inputs.append((spec.name, "text"))
        else:
            raise CompileUnsupportedError(f"column {spec.name!r} is a {spec.type}")
    return inputs


def _expected(original: LoadedModel, frame: pd.DataFrame) -> tuple[Array, Array | None]:
    labels = np.asarray(original.predict(frame))
    proba = original.predict_proba(frame) if original.classes_ is not None else None
    return labels, None if proba is None else np.asarray(proba, dtype=np.float64)


def _compare(
    compiled: CompiledModel, frame: pd.DataFrame, expected: tuple[Array, Array | None]
) -> tuple[str, float, int]:
    """``(reason or "", largest difference, label mismatches)`` on the probe frame."""
    from weekend.registry._compile_encode import EncodeUnsupportedError

    columns, n = compiled.columns(frame)
    try:
        raw = compiled._raw(columns, n)
    except (EncodeUnsupportedError, BackendError) as exc:
        return f"cannot predict the probe rows ({exc})", float("nan"), 0
    labels, proba = expected
    if compiled.classes_ is None:
        values = labels.astype(np.float64).reshape(n)
        diff = np.abs(raw - values) / np.maximum(1.0, np.abs(values))
        worst = float(np.nanmax(diff)) if n else 0.0
        nan_mismatch = int((np.isnan(raw) != np.isnan(values)).sum())
        if nan_mismatch or worst > TOLERANCE:
            return (
                f"values differ by up to {worst:.3g} (relative; tolerance {TOLERANCE:g})",
                worst,
                0,
            )
        return "", worst, 0
    assert proba is not None
    worst = float(np.max(np.abs(raw - proba))) if n else 0.0
    mismatches = int((compiled._labels(raw, frame) != labels).sum())
    if worst > TOLERANCE or not np.isfinite(worst) or mismatches:
        share = np.mean(np.abs(raw - proba).max(axis=1) > TOLERANCE)
        return (
            f"probabilities differ by up to {worst:.3g} (tolerance {TOLERANCE:g}) on "
            f"{share:.1%} of {n:,} probe rows; {mismatches:,} labels differ",
            worst,
            mismatches,
        )
    return "", worst, mismatches


def _probe(
    signature: Signature, original: LoadedModel, profile: Any, extra: Sequence[pd.DataFrame]
) -> tuple[pd.DataFrame, tuple[Array, Array | None]]:
    """The probe frame and the original's outputs on it. Rows with unknown categories, then
    rows with missing values too, are left out when the original refuses them."""
    from weekend.registry._compile_encode import EncodeUnsupportedError, compile_columns
    from weekend.registry._compile_probe import UNKNOWN, probe_frame

    categories: dict[str, list[Any]] = {}
    if original.flavor == "sklearn":
        with contextlib.suppress(EncodeUnsupportedError):
            categories = compile_columns(original.raw)[0].categories
    frame = probe_frame(signature, original, profile=profile, categories=categories, extra=extra)
    text = [s.name for s in signature.inputs if s.type in ("string", "category")]
    unknown = frame[text].isin([UNKNOWN]).any(axis=1).to_numpy()
    missing = frame.isna().any(axis=1).to_numpy()
    error: Exception | None = None
    # the whole probe; without unknown categories; without missing values either
    for keep in (None, ~unknown, ~(unknown | missing)):
        rows = frame if keep is None else frame[keep].reset_index(drop=True)
        try:
            return rows, _expected(original, rows)
        except Exception as exc:  # the model's own error on the rows it refuses in service too
            error = exc
    raise CompileUnsupportedError(
        f"the original model fails on the probe rows ({type(error).__name__}: {error})"[:400]
    ) from error


def _attempt(
    name: str,
    compiler: Compiler,
    original: LoadedModel,
    inputs: list[tuple[str, str]],
    frame: pd.DataFrame,
    expected: tuple[Array, Array | None],
) -> tuple[Attempt, CompiledModel | None]:
    """Compile one candidate and check it: its record, and the model when it passed."""
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():  # converters warn about their own internals
            warnings.simplefilter("ignore")
            compiled = compiler(original, inputs)
            reason, worst, mismatches = _compare(compiled, frame, expected)
    except CompileUnsupportedError as exc:
        return Attempt(name, False, str(exc), seconds=time.perf_counter() - started), None
    except Exception as exc:  # a converter's or runtime's own error: this backend is out
        reason = f"{type(exc).__name__}: {exc}"[:400]
        return Attempt(name, False, reason, seconds=time.perf_counter() - started), None
    seconds = time.perf_counter() - started
    attempt = Attempt(name, not reason, reason, worst, mismatches, seconds)
    return attempt, (None if reason else compiled)


def _prepared(
    original: LoadedModel, signature: Signature | None, profile: Any, probe: Any, order: list[Any]
) -> tuple[list[tuple[str, str]], pd.DataFrame, tuple[Array, Array | None]]:
    """The inputs, the probe frame and the original's outputs on it, or the reason why the
    model cannot be compiled at all (:class:`CompileUnsupportedError`)."""
    if signature is None:
        raise CompileUnsupportedError("the version has no signature")
    if not order:
        raise CompileUnsupportedError(f"no backend compiles {original.flavor!r} models")
    if signature.output is not None and (signature.output.width or 1) > 1:
        raise CompileUnsupportedError("multi-output models")
    inputs = _inputs(signature)
    with warnings.catch_warnings():  # the original's warnings on our own probe rows
        warnings.simplefilter("ignore")
        frame, expected = _probe(signature, original, profile, probe)
    return inputs, frame, expected


def compile_model(
    original: LoadedModel,
    signature: Signature | None,
    *,
    package: str,
    profile: Any = None,
    probe: Sequence[pd.DataFrame] = (),
    record_dir: Path | None = None,
    backends: Sequence[str] | None = None,
) -> tuple[CompiledModel | None, CompileCheck]:
    """Compile and check ``original`` (see the module doc); ``(compiled or None, check)``.
    ``backends`` keeps only the named candidates (in their usual order)."""
    versions = _versions()
    previous = read_record(record_dir, package)
    fresh = not probe and not backends
    if previous is not None and previous.versions == versions and fresh and not previous.backend:
        return None, previous
    order = [c for c in candidates(original) if backends is None or c[0] in backends]
    if previous is not None and previous.backend is not None:
        order.sort(key=lambda c: c[0] != previous.backend)
    attempts: list[Attempt] = []
    chosen: CompiledModel | None = None
    rows = 0
    try:
        inputs, frame, expected = _prepared(original, signature, profile, probe, order)
        rows = len(frame)
    except CompileUnsupportedError as exc:
        attempts.append(Attempt("none", False, str(exc)))
        order = []
    for name, compiler in order:
        attempt, chosen = _attempt(name, compiler, original, inputs, frame, expected)
        attempts.append(attempt)
        if chosen is not None:
            break
    check = CompileCheck(
        package=package,
        backend=None if chosen is None else attempts[-1].backend,
        rows=rows,
        tolerance=TOLERANCE,
        attempts=tuple(attempts),
        versions=versions,
        checked_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    if chosen is not None:
        chosen.check = check
        chosen.variant = check.backend or ""
    write_record(record_dir, check)
    return chosen, check


def read_record(record_dir: Path | None, package: str) -> CompileCheck | None:
    """The recorded check of ``package``, or None (absent or unreadable)."""
    if record_dir is None:
        return None
    try:
        return CompileCheck.from_dict(json.loads((record_dir / f"{package}.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_record(record_dir: Path | None, check: CompileCheck) -> None:
    """Write ``check`` atomically (a failure to write is not an error: it is a cache)."""
    if record_dir is None:
        return
    target = record_dir / f"{check.package}.json"
    tmp = record_dir / f".tmp-{uuid.uuid4().hex}.json"
    try:
        record_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(check.to_dict(), indent=1, default=str))
        tmp.replace(target)
    except OSError:
        tmp.unlink(missing_ok=True)


class CompileSlot:
    """One package's compiled model in a process: compiled once, on first use, by one thread
    (the others wait for its result)."""

    def __init__(self, package: str, record_dir: Path | None) -> None:
        self.package = package
        self.record_dir = record_dir
        self._lock = threading.Lock()
        self._done = False
        self._compiled: CompiledModel | None = None
        self.check: CompileCheck | None = None

    def get(
        self,
        original: LoadedModel,
        signature: Signature | None,
        profile: Callable[[], Any],
        probe: Sequence[pd.DataFrame] = (),
    ) -> CompiledModel | None:
        if self._done:
            return self._compiled
        with self._lock:
            if not self._done:
                self._compiled, self.check = compile_model(
                    original,
                    signature,
                    package=self.package,
                    profile=profile(),
                    probe=probe,
                    record_dir=self.record_dir,
                )
                self._done = True
        return self._compiled


__all__ = ["RECORD_FORMAT", "CompileSlot", "candidates", "compile_model", "read_record"]
