"""Signatures: inference, JSON round trip, and validation with clear messages."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.registry._signature import ColumnSpec, OutputSpec, Signature, infer_signature


@pytest.fixture
def example(rng: np.random.Generator) -> pd.DataFrame:
    n = 40
    temp = rng.normal(15, 8, n)
    temp[5] = np.nan
    return pd.DataFrame(
        {
            "dep_delay": rng.normal(10, 30, n),
            "dep_hour": rng.integers(5, 23, n),
            "temp": temp,
            "weekend": rng.random(n) > 0.7,
            "tailnum": rng.choice(["N101", "N202", "N303"], n),
            "origin": pd.Categorical(
                rng.choice(["EWR", "JFK"], n), categories=["EWR", "JFK", "LGA"]
            ),
            "sched": pd.date_range("2013-01-01", periods=n, freq="h"),
        }
    )


@pytest.fixture
def signature(example: pd.DataFrame) -> Signature:
    return infer_signature(example)


def one_row(example: pd.DataFrame, **changes: Any) -> pd.DataFrame:
    row = example.iloc[[0]].reset_index(drop=True)
    for name, value in changes.items():
        row[name] = value
    return row


def test_infer_types_nullability_and_categories(signature: Signature) -> None:
    kinds = {c.name: (c.type, c.nullable) for c in signature.inputs}
    assert kinds == {
        "dep_delay": ("float", False),  # the example has no NaN there (and no model says more)
        "dep_hour": ("int", False),
        "temp": ("float", True),
        "weekend": ("bool", False),
        "tailnum": ("string", False),
        "origin": ("category", False),
        "sched": ("timestamp", False),
    }
    assert signature.column("origin").categories == ("EWR", "JFK", "LGA")
    assert signature.column("dep_delay").dtype == "float64"
    assert signature.column("dep_hour").dtype == "int64"
    assert signature.output is None
    assert signature.names == [signature.column(n).name for n in signature.names]


def test_infer_output_of_classifier_and_regressor(example: pd.DataFrame) -> None:
    x = example[["dep_delay", "dep_hour"]]
    y = np.where(x["dep_delay"] > 15, "late", "on_time")
    classifier = LogisticRegression().fit(x, y)
    output = infer_signature(x, classifier).output
    assert output == OutputSpec("label", "str", ("late", "on_time"), probabilities=True)

    regressor = LinearRegression().fit(x, example["dep_delay"])
    assert infer_signature(x, regressor).output == OutputSpec("float", "float64")
    assert infer_signature(x, output=np.array([1, 2])).output == OutputSpec("label", "int64")


def test_json_round_trip(example: pd.DataFrame) -> None:
    y = np.where(example["dep_delay"] > 15, 1, 0)
    model = LogisticRegression().fit(example[["dep_delay", "dep_hour"]], y)
    signature = infer_signature(example, model)
    again = Signature.from_json(signature.to_json())
    assert again == signature
    assert again.output is not None
    assert again.output.classes == (0, 1)
    good = one_row(example)
    assert again.validate(good) is good


def test_rejects_what_it_cannot_describe() -> None:
    with pytest.raises(InvalidValueError, match="column 'x' has object dtype with mixed"):
        infer_signature(pd.DataFrame({"x": np.array(["a", 1], dtype=object)}))
    with pytest.raises(InvalidValueError, match="column 'span' has dtype timedelta64"):
        infer_signature(pd.DataFrame({"span": pd.to_timedelta([1, 2], unit="s")}))
    with pytest.raises(
        InvalidValueError,
        match=r"^signature column 'a': type must be one of int, float, bool, string, category, "
        r"date, timestamp, got 'decimal'$",
    ):
        Signature.from_dict({"inputs": [{"name": "a", "type": "decimal", "dtype": "x"}]})
    with pytest.raises(InvalidValueError, match="signature column 'b': type must be one of"):
        ColumnSpec("b", "binary", "object")  # type: ignore[arg-type]
    money = pd.Series([Decimal("1.50")], dtype=pd.ArrowDtype(pa.decimal128(10, 2)))
    with pytest.raises(InvalidValueError, match=r"column 'money' has dtype decimal128\(10, 2\)"):
        infer_signature(pd.DataFrame({"money": money}))
    with pytest.raises(InvalidValueError, match="duplicate column names: 'a'"):
        Signature((ColumnSpec("a", "int", "int64"), ColumnSpec("a", "float", "float64")))


def test_matching_frame_is_returned_as_is(signature: Signature, example: pd.DataFrame) -> None:
    assert signature.validate(example) is example


def test_columns_reordered_extra_dropped_or_refused(
    signature: Signature, example: pd.DataFrame
) -> None:
    shuffled = example[list(reversed(example.columns))].assign(request_id="r-1")
    out = signature.validate(shuffled)
    assert list(out.columns) == signature.names
    pd.testing.assert_frame_equal(out, example)
    with pytest.raises(DataValidationError, match=r"unexpected column 'request_id' \(strict"):
        signature.validate(shuffled, strict=True)


def test_missing_columns_named(signature: Signature, example: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"missing columns 'temp', 'origin' \(the model"):
        signature.validate(example.drop(columns=["origin", "temp"]))


def test_wrong_type_names_column_types_and_first_bad_value(
    signature: Signature, example: pd.DataFrame
) -> None:
    bad = example.astype({"dep_delay": object})
    bad.loc[17, "dep_delay"] = "abc"
    with pytest.raises(
        DataValidationError,
        match=r"^column 'dep_delay' must be float64, got object "
        r"\(first bad value 'abc' at row 17\)$",
    ):
        signature.validate(bad)

    text = one_row(example, tailnum=7)
    with pytest.raises(
        DataValidationError, match=r"'tailnum' must be str, got int64 \(first bad value 7"
    ):
        signature.validate(text)

    flag = one_row(example, weekend="yes")
    with pytest.raises(DataValidationError, match="'weekend' must be bool, got str"):
        signature.validate(flag)


def test_all_problems_reported_together(signature: Signature, example: pd.DataFrame) -> None:
    bad = one_row(example, dep_delay="late", dep_hour=2.5)
    with pytest.raises(
        DataValidationError, match=r"^2 problems: column 'dep_delay'.*; column 'dep_hour'"
    ):
        signature.validate(bad)


def test_safe_casts(signature: Signature, example: pd.DataFrame) -> None:
    frame = example.astype({"dep_delay": "int32", "dep_hour": "float64", "temp": "float32"})
    frame["dep_delay"] = frame["dep_delay"].astype("int32")
    frame["sched"] = frame["sched"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    out = signature.validate(frame)
    assert out["dep_delay"].dtype == np.float64
    assert out["dep_hour"].dtype == np.int64
    assert out["temp"].dtype == np.float64
    assert out["sched"].dtype == example["sched"].dtype
    pd.testing.assert_series_equal(out["sched"], example["sched"])
    np.testing.assert_array_equal(out["dep_hour"], example["dep_hour"])

    from_json = pd.DataFrame(
        {c: np.array(example[c].tolist()[:3], dtype=object) for c in ["dep_delay", "weekend"]}
    )
    small = Signature((signature.column("dep_delay"), signature.column("weekend")))
    out = small.validate(from_json)
    assert out["dep_delay"].dtype == np.float64
    assert out["weekend"].dtype == np.bool_

    fraction = one_row(example, dep_hour=2.5)
    with pytest.raises(
        DataValidationError,
        match=r"'dep_hour' must be int64, got float64 \(first bad value 2.5 at row 0",
    ):
        signature.validate(fraction)


def test_categories_aligned_and_new_ones_refused(
    signature: Signature, example: pd.DataFrame
) -> None:
    as_text = example.astype({"origin": "str"})
    out = signature.validate(as_text)
    assert list(out["origin"].cat.categories) == ["EWR", "JFK", "LGA"]
    np.testing.assert_array_equal(out["origin"].cat.codes, example["origin"].cat.codes)

    reordered = example.assign(
        origin=example["origin"].cat.reorder_categories(["LGA", "JFK", "EWR"])
    )
    out = signature.validate(reordered)
    np.testing.assert_array_equal(out["origin"].cat.codes, example["origin"].cat.codes)

    new = as_text.copy()
    new.loc[2, "origin"] = "ISP"
    with pytest.raises(
        DataValidationError,
        match=r"column 'origin' has a category the model was not trained on: 'ISP' at row 2 "
        r"\(known: 'EWR', 'JFK', 'LGA'\)",
    ):
        signature.validate(new)


def test_nulls_only_where_the_example_had_them(signature: Signature, example: pd.DataFrame) -> None:
    assert signature.validate(one_row(example, temp=np.nan))["temp"].isna().all()
    with pytest.raises(
        DataValidationError,
        match=r"'dep_delay' must not be null \(float64, .*example had no missing value\), "
        r"got 1 missing value\(s\) at row\(s\) 0",
    ):
        signature.validate(one_row(example, dep_delay=np.nan))
    bad = example.copy()
    bad["tailnum"] = bad["tailnum"].astype(object)
    bad.loc[[3, 5, 6, 7, 8, 9, 11], "tailnum"] = None
    with pytest.raises(
        DataValidationError,
        match=r"'tailnum' must not be null .* 7 missing value\(s\) at row\(s\) 3, 5, 6, 7, 8 "
        r"and 2 more",
    ):
        signature.validate(bad)


def test_floats_are_nullable_where_the_model_takes_missing_values(example: pd.DataFrame) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    x = example[["dep_delay", "dep_hour"]].fillna(0.0)
    y = x["dep_delay"] * 2.0
    refusing = LinearRegression().fit(x, y)
    assert not infer_signature(x, refusing).column("dep_delay").nullable
    for taking in (
        HistGradientBoostingRegressor(max_iter=5),
        make_pipeline(SimpleImputer(), LinearRegression()),
    ):
        signature = infer_signature(x, taking.fit(x, y))
        assert signature.column("dep_delay").nullable
        assert not signature.column("dep_hour").nullable  # ints hold no NaN


def test_bad_datetimes_and_non_frames(signature: Signature, example: pd.DataFrame) -> None:
    with pytest.raises(
        DataValidationError, match=r"'sched' must be datetime64\[us\].*'soon' at row 0"
    ):
        signature.validate(one_row(example, sched="soon"))
    with pytest.raises(DataValidationError, match="must be a pandas DataFrame, got dict"):
        signature.validate({"dep_delay": [1.0]})  # type: ignore[arg-type]


def test_signatures_stored_with_datetime_read_as_timestamp_or_date() -> None:
    stored = {
        "version": 1,
        "inputs": [
            {"name": "t", "type": "datetime", "dtype": "datetime64[ns, UTC]", "nullable": False},
            {"name": "d", "type": "datetime", "dtype": "date32[day][pyarrow]", "nullable": True},
        ],
        "output": None,
    }
    signature = Signature.from_dict(stored)
    assert [(c.type, c.dtype) for c in signature.inputs] == [
        ("timestamp", "datetime64[ns, UTC]"),
        ("date", "date32[day][pyarrow]"),
    ]
    assert [c["type"] for c in signature.to_dict()["inputs"]] == ["timestamp", "date"]
    assert ColumnSpec("t", "datetime", "datetime64[ns]").type == "timestamp"  # type: ignore[arg-type]
    rows = pd.DataFrame({"t": ["2013-01-01T05:00:00Z"], "d": ["2013-01-02"]})
    out = signature.validate(rows)
    assert out["t"].iloc[0] == pd.Timestamp("2013-01-01 05:00", tz="UTC")
    assert out["d"].iloc[0] == datetime.date(2013, 1, 2)


def test_date_columns(rng: np.random.Generator) -> None:
    start = datetime.date(2013, 1, 1)
    offsets = rng.integers(0, 99, 9).tolist()
    values = [start + datetime.timedelta(days=d) for d in offsets] + [None]
    days = pd.Series(values, dtype=pd.ArrowDtype(pa.date32()))
    example = pd.DataFrame({"day": days})
    signature = infer_signature(example)
    assert signature.column("day") == ColumnSpec("day", "date", "date32[day][pyarrow]", True)
    assert Signature.from_json(signature.to_json()) == signature
    assert signature.validate(example) is example
    with pytest.raises(DataValidationError, match=r"'day' must be date32\[day\]\[pyarrow\]"):
        signature.validate(pd.DataFrame({"day": ["2013-02-30"]}))
