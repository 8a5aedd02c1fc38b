"""The optional ONNX flavor: scikit-learn models exported with skl2onnx, run by onnxruntime.

Export needs the model's :class:`~weekend.registry._signature.Signature` to type the inputs
(one ONNX input per column: float columns as float32, int as int64, strings and categories as
strings, booleans as float32), so :func:`export_onnx` takes it and :class:`OnnxFlavor` keeps
it as configuration. An already converted ``onnx.ModelProto`` is stored as it is. Loading
reads the input names and types from the ONNX graph itself and builds the feed from a
DataFrame. Both libraries are optional (``pip install 'weekend[onnx]'``).

Numbers may differ from scikit-learn's in the last float32 digits.
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
from weekend.registry._signature import Signature

Array = np.ndarray[Any, Any]

MODEL_FILE = "model.onnx"

_FEED_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}


class OnnxModel(LoadedModel):
    """An onnxruntime session fed column by column from a DataFrame."""

    flavor: ClassVar[str] = "onnx"

    def __init__(self, session: Any, classes: Array | None) -> None:
        self._session = session
        self.classes_ = classes
        self._inputs = []
        for node in session.get_inputs():
            if node.type not in _FEED_TYPES:
                raise IntegrityError(f"ONNX input {node.name!r} has unsupported type {node.type}")
            self._inputs.append((node.name, _FEED_TYPES[node.type]))
        self._outputs = [node.name for node in session.get_outputs()]

    @property
    def raw(self) -> Any:
        return self._session

    def _feed(self, df: pd.DataFrame) -> dict[str, Array]:
        if len(self._inputs) == 1 and self._inputs[0][0] not in df.columns:
            name, dtype = self._inputs[0]
            return {name: df.to_numpy(dtype=dtype)}
        return {
            name: df[name].to_numpy().astype(dtype, copy=False).reshape(-1, 1)
            for name, dtype in self._inputs
        }

    def _run(self, df: pd.DataFrame, output: str) -> Array:
        (out,) = self._session.run([output], self._feed(df))
        result = np.asarray(out)
        if result.ndim == 2 and result.shape[1] == 1:
            result = result.ravel()
        return result

    def predict(self, df: pd.DataFrame) -> Array:
        return self._run(df, self._outputs[0])

    def predict_proba(self, df: pd.DataFrame) -> Array | None:
        if self.classes_ is None or len(self._outputs) < 2:
            return None
        return self._run(df, self._outputs[1])


def _initial_types(signature: Signature) -> list[tuple[str, Any]]:
    types = require("skl2onnx.common.data_types", extra="onnx", purpose="exporting to ONNX")
    table = {
        "float": types.FloatTensorType,
        "bool": types.FloatTensorType,
        "int": types.Int64TensorType,
        "string": types.StringTensorType,
        "category": types.StringTensorType,
    }
    initial = []
    for spec in signature.inputs:
        if spec.type not in table:
            raise InvalidValueError(
                f"column {spec.name!r} has type {spec.type!r}, which the ONNX export does not "
                f"support (supported: {', '.join(sorted(table))})"
            )
        initial.append((spec.name, table[spec.type]([None, 1])))
    return initial


@register_flavor
class OnnxFlavor(Flavor):
    """ONNX models; scikit-learn models are converted with skl2onnx using ``signature``.

    ``threads`` sets onnxruntime's intra-op threads (1 keeps one-row latency low; serving
    scales with processes).
    """

    name: ClassVar[str] = "onnx"
    trusted_required: ClassVar[bool] = False

    def __init__(self, signature: Signature | None = None, *, threads: int = 1) -> None:
        self.signature = signature
        self.threads = threads

    def matches(self, model: object) -> bool:
        return "onnx" in module_roots(model) and hasattr(model, "SerializeToString")

    def save(self, model: Any, folder: Path) -> FlavorInfo:
        classes = None
        if self.matches(model):
            payload = model.SerializeToString()
        else:
            if self.signature is None:
                raise InvalidValueError(
                    "exporting a scikit-learn model to ONNX needs its signature: use "
                    "OnnxFlavor(signature).save(model, folder) or "
                    "export_onnx(model, signature, folder)"
                )
            skl2onnx = require("skl2onnx", extra="onnx", purpose="exporting to ONNX")
            from sklearn.base import is_classifier
            from sklearn.pipeline import Pipeline

            final = model.steps[-1][1] if isinstance(model, Pipeline) else model
            options = {id(final): {"zipmap": False}} if is_classifier(final) else None
            try:
                onx = skl2onnx.convert_sklearn(
                    model, initial_types=_initial_types(self.signature), options=options
                )
            except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
                raise InvalidValueError(
                    f"skl2onnx cannot convert {qualified_name(model)}: {exc}"
                ) from exc
            payload = onx.SerializeToString()
            if is_classifier(final):
                classes = labels_to_json(final.classes_)
        path = Path(folder) / MODEL_FILE
        with atomic_path(path) as tmp:
            tmp.write_bytes(payload)
        return FlavorInfo(
            flavor=self.name,
            format="onnx",
            format_version=FORMAT_VERSION,
            files=[MODEL_FILE],
            packages=["onnxruntime"],
            details={"class": qualified_name(model), "classes": classes},
        )

    def load(self, folder: Path, info: FlavorInfo, *, trusted: bool = False) -> OnnxModel:
        check_info(info, self.name)
        ort = require("onnxruntime", extra="onnx", purpose="loading an ONNX model")
        path = model_file(Path(folder), info, MODEL_FILE)
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = self.threads
        try:
            session = ort.InferenceSession(
                path.read_bytes(), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's Fail / InvalidProtobuf
            raise IntegrityError(
                f"model file {MODEL_FILE!r} is not a valid ONNX model: {exc}"
            ) from exc
        classes = labels_from_json(info.get("details", {}).get("classes"))
        return OnnxModel(session, classes)


def export_onnx(model: Any, signature: Signature, folder: Path) -> FlavorInfo:
    """Convert a scikit-learn ``model`` to ONNX and write it into ``folder``."""
    if not isinstance(signature, Signature):
        raise InvalidValueError(f"signature must be a Signature, got {type(signature).__name__}")
    return OnnxFlavor(signature).save(model, Path(folder))


__all__ = ["OnnxFlavor", "OnnxModel", "export_onnx"]
