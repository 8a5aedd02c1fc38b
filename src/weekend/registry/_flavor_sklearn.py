"""The scikit-learn flavor: estimators and pipelines stored with skops, loaded without pickle.

skops rebuilds objects from a description of their state instead of running pickle's
byte code, and reports every type outside its own default trust list before loading
(``skops.io.get_untrusted_types``). This flavor loads a file only when each such type is in
:data:`SAFE_TYPES`, a short allow-list of scikit-learn, numpy and scipy types verified with
the installed versions (what tree ensembles, neighbours, calibration, splines ... need).
A type outside it (typically a custom class of the user) raises
:class:`~weekend.core.errors.UnsafeModelError` unless the caller passes ``trusted=True``.
There is no fallback to pickle, ever.

A safe *type* is not a safe *value*: trees, histogram-tree predictors, k-d and ball trees
and B-splines hold indices that compiled code follows unchecked, so every instance of them is
checked (:mod:`weekend.registry._flavor_sklearn_audit`) before the loaded model is handed
out; an inconsistent one is an :class:`~weekend.core.errors.UnsafeModelError` too.

The :class:`SklearnModel` it loads runs linear pipelines through a compiled numpy fast path
for small batches (see :mod:`weekend.registry._flavor_sklearn_fast`) and calls the estimator
itself for everything else.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from weekend.core.errors import IntegrityError, InvalidValueError, UnsafeModelError
from weekend.registry._flavor_sklearn_audit import STRUCTURAL_TYPES, audit_model
from weekend.registry._flavor_sklearn_fast import (
    FastLinear,
    FastPathUnsupportedError,
    compile_fast_path,
    compile_linear,
)
from weekend.registry._flavors import (
    FORMAT_VERSION,
    Flavor,
    FlavorInfo,
    LoadedModel,
    atomic_path,
    check_info,
    labels_from_json,
    labels_to_json,
    model_file,
    module_roots,
    qualified_name,
    register_flavor,
)

MODEL_FILE = "model.skops"

SAFE_TYPES: frozenset[str] = frozenset(
    {
        # Checked structures (see _flavor_sklearn_audit): index arrays that compiled code
        # follows unchecked are verified on every untrusted load.
        # - trees of DecisionTree, RandomForest, ExtraTrees, GradientBoosting, AdaBoost,
        #   IsolationForest (skops distrusts it for exactly this reason)
        "sklearn.tree._tree.Tree",
        # - HistGradientBoosting's trees (idem)
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # - nearest neighbours, kernel density, local outlier factor
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        # - SplineTransformer's splines (skops sets their arrays, skipping scipy's checks)
        "scipy.interpolate._bsplines.BSpline",
        # Plain objects and functions: no stored index reaches compiled code.
        # - the distance metrics of the trees above (their weights are checked with the tree)
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        # - HistGradientBoosting's categorical preprocessing: a partial of check_array (skops
        #   checks the wrapped function and its arguments against this list as well)
        "functools.partial",
        "sklearn.utils.validation.check_array",
        # - dtypes stored by KBinsDiscretizer, SimpleImputer ... (read from an .npy header,
        #   never with pickle)
        "numpy.dtype",
        # - MLP optimisers: arrays used by partial_fit only
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # - calibration, voting and stacking: Python classes over other estimators
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.utils._bunch.Bunch",
        # - the array constructor a BSpline keeps
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
        # - score functions and column selectors: Python functions, called on the input only
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.compose._column_transformer.make_column_selector",
    }
)
"""Types beyond skops' defaults that load without running user code (sklearn 1.9, skops 0.16);
docs/registry.md says why each is safe."""


ARGMAX_CLASSIFIERS = frozenset(
    {
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
    }
)
"""Classifiers whose ``predict`` is the class of highest probability (the same argmax, or a
sign test equivalent to it): batch prediction derives their labels from the probabilities."""


class SklearnModel(LoadedModel):
    """A scikit-learn estimator, with a compiled fast path for small batches when possible."""

    flavor: ClassVar[str] = "sklearn"

    def __init__(self, model: Any, fast: FastLinear | None, fast_max_rows: int, reason: str):
        self._model = model
        self._fast = fast
        self._fast_max_rows = fast_max_rows
        self.fast_path_reason = reason
        """Why there is no fast path (empty when there is one)."""
        classes = getattr(model, "classes_", None)
        self.classes_ = None if classes is None else np.asarray(classes)
        self._has_proba = callable(getattr(model, "predict_proba", None))

    @property
    def raw(self) -> Any:
        return self._model

    @property
    def has_proba(self) -> bool:
        return self._has_proba

    @property
    def labels_follow_proba(self) -> bool:
        final = self._model
        if hasattr(final, "steps") and final.steps:
            final = final.steps[-1][1]
        if qualified_name(final) not in ARGMAX_CLASSIFIERS:
            return False
        return int(getattr(final, "n_outputs_", 1)) == 1

    @property
    def fast_path(self) -> bool:
        """Whether small batches run through the compiled numpy path."""
        return self._fast is not None

    def predict(self, df: pd.DataFrame) -> np.ndarray[Any, Any]:
        fast = self._fast
        if fast is not None and 0 < len(df) <= self._fast_max_rows:
            out = fast.predict(df)
            if out is not None:
                return out
        return np.asarray(self._model.predict(df))

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray[Any, Any] | None:
        if not self._has_proba:
            return None
        fast = self._fast
        if fast is not None and 0 < len(df) <= self._fast_max_rows:
            out = fast.predict_proba(df)
            if out is not None:
                return out
        return np.asarray(self._model.predict_proba(df))


@register_flavor
class SklearnFlavor(Flavor):
    """scikit-learn estimators and pipelines, stored with skops.

    ``fast_path`` compiles linear pipelines to numpy for batches of at most
    ``fast_path_max_rows`` rows (verified against the pipeline at load time).
    """

    name: ClassVar[str] = "sklearn"
    trusted_required: ClassVar[bool] = False
    priority: ClassVar[int] = 500  # every estimator: after libraries with their own format

    def __init__(self, *, fast_path: bool = True, fast_path_max_rows: int = 256) -> None:
        self.fast_path = fast_path
        self.fast_path_max_rows = fast_path_max_rows

    def matches(self, model: object) -> bool:
        if "sklearn" not in module_roots(model):
            return False
        from sklearn.base import BaseEstimator

        return isinstance(model, BaseEstimator)

    def save(self, model: Any, folder: Path) -> FlavorInfo:
        if not self.matches(model):
            raise InvalidValueError(
                f"the sklearn flavor stores scikit-learn estimators, got {qualified_name(model)}"
            )
        import skops.io as sio
        from sklearn.base import is_classifier, is_regressor

        path = Path(folder) / MODEL_FILE
        with atomic_path(path) as tmp:
            sio.dump(model, tmp)
            beyond_skops = sorted(set(sio.get_untrusted_types(file=tmp)))
            outside = sorted(set(beyond_skops) - SAFE_TYPES)
        classes = getattr(model, "classes_", None)
        task = "classifier" if is_classifier(model) else "regressor" if is_regressor(model) else ""
        # Verify the compiled fast path once, here: a load of these same bytes (their hash is
        # checked) with the same scikit-learn version behaves the same, so it need not re-run
        # the pipeline on the probe frame.
        fast, _ = compile_fast_path(model) if self.fast_path else (None, "disabled")
        return FlavorInfo(
            flavor=self.name,
            format="skops",
            format_version=FORMAT_VERSION,
            files=[MODEL_FILE],
            packages=["scikit-learn", "skops", "scipy"],
            details={
                "class": qualified_name(model),
                "task": task or "other",
                "classes": None if classes is None else labels_to_json(classes),
                "has_proba": callable(getattr(model, "predict_proba", None)),
                "needs_trusted": outside,
                # the types of the file beyond skops' own list: a load allows only these
                # (within weekend's list), which is all it needs and audits faster
                "skops_types": beyond_skops,
                "fast_path_verified_with": _sklearn_version() if fast is not None else None,
            },
        )

    def load(self, folder: Path, info: FlavorInfo, *, trusted: bool = False) -> SklearnModel:
        check_info(info, self.name)
        import skops.io as sio

        path = model_file(Path(folder), info, MODEL_FILE)
        from skops.io.exceptions import UntrustedTypesFoundException

        unreadable = (zipfile.BadZipFile, KeyError, ValueError, OSError)
        try:
            # Untrusted: skops itself refuses any type outside the allow-list, in one pass.
            allowed = sio.get_untrusted_types(file=path) if trusted else _allowed(info)
            model = sio.load(path, trusted=allowed)
        except UntrustedTypesFoundException:
            found = set(sio.get_untrusted_types(file=path))
            unsafe = sorted(found - SAFE_TYPES)
            if not unsafe:  # safe types, but not those the flavor info recorded
                raise UnsafeModelError(
                    f"model file {MODEL_FILE!r} contains types its flavor info does not list: "
                    f"{', '.join(sorted(found - set(allowed)))}; the package is inconsistent. "
                    "If you trust where this model came from, load it with trusted=True"
                ) from None
            raise UnsafeModelError(
                f"model file {MODEL_FILE!r} contains types outside weekend's allow-list of safe "
                f"scikit-learn/numpy/scipy types: {', '.join(unsafe)}; loading them may run their "
                "code. If you trust where this model came from, load it with trusted=True"
            ) from None
        except unreadable as exc:
            raise IntegrityError(
                f"model file {MODEL_FILE!r} is not a readable skops file: {exc}"
            ) from exc
        if not trusted and STRUCTURAL_TYPES.intersection(allowed):
            audit_model(model, MODEL_FILE)  # before anything can call it
        fast, reason = self._fast_path(model, info)
        saved = labels_from_json(info.get("details", {}).get("classes"))
        current = getattr(model, "classes_", None)
        if saved is not None and (current is None or not np.array_equal(saved, current)):
            raise IntegrityError("the classes stored in the flavor info differ from the model's")
        return SklearnModel(model, fast, self.fast_path_max_rows, reason)

    def _fast_path(self, model: Any, info: FlavorInfo) -> tuple[FastLinear | None, str]:
        if not self.fast_path:
            return None, "disabled"
        verified = info.get("details", {}).get("fast_path_verified_with")
        if verified is not None and verified == _sklearn_version():
            try:
                return compile_linear(model), ""
            except (FastPathUnsupportedError, AttributeError, TypeError, ValueError) as exc:
                return None, f"could not compile ({type(exc).__name__}: {exc})"
        return compile_fast_path(model)


def _allowed(info: FlavorInfo) -> list[str]:
    """The types an untrusted load accepts beyond skops' own: those the file was saved with,
    if recorded, as far as weekend's allow-list goes; else the whole allow-list. (skops
    checks each node of the file against this list, so a short one is faster.)"""
    recorded = info.get("details", {}).get("skops_types")
    if isinstance(recorded, list) and all(isinstance(t, str) for t in recorded):
        return sorted(set(recorded) & SAFE_TYPES)
    return sorted(SAFE_TYPES)


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


__all__ = ["ARGMAX_CLASSIFIERS", "SAFE_TYPES", "SklearnFlavor", "SklearnModel"]
