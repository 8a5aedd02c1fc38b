"""A model version loaded for prediction: input validation through its signature, then the
flavor's model.

``ws.models.load("flight-delay@champion")`` returns a :class:`LoadedVersion`. Its
:meth:`~LoadedVersion.predict` accepts a DataFrame, one row as a mapping
(``{"carrier": "UA", "distance": 1400.0}``) or a list of such mappings; the input is checked
against the signature (extra columns dropped, safe casts, clear errors naming the column and
row) and handed to the model. A frame that already matches the signature goes through
without a copy, which keeps one-row predictions in the tens of microseconds on top of the
model itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.registry._flavors import LoadedModel
from weekend.registry._records import ModelVersion

if TYPE_CHECKING:
    from weekend.registry._compile import CompileSlot
    from weekend.registry._compiled import CompileCheck, CompiledModel

Array = np.ndarray[Any, Any]
PREDICTION = "prediction"
PROBA_PREFIX = "proba_"


def as_frame(data: Any) -> pd.DataFrame:
    """A DataFrame from a frame, one row as a mapping, or a list of row mappings."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        if data and all(np.ndim(v) == 0 for v in data.values()):
            return pd.DataFrame({k: [v] for k, v in data.items()})
        return pd.DataFrame(dict(data))
    if (
        isinstance(data, Sequence)
        and not isinstance(data, str | bytes)
        and all(isinstance(row, Mapping) for row in data)
    ):
        return pd.DataFrame(list(data))
    raise DataValidationError(
        f"model input must be a pandas DataFrame, a mapping of column to value (one row) or a "
        f"list of such mappings, got {type(data).__name__}"
    )


class LoadedVersion:
    """A loaded, verified model version ready to predict. Thread-safe for prediction."""

    def __init__(
        self,
        version: ModelVersion,
        model: LoadedModel,
        *,
        flavor: str,
        folder: Path | None = None,
        compile_slot: CompileSlot | None = None,
    ) -> None:
        self.version = version
        """The :class:`ModelVersion` it was loaded from."""
        self.model = model
        """The flavor's model (:class:`weekend.registry.LoadedModel`)."""
        self.flavor = flavor
        """The flavor that read the files (``onnx`` for a version's ONNX export)."""
        self.folder = folder
        """The local folder of the version's files, verified against their sha256 when it
        was loaded (read-only: a changed file is refused by the next load)."""
        self.signature = version.signature
        self.classes_: Array | None = model.classes_
        self._validate = None if self.signature is None else self.signature.validate
        # labels from the probabilities (one model pass) where the flavor says they agree
        self._argmax = self.has_proba and model.labels_follow_proba
        self._compile_slot = compile_slot

    def __repr__(self) -> str:
        return f"LoadedVersion({self.ref!r}, flavor={self.flavor!r})"

    @property
    def ref(self) -> str:
        return self.version.ref

    @property
    def raw(self) -> Any:
        """The underlying model object (estimator, booster, session ...)."""
        return self.model.raw

    @property
    def has_proba(self) -> bool:
        return bool(self.model.has_proba) and self.classes_ is not None

    def validate(self, data: Any) -> pd.DataFrame:
        """The input checked against the signature and ready for the model."""
        frame = data if type(data) is pd.DataFrame else as_frame(data)
        if self._validate is None:
            return frame
        validated: pd.DataFrame = self._validate(frame)
        return validated

    def predict(self, data: Any) -> Array:
        """Predictions (class labels or values), one per input row."""
        frame = data if type(data) is pd.DataFrame else as_frame(data)
        if self._validate is not None:
            frame = self._validate(frame)
        return self.model.predict(frame)

    def predict_proba(self, data: Any) -> Array:
        """Class probabilities, rows x ``classes_``; an error for models without them."""
        if not self.has_proba:
            raise InvalidValueError(
                f"model {self.ref} ({self.version.task}, flavor {self.flavor}) gives no class "
                "probabilities; use predict()"
            )
        frame = data if type(data) is pd.DataFrame else as_frame(data)
        if self._validate is not None:
            frame = self._validate(frame)
        out = self.model.predict_proba(frame)
        assert out is not None  # has_proba
        return out

    # -- the compiled fast path --------------------------------------------------------------

    def compiled(self, *, probe: Sequence[pd.DataFrame] = ()) -> CompiledModel | None:
        """The model compiled for serving and checked against this one, or ``None`` when no
        backend reproduces it (then :attr:`compile_check` says why); compiled on the first
        call for the package in this process, which takes a fraction of a second, and shared
        by every later load. ``probe``: frames of rows the check must also pass (the input
        example, recent requests); used only by the call that compiles. See
        ``docs/registry.md``, "The compiled fast path"."""
        from weekend.registry._compile import CompileSlot
        from weekend.registry._package import manifest_key

        if self._compile_slot is None:
            key = manifest_key(self.version.manifest or {})
            self._compile_slot = CompileSlot(key, None)
        if isinstance(probe, pd.DataFrame):
            probe = [probe]
        return self._compile_slot.get(
            self.model, self.signature, lambda: self.version.profile, probe
        )

    @property
    def compile_check(self) -> CompileCheck | None:
        """The check of :meth:`compiled` (``None`` until it has run)."""
        return None if self._compile_slot is None else self._compile_slot.check

    # -- columns for batch outputs ----------------------------------------------------------

    def output_columns(self, *, probabilities: bool = True) -> list[str]:
        """Names of the columns :meth:`predict_columns` returns."""
        output = getattr(self.signature, "output", None)
        width = getattr(output, "width", 1) or 1
        names = [PREDICTION] if width == 1 else [f"{PREDICTION}_{i}" for i in range(width)]
        if probabilities and self.has_proba:
            assert self.classes_ is not None
            names += [f"{PROBA_PREFIX}{c}" for c in self.classes_.tolist()]
        return names

    def outputs(
        self, frame: pd.DataFrame, *, probabilities: bool = True
    ) -> tuple[Array, Array | None]:
        """``(predictions, probabilities or None)`` of a validated frame, in one model pass
        where the labels follow from the probabilities."""
        proba = self.model.predict_proba(frame) if probabilities and self.has_proba else None
        if self._argmax and proba is not None and len(frame):
            return self._labels_from(proba, frame), proba
        return np.asarray(self.model.predict(frame)), proba

    def predict_columns(
        self, frame: pd.DataFrame, *, probabilities: bool = True
    ) -> dict[str, Array]:
        """Predictions (and probabilities for classifiers) of a validated frame, by column."""
        prediction, proba = self.outputs(frame, probabilities=probabilities)
        out: dict[str, Array] = {}
        if prediction.ndim == 2 and prediction.shape[1] > 1:
            for i in range(prediction.shape[1]):
                out[f"{PREDICTION}_{i}"] = prediction[:, i]
        else:
            out[PREDICTION] = prediction.reshape(len(frame))
        if proba is not None:
            assert self.classes_ is not None
            for i, label in enumerate(self.classes_.tolist()):
                out[f"{PROBA_PREFIX}{label}"] = proba[:, i]
        return out

    def _labels_from(self, proba: Array, frame: pd.DataFrame) -> Array:
        assert self.classes_ is not None
        best = proba.argmax(axis=1)
        top = np.take_along_axis(proba, best[:, None], axis=1)[:, 0]
        masked = proba.copy()
        masked[np.arange(len(best)), best] = -np.inf
        tied = masked.max(axis=1) >= top
        labels: Array = self.classes_[best]
        if tied.any():
            rows = np.flatnonzero(tied)
            labels = labels.copy()
            labels[rows] = np.asarray(self.model.predict(frame.iloc[rows]))
        return labels


__all__ = ["PREDICTION", "PROBA_PREFIX", "LoadedVersion", "as_frame"]
