"""The LightGBM and XGBoost flavors: native model files, read by the libraries' own parsers.

LightGBM models are stored as LightGBM's text format (``Booster.save_model``), XGBoost models
as XGBoost's JSON (``save_model("model.json")``); neither runs code when read. Both the
scikit-learn wrappers (``LGBMClassifier``, ``XGBRegressor`` ...) and raw ``Booster`` objects
are accepted. For a LightGBM classifier the class labels and the objective are kept in the
flavor info, so the loaded model gives ``predict`` (labels) and ``predict_proba`` exactly as
the wrapper does; XGBoost keeps them inside its JSON and its wrapper is restored as such.

Thread start-up dominates a one-row prediction in both libraries (milliseconds against
microseconds of tree walking), so batches of at most ``small_batch_rows`` rows are predicted
on one thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from weekend.core.errors import IntegrityError, InvalidValueError
from weekend.core.optional import require
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

Array = np.ndarray[Any, Any]

LIGHTGBM_FILE = "model.txt"
XGBOOST_FILE = "model.json"


def _kind(model: Any, booster_class: str) -> str:
    names = {cls.__name__ for cls in type(model).__mro__}
    if booster_class in names:
        return "booster"
    if "ClassifierMixin" in names or getattr(model, "_estimator_type", "") == "classifier":
        return "classifier"
    return "regressor"


# -- LightGBM ---------------------------------------------------------------------------------


class LightGBMModel(LoadedModel):
    """A LightGBM booster; labels and probabilities as ``LGBMClassifier`` computes them."""

    flavor: ClassVar[str] = "lightgbm"

    def __init__(self, booster: Any, kind: str, classes: Array | None, small_rows: int) -> None:
        self._booster = booster
        self._kind = kind
        self.classes_ = classes
        self._small_rows = small_rows

    @property
    def raw(self) -> Any:
        return self._booster

    @property
    def labels_follow_proba(self) -> bool:
        return self.classes_ is not None  # predict() is that argmax, below

    def _raw_predict(self, df: pd.DataFrame) -> Array:
        if len(df) <= self._small_rows:
            return np.asarray(self._booster.predict(df, num_threads=1))
        return np.asarray(self._booster.predict(df))

    def predict(self, df: pd.DataFrame) -> Array:
        if self.classes_ is None:
            return self._raw_predict(df)
        proba = self.predict_proba(df)
        assert proba is not None
        out: Array = self.classes_[np.argmax(proba, axis=1)]
        return out

    def predict_proba(self, df: pd.DataFrame) -> Array | None:
        if self.classes_ is None:
            return None
        result = self._raw_predict(df)
        if result.ndim == 1:
            return np.vstack((1.0 - result, result)).transpose()
        return result


@register_flavor
class LightGBMFlavor(Flavor):
    """LightGBM models in LightGBM's text format."""

    name: ClassVar[str] = "lightgbm"
    trusted_required: ClassVar[bool] = False

    def __init__(self, *, small_batch_rows: int = 64) -> None:
        self.small_batch_rows = small_batch_rows

    def matches(self, model: object) -> bool:
        return "lightgbm" in module_roots(model) and callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path) -> FlavorInfo:
        if not self.matches(model):
            raise InvalidValueError(
                f"the lightgbm flavor stores LightGBM models, got {qualified_name(model)}"
            )
        kind = _kind(model, "Booster")
        details: dict[str, Any] = {"class": qualified_name(model), "kind": kind, "classes": None}
        if kind == "booster":
            booster = model
        else:
            try:
                booster = model.booster_
            except Exception as exc:  # LGBMNotFittedError
                raise InvalidValueError(f"the {type(model).__name__} is not fitted: {exc}") from exc
            objective = getattr(model, "objective_", None)
            if callable(objective):
                raise InvalidValueError(
                    "a LightGBM model with a custom objective function cannot be stored "
                    "natively (the function is code); use a built-in objective"
                )
            details["objective"] = objective
            if kind == "classifier":
                details["classes"] = labels_to_json(model.classes_)
        details["feature_names"] = list(booster.feature_name())
        path = Path(folder) / LIGHTGBM_FILE
        with atomic_path(path) as tmp:
            booster.save_model(str(tmp))
        return FlavorInfo(
            flavor=self.name,
            format="lightgbm-text",
            format_version=FORMAT_VERSION,
            files=[LIGHTGBM_FILE],
            packages=["lightgbm"],
            details=details,
        )

    def load(self, folder: Path, info: FlavorInfo, *, trusted: bool = False) -> LightGBMModel:
        check_info(info, self.name)
        lgb = require("lightgbm", extra="boost", purpose="loading a LightGBM model")
        path = model_file(Path(folder), info, LIGHTGBM_FILE)
        try:
            booster = lgb.Booster(model_file=str(path))
        except Exception as exc:  # lightgbm.basic.LightGBMError
            raise IntegrityError(f"model file {LIGHTGBM_FILE!r} cannot be read: {exc}") from exc
        details = info.get("details", {})
        classes = labels_from_json(details.get("classes"))
        return LightGBMModel(
            booster, details.get("kind", "booster"), classes, self.small_batch_rows
        )


# -- XGBoost ----------------------------------------------------------------------------------

_XGB_WRAPPERS = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor", "XGBRanker")


class XGBoostModel(LoadedModel):
    """An XGBoost wrapper or booster, with a one-thread twin for small batches."""

    flavor: ClassVar[str] = "xgboost"

    def __init__(self, model: Any, small: Any, small_rows: int) -> None:
        self._model = model
        self._small = small
        self._small_rows = small_rows
        self._booster = "Booster" in {cls.__name__ for cls in type(model).__mro__}
        classes = getattr(model, "classes_", None)
        self.classes_ = None if classes is None else np.asarray(classes)

    @property
    def raw(self) -> Any:
        return self._model

    def _pick(self, df: pd.DataFrame) -> Any:
        return self._small if len(df) <= self._small_rows else self._model

    def predict(self, df: pd.DataFrame) -> Array:
        model = self._pick(df)
        if self._booster:
            return np.asarray(model.inplace_predict(df))
        out = np.asarray(model.predict(df))
        if self.classes_ is not None and out.ndim == 1:
            mapped: Array = self.classes_[out.astype(np.intp)]
            return mapped
        return out

    def predict_proba(self, df: pd.DataFrame) -> Array | None:
        if self.classes_ is None or self._booster:
            return None
        return np.asarray(self._pick(df).predict_proba(df))


@register_flavor
class XGBoostFlavor(Flavor):
    """XGBoost models in XGBoost's JSON format."""

    name: ClassVar[str] = "xgboost"
    trusted_required: ClassVar[bool] = False

    def __init__(self, *, small_batch_rows: int = 64) -> None:
        self.small_batch_rows = small_batch_rows

    def matches(self, model: object) -> bool:
        return "xgboost" in module_roots(model) and (
            callable(getattr(model, "predict", None)) or hasattr(model, "inplace_predict")
        )

    def save(self, model: Any, folder: Path) -> FlavorInfo:
        if not self.matches(model):
            raise InvalidValueError(
                f"the xgboost flavor stores XGBoost models, got {qualified_name(model)}"
            )
        kind = _kind(model, "Booster")
        wrapper = type(model).__name__
        if kind != "booster" and wrapper not in _XGB_WRAPPERS:
            raise InvalidValueError(
                f"unsupported XGBoost class {qualified_name(model)}; expected a Booster or one "
                f"of {', '.join(_XGB_WRAPPERS)}"
            )
        classes = getattr(model, "classes_", None) if kind == "classifier" else None
        path = Path(folder) / XGBOOST_FILE
        with atomic_path(path) as tmp:
            try:
                model.save_model(str(tmp))
            except Exception as exc:  # NotFittedError, XGBoostError
                raise InvalidValueError(f"the XGBoost model cannot be saved: {exc}") from exc
        return FlavorInfo(
            flavor=self.name,
            format="xgboost-json",
            format_version=FORMAT_VERSION,
            files=[XGBOOST_FILE],
            packages=["xgboost"],
            details={
                "class": qualified_name(model),
                "kind": kind,
                "wrapper": None if kind == "booster" else wrapper,
                "classes": None if classes is None else labels_to_json(classes),
            },
        )

    def load(self, folder: Path, info: FlavorInfo, *, trusted: bool = False) -> XGBoostModel:
        check_info(info, self.name)
        xgb = require("xgboost", extra="boost", purpose="loading an XGBoost model")
        path = model_file(Path(folder), info, XGBOOST_FILE)
        details = info.get("details", {})
        wrapper = details.get("wrapper")
        if wrapper is not None and wrapper not in _XGB_WRAPPERS:
            raise IntegrityError(f"flavor info names an unknown XGBoost class {wrapper!r}")

        def read(threads: int | None) -> Any:
            if wrapper is None:
                booster = xgb.Booster(model_file=str(path))
                if threads:
                    booster.set_param({"nthread": threads})
                return booster
            model = getattr(xgb, wrapper)()
            model.load_model(str(path))
            if threads:
                model.set_params(n_jobs=threads)
            return model

        try:
            model, small = read(None), read(1)
        except Exception as exc:  # xgboost.core.XGBoostError
            raise IntegrityError(f"model file {XGBOOST_FILE!r} cannot be read: {exc}") from exc
        loaded = XGBoostModel(model, small, self.small_batch_rows)
        saved = labels_from_json(details.get("classes"))
        current = loaded.classes_
        if saved is not None and (current is None or not np.array_equal(saved, current)):
            raise IntegrityError("the classes stored in the flavor info differ from the model's")
        return loaded


__all__ = ["LightGBMFlavor", "LightGBMModel", "XGBoostFlavor", "XGBoostModel"]
