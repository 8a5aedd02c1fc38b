"""A compiled fast path for small batches through linear scikit-learn pipelines.

scikit-learn spends milliseconds validating input and indexing pandas frames to push one row
through a ``ColumnTransformer`` pipeline; the arithmetic takes microseconds. For the common
serving shape (one-hot encoding, scaling and imputation feeding a linear model) this module
turns the fitted pipeline into plain numpy: column positions, lookup tables, per-column
constants and the coefficient matrix.

What it understands, exactly (anything else means no fast path, never a guess):

* a bare linear model, or a ``Pipeline`` whose first step may be a ``ColumnTransformer`` and
  whose other steps are ``StandardScaler``, ``MinMaxScaler`` or numeric ``SimpleImputer``;
* inside the ``ColumnTransformer``: ``OneHotEncoder`` (optionally after a ``SimpleImputer``;
  no infrequent categories), the numeric steps above (alone or in a ``Pipeline``),
  ``"passthrough"``, the identity ``FunctionTransformer`` and ``"drop"``; columns given by
  name, position or boolean mask;
* final step: ``LogisticRegression`` (``predict`` and ``predict_proba``), other linear
  classifiers (``predict``) and linear regressors.

Three guards keep it faithful. The compiled path is checked against the pipeline itself on
a probe frame built from the fitted parameters when the model is loaded; a mismatch turns it
off. At predict time, anything it is unsure about (columns in another order, non-numeric
dtypes, a missing value it cannot impute, a category the encoder would reject, a non-finite
feature) returns ``None`` and the caller runs the real pipeline, which then behaves (and
fails) exactly as scikit-learn does. Results equal scikit-learn's up to floating-point
rounding.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

Array = np.ndarray[Any, Any]

_NO_FILL = object()
_PROBE_UNKNOWN = "__weekend_probe_unknown__"


class FastPathUnsupportedError(Exception):
    """The pipeline has a part the fast path does not reproduce exactly."""


@dataclass(frozen=True)
class _Op:
    kind: str  # impute | sub | div | mul | add | clip
    value: Any


@dataclass(frozen=True)
class _NumericBlock:
    columns: tuple[int, ...]
    offset: int
    ops: tuple[_Op, ...]


@dataclass(frozen=True)
class _OneHotBlock:
    column: int
    offset: int
    width: int
    lookup: dict[Any, int]  # category -> output position in the block; -1 if dropped
    fill: Any  # what a missing value becomes, or _NO_FILL
    unknown_zero: bool  # unknown categories encode as zeros (else: run scikit-learn)


def _apply(ops: tuple[_Op, ...], a: Array) -> None:
    """Apply the element-wise ops to the float matrix ``a`` in place."""
    for op in ops:
        if op.kind == "impute":
            mask = np.isnan(a)
            if mask.any():
                a[mask] = np.broadcast_to(op.value, a.shape)[mask]
        elif op.kind == "sub":
            a -= op.value
        elif op.kind == "div":
            a /= op.value
        elif op.kind == "mul":
            a *= op.value
        elif op.kind == "add":
            a += op.value
        else:  # clip
            np.clip(a, op.value[0], op.value[1], out=a)


class FastLinear:
    """The compiled form of a fitted linear pipeline; see the module docstring."""

    def __init__(
        self,
        names: list[str],
        numeric: list[_NumericBlock],
        onehot: list[_OneHotBlock],
        post: tuple[_Op, ...],
        width: int,
        final: Any,
    ) -> None:
        from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

        self.names = names
        self._numeric = numeric
        self._onehot = onehot
        self._post = post
        self._width = width
        self._numeric_positions = sorted({c for block in numeric for c in block.columns})
        coef = np.asarray(final.coef_, dtype=np.float64)
        self._coef_t = coef.T if coef.ndim == 2 else coef
        self._intercept = np.asarray(final.intercept_, dtype=np.float64)
        classes = getattr(final, "classes_", None)
        self.classes_: Array | None = None if classes is None else np.asarray(classes)
        self.has_proba = type(final) in (LogisticRegression, LogisticRegressionCV)

    def features(self, df: pd.DataFrame) -> Array | None:
        """The matrix the final estimator sees, or ``None`` to defer to scikit-learn."""
        if df.columns.tolist() != self.names:
            return None
        dtypes = df.dtypes.tolist()
        for position in self._numeric_positions:
            if getattr(dtypes[position], "kind", "O") not in "biuf":
                return None
        values = df.to_numpy()
        x = np.zeros((len(values), self._width))
        try:
            for block in self._numeric:
                a = values[:, block.columns].astype(np.float64)
                _apply(block.ops, a)
                x[:, block.offset : block.offset + len(block.columns)] = a
            for hot in self._onehot:
                for row, value in enumerate(values[:, hot.column].tolist()):
                    if value is None or value is pd.NA:
                        return None
                    if value != value:  # NaN
                        if hot.fill is _NO_FILL:
                            return None
                        value = hot.fill
                    slot = hot.lookup.get(value)
                    if slot is None:
                        if not hot.unknown_zero:
                            return None
                    elif slot >= 0:
                        x[row, hot.offset + slot] = 1.0
        except (TypeError, ValueError):
            return None
        _apply(self._post, x)
        if not np.isfinite(x).all():
            return None
        return x

    def scores(self, x: Array) -> Array:
        """The linear decision values for the feature matrix ``x``."""
        out: Array = x @ self._coef_t + self._intercept
        if out.ndim == 2 and out.shape[1] == 1 and self.classes_ is not None:
            out = out.ravel()
        return out

    def predict(self, df: pd.DataFrame) -> Array | None:
        """Predictions as scikit-learn's ``predict`` gives them, or ``None``."""
        x = self.features(df)
        if x is None:
            return None
        scores = self.scores(x)
        if self.classes_ is None:
            return scores
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        out: Array = self.classes_[index]
        return out

    def predict_proba(self, df: pd.DataFrame) -> Array | None:
        """``LogisticRegression`` probabilities, or ``None``."""
        if not self.has_proba:
            return None
        x = self.features(df)
        if x is None:
            return None
        scores = self.scores(x)
        if scores.ndim == 1:
            from scipy.special import expit

            p: Array = expit(scores)
            out: Array = np.stack([1 - p, p], axis=1)
            return out
        shifted: Array = scores - scores.max(axis=1, keepdims=True)
        np.exp(shifted, out=shifted)
        shifted /= shifted.sum(axis=1, keepdims=True)
        return shifted

    # -- load-time check ------------------------------------------------------------------

    def probe(self) -> pd.DataFrame:
        """A small frame that exercises every compiled part (categories, imputation ...)."""
        widths = [len(h.lookup) for h in self._onehot]
        n = min(64, max(4, 1 + max(widths, default=0)))
        data: dict[str, Any] = {}
        imputed = {
            c for b in self._numeric for c in b.columns if any(o.kind == "impute" for o in b.ops)
        }
        for position, name in enumerate(self.names):
            data[name] = np.linspace(-2.0, 3.0, n) * (1.0 + 0.37 * position)
            if position in imputed:
                data[name][1] = np.nan
        for hot in self._onehot:
            keys = list(hot.lookup)
            column = np.empty(n, dtype=object)
            column[:] = [keys[i % len(keys)] for i in range(n)]
            if hot.unknown_zero and all(isinstance(k, str) for k in keys):
                column[-1] = _PROBE_UNKNOWN
            if hot.fill is not _NO_FILL:
                column[0] = np.nan
            data[self.names[hot.column]] = column
        return pd.DataFrame(data)

    def verify(self, model: Any) -> str:
        """Compare with ``model`` on :meth:`probe`; the reason of a mismatch, or ``""``."""
        probe = self.probe()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = np.asarray(model.predict(probe))
                expected_proba = np.asarray(model.predict_proba(probe)) if self.has_proba else None
        except Exception as exc:  # the probe is ours: any failure only disables the fast path
            return f"the pipeline rejected the probe frame ({type(exc).__name__}: {exc})"
        got = self.predict(probe)
        if got is None:
            return "the probe frame did not take the fast path"
        if self.classes_ is not None:
            if not np.array_equal(got, expected):
                return "predicted labels differ from the pipeline's"
        elif got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-7, atol=1e-9):
            return "predictions differ from the pipeline's"
        if expected_proba is not None:
            proba = self.predict_proba(probe)
            if proba is None or not np.allclose(proba, expected_proba, rtol=1e-7, atol=1e-10):
                return "probabilities differ from the pipeline's"
        return ""


# -- compilation ------------------------------------------------------------------------------


def _linear_types() -> tuple[set[type], set[type]]:
    import sklearn.linear_model as lm
    import sklearn.svm as svm

    classifiers = ["LogisticRegression", "LogisticRegressionCV", "RidgeClassifier"]
    classifiers += ["RidgeClassifierCV", "SGDClassifier", "Perceptron"]
    regressors = ["LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet"]
    regressors += ["ElasticNetCV", "SGDRegressor", "HuberRegressor", "BayesianRidge", "Lars"]
    found_c = {getattr(lm, n) for n in classifiers if hasattr(lm, n)} | {svm.LinearSVC}
    found_r = {getattr(lm, n) for n in regressors if hasattr(lm, n)} | {svm.LinearSVR}
    return found_c, found_r


def _check_final(final: Any) -> None:
    import scipy.sparse

    classifiers, regressors = _linear_types()
    if type(final) not in classifiers | regressors:
        raise FastPathUnsupportedError(
            f"final step {type(final).__name__} is not a supported linear model"
        )
    if scipy.sparse.issparse(final.coef_):
        raise FastPathUnsupportedError("sparse coefficients")


def _steps(est: Any) -> list[Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        return [
            s
            for _, s in est.steps
            if s is not None and not (isinstance(s, str) and s == "passthrough")
        ]
    return [est]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _numeric_ops(est: Any) -> list[_Op]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

    if isinstance(est, str) and est == "passthrough":
        return []
    ops: list[_Op] = []
    for step in _steps(est):
        kind = type(step)
        if kind is StandardScaler:
            if step.with_mean:
                ops.append(_Op("sub", np.asarray(step.mean_, dtype=np.float64)))
            if step.with_std:
                ops.append(_Op("div", np.asarray(step.scale_, dtype=np.float64)))
        elif kind is MinMaxScaler:
            ops.append(_Op("mul", np.asarray(step.scale_, dtype=np.float64)))
            ops.append(_Op("add", np.asarray(step.min_, dtype=np.float64)))
            if step.clip:
                ops.append(_Op("clip", tuple(step.feature_range)))
        elif kind is FunctionTransformer and step.func is None:
            continue  # the identity (how ColumnTransformer passes the remainder through)
        elif kind is SimpleImputer:
            if not _is_nan(step.missing_values) or step.add_indicator:
                raise FastPathUnsupportedError(
                    "SimpleImputer without missing_values=nan or with indicators"
                )
            try:
                stats = np.asarray(step.statistics_, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise FastPathUnsupportedError("non-numeric imputation values") from exc
            if not np.isfinite(stats).all():
                raise FastPathUnsupportedError("SimpleImputer with empty features")
            ops.append(_Op("impute", stats))
        else:
            raise FastPathUnsupportedError(f"step {kind.__name__} is not supported")
    return ops


def _positions(columns: Any, names: list[str]) -> list[int]:
    if isinstance(columns, slice):
        if all(isinstance(v, int | None) for v in (columns.start, columns.stop, columns.step)):
            return list(range(len(names)))[columns]
        raise FastPathUnsupportedError("column slices by name")
    if isinstance(columns, str | int) or callable(columns):
        raise FastPathUnsupportedError("columns given as a scalar or a callable")
    items = list(columns)
    if all(isinstance(v, str) for v in items):
        try:
            return [names.index(v) for v in items]
        except ValueError as exc:
            raise FastPathUnsupportedError("a column not among the fitted names") from exc
    if items and all(isinstance(v, bool | np.bool_) for v in items):
        return [i for i, keep in enumerate(items) if keep]
    if all(isinstance(v, int | np.integer) and v >= 0 for v in items):
        return [int(v) for v in items]
    raise FastPathUnsupportedError("unsupported column specification")


def _onehot(est: Any, positions: list[int], offset: int) -> list[_OneHotBlock]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    chain = _steps(est)
    encoder = chain[-1]
    fills: list[Any] = [_NO_FILL] * len(positions)
    if len(chain) == 2 and type(chain[0]) is SimpleImputer:
        imputer = chain[0]
        if not _is_nan(imputer.missing_values) or imputer.add_indicator:
            raise FastPathUnsupportedError("categorical SimpleImputer without missing_values=nan")
        fills = list(np.asarray(imputer.statistics_, dtype=object).tolist())
    elif len(chain) != 1:
        raise FastPathUnsupportedError("steps before OneHotEncoder other than one SimpleImputer")
    if type(encoder) is not OneHotEncoder:
        raise FastPathUnsupportedError(f"{type(encoder).__name__} is not supported")
    if encoder.min_frequency is not None or encoder.max_categories is not None:
        raise FastPathUnsupportedError("OneHotEncoder with infrequent categories")
    drops = encoder.drop_idx_
    blocks = []
    for j, column in enumerate(positions):
        keys = encoder.categories_[j].tolist()
        if any(k is None or _is_nan(k) for k in keys) or _is_nan(fills[j]) or fills[j] is None:
            raise FastPathUnsupportedError("missing values among the categories")
        drop = None if drops is None or drops[j] is None else int(drops[j])
        lookup = {}
        for k, key in enumerate(keys):
            lookup[key] = -1 if k == drop else (k if drop is None or k < drop else k - 1)
        if len(lookup) != len(keys):
            raise FastPathUnsupportedError("categories that compare equal")
        width = len(keys) - (drop is not None)
        ignore = encoder.handle_unknown in ("ignore", "infrequent_if_exist") and drop is None
        blocks.append(_OneHotBlock(column, offset, width, lookup, fills[j], ignore))
        offset += width
    return blocks


def compile_linear(model: Any) -> FastLinear:
    """Compile a fitted pipeline; raise :class:`FastPathUnsupportedError` with the reason."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    raw_names = getattr(model, "feature_names_in_", None)
    if raw_names is None:
        raise FastPathUnsupportedError("the model was fitted without column names")
    names = [str(n) for n in raw_names]
    steps = _steps(model)
    final, pre = steps[-1], steps[:-1]
    _check_final(final)
    numeric: list[_NumericBlock] = []
    onehot: list[_OneHotBlock] = []
    if pre and isinstance(pre[0], ColumnTransformer):
        ct, pre = pre[0], pre[1:]
        if ct.transformer_weights:
            raise FastPathUnsupportedError("transformer weights")
        width = 0
        for _, trans, columns in ct.transformers_:
            positions = _positions(columns, names)
            if not positions or (isinstance(trans, str) and trans == "drop"):
                continue
            if isinstance(_steps(trans)[-1], OneHotEncoder):
                blocks = _onehot(trans, positions, width)
                onehot.extend(blocks)
                width += sum(b.width for b in blocks)
            else:
                ops = tuple(_numeric_ops(trans))
                numeric.append(_NumericBlock(tuple(positions), width, ops))
                width += len(positions)
    else:
        numeric.append(_NumericBlock(tuple(range(len(names))), 0, ()))
        width = len(names)
    post = tuple(op for step in pre for op in _numeric_ops(step))
    used = [c for b in numeric for c in b.columns] + [b.column for b in onehot]
    if len(used) != len(set(used)):
        raise FastPathUnsupportedError("a column used by two transformers")
    n_features = np.asarray(final.coef_).shape[-1]
    if width != n_features:
        raise FastPathUnsupportedError(
            f"{width} compiled features but the model expects {n_features}"
        )
    return FastLinear(names, numeric, onehot, post, width, final)


def compile_fast_path(model: Any) -> tuple[FastLinear | None, str]:
    """The verified fast path for ``model`` and ``""``, or ``None`` and the reason why not."""
    try:
        fast = compile_linear(model)
    except FastPathUnsupportedError as exc:
        return None, str(exc)
    except (AttributeError, TypeError, ValueError, IndexError) as exc:
        return None, f"could not compile ({type(exc).__name__}: {exc})"
    reason = fast.verify(model)
    return (None, reason) if reason else (fast, "")


__all__ = ["FastLinear", "FastPathUnsupportedError", "compile_fast_path", "compile_linear"]
