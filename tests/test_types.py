"""The column-type vocabulary: round trips through Arrow, DuckDB and pandas, old spellings, bad
names, and the same word for the same column across schemas, signatures and features."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from weekend.core import types
from weekend.core.errors import InvalidValueError
from weekend.data._schema import Schema, infer_schema
from weekend.features._types import dtype_from_duckdb, parse_dtype
from weekend.registry._signature import infer_signature

CONVERTIBLE = [name for name in types.TYPE_NAMES if name != "other"]

# One value of each type, as Python gives it.
VALUES: dict[str, Any] = {
    "bool": True,
    "int": 7,
    "float": 2.5,
    "string": "a",
    "category": "a",
    "date": datetime.date(2013, 1, 2),
    "timestamp": datetime.datetime(2013, 1, 2, 3, 4, tzinfo=datetime.UTC),
    "binary": b"\x00\x01",
}


def value_of(name: str) -> Any:
    return VALUES[types.column_type(name)]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@pytest.mark.parametrize("name", CONVERTIBLE)
def test_arrow_round_trip(name: str) -> None:
    kind = types.to_arrow(name)
    assert types.from_arrow(kind) == types.with_width(name)
    array = pa.array([value_of(name), None], type=kind)  # the type holds its values
    assert array.type == kind


@pytest.mark.parametrize("name", CONVERTIBLE)
def test_duckdb_round_trip_and_what_duckdb_reads_from_arrow(
    name: str, con: duckdb.DuckDBPyConnection
) -> None:
    written = types.to_duckdb(name)
    declared = con.sql(f"SELECT CAST(NULL AS {written}) AS x").types[0]
    assert str(declared) == written  # the name is DuckDB's own spelling
    expected = "string" if name == "category" else types.with_width(name)
    assert types.from_duckdb(written) == expected  # DuckDB has no category without its values
    table = pa.table({"x": pa.array([value_of(name)], type=types.to_arrow(name))})
    con.register("t", table)
    assert types.from_duckdb(str(con.sql("SELECT x FROM t").types[0])) == expected


@pytest.mark.parametrize("name", CONVERTIBLE)
def test_pandas_round_trip(name: str) -> None:
    dtype = types.to_pandas(name)
    table = pa.table({"x": pa.array([value_of(name)], type=types.to_arrow(name))})
    column = table.to_pandas()["x"]
    assert str(column.dtype) == str(dtype)  # the dtype Arrow gives pandas
    assert types.from_pandas(column) == types.with_width(name)
    if name not in ("date", "binary"):  # object dtypes: the values decide
        assert types.from_pandas(dtype) == types.with_width(name)


def test_every_name_has_a_column_type_and_the_table_covers_the_vocabulary() -> None:
    assert set(types.TYPE_NAMES) == set(types.COLUMN_TYPES) | set(types.SIZED_TYPES)
    assert {types.column_type(n) for n in types.SIZED_TYPES} == {"int", "float"}
    assert all(types.column_type(n) == n for n in types.COLUMN_TYPES)
    assert set(types.COLUMN_TYPES) > types.NUMERIC_TYPES | types.TEMPORAL_TYPES | types.TEXT_TYPES
    with pytest.raises(InvalidValueError, match="type 'other' has no arrow counterpart"):
        types.to_arrow("other")
    with pytest.raises(InvalidValueError, match="type 'other' has no duckdb counterpart"):
        types.to_duckdb("other")
    with pytest.raises(InvalidValueError, match=r"type must be one of int, .*, got 'int128'"):
        types.to_arrow("int128")


@pytest.mark.parametrize(
    ("duckdb_type", "name"),
    [
        ("TIMESTAMP", "timestamp"),
        ("TIMESTAMP_S", "timestamp"),
        ("TIMESTAMP_NS", "timestamp"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp"),
        ("DECIMAL(8,2)", "float"),
        ("HUGEINT", "int"),
        ("UHUGEINT", "int"),
        ("ENUM('a', 'b')", "category"),
        ("VARCHAR[]", "other"),
        ("INTEGER[3]", "other"),
        ("STRUCT(a INTEGER)", "other"),
        ("MAP(VARCHAR, INTEGER)", "other"),
        ("INTERVAL", "other"),
        ("TIME", "other"),
        ("UUID", "other"),
    ],
)
def test_duckdb_types_without_a_row(
    duckdb_type: str, name: str, con: duckdb.DuckDBPyConnection
) -> None:
    printed = str(con.sql(f"SELECT CAST(NULL AS {duckdb_type}) AS x").types[0])
    assert types.from_duckdb(printed) == name


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (pa.timestamp("s"), "timestamp"),
        (pa.timestamp("us", tz="Europe/Paris"), "timestamp"),
        (pa.date64(), "date"),
        (pa.large_string(), "string"),
        (pa.large_binary(), "binary"),
        (pa.binary(4), "binary"),
        (pa.dictionary(pa.int8(), pa.large_string()), "category"),
        (pa.float16(), "float"),
        (pa.decimal128(10, 2), "float"),
        (pa.list_(pa.int64()), "other"),
        (pa.duration("s"), "other"),
        (pa.null(), "other"),
    ],
)
def test_arrow_types_without_a_row(kind: pa.DataType, name: str) -> None:
    assert types.from_arrow(kind) == name


def test_pandas_dtypes_and_object_columns() -> None:
    assert types.from_pandas("Int32") == "int32"
    assert types.from_pandas(pd.BooleanDtype()) == "bool"
    assert types.from_pandas("Float32") == "float32"
    assert types.from_pandas("float16") == "float"
    assert types.from_pandas(pd.StringDtype()) == "string"
    assert types.from_pandas(pd.ArrowDtype(pa.date32())) == "date"
    assert types.from_pandas(pd.CategoricalDtype(["a"])) == "category"
    assert types.from_pandas("datetime64[ns]") == "timestamp"
    assert types.from_pandas(pd.SparseDtype(np.float32)) == "float32"
    assert types.from_pandas("timedelta64[ns]") == "other"
    assert types.from_pandas(np.dtype(object)) == "other"
    objects = {
        "string": ["a", None],
        "binary": [b"a", None],
        "date": [datetime.date(2013, 1, 1), None],
        "timestamp": [datetime.datetime(2013, 1, 1), None],
        "int64": [1, 2],
        "float64": [1, 2.5],
        "float": [Decimal("1.5")],
        "other": ["a", 1],
    }
    for name, values in objects.items():
        assert types.from_pandas(pd.Series(values, dtype=object)) == name, name
    with pytest.raises(InvalidValueError, match="'nope' is not a pandas or numpy dtype"):
        types.from_pandas("nope")


def test_parse_canonical_names_other_spellings_and_python_types() -> None:
    for name in types.TYPE_NAMES:
        assert types.parse(name, "type") == name
        assert types.parse(f" {name.upper()} ", "type") == name
    spellings = {
        "datetime": "timestamp",  # model signatures stored before the vocabulary
        "integer": "int",
        "bigint": "int64",
        "double": "float64",
        "str": "string",
        "text": "string",
        "varchar": "string",
        "boolean": "bool",
        "bytes": "binary",
    }
    for spelling, canonical in spellings.items():
        assert types.parse(spelling, "type") == canonical
    pythons: dict[type, str] = {
        int: "int64",
        float: "float64",
        bool: "bool",
        str: "string",
        bytes: "binary",
        datetime.date: "date",
        datetime.datetime: "timestamp",
    }
    for python, canonical in pythons.items():
        assert types.parse(python, "type") == canonical
    assert types.parse("int", "type", sized=True) == "int64"
    assert types.parse("float", "type", sized=True) == "float64"
    assert types.parse("int32", "type", allowed=("int32",), sized=True) == "int32"


def test_parse_refuses_with_the_field_the_names_and_the_value() -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"^dtype of feature 'x' must be one of int, float, bool, string, category, date, "
        r"timestamp, binary, other, int8, .*, float64, got 'decimal'$",
    ):
        types.parse("decimal", "dtype of feature 'x'")
    with pytest.raises(
        InvalidValueError,
        match=r"^key type must be one of int64, string \(int and float mean int64 and float64\), "
        r"got 'float'$",
    ):
        types.parse("float", "key type", allowed=("int64", "string"), sized=True)
    with pytest.raises(InvalidValueError, match=r"type must be one of .*, got <class 'list'>"):
        types.parse(list, "type")
    with pytest.raises(InvalidValueError, match=r"type must be one of .*, got 3"):
        types.parse(3, "type")
    with pytest.raises(InvalidValueError, match=r"type must be one of .*, got None"):
        types.parse(None, "type")
    with pytest.raises(InvalidValueError, match=r"got 'xxxxx.*\.\.\.$"):
        types.parse("x" * 200, "type")


def test_one_column_one_word_across_schema_signature_and_features(
    con: duckdb.DuckDBPyConnection,
) -> None:
    frame = pd.DataFrame(
        {
            "n": np.arange(4, dtype=np.int64),
            "x": np.linspace(0, 1, 4),
            "flag": [True, False, True, True],
            "when": pd.date_range("2013-01-01", periods=4, freq="h", tz="UTC"),
        }
    )
    con.register("frame", frame)
    schema = infer_schema(con, "frame")
    signature = infer_signature(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for spec in signature.inputs:
        column = schema.column(spec.name)
        source = str(con.sql(f'SELECT "{spec.name}" FROM frame').types[0])
        feature = dtype_from_duckdb(source)
        assert feature is not None
        arrow = types.from_arrow(table.schema.field(spec.name).type)
        words = {spec.type, column.logical_type, types.column_type(feature)}
        assert words == {types.column_type(arrow)}, spec.name


def test_stored_schemas_and_profiles_with_old_words_still_load() -> None:
    stored = {
        "format": 1,
        "columns": [
            {"name": "blob", "type": "other", "physical_type": "BLOB", "nullable": True},
            {"name": "tags", "type": "string", "physical_type": "VARCHAR[]", "nullable": True},
            {"name": "t", "type": "timestamp", "physical_type": "TIMESTAMP", "nullable": False},
        ],
        "keys": [],
    }
    schema = Schema.from_dict(stored)
    assert [c.logical_type for c in schema.columns] == ["binary", "other", "timestamp"]
    assert Schema.from_dict(schema.to_dict()) == schema
    with pytest.raises(InvalidValueError, match="column 'c': type must be one of int, float"):
        Schema.from_dict({"columns": [{"name": "c", "type": "int64"}]})


def test_feature_dtypes_are_the_vocabulary() -> None:
    assert parse_dtype("datetime", "dtype") == "timestamp"
    assert parse_dtype(int, "dtype") == "int64"
    with pytest.raises(InvalidValueError, match=r"dtype must be one of binary, bool, date, "):
        parse_dtype("category", "dtype")
    assert dtype_from_duckdb("UINTEGER") == "int64"  # fits
    assert dtype_from_duckdb("UBIGINT") is None  # does not
    assert dtype_from_duckdb("FLOAT") == "float32"
    assert dtype_from_duckdb("DECIMAL(8,2)") is None
