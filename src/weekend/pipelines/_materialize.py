"""Typed materialization of step outputs: each kind of value stored in a safe format.

=============  ==================  ===========================================
kind           a step returns      stored as
=============  ==================  ===========================================
``parquet``    a pandas DataFrame  Parquet (pyarrow)
``json``       dict, list, str,    JSON (orjson; keys must be strings)
               number, bool, None
``npy``        a numpy ndarray     ``.npy`` without pickled objects
``model``      a ModelVersion      its registry reference ``{"name", "version"}``
``pickle``     anything else       cloudpickle, only if the step says ``trusted_pickle``
=============  ==================  ===========================================

Loading a ``model`` output returns the :class:`~weekend.registry.ModelVersion` from the
registry; loading a pickle runs code, which is why it needs the step's word.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import orjson

from weekend.core.errors import InvalidValueError, UnsafeModelError

KINDS = ("parquet", "json", "npy", "model", "pickle")


def encode(value: Any, *, step_name: str, trusted_pickle: bool) -> tuple[str, bytes]:
    """``(kind, bytes)`` of a step's output; an object of no safe kind is refused."""
    kind = _kind_of(value)
    if kind == "parquet":
        buffer = io.BytesIO()
        value.to_parquet(buffer, index=True)
        return kind, buffer.getvalue()
    if kind == "npy":
        import numpy as np

        buffer = io.BytesIO()
        try:
            np.save(buffer, value, allow_pickle=False)
        except ValueError:
            kind = "pickle"
        else:
            return kind, buffer.getvalue()
    if kind == "model":
        return kind, orjson.dumps({"name": value.name, "version": value.version})
    if kind == "json":
        try:
            return kind, orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError:
            kind = "pickle"
    if not trusted_pickle:
        raise InvalidValueError(
            f"step {step_name!r} returned a {type(value).__module__}.{type(value).__qualname__}"
            ", which weekend stores only as a pickle; return a DataFrame, dict, list, number, "
            "ndarray or ModelVersion, or declare @step(trusted_pickle=True) to store it with "
            "cloudpickle",
            field=f"{step_name}.output",
        )
    import cloudpickle

    return "pickle", cloudpickle.dumps(value)


def _kind_of(value: Any) -> str:
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        return "parquet"
    if module == "numpy" and type(value).__name__ == "ndarray":
        return "npy"
    if type(value).__name__ == "ModelVersion" and module.startswith("weekend.registry"):
        return "model"
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return "json"
    return "pickle"


def decode(
    kind: str, data: bytes, *, models: Callable[[str, int], Any] | None, trusted_pickle: bool
) -> Any:
    """The value of a stored output (``models(name, version)`` resolves a model reference)."""
    if kind == "parquet":
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data))
    if kind == "npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if kind == "json":
        return orjson.loads(data)
    if kind == "model":
        ref = orjson.loads(data)
        if models is None:
            return ref
        return models(ref["name"], int(ref["version"]))
    if kind == "pickle":
        if not trusted_pickle:
            raise UnsafeModelError(
                "this output is a pickle, and loading it runs code; load it from a step "
                "declared @step(trusted_pickle=True) or pass trusted=True"
            )
        import cloudpickle

        return cloudpickle.loads(data)
    raise InvalidValueError(f"unknown output kind {kind!r}; expected one of {list(KINDS)}")
