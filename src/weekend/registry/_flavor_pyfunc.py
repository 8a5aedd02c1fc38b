"""The generic Python flavor: any object with ``predict(df)``, stored with cloudpickle.

Pickle runs code while it reads, so a pickled model is only as safe as its source. This flavor
therefore has ``trusted_required = True``: :meth:`PyfuncFlavor.load` refuses with
:class:`~weekend.core.errors.UnsafeModelError` unless the caller passes ``trusted=True``.
Exceptions raised by the model's own ``predict`` come back as
:class:`~weekend.core.errors.UserCodeError` with the original kept as ``__cause__``.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from weekend.core.errors import IntegrityError, InvalidValueError, UnsafeModelError, UserCodeError
from weekend.core.optional import require
from weekend.registry._flavors import (
    FORMAT_VERSION,
    Flavor,
    FlavorInfo,
    LoadedModel,
    atomic_path,
    check_info,
    labels_to_json,
    model_file,
    qualified_name,
    register_flavor,
)

Array = np.ndarray[Any, Any]

MODEL_FILE = "model.pkl"


def _distribution_of(model: object) -> str | None:
    """The installed distribution that provides the model's class, if any."""
    root = type(model).__module__.split(".", 1)[0]
    if root in ("__main__", "builtins"):
        return None
    dists = importlib.metadata.packages_distributions().get(root)
    return dists[0] if dists else None


class PyfuncModel(LoadedModel):
    """A user object with ``predict`` (and maybe ``predict_proba`` and ``classes_``)."""

    flavor: ClassVar[str] = "pyfunc"

    def __init__(self, model: Any) -> None:
        self._model = model
        self._name = type(model).__name__
        classes = getattr(model, "classes_", None)
        self.classes_ = None if classes is None else np.asarray(classes)
        proba = getattr(model, "predict_proba", None)
        self._proba = proba if callable(proba) else None

    @property
    def raw(self) -> Any:
        return self._model

    def predict(self, df: pd.DataFrame) -> Array:
        try:
            return np.asarray(self._model.predict(df))
        except Exception as exc:
            raise UserCodeError(f"{self._name}.predict raised {type(exc).__name__}: {exc}") from exc

    def predict_proba(self, df: pd.DataFrame) -> Array | None:
        if self._proba is None:
            return None
        try:
            return np.asarray(self._proba(df))
        except Exception as exc:
            raise UserCodeError(
                f"{self._name}.predict_proba raised {type(exc).__name__}: {exc}"
            ) from exc


@register_flavor
class PyfuncFlavor(Flavor):
    """Any object with a ``predict`` method, pickled with cloudpickle (trusted loads only)."""

    name: ClassVar[str] = "pyfunc"
    trusted_required: ClassVar[bool] = True
    priority: ClassVar[int] = 1000  # the fallback: anything with predict()

    def matches(self, model: object) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path) -> FlavorInfo:
        if not self.matches(model):
            raise InvalidValueError(
                f"the pyfunc flavor stores objects with a predict(df) method, "
                f"got {qualified_name(model)} without one"
            )
        cloudpickle = require("cloudpickle", extra="pickle", purpose="storing a Python model")
        path = Path(folder) / MODEL_FILE
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            cloudpickle.dump(model, f)
        classes = getattr(model, "classes_", None)
        packages = ["cloudpickle"]
        dist = _distribution_of(model)
        if dist and dist not in packages:
            packages.append(dist)
        return FlavorInfo(
            flavor=self.name,
            format="cloudpickle",
            format_version=FORMAT_VERSION,
            files=[MODEL_FILE],
            packages=packages,
            details={
                "class": qualified_name(model),
                "classes": None if classes is None else labels_to_json(classes),
                "has_proba": callable(getattr(model, "predict_proba", None)),
            },
        )

    def load(self, folder: Path, info: FlavorInfo, *, trusted: bool = False) -> PyfuncModel:
        check_info(info, self.name)
        path = model_file(Path(folder), info, MODEL_FILE)
        if not trusted:
            cls = info.get("details", {}).get("class", "?")
            raise UnsafeModelError(
                f"this model ({cls}) is stored with cloudpickle, and reading a pickle runs "
                "whatever code the file contains; load it only if you trust where it came "
                "from, with trusted=True"
            )
        cloudpickle = require("cloudpickle", extra="pickle", purpose="loading a Python model")
        try:
            with open(path, "rb") as f:
                model = cloudpickle.load(f)
        except (EOFError, ValueError) as exc:
            raise IntegrityError(f"model file {MODEL_FILE!r} cannot be read: {exc}") from exc
        except Exception as exc:
            raise UserCodeError(
                f"unpickling {MODEL_FILE!r} raised {type(exc).__name__}: {exc}"
            ) from exc
        return PyfuncModel(model)


__all__ = ["PyfuncFlavor", "PyfuncModel"]
