"""Running an on-demand view's function, the same way offline and online.

Both paths build one Arrow table of inputs with the same types (source features in their
declared dtypes, request fields in the request schema's dtypes) and call :func:`compute`, so a
training set and a served request hand the function identical values: a pandas frame made by
``Table.to_pandas()`` (``mode="pandas"``) or one dict per row made by ``Table.to_pylist()``
(``mode="python"``). The outputs are cast to the declared dtypes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from weekend.core.errors import DataValidationError, InvalidValueError, UserCodeError
from weekend.features._definitions import OnDemandFeatureView
from weekend.features._types import arrow_type


def request_column(
    view: OnDemandFeatureView, name: str, values: Sequence[Any] | pa.ChunkedArray | pa.Array
) -> pa.ChunkedArray | pa.Array:
    """A request field's values in the dtype of the request schema."""
    kind = arrow_type(view.request_schema[name])
    try:
        if isinstance(values, pa.ChunkedArray | pa.Array):
            return values.cast(kind)
        return pa.array(list(values), type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InvalidValueError(
            f"request field {name!r} of on-demand view {view.name!r} must hold "
            f"{view.request_schema[name]} values: {exc}"
        ) from exc


def compute(view: OnDemandFeatureView, inputs: pa.Table) -> pa.Table:
    """The view's declared features for every row of ``inputs``."""
    function = view.function
    if function is None:
        raise InvalidValueError(f"on-demand view {view.name!r} has no function loaded")
    rows = inputs.num_rows
    try:
        if view.mode == "pandas":
            result: Any = function(inputs.to_pandas())
        else:
            result = [function(row) for row in inputs.to_pylist()]
    except Exception as exc:
        raise UserCodeError(
            f"the function of on-demand view {view.name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    columns = _columns_of(view, result, rows)
    arrays = {}
    for name, dtype in view.features.items():
        try:
            if dtype is None:
                arrays[name] = pa.array(columns[name], from_pandas=True)
            else:
                arrays[name] = pa.array(columns[name], type=arrow_type(dtype), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise UserCodeError(
                f"on-demand view {view.name!r} returned values for feature {name!r} that are "
                f"not {dtype or 'one Arrow type'}: {exc}"
            ) from exc
    return pa.table(arrays) if arrays else pa.table({})


def _columns_of(view: OnDemandFeatureView, result: Any, rows: int) -> dict[str, Any]:
    wanted = list(view.features)
    if view.mode == "python":
        out: dict[str, list[Any]] = {name: [] for name in wanted}
        for index, row in enumerate(result):
            if not isinstance(row, Mapping):
                raise UserCodeError(
                    f"the function of on-demand view {view.name!r} (mode='python') must return "
                    f"a dict per row, got {type(row).__name__} for row {index}"
                )
            missing = [name for name in wanted if name not in row]
            if missing:
                raise UserCodeError(
                    f"the function of on-demand view {view.name!r} returned no {missing} for "
                    f"row {index}; it returned {sorted(map(str, row))}"
                )
            for name in wanted:
                out[name].append(row[name])
        return out
    import pandas as pd

    if not isinstance(result, pd.DataFrame):
        raise UserCodeError(
            f"the function of on-demand view {view.name!r} (mode='pandas') must return a "
            f"pandas DataFrame, got {type(result).__name__}"
        )
    missing = [name for name in wanted if name not in result.columns]
    if missing:
        raise UserCodeError(
            f"the function of on-demand view {view.name!r} returned no column {missing}; it "
            f"returned {[str(c) for c in result.columns]}"
        )
    if len(result) != rows:
        raise UserCodeError(
            f"the function of on-demand view {view.name!r} returned {len(result)} rows for "
            f"{rows} input rows; return one row per input row, in order"
        )
    return {name: result[name].to_numpy() for name in wanted}


def check_request_fields(view: OnDemandFeatureView, columns: Sequence[str], what: str) -> None:
    missing = [name for name in view.request_schema if name not in columns]
    if missing:
        raise DataValidationError(
            f"{what} has no column {missing[0]!r}, a request field of on-demand view "
            f"{view.name!r}; its columns are {list(columns)}"
        )


__all__ = ["check_request_fields", "compute", "request_column"]
