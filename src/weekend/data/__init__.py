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
    from weekend.data._ingest import Query, file_relation, write_parquet
    from weekend.data._profile import ColumnProfile, Profile
    from weekend.data._schema import Change, ColumnSchema, KeySchema, Schema
    from weekend.data._validate import ValidationReport, Violation
    from weekend.data.datasets import DatasetDiff, Datasets, DatasetVersion

_LAZY = {
    "Change": "weekend.data._schema",
    "ColumnProfile": "weekend.data._profile",
    "ColumnSchema": "weekend.data._schema",
    "DatasetDiff": "weekend.data.datasets",
    "DatasetVersion": "weekend.data.datasets",
    "Datasets": "weekend.data.datasets",
    "Expectation": "weekend.data._expectations",
    "KeySchema": "weekend.data._schema",
    "Profile": "weekend.data._profile",
    "Query": "weekend.data._ingest",
    "Schema": "weekend.data._schema",
    "ValidationReport": "weekend.data._validate",
    "Violation": "weekend.data._validate",
    "file_relation": "weekend.data._ingest",
    "write_parquet": "weekend.data._ingest",
}

__all__ = [
    "Change",
    "ColumnProfile",
    "ColumnSchema",
    "DatasetDiff",
    "DatasetVersion",
    "Datasets",
    "Expectation",
    "KeySchema",
    "Profile",
    "Query",
    "Schema",
    "ValidationReport",
    "Violation",
    "file_relation",
    "profile_frame",
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
