"""Datasets: versions, schemas, profiles and validation.

The public names of the data domain; everything else in this package is private. Other
packages of weekend import from here, never from a ``_module``. The names load on first use,
so that ``import weekend`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weekend.core.lazy import lazy_attributes

if TYPE_CHECKING:
    import pandas as pd

    from weekend.core.duck import DuckLimits
    from weekend.data._expectations import Expectation
    from weekend.data._ingest import (
        Query,
        file_relation,
        parquet_files,
        read_frame,
        read_table,
        write_parquet,
    )
    from weekend.data._inputs import Input, open_input
    from weekend.data._profile import ColumnProfile, Profile
    from weekend.data._schema import Change, ColumnSchema, KeySchema, Schema
    from weekend.data._summaries import (
        CategoryStats,
        Histogram,
        LogSketch,
        NumericStats,
        TemporalStats,
    )
    from weekend.data._validate import ValidationReport, Violation
    from weekend.data.datasets import DatasetDiff, Datasets, DatasetVersion

_LAZY = {
    "CategoryStats": "weekend.data._summaries",
    "Change": "weekend.data._schema",
    "ColumnProfile": "weekend.data._profile",
    "ColumnSchema": "weekend.data._schema",
    "DatasetDiff": "weekend.data.datasets",
    "DatasetVersion": "weekend.data.datasets",
    "Datasets": "weekend.data.datasets",
    "Expectation": "weekend.data._expectations",
    "Histogram": "weekend.data._summaries",
    "Input": "weekend.data._inputs",
    "KeySchema": "weekend.data._schema",
    "LogSketch": "weekend.data._summaries",
    "NumericStats": "weekend.data._summaries",
    "Profile": "weekend.data._profile",
    "Query": "weekend.data._ingest",
    "Schema": "weekend.data._schema",
    "TemporalStats": "weekend.data._summaries",
    "ValidationReport": "weekend.data._validate",
    "Violation": "weekend.data._validate",
    "file_relation": "weekend.data._ingest",
    "open_input": "weekend.data._inputs",
    "parquet_files": "weekend.data._ingest",
    "read_frame": "weekend.data._ingest",
    "read_table": "weekend.data._ingest",
    "write_parquet": "weekend.data._ingest",
}

__all__ = [
    "CategoryStats",
    "Change",
    "ColumnProfile",
    "ColumnSchema",
    "DatasetDiff",
    "DatasetVersion",
    "Datasets",
    "Expectation",
    "Histogram",
    "Input",
    "KeySchema",
    "LogSketch",
    "NumericStats",
    "Profile",
    "Query",
    "Schema",
    "TemporalStats",
    "ValidationReport",
    "Violation",
    "file_relation",
    "open_input",
    "parquet_files",
    "profile_frame",
    "read_frame",
    "read_table",
    "write_parquet",
]


def profile_frame(frame: pd.DataFrame, limits: DuckLimits | None = None) -> Profile:
    """The profile of an in-memory frame (the same statistics a dataset version records)."""
    from weekend.core.duck import duckdb_session
    from weekend.data._profile import profile

    with duckdb_session(limits) as con:
        con.register("weekend_frame", frame)
        return profile(con, "SELECT * FROM weekend_frame")


__getattr__ = lazy_attributes(__name__, _LAZY)
