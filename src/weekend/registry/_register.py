"""Registering a version: the argument checks, what the input example gives (signature,
smoke test, reference profile), and the catalog record of a new or copied version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from weekend.core.errors import InvalidValueError, UserCodeError
from weekend.core.names import check_text, validate_key
from weekend.registry._records import ModelVersion, to_json

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from weekend.data import Datasets
    from weekend.registry._package import Package
    from weekend.registry._signature import Signature

MAX_TAG_VALUE = 5000
MIN_PROFILE_ROWS = 100
"""An input example shorter than this is no reference for drift: it gets no profile."""
SMOKE_ROWS = 100
"""A model must predict on this many first rows of its input example to be registered."""
REFERENCE_ROWS = 50_000
"""The most rows of training data a version keeps as its reference sample."""
REFERENCE_SEED = 0


def text_value(value: object, what: str, limit: int = 20_000) -> str | None:
    """A description or reason: None, or a string of at most ``limit`` characters."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidValueError(f"{what} must be a string of at most {limit} characters")
    return check_text(value, what)


def version_number(version: object) -> int:
    """A version number (``3`` or ``"3"``), positive."""
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise InvalidValueError(f"version must be a positive integer, got {version!r:.40}")
    if isinstance(version, str):
        if not version.isdigit():
            raise InvalidValueError(f"version must be a positive integer, got {version!r:.40}")
        version = int(version)
    if version < 1:
        raise InvalidValueError(f"version must be a positive integer, got {version}")
    return version


def tag_values(tags: Mapping[str, object] | None) -> dict[str, str]:
    """Tags as strings, keys checked, values at most :data:`MAX_TAG_VALUE` characters."""
    out = {}
    for key, value in (tags or {}).items():
        validate_key(key, "tag key")
        text = str(value)
        if len(text) > MAX_TAG_VALUE:
            raise InvalidValueError(
                f"tag {key!r} has {len(text)} characters; at most {MAX_TAG_VALUE} are allowed"
            )
        out[key] = text
    return out


def fitted_columns(model: Any, example: Any) -> Any:
    """The example without columns the model was not fitted on (a label left in by mistake
    would otherwise become a required input of the signature)."""
    fitted = getattr(model, "feature_names_in_", None)
    columns = getattr(example, "columns", None)
    if fitted is None or columns is None:
        return example
    known = {str(name) for name in fitted}
    if all(str(c) in known for c in columns):
        return example
    return example[[c for c in columns if str(c) in known]]


def smoke_test(model: Any, example: Any) -> Any:
    """Predict on the first rows of the example: a model that cannot take its own example
    is refused before anything is stored. Returns the predictions (None without any)."""
    import pandas as pd

    if not isinstance(example, pd.DataFrame):
        raise InvalidValueError(
            f"input_example must be a pandas DataFrame, got {type(example).__name__}"
        )
    if not len(example) or not callable(getattr(model, "predict", None)):
        return None
    try:
        return model.predict(example.head(SMOKE_ROWS))
    except Exception as exc:
        raise UserCodeError(
            f"the model cannot predict on its input_example ({type(exc).__name__}: {exc}); "
            "pass the frame the model was trained on (without the label)"
        ) from exc


def example_profile(example: pd.DataFrame) -> str:
    """The profile of an input example as JSON (when no training dataset is given)."""
    import orjson

    from weekend.data import profile_frame

    return orjson.dumps(profile_frame(example).to_dict()).decode()


def from_example(
    model: Any,
    example: pd.DataFrame | None,
    signature: Signature | None,
    lineage: dict[str, Any],
    profile_json: str | None,
) -> tuple[Signature | None, str | None]:
    """The signature (inferred unless given) and reference profile a version gets from its
    input example; marks the lineage when the example became the profile."""
    from weekend.registry._signature import Signature, infer_signature

    if signature is not None and not isinstance(signature, Signature):
        raise InvalidValueError(f"signature must be a Signature, got {type(signature)}")
    if example is None:
        return signature, profile_json
    example = fitted_columns(model, example)
    output = smoke_test(model, example)
    if signature is None:  # a model without predict (an ONNX graph) tells nothing more
        predicts = callable(getattr(model, "predict", None))
        signature = infer_signature(example, model if predicts else None, output)
    if profile_json is None and len(example) >= MIN_PROFILE_ROWS:
        profile_json = example_profile(example)
        lineage["profile_source"] = "input_example"
    return signature, profile_json


def reference_sample(
    datasets: Datasets,
    lineage: Mapping[str, Any],
    example: pd.DataFrame | None,
    signature: Signature | None,
) -> pa.Table | None:
    """A seeded uniform sample of at most :data:`REFERENCE_ROWS` rows of the data the
    version's profile describes (the training dataset, or the input example), in the
    signature's input columns: the exact values drift tests compare windows with (a test on
    quantile sketches raises false alarms at large windows). None without such data."""
    import numpy as np
    import pyarrow as pa

    from weekend.data import read_table

    source = str(lineage.get("profile_source") or "")
    if source.startswith("dataset "):
        version = datasets.get(source.removeprefix("dataset "))
        names = list(version.schema.names)
        columns = _sample_columns(names, signature)
        table = read_table(version, datasets=datasets, columns=columns, allow_empty=True)
    elif source == "input_example" and example is not None:
        columns = _sample_columns([str(c) for c in example.columns], signature)
        table = _arrow_columns(example, columns)
    else:
        return None
    if table.num_rows > REFERENCE_ROWS:
        rng = np.random.default_rng(REFERENCE_SEED)
        rows = np.sort(rng.choice(table.num_rows, REFERENCE_ROWS, replace=False))
        table = table.take(pa.array(rows))
    return table.combine_chunks()


def _sample_columns(names: list[str], signature: Signature | None) -> list[str]:
    """The signature's input columns that the data has (all of them without a signature)."""
    wanted = [] if signature is None else [n for n in signature.names if n in names]
    return wanted or names


def _arrow_columns(frame: pd.DataFrame, names: list[str]) -> pa.Table:
    """The frame's columns as Arrow; a column Arrow cannot hold (mixed Python objects) is
    left out of the sample rather than failing the registration."""
    import pyarrow as pa

    arrays = {}
    for name in names:
        try:
            arrays[name] = pa.Array.from_pandas(frame[name])
        except (pa.ArrowException, ValueError, TypeError):
            continue
    return pa.table(arrays)


def package_record(
    package: Package,
    *,
    signature: Signature | None,
    lineage: Mapping[str, Any],
    profile_json: str | None,
    description: str | None,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The ``model_versions`` columns of a newly packaged model."""
    return {
        "flavor": package.flavor_info["flavor"],
        "trusted_required": package.trusted_required,
        "manifest_json": to_json(package.manifest),
        "signature_json": None if signature is None else signature.to_json(),
        "requirements_json": to_json(package.requirements),
        "lineage_json": to_json(lineage),
        "profile_json": profile_json,
        "run_id": (lineage.get("run") or {}).get("id"),
        "description": description,
        "tags_json": to_json(dict(tags)),
    }


def copied_record(
    origin: ModelVersion, *, description: str | None, tags: Mapping[str, str] | None
) -> dict[str, Any]:
    """The ``model_versions`` columns of a copy of ``origin`` (its files, signature,
    requirements, profile and lineage, plus ``copied_from``); description and tags are the
    origin's unless given."""
    lineage = dict(origin.lineage)
    lineage["copied_from"] = {"ref": origin.ref, "id": origin.id}
    return {
        "flavor": origin.flavor,
        "trusted_required": origin.trusted_required,
        "manifest_json": to_json(origin.manifest),
        "signature_json": None if origin.signature is None else origin.signature.to_json(),
        "requirements_json": to_json(origin.requirements),
        "lineage_json": to_json(lineage),
        "profile_json": origin.profile_json,
        "run_id": origin.run_id,
        "description": origin.description if description is None else description,
        "tags_json": to_json(origin.tags if tags is None else dict(tags)),
    }


__all__ = [
    "MAX_TAG_VALUE",
    "MIN_PROFILE_ROWS",
    "REFERENCE_ROWS",
    "copied_record",
    "example_profile",
    "fitted_columns",
    "from_example",
    "package_record",
    "reference_sample",
    "smoke_test",
    "tag_values",
    "text_value",
    "version_number",
]
