"""What a compiled model is: the contract every serving backend implements, and the record
of the check that let it serve.

A :class:`CompiledModel` predicts from *columns*: a mapping of input name to a 1-D array or
list (``{"num_0": [0.3], "cat_0": ["c0_01"]}``), one row as a mapping of scalars, a pandas
DataFrame or a pyarrow Table. Numbers become float64 arrays and text stays Python objects;
no DataFrame is built on the way, which is most of what a one-row prediction through
scikit-learn costs. A backend only implements :meth:`CompiledModel._raw` (probabilities of a
classifier, values of a regressor); labels, fallbacks and output columns are shared here:

* **labels** are the class of highest probability. A row whose two best classes are closer
  than the check's tolerance is decided by the original model, so a label never depends on
  a rounding difference between the libraries;
* **fallback**: a value the backend cannot take as the original would (a category an encoder
  refuses, a missing value where the graph has no branch for it, a runtime error of the
  backend) hands the whole call to the original model, which then answers or fails exactly
  as it always did; :attr:`CompiledModel.fallbacks` counts these calls.

Input is expected to be valid for the signature (a service validates it first); extra
columns are ignored and a missing one is a :class:`DataValidationError`.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.registry._flavors import LoadedModel

Array = np.ndarray[Any, Any]
PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
TOLERANCE = 1e-5
"""Probabilities of a compiled model may differ from the original's by at most this much
(absolute); a regressor's values by this much relative to ``max(1, |value|)``."""

_log = logging.getLogger("weekend.registry")


class CompileUnsupportedError(Exception):
    """A backend cannot compile this model (the reason is the message)."""


class BackendError(Exception):
    """A backend failed at run time on values the original model may still take."""


@dataclass(frozen=True)
class Attempt:
    """One backend tried on one model: whether it compiled and matched the original."""

    backend: str
    ok: bool
    reason: str = ""
    """Why it was refused (empty when it serves)."""
    max_abs_diff: float | None = None
    """Largest difference of a probability (classifiers) or a value (regressors)."""
    label_mismatches: int | None = None
    seconds: float = 0.0
    """Time to compile and check it."""


@dataclass(frozen=True)
class CompileCheck:
    """The record of compiling one model package for serving."""

    package: str
    """The sha256 of the version's manifest: the package checked."""
    backend: str | None
    """The candidate that serves (``onnxruntime:float64``, ``onnxruntime:float32``,
    ``treelite``, ``numpy-linear``), or None: the original model serves."""
    rows: int
    """Probe rows both models predicted."""
    tolerance: float
    attempts: tuple[Attempt, ...]
    versions: dict[str, str] = field(default_factory=dict)
    """The libraries involved and their versions (the check holds for these)."""
    checked_at: str = ""

    @property
    def faithful(self) -> bool:
        return self.backend is not None

    @property
    def reason(self) -> str:
        """Why nothing compiled (every attempt's reason), or ``""``."""
        if self.backend is not None:
            return ""
        return "; ".join(f"{a.backend}: {a.reason}" for a in self.attempts) or "no backend"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["faithful"] = self.faithful
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompileCheck:
        attempts = tuple(Attempt(**a) for a in data.get("attempts", ()))
        return cls(
            package=str(data["package"]),
            backend=data.get("backend"),
            rows=int(data.get("rows", 0)),
            tolerance=float(data.get("tolerance", TOLERANCE)),
            attempts=attempts,
            versions=dict(data.get("versions", {})),
            checked_at=str(data.get("checked_at", "")),
        )


def _is_scalar(value: Any) -> bool:
    return np.ndim(value) == 0 and not isinstance(value, Mapping)


class CompiledModel(abc.ABC):
    """A model compiled for serving, checked against the original (see the module doc)."""

    backend: ClassVar[str] = ""

    def __init__(
        self,
        inputs: Sequence[tuple[str, str]],
        classes: Array | None,
        original: LoadedModel,
    ) -> None:
        self.inputs = list(inputs)
        """``(name, kind)`` of each input column; kind ``number`` or ``text``."""
        self.classes_ = classes
        self.check: CompileCheck | None = None
        """The check that let this model serve (set by the compiler)."""
        self.variant = self.backend
        """The candidate that serves, with its variant (``onnxruntime:float32``)."""
        self.fallbacks = 0
        """Calls answered by the original model (see the module doc)."""
        self._original = original

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backend={self.backend!r} inputs={len(self.inputs)}>"

    @property
    def has_proba(self) -> bool:
        return self.classes_ is not None

    @abc.abstractmethod
    def _raw(self, columns: dict[str, Array], n: int) -> Array:
        """Probabilities (rows x classes) of a classifier, values (rows) of a regressor;
        raises :class:`BackendError` (or the encoder's error) to hand the call over."""

    # -- input ------------------------------------------------------------------------------

    def columns(self, data: Any) -> tuple[dict[str, Array], int]:
        """The input columns as arrays (numbers float64, text objects) and the row count."""
        get = _getter(data)
        out: dict[str, Array] = {}
        n = -1
        for name, kind in self.inputs:
            values = get(name)
            try:
                array = _number(values) if kind == "number" else _text(values)
            except (TypeError, ValueError) as exc:
                raise DataValidationError(
                    f"column {name!r} must hold numbers, got values numpy cannot read as "
                    f"float64 ({exc})"
                ) from None
            if array.ndim != 1 or (n >= 0 and len(array) != n):
                raise DataValidationError(
                    f"column {name!r} must be one value per row ({n} rows), got shape {array.shape}"
                )
            n = len(array)
            out[name] = array
        return out, max(n, 0)

    # -- output -----------------------------------------------------------------------------

    def outputs(self, data: Any, *, probabilities: bool = True) -> tuple[Array, Array | None]:
        """``(predictions, probabilities or None)``, one model pass."""
        from weekend.registry._compile_encode import EncodeUnsupportedError

        columns, n = self.columns(data)
        if n == 0:
            return self._fallback(data, probabilities)
        try:
            raw = self._raw(columns, n)
        except (EncodeUnsupportedError, BackendError) as exc:
            self.fallbacks += 1
            _log.debug("compiled %s handed a call to the original model: %s", self.backend, exc)
            return self._fallback(data, probabilities)
        if self.classes_ is None:
            return raw, None
        return self._labels(raw, data), (raw if probabilities else None)

    def _labels(self, proba: Array, data: Any) -> Array:
        classes = self.classes_
        assert classes is not None
        best = proba.argmax(axis=1)
        labels: Array = classes[best]
        if proba.shape[1] > 1:
            ordered = np.sort(proba, axis=1)
            close = np.flatnonzero(ordered[:, -1] - ordered[:, -2] <= TOLERANCE)
            if len(close):  # too close to call on rounding: the original decides
                frame = _frame(data).iloc[close]
                labels = labels.copy()
                labels[close] = np.asarray(self._original.predict(frame))
        return labels

    def _fallback(self, data: Any, probabilities: bool) -> tuple[Array, Array | None]:
        """The original model's answer: one pass where its labels follow its probabilities
        (ties to its ``predict``), as ``LoadedVersion.outputs`` does."""
        frame = _frame(data)
        if self.classes_ is None or not (probabilities or self._original.labels_follow_proba):
            return np.asarray(self._original.predict(frame)), None
        proba = self._original.predict_proba(frame)
        assert proba is not None
        proba = np.asarray(proba)
        if not self._original.labels_follow_proba:
            return np.asarray(self._original.predict(frame)), proba
        best = proba.argmax(axis=1)
        labels: Array = self.classes_[best]
        ordered = np.sort(proba, axis=1)
        tied: Array = np.flatnonzero(ordered[:, -1] <= ordered[:, -2])
        if proba.shape[1] > 1 and len(tied):
            labels = labels.copy()
            labels[tied] = np.asarray(self._original.predict(frame.iloc[tied]))
        return labels, proba if probabilities else None

    def predict(self, data: Any) -> Array:
        """Labels of a classifier, values of a regressor."""
        return self.outputs(data, probabilities=False)[0]

    def predict_proba(self, data: Any) -> Array:
        """Class probabilities, rows x ``classes_``."""
        if self.classes_ is None:
            raise InvalidValueError(f"a compiled regressor ({self.backend}) has no probabilities")
        proba = self.outputs(data)[1]
        assert proba is not None
        return proba

    def predict_columns(self, data: Any, *, probabilities: bool = True) -> dict[str, Array]:
        """``{"prediction": ..., "proba_<class>": ...}``, as ``LoadedVersion.predict_columns``."""
        prediction, proba = self.outputs(data, probabilities=probabilities)
        out = {PREDICTION: prediction}
        if proba is not None:
            assert self.classes_ is not None
            for i, label in enumerate(self.classes_.tolist()):
                out[f"{PROBA_PREFIX}{label}"] = proba[:, i]
        return out


def _getter(data: Any) -> Any:
    if isinstance(data, pd.DataFrame):
        return _lookup(data, data.columns, lambda name: data[name])
    if type(data).__module__.startswith("pyarrow"):
        names = data.schema.names
        return _lookup(data, names, lambda name: data.column(name).to_pylist())
    if isinstance(data, Mapping):
        if data and all(_is_scalar(v) for v in data.values()):
            return _lookup(data, data, lambda name: [data[name]])
        return _lookup(data, data, lambda name: data[name])
    rows = isinstance(data, Sequence) and not isinstance(data, str | bytes)
    if rows and all(isinstance(row, Mapping) for row in data):
        first = data[0] if data else {}
        return _lookup(first, first, lambda name: [row.get(name) for row in data])
    raise DataValidationError(
        "model input must be a mapping of column to values, one row as a mapping, a list of "
        f"row mappings, a pandas DataFrame or a pyarrow Table; got {type(data).__name__}"
    )


def _lookup(data: Any, names: Any, get: Any) -> Any:
    def column(name: str) -> Any:
        if name not in names:
            raise DataValidationError(f"column {name!r} is missing from the model input")
        return get(name)

    return column


def _number(values: Any) -> Array:
    if isinstance(values, pd.Series):
        if values.dtype == np.float64:
            return values.to_numpy()
        if values.dtype.kind in "biu":
            return values.to_numpy().astype(np.float64)
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    array = np.asarray(values, dtype=np.float64)
    return array


def _text(values: Any) -> Array:
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=object)
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    return np.asarray(values, dtype=object)


def _frame(data: Any) -> pd.DataFrame:
    from weekend.registry._loaded import as_frame

    if type(data).__module__.startswith("pyarrow"):
        frame: pd.DataFrame = data.to_pandas()
        return frame
    return as_frame(data)


__all__ = [
    "PREDICTION",
    "PROBA_PREFIX",
    "TOLERANCE",
    "Attempt",
    "BackendError",
    "CompileCheck",
    "CompileUnsupportedError",
    "CompiledModel",
]
