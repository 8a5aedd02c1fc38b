"""Reading data for validation: chunked sources, pandas logical types and coercion.

A source is a pandas DataFrame, or a DuckDB relation (a pyarrow Table is read through one)
streamed as Arrow record batches; each chunk is a DataFrame whose index is the 0-based row
position. Values are compared in a common form: numbers as they are, temporal values as
naive UTC timestamps, and values of the wrong type as null (the ``dtype`` rule reports them).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, cast

from weekend.core.errors import InvalidValueError
from weekend.core.sql import quote_ident
from weekend.core.types import NUMERIC_TYPES, TEMPORAL_TYPES, TEXT_TYPES
from weekend.data._schema import logical_type_of

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

MAX_EXAMPLES = 5


_INFERRED = {
    "string": "string",
    "integer": "int",
    "floating": "float",
    "mixed-integer-float": "float",
    "decimal": "float",
    "boolean": "bool",
    "datetime": "timestamp",
    "datetime64": "timestamp",
    "date": "date",
    "bytes": "binary",
    "empty": "empty",
}


def pandas_type(s: pd.Series[Any]) -> str:
    """The logical type of a pandas column; ``mixed`` for an object column of mixed values."""
    import numpy as np
    import pandas as pd
    from pandas.api import types as pt

    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pt.is_bool_dtype(dtype):
        return "bool"
    if pt.is_integer_dtype(dtype):
        return "int"
    if pt.is_float_dtype(dtype):
        return "float"
    if pt.is_datetime64_any_dtype(dtype):
        return "timestamp"
    if dtype == np.dtype(object):
        return _INFERRED.get(pd.api.types.infer_dtype(s, skipna=True), "mixed")
    return "string" if pt.is_string_dtype(dtype) else "other"


def compatible(expected: str, actual: str) -> bool | None:
    """True: fine; False: every value is wrong; None: look at each value."""
    if expected in (actual, "other") or (expected == "float" and actual == "int"):
        return True
    if {expected, actual} <= TEXT_TYPES or {expected, actual} <= TEMPORAL_TYPES:
        return True
    if actual in ("mixed", "empty") or (expected == "int" and actual == "float"):
        return None
    return False


def _is_type(value: Any, expected: str) -> bool:
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return expected in ("bool", "other")
    if expected == "int":
        return isinstance(value, numbers.Integral) or (
            isinstance(value, numbers.Real) and float(value).is_integer()
        )
    if expected == "float":
        return isinstance(value, numbers.Real)
    if expected in TEXT_TYPES:
        return isinstance(value, str)
    if expected in TEMPORAL_TYPES:
        return isinstance(value, date | np.datetime64)
    if expected == "binary":
        return isinstance(value, bytes)
    return expected == "other"


def offending(s: pd.Series[Any], expected: str, actual: str) -> pd.Series[Any]:
    import pandas as pd

    verdict = compatible(expected, actual)
    if verdict is False:
        return pd.Series(True, index=s.index)
    if actual == "float":
        return (s % 1) != 0
    return ~s.map(lambda v: _is_type(v, expected)).astype(bool)


def coerce(s: pd.Series[Any], target: str, actual: str) -> pd.Series[Any]:
    """The values of ``s`` as ``target``; values of another type become null."""
    import numpy as np
    import pandas as pd

    if target in NUMERIC_TYPES:
        if actual in NUMERIC_TYPES:
            return s
        if compatible(target, actual) is None:
            return pd.to_numeric(s.where(s.map(lambda v: _is_type(v, "float"))), errors="coerce")
        return pd.Series(np.nan, index=s.index)
    if target in TEMPORAL_TYPES:
        return to_utc(s)
    if target in TEXT_TYPES and actual not in TEXT_TYPES:
        return s.where(s.map(lambda v: isinstance(v, str))).astype(object)
    return s


_SPECIAL_FLOATS = frozenset({"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def parse_text(s: pd.Series[Any], target: str) -> pd.Series[Any]:
    """Text read from a file (a CSV column that is not all numbers, say) as ``target`` values.

    Text that is not a ``target`` value becomes null; :func:`unparsed` finds it.
    """
    import pandas as pd

    text = s.astype("string").str.strip()
    if target in NUMERIC_TYPES:
        return pd.to_numeric(text, errors="coerce").astype("float64")
    if target in TEMPORAL_TYPES:
        return to_utc(text.astype(object))
    if target == "bool":
        lowered = text.str.lower()
        return lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
    return s


def unparsed(s: pd.Series[Any], target: str) -> pd.Series[Any]:
    """True where a (non-null) text value is not a ``target`` value (see :func:`parse_text`)."""
    values = parse_text(s, target)
    bad = values.isna() & s.notna()
    if target in NUMERIC_TYPES:
        bad &= ~s.astype("string").str.strip().str.lower().isin(_SPECIAL_FLOATS).fillna(False)
    if target == "int":
        bad |= values.notna() & ((values % 1) != 0)
    return bad.astype(bool)


def to_utc(s: pd.Series[Any]) -> pd.Series[Any]:
    """Timestamps as naive UTC; values that are not dates or times become NaT."""
    import numpy as np
    import pandas as pd
    from pandas.api import types as pt

    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return cast("pd.Series[Any]", s.dt.tz_convert("UTC").dt.tz_localize(None))
    if pt.is_datetime64_dtype(s.dtype):
        return s
    temporal = s.where(s.map(lambda v: isinstance(v, date | np.datetime64 | str)))
    return pd.to_datetime(temporal, utc=True, errors="coerce", format="ISO8601").dt.tz_localize(
        None
    )


def bound(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, datetime | date):
        stamp = pd.Timestamp(value)
        return stamp.tz_convert(UTC).tz_localize(None) if stamp.tzinfo is not None else stamp
    return value


def open_source(data: Any, chunk_rows: int) -> FrameSource | RelationSource:
    import duckdb
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return FrameSource(data, chunk_rows)
    if isinstance(data, duckdb.DuckDBPyRelation):
        return RelationSource(data, chunk_rows)
    import pyarrow as pa

    if isinstance(data, pa.Table):
        con = duckdb.connect()
        return RelationSource(con.from_arrow(data), chunk_rows, con)
    raise InvalidValueError(
        "data must be a pandas DataFrame, a pyarrow Table or a DuckDB relation, "
        f"got {type(data).__name__}"
    )


class FrameSource:
    def __init__(self, frame: pd.DataFrame, chunk_rows: int) -> None:
        names = [str(c) for c in frame.columns]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise InvalidValueError(f"column names must be unique; repeated: {doubled}")
        self.frame = frame.set_axis(names, axis=1)
        self.chunk_rows = chunk_rows
        self.types = {name: pandas_type(self.frame[name]) for name in names}

    def chunks(self) -> Iterator[pd.DataFrame]:
        import pandas as pd

        for start in range(0, len(self.frame), self.chunk_rows):
            chunk = self.frame.iloc[start : start + self.chunk_rows]
            yield chunk.set_axis(pd.RangeIndex(start, start + len(chunk)), axis=0)

    def duplicates(self, cols: Sequence[str]) -> tuple[int, list[Any], list[int]]:
        import numpy as np

        mask = self.frame.duplicated(subset=list(cols), keep=False)
        rows = [int(i) for i in np.flatnonzero(mask.to_numpy())[:MAX_EXAMPLES]]
        keys = self.frame.loc[mask, list(cols)].drop_duplicates().head(MAX_EXAMPLES)
        examples = [row[0] if len(cols) == 1 else row for row in keys.itertuples(index=False)]
        return int(mask.sum()), [tuple(e) if isinstance(e, tuple) else e for e in examples], rows


class RelationSource:
    def __init__(
        self, rel: duckdb.DuckDBPyRelation, chunk_rows: int, keep: object | None = None
    ) -> None:
        self.rel, self.chunk_rows, self.keep = rel, chunk_rows, keep
        self.types = {
            str(name): logical_type_of(str(kind))
            for name, kind in zip(rel.columns, rel.types, strict=True)
        }

    def chunks(self) -> Iterator[pd.DataFrame]:
        import pandas as pd

        offset = 0
        for batch in self.rel.to_arrow_reader(self.chunk_rows):
            frame = batch.to_pandas(date_as_object=False)
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            yield frame

    def duplicates(self, cols: Sequence[str]) -> tuple[int, list[Any], list[int]]:
        group = ", ".join(quote_ident(c) for c in cols)
        dups = (
            f"SELECT {group}, count(*) AS _wk_n FROM _wk_rel GROUP BY {group} HAVING count(*) > 1"
        )
        rel = cast(Any, self.rel)  # the stubs get DuckDBPyRelation.query wrong
        total = rel.query("_wk_rel", f"SELECT coalesce(sum(_wk_n), 0) FROM ({dups})").fetchall()
        top = rel.query("_wk_rel", f"{dups} ORDER BY _wk_n DESC LIMIT {MAX_EXAMPLES}").fetchall()
        examples = [row[0] if len(cols) == 1 else tuple(row[:-1]) for row in top]
        return int(total[0][0]), examples, []
