"""RowSchema: JSON values checked against every column type a signature holds, and built in
exactly the signature's dtypes (the model's own validation then has nothing to convert)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from weekend.registry import infer_signature
from weekend.serving import RequestValidationError
from weekend.serving._rows import parse_rows
from weekend.serving._schema import RowSchema

EXAMPLE = pd.DataFrame(
    {
        "i64": np.array([1, 2, 3], dtype="int64"),
        "i32": np.array([1, 2, 3], dtype="int32"),
        "nullable_int": pd.array([1, None, 3], dtype="Int64"),
        "f64": [0.5, 1.5, 2.5],
        "f32": np.array([0.5, 1.5, 2.5], dtype="float32"),
        "flag": [True, False, True],
        "text": ["a", "b", "c"],
        "nullable_text": ["a", None, "c"],
        "cat": pd.Categorical(["x", "y", "x"]),
        "int_cat": pd.Categorical([1, 2, 1]),
        "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
    }
)
SCHEMA = RowSchema(infer_signature(EXAMPLE))


def _rows(records: list[dict[str, Any]]) -> Any:
    return parse_rows(orjson.dumps(records))


def _json_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = orjson.loads(
        EXAMPLE.assign(when=EXAMPLE["when"].astype(str)).to_json(orient="records")
    )
    return records


def test_rows_are_built_in_the_signatures_dtypes_without_a_conversion_left() -> None:
    frame = SCHEMA.frame(_rows(_json_records()))
    checked = SCHEMA.signature.validate(frame)
    assert checked is frame  # nothing to convert: the same object comes back
    assert list(frame.dtypes.astype(str)) == [c.dtype for c in SCHEMA.signature.inputs]
    pd.testing.assert_frame_equal(frame, EXAMPLE, check_dtype=False, check_categorical=False)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("i32", 2**31, "must be an integer within int32, got 2147483648"),
        ("i64", True, "must be int (int64), got true/false True"),
        ("f32", "1.5", "must be float (float32), got a string '1.5'"),
        ("flag", 1, "must be bool (bool), got an integer 1"),
        ("text", None, "must not be null: column 'text' is not nullable in the model's signature"),
        ("text", {"a": 1}, "must be string (str), got a JSON dict {'a': 1}"),
        ("cat", "z", "unknown category 'z': column 'cat' takes only the categories the model"),
        ("int_cat", 3, "unknown category 3: column 'int_cat' takes only the categories"),
        ("int_cat", "1", "must be category (category), got a string '1'"),
        ("when", "noon", "must be an ISO 8601 timestamp, got 'noon'"),
        ("when", 5, "must be timestamp (datetime64[us, UTC]), got an integer 5"),
    ],
)
def test_each_bad_value_is_named(column: str, value: Any, message: str) -> None:
    records = _json_records()
    records[1][column] = value
    with pytest.raises(RequestValidationError) as caught:
        SCHEMA.frame(_rows(records))
    assert [e["field"] for e in caught.value.errors] == [f"rows[1].{column}"]
    assert caught.value.errors[0]["message"].startswith(message)


def test_nulls_where_the_signature_allows_them() -> None:
    records = _json_records()
    records[0].update(nullable_int=None, nullable_text=None)
    frame = SCHEMA.frame(_rows(records))
    assert frame["nullable_int"].isna().tolist() == [True, True, False]
    assert frame["nullable_text"].isna().tolist() == [True, True, False]
    assert SCHEMA.signature.validate(frame) is frame
