"""The hand-written linear backend: a pipeline's compiled encoder and its coefficients.

A linear model is a matrix product, so numpy alone serves it: the preprocessing runs as a
:class:`~weekend.registry._compile_encode.ColumnProgram` and the decision values are
``x @ coef.T + intercept``; ``LogisticRegression`` turns them into probabilities (the
logistic function for two classes, softmax for more), regressors return them. Classifiers
without probabilities are not compiled here (the compiled contract labels from probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from weekend.registry._compile_encode import ColumnProgram, EncodeUnsupportedError, compile_columns
from weekend.registry._compiled import BackendError, CompiledModel, CompileUnsupportedError
from weekend.registry._flavor_sklearn_fast import _linear_types
from weekend.registry._flavors import LoadedModel

Array = np.ndarray[Any, Any]


class LinearModel(CompiledModel):
    """A linear model in numpy, behind a compiled encoder."""

    backend: ClassVar[str] = "numpy-linear"

    def __init__(
        self,
        inputs: Sequence[tuple[str, str]],
        original: LoadedModel,
        program: ColumnProgram,
        final: Any,
    ) -> None:
        classes = getattr(final, "classes_", None)
        super().__init__(inputs, None if classes is None else np.asarray(classes), original)
        self._program = program
        coef = np.asarray(final.coef_, dtype=np.float64)
        self._coef_t = coef.T if coef.ndim == 2 else coef
        self._intercept = np.asarray(final.intercept_, dtype=np.float64)

    def _raw(self, columns: dict[str, Array], n: int) -> Array:
        x = self._program.matrix(columns, n)
        if not np.isfinite(x).all():
            raise BackendError("a non-finite feature")
        scores: Array = x @ self._coef_t + self._intercept
        if self.classes_ is None:
            return scores.reshape(n)
        if scores.ndim == 1 or scores.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-scores.reshape(n)))
            return np.column_stack([1.0 - p, p])
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores


def compile_sklearn(original: LoadedModel, inputs: Sequence[tuple[str, str]]) -> LinearModel:
    """A linear scikit-learn model (bare or at the end of a pipeline) in numpy."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    try:
        program, final = compile_columns(original.raw)
    except EncodeUnsupportedError as exc:
        raise CompileUnsupportedError(f"preprocessing: {exc}") from exc
    classifiers, regressors = _linear_types()
    if type(final) in classifiers and type(final) not in (LogisticRegression, LogisticRegressionCV):
        raise CompileUnsupportedError(f"{type(final).__name__} gives no probabilities")
    if type(final) not in classifiers | regressors:
        raise CompileUnsupportedError(f"{type(final).__name__} is not a linear model")
    coef = np.asarray(final.coef_)
    if coef.ndim == 2 and coef.shape[0] > 1 and getattr(final, "classes_", None) is None:
        raise CompileUnsupportedError("multi-output regression")
    return LinearModel(inputs, original, program, final)


__all__ = ["LinearModel", "compile_sklearn"]
