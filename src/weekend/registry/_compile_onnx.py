"""The ONNX Runtime backend: scikit-learn pipelines through skl2onnx, LightGBM and XGBoost
through onnxmltools, run by one onnxruntime session on one thread.

A scikit-learn pipeline that starts with a ``ColumnTransformer`` gets one ONNX input per
column (numbers as double, text as strings), so its encoders run inside the graph; a bare
estimator and the boosters get one matrix. Numbers are tried as double first (tree
thresholds compared in float64, as scikit-learn does), then as float32 where the converter
has no double version of an operator (scikit-learn's own trees compare float32 values, so
float32 is the faithful feed for them); whatever the types, the compiler checks the result
against the original model before it serves.

skl2onnx 1.20 cannot convert any ``HistGradientBoosting`` model: it passes a Python boolean
where ONNX wants an integer (``nodes_missing_value_tracks_true`` of a leaf). The conversion
here passes that flag as the integer it means, for the duration of one conversion and under
a lock. The converted model is still *wrong* when the trees have categorical splits (skl2onnx
ignores them: 20% of the W3 pipeline's labels differ); the check refuses it.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from weekend.core.optional import require
from weekend.registry._compiled import BackendError, CompiledModel, CompileUnsupportedError
from weekend.registry._flavors import LoadedModel

Array = np.ndarray[Any, Any]
ML_OPSET = 3  # ai.onnx.ml 3: tree ensembles with double thresholds
_CONVERT_LOCK = threading.Lock()


class OnnxRuntimeModel(CompiledModel):
    """A model run by an onnxruntime session, fed from the input columns."""

    backend: ClassVar[str] = "onnxruntime"

    def __init__(
        self,
        inputs: Sequence[tuple[str, str]],
        classes: Array | None,
        original: LoadedModel,
        session: Any,
        feeds: Sequence[tuple[str, tuple[str, ...], Any]],
    ) -> None:
        super().__init__(inputs, classes, original)
        self._session = session
        self._feeds = list(feeds)
        outputs = [node.name for node in session.get_outputs()]
        if classes is not None:
            if len(outputs) < 2:
                raise CompileUnsupportedError("the graph gives no probabilities")
            self._output = outputs[1]
        else:
            self._output = outputs[0]

    def _raw(self, columns: dict[str, Array], n: int) -> Array:
        feed: dict[str, Array] = {}
        for name, cols, dtype in self._feeds:
            if len(cols) == 1:
                feed[name] = columns[cols[0]].astype(dtype, copy=False).reshape(n, 1)
            else:
                matrix = np.empty((n, len(cols)), dtype=dtype)
                for i, col in enumerate(cols):
                    matrix[:, i] = columns[col]
                feed[name] = matrix
        try:
            (out,) = self._session.run([self._output], feed)
        except Exception as exc:  # onnxruntime's Fail, InvalidArgument ... (no common base)
            raise BackendError(f"onnxruntime: {exc}") from exc
        result = np.asarray(out, dtype=np.float64)
        if self.classes_ is None:
            return result.reshape(n)
        if result.ndim != 2 or result.shape[1] != len(self.classes_):
            raise BackendError(f"probabilities of shape {result.shape}")
        return result


@contextlib.contextmanager
def _hgb_leaf_flag() -> Iterator[None]:
    """skl2onnx's tree converter with integer missing-value flags (see the module doc)."""
    tree_ensemble: Any = require("skl2onnx.common.tree_ensemble", extra="compile")
    original = tree_ensemble.add_node

    def add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
        flag = int(nodes_missing_value_tracks_true)
        return original(*args, nodes_missing_value_tracks_true=flag, **kwargs)

    with _CONVERT_LOCK:
        tree_ensemble.add_node = add_node
        try:
            yield
        finally:
            tree_ensemble.add_node = original


def _session(payload: bytes) -> Any:
    ort = require("onnxruntime", extra="compile", purpose="serving a compiled model")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(
            payload, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise CompileUnsupportedError(
            f"onnxruntime cannot load the converted graph: {exc}"
        ) from exc


Feed = tuple[str, tuple[str, ...], Any]


def _sklearn_graph(model: Any, kinds: dict[str, str], dtype: Any) -> tuple[bytes, list[Feed]]:
    skl2onnx = require("skl2onnx", extra="compile", purpose="compiling a model for serving")
    types = require("skl2onnx.common.data_types", extra="compile")
    from sklearn.base import is_classifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    number = types.DoubleTensorType if dtype is np.float64 else types.FloatTensorType
    names = [str(n) for n in getattr(model, "feature_names_in_", [])]
    steps = [s for _, s in model.steps] if isinstance(model, Pipeline) else [model]
    final = steps[-1]
    if len(steps) > 1 and isinstance(steps[0], ColumnTransformer):
        initial = [
            (n, number([None, 1]) if kinds[n] == "number" else types.StringTensorType([None, 1]))
            for n in names
        ]
        feeds: list[Feed] = [(n, (n,), dtype if kinds[n] == "number" else object) for n in names]
    else:
        if not names or any(kinds.get(n) != "number" for n in names):
            raise CompileUnsupportedError(
                "a model without a ColumnTransformer needs number columns"
            )
        initial = [("X", number([None, len(names)]))]
        feeds = [("X", tuple(names), dtype)]
    options = {id(final): {"zipmap": False}} if is_classifier(final) else None
    opset = {"": skl2onnx.get_latest_tested_opset_version(), "ai.onnx.ml": ML_OPSET}
    with _hgb_leaf_flag():
        onx = skl2onnx.convert_sklearn(
            model, initial_types=initial, options=options, target_opset=opset
        )
    return onx.SerializeToString(), feeds


def compile_sklearn(
    original: LoadedModel, inputs: Sequence[tuple[str, str]], dtype: Any = np.float64
) -> OnnxRuntimeModel:
    """A scikit-learn estimator or pipeline through skl2onnx, numbers fed as ``dtype``."""
    kinds = dict(inputs)
    missing = [n for n in getattr(original.raw, "feature_names_in_", []) if str(n) not in kinds]
    if missing:
        raise CompileUnsupportedError(f"fitted columns outside the signature: {missing[:3]}")
    try:
        payload, feeds = _sklearn_graph(original.raw, kinds, dtype)
    except CompileUnsupportedError:
        raise
    except Exception as exc:  # skl2onnx raises many kinds: missing converters, shapes ...
        raise CompileUnsupportedError(f"skl2onnx: {type(exc).__name__}: {exc}"[:300]) from exc
    session = _session(payload)
    return OnnxRuntimeModel(inputs, original.classes_, original, session, feeds)


def compile_booster(original: LoadedModel, inputs: Sequence[tuple[str, str]]) -> OnnxRuntimeModel:
    """A LightGBM or XGBoost model through onnxmltools (one float32 matrix)."""
    onnxmltools = require("onnxmltools", extra="compile", purpose="compiling a booster")
    types = require("onnxmltools.convert.common.data_types", extra="compile")
    raw = original.raw
    kinds = dict(inputs)
    if original.flavor == "lightgbm":
        order = list(raw.feature_name())
        convert = onnxmltools.convert_lightgbm
    elif original.flavor == "xgboost":
        booster = raw.get_booster() if hasattr(raw, "get_booster") else raw
        order = list(booster.feature_names or [name for name, _ in inputs])
        convert = onnxmltools.convert_xgboost
        raw = copy.deepcopy(raw)  # onnxmltools reads features named f0, f1 ... only
        (raw.get_booster() if hasattr(raw, "get_booster") else raw).feature_names = None
    else:
        raise CompileUnsupportedError(f"flavor {original.flavor!r} is not a booster")
    if any(kinds.get(name) != "number" for name in order):
        raise CompileUnsupportedError("a feature that is not a number column of the signature")
    initial = [("X", types.FloatTensorType([None, len(order)]))]
    options = {"zipmap": False} if original.flavor == "lightgbm" else {}  # xgboost: none
    try:
        onx = convert(raw, initial_types=initial, **options)
    except Exception as exc:  # onnxmltools raises many kinds
        raise CompileUnsupportedError(f"onnxmltools: {type(exc).__name__}: {exc}"[:300]) from exc
    session = _session(onx.SerializeToString())
    feeds = [("X", tuple(order), np.float32)]
    return OnnxRuntimeModel(inputs, original.classes_, original, session, feeds)


__all__ = ["OnnxRuntimeModel", "compile_booster", "compile_sklearn"]
