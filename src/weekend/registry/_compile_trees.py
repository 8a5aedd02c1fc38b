"""The Treelite backend: tree ensembles predicted by Treelite's GTIL, behind a compiled encoder.

Treelite imports scikit-learn's tree ensembles (``HistGradientBoosting*`` with its categorical
splits, random forests, extra trees, decision trees, gradient boosting), LightGBM and XGBoost
models exactly, and its general tree inference library (GTIL) predicts one row in tens of
microseconds without a compiler. In a scikit-learn pipeline, the preprocessing before the
trees runs as a :class:`~weekend.registry._compile_encode.ColumnProgram`.

One semantic is not Treelite's: ``HistGradientBoosting`` reads a *negative* category code (an
``OrdinalEncoder``'s ``unknown_value=-1``) as a missing value, where Treelite would follow the
category split. The program turns negative codes of HistGradientBoosting's categorical
features into NaN first; without that, 500 unknown categories among 3,000 rows of the W3
pipeline come out up to 0.09 away in probability (the check refuses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from weekend.core.optional import require
from weekend.registry._compile_encode import ColumnProgram, compile_columns
from weekend.registry._compiled import (
    BackendError,
    CompiledModel,
    CompileUnsupportedError,
)
from weekend.registry._flavors import LoadedModel

Array = np.ndarray[Any, Any]

_SKLEARN_TREES = frozenset(
    {
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
    }
)


class TreeliteModel(CompiledModel):
    """Trees predicted by Treelite's GTIL on the matrix of a compiled encoder."""

    backend: ClassVar[str] = "treelite"

    def __init__(
        self,
        inputs: Sequence[tuple[str, str]],
        classes: Array | None,
        original: LoadedModel,
        model: Any,
        program: ColumnProgram | None,
        order: Sequence[str],
        threads: int = 1,
        float32: bool = False,
    ) -> None:
        super().__init__(inputs, classes, original)
        self._float32 = float32  # round the features as scikit-learn's trees do
        self._model = model
        self._program = program
        self._order = list(order)
        self._threads = threads
        self._gtil = require("treelite.gtil", extra="compile", purpose="serving trees")
        self._error = require("treelite", extra="compile").TreeliteError

    def _raw(self, columns: dict[str, Array], n: int) -> Array:
        if self._program is not None:
            x = self._program.matrix(columns, n)
        else:
            x = np.empty((n, len(self._order)), dtype=np.float64)
            for i, name in enumerate(self._order):
                x[:, i] = columns[name]
        if self._float32:
            x = x.astype(np.float32).astype(np.float64)
        try:
            out = self._gtil.predict(self._model, x, nthread=self._threads)
        except self._error as exc:
            raise BackendError(str(exc)) from exc
        out = np.asarray(out, dtype=np.float64).reshape(n, -1)
        if self.classes_ is None:
            if out.shape[1] != 1:
                raise BackendError(f"expected one value per row, got {out.shape[1]}")
            values: Array = out[:, 0]
            return values
        if out.shape[1] == 1 and len(self.classes_) == 2:
            return np.column_stack([1.0 - out[:, 0], out[:, 0]])
        if out.shape[1] != len(self.classes_):
            raise BackendError(f"expected {len(self.classes_)} probabilities, got {out.shape[1]}")
        return out


def _import_sklearn(final: Any) -> Any:
    treelite = require("treelite", extra="compile", purpose="compiling trees for serving")
    name = type(final).__name__
    if name not in _SKLEARN_TREES:
        raise CompileUnsupportedError(f"{name} is not a tree ensemble Treelite imports")
    if int(getattr(final, "n_outputs_", 1)) != 1:
        raise CompileUnsupportedError("multi-output trees")
    try:
        return treelite.sklearn.import_model(final)
    except Exception as exc:  # treelite raises its own errors and plain ones
        raise CompileUnsupportedError(f"Treelite cannot import {name}: {exc}") from exc


def compile_sklearn(
    original: LoadedModel, inputs: Sequence[tuple[str, str]], threads: int = 1
) -> TreeliteModel:
    """A scikit-learn tree ensemble (bare or at the end of a pipeline) for Treelite."""
    from weekend.registry._compile_encode import EncodeUnsupportedError

    try:
        program, final = compile_columns(original.raw)
    except EncodeUnsupportedError as exc:
        raise CompileUnsupportedError(f"preprocessing: {exc}") from exc
    model = _import_sklearn(final)
    hgb = type(final).__name__.startswith("HistGradientBoosting")
    categorical = getattr(final, "is_categorical_", None)
    if categorical is not None:
        program.negative_as_missing = tuple(int(i) for i in np.flatnonzero(categorical))
    # scikit-learn's other trees compare float32 features (HistGradientBoosting: float64)
    classes = original.classes_
    return TreeliteModel(inputs, classes, original, model, program, (), threads, not hgb)


def compile_booster(
    original: LoadedModel, inputs: Sequence[tuple[str, str]], threads: int = 1
) -> TreeliteModel:
    """A LightGBM or XGBoost model for Treelite (numeric inputs only)."""
    treelite = require("treelite", extra="compile", purpose="compiling trees for serving")
    raw = original.raw
    kinds = dict(inputs)
    try:
        if original.flavor == "lightgbm":
            if getattr(raw, "pandas_categorical", None):
                raise CompileUnsupportedError("LightGBM categorical features from pandas")
            order = list(raw.feature_name())
            model = treelite.frontend.from_lightgbm(raw)
        elif original.flavor == "xgboost":
            booster = raw.get_booster() if hasattr(raw, "get_booster") else raw
            order = list(booster.feature_names or [name for name, _ in inputs])
            model = treelite.frontend.from_xgboost(booster)
        else:
            raise CompileUnsupportedError(f"flavor {original.flavor!r} is not a booster")
    except CompileUnsupportedError:
        raise
    except Exception as exc:
        raise CompileUnsupportedError(f"Treelite cannot import the model: {exc}") from exc
    if any(kinds.get(name) != "number" for name in order):
        raise CompileUnsupportedError("a feature that is not a number column of the signature")
    return TreeliteModel(inputs, original.classes_, original, model, None, order, threads)


__all__ = ["TreeliteModel", "compile_booster", "compile_sklearn"]
