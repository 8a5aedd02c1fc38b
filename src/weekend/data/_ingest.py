"""One way in for data: every file or table a user passes is read here.

Sources (classified and checked by :func:`weekend.data._inputs.open_input`): a pandas
DataFrame or Arrow table, a CSV or Parquet file, a folder of them, a dataset version or
reference, or a :class:`Query` (DuckDB SQL, or SQL run on a database by URL). Three ways out:

* :func:`write_parquet` streams the source into one Parquet file in bounded memory (a single
  Parquet file, or a dataset version, is kept byte for byte after a check of its footer);
  everything else goes through DuckDB (or SQLAlchemy for a database) as Arrow record batches
  into a deterministic writer, so identical data gives identical bytes and the same hash;
* :func:`parquet_files` gives Parquet files to stream from (a Parquet file or folder as they
  are, anything else written to a temporary file first);
* :func:`read_table` and :func:`read_frame` read the source into memory.

Every failure is a :class:`~weekend.core.errors.UserInputError` naming the input, what was
expected and what was found; no reader's jargon or traceback reaches the user. Data with no
rows is refused unless the caller allows it (``allow_empty=True``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weekend.core.duck import DuckLimits, duckdb_session
from weekend.core.errors import ConfigurationError, InvalidValueError, UserInputError
from weekend.core.scratch import scratch_dir
from weekend.core.sql import quote_ident
from weekend.core.urls import redact_url
from weekend.data._inputs import Input, empty_error, open_input

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from weekend.data.datasets import Datasets

BATCH_ROWS = 131_072
ROW_GROUP = 262_144
DEFAULT_LIMITS = DuckLimits(memory_limit="512MB")  # the data section's default


@dataclass(frozen=True)
class Query:
    """A SQL query as a data source: DuckDB by default, or a database by SQLAlchemy URL.

    ``Query("SELECT * FROM read_parquet('x/*.parquet') WHERE month = 1")`` runs in DuckDB;
    ``Query("SELECT * FROM flights", url="postgresql+psycopg://postgres@127.0.0.1/db")``
    runs on PostgreSQL and streams its result with a server-side cursor.
    """

    sql: str
    url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sql, str) or not self.sql.strip():
            raise InvalidValueError(f"Query sql must be a non-empty string, got {self.sql!r:.60}")
        if self.url is not None and not isinstance(self.url, str):
            raise InvalidValueError(
                f"Query url must be a database URL string or None, got {type(self.url).__name__}"
            )

    def describe(self) -> str:
        where = "duckdb" if self.url is None else redact_url(self.url)
        return f"query[{where}]: {self.sql}"


def _session(datasets: Datasets | None) -> contextlib.AbstractContextManager[Any]:
    """A DuckDB session with the data section's limits (the dataset service's, if given)."""
    limits = DEFAULT_LIMITS if datasets is None else datasets._limits
    return duckdb_session(limits)


def describe_source(data: Any) -> str:
    """Where ``data`` comes from, as a dataset version records it (``source``)."""
    if isinstance(data, Input):
        return data.describe()
    if isinstance(data, Query):
        return data.describe()
    if isinstance(data, str | Path):
        return f"path: {Path(data).resolve()}"
    return f"in-memory {type(data).__name__}"


def file_relation(path: Path) -> str:
    """A DuckDB FROM-expression reading a file or a folder of Parquet or CSV files."""
    return open_input(Path(path)).relation()


# ---------------------------------------------------------------- record batches


def _batches(
    inp: Input, con: Any, columns: Sequence[str] | None = None, what: str = "data"
) -> Iterator[Any]:
    """The input's rows as Arrow record batches (errors surface while iterating)."""
    if inp.kind == "query":
        query: Query = inp.data
        if query.url is not None:
            yield from _batches_from_url(query, what)
            return
        yield from _batches_from_duckdb(con, _select(query.sql, columns, subquery=True))
        return
    if inp.kind in ("pandas", "arrow"):
        # both through DuckDB, so that the same data gives the same types and bytes
        name = f"weekend_src_{uuid.uuid4().hex}"
        con.register(name, inp.data)
        try:
            yield from _batches_from_duckdb(con, _select(name, columns))
        finally:
            con.unregister(name)
        return
    yield from _batches_from_duckdb(con, _select(inp.relation(), columns))


def _select(source: str, columns: Sequence[str] | None, *, subquery: bool = False) -> str:
    if columns is None and subquery:
        return source
    what = "*" if columns is None else ", ".join(quote_ident(c) for c in columns)
    return f"SELECT {what} FROM " + (f"({source.strip().rstrip(';')})" if subquery else source)


def _batches_from_duckdb(con: Any, sql: str) -> Iterator[Any]:
    reader = con.sql(sql).to_arrow_reader(BATCH_ROWS)
    empty = True
    for batch in reader:
        empty = False
        yield batch
    if empty:  # keep the columns of an empty result
        yield _empty_batch(reader.schema)


def _empty_batch(schema: Any) -> Any:
    import pyarrow as pa

    return pa.RecordBatch.from_arrays(
        [pa.array([], type=field.type) for field in schema], schema=schema
    )


def _arrow_types(dialect: str, description: Any) -> list[Any]:
    """The Arrow type of each result column, from the PostgreSQL type OIDs (None: infer).

    Inferring each batch's types from its Python values would give batches that disagree
    (a column all NULL in one batch, a NUMERIC whose precision varies) and could not be
    written to one file. NUMERIC without a precision becomes float64.
    """
    import pyarrow as pa

    if dialect != "postgresql":
        return [None] * len(description or ())
    known = {
        16: pa.bool_(),
        20: pa.int64(),
        21: pa.int16(),
        23: pa.int32(),
        700: pa.float32(),
        701: pa.float64(),
        25: pa.string(),
        1042: pa.string(),
        1043: pa.string(),
        1082: pa.date32(),
        1114: pa.timestamp("us"),
        1184: pa.timestamp("us", tz="UTC"),
    }
    types = []
    for column in description:
        code, precision, scale = column[1], column[4], column[5]
        if code == 1700:
            exact = precision is not None and 0 < precision <= 38 and scale is not None
            types.append(pa.decimal128(precision, scale) if exact else pa.float64())
        else:
            types.append(known.get(code))
    return types


def _engine(url: str, what: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        return create_engine(url)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the database driver for {redact_url(url)} is not installed ({exc.name}); for "
            "PostgreSQL: pip install 'weekend[postgres]'"
        ) from None
    except NoSuchModuleError:
        scheme = url.partition("://")[0]
        raise InvalidValueError(
            f"{what}: Query url {redact_url(url)!r}: no database dialect {scheme!r} is "
            "installed; expected a SQLAlchemy URL such as "
            "'postgresql+psycopg://user@host:5432/db'"
        ) from None
    except (ArgumentError, ValueError):
        raise InvalidValueError(
            f"{what}: Query url {redact_url(url)!r} is not a database URL; expected a SQLAlchemy "
            "URL such as 'postgresql+psycopg://user@host:5432/db'"
        ) from None


def _batches_from_url(query: Query, what: str) -> Iterator[Any]:
    import pyarrow as pa
    from sqlalchemy import text

    engine = _engine(query.url or "", what)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=BATCH_ROWS).execute(
                text(query.sql)
            )
            names = list(result.keys())
            types = _arrow_types(engine.dialect.name, result.cursor.description)
            empty = True
            while rows := result.fetchmany(BATCH_ROWS):
                empty = False
                arrays = []
                for i, values in enumerate(zip(*rows, strict=True)):
                    if types[i] == pa.float64():  # NUMERIC as float64
                        values = tuple(None if v is None else float(v) for v in values)
                    array = pa.array(values, type=types[i])
                    if types[i] is None and array.type != pa.null():
                        types[i] = array.type  # later batches keep the first type seen
                    arrays.append(array)
                yield pa.RecordBatch.from_arrays(arrays, names=names)
            if empty:  # keep the columns of an empty result
                yield _empty_batch(
                    pa.schema([(n, t or pa.null()) for n, t in zip(names, types, strict=True)])
                )
    finally:
        engine.dispose()


# ---------------------------------------------------------------- checks


def _wanted(columns: Sequence[str] | None, what: str) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise InvalidValueError(
            f"{what}: columns must be a list of column names, got {columns!r:.80}"
            + (f"; pass [{columns!r}] for one column" if isinstance(columns, str) else "")
        )
    return list(columns)


def check_columns(names: Sequence[str], columns: Sequence[str] | None, label: str) -> None:
    """Refuse ``columns`` that ``names`` (the columns of ``label``) do not hold."""
    missing = [c for c in columns or () if c not in names]
    if missing:
        listed = ", ".join(repr(n) for n in list(names)[:20])
        more = f", ... ({len(names)} in all)" if len(names) > 20 else ""
        plural = "s" if len(missing) > 1 else ""
        raise InvalidValueError(
            f"{label} has no column{plural} {', '.join(map(repr, missing))} (its columns: "
            f"{listed}{more})",
            field=missing[0],
        )


def _parquet_metadata(inp: Input, files: Sequence[Path], what: str) -> tuple[int, list[str]]:
    """Rows and column names of Parquet files, from their footers (damage is refused)."""
    import pyarrow.parquet as pq

    rows, names = 0, list[str]()
    for file in files:
        try:
            meta = pq.read_metadata(file)
            names = names or list(meta.schema.to_arrow_schema().names)
        except Exception as exc:
            raise inp.error(exc, what) from None
        rows += meta.num_rows
    return rows, names


# ---------------------------------------------------------------- the ways out


def write_parquet(
    data: Any,
    dest: Path,
    con: Any,
    *,
    what: str = "data",
    allow_empty: bool = True,
    datasets: Datasets | None = None,
) -> Path:
    """Write ``data`` to ``dest`` as Parquet (or return a single Parquet file unchanged)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    inp = open_input(data, what=what, datasets=datasets)
    if inp.kind in ("parquet", "dataset"):
        path = inp.parquet_path()
        rows, names = _parquet_metadata(inp, [path], what)
        if not names:
            raise InvalidValueError(f"{what}: {inp.label} has no columns")
        if rows == 0 and not allow_empty:
            raise empty_error(inp, what)
        return path
    writer: Any = None
    pending: list[Any] = []
    rows = total = 0
    try:
        # Row groups of exactly ROW_GROUP rows, whatever the batch sizes of the source, so
        # that identical data always gives identical bytes.
        for batch in _batches(inp, con, what=what):
            if writer is None:
                writer = pq.ParquetWriter(
                    dest, batch.schema, compression="zstd", write_statistics=True
                )
            pending.append(batch)
            rows += batch.num_rows
            total += batch.num_rows
            while rows >= ROW_GROUP:
                table = pa.Table.from_batches(pending)
                writer.write_table(table.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                rest = table.slice(ROW_GROUP)
                pending, rows = rest.to_batches(), rest.num_rows
        if writer is not None and rows:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP)
    except (UserInputError, ConfigurationError):
        raise
    except Exception as exc:
        raise _hidden(inp.error(exc, what), inp) from None
    finally:
        if writer is not None:
            writer.close()
    if writer is None or not len(writer.schema):
        raise InvalidValueError(f"{what}: {inp.label} has no columns")
    if total == 0 and not allow_empty:
        raise empty_error(inp, what)
    return dest


def _hidden(error: UserInputError, inp: Input) -> UserInputError:
    """``error`` with a database URL's password removed from its message."""
    url = getattr(inp.data, "url", None) if inp.kind == "query" else None
    if isinstance(url, str) and url in str(error):
        return type(error)(str(error).replace(url, redact_url(url)))
    return error


@contextlib.contextmanager
def parquet_files(
    source: Any,
    *,
    what: str = "input",
    allow_empty: bool = True,
    datasets: Datasets | None = None,
) -> Iterator[tuple[list[Path], Input]]:
    """The Parquet files holding ``source``, checked, and the checked input.

    A Parquet file, a folder of them or a dataset version are used where they are; anything
    else is written to a temporary Parquet file first, removed when the block ends.
    """
    inp = open_input(source, what=what, datasets=datasets)
    if inp.kind in ("parquet", "dataset", "parquet_folder"):
        files = list(inp.files) if inp.kind == "parquet_folder" else [inp.parquet_path()]
        rows, _ = _parquet_metadata(inp, files, what)
        if rows == 0 and not allow_empty:
            raise empty_error(inp, what)
        yield files, inp
        return
    with scratch_dir("input") as work:
        with _session(datasets) as con:
            dest = work / "input.parquet"
            write_parquet(inp, dest, con, what=what, allow_empty=allow_empty)
        yield [dest], inp


def read_table(
    source: Any,
    *,
    what: str = "data",
    columns: Sequence[str] | None = None,
    allow_empty: bool = False,
    datasets: Datasets | None = None,
) -> pa.Table:
    """Read ``source`` into an Arrow table (only ``columns``, if given).

    ``source``: a CSV or Parquet file, a folder of Parquet (or CSV) files, a dataset version
    or reference (``"flights/3"``, with ``datasets``), a :class:`Query`, a pandas DataFrame
    or an Arrow table. ``what`` names the input in messages (``"evaluation data"``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    inp = open_input(source, what=what, datasets=datasets)
    wanted = _wanted(columns, what)
    try:
        if inp.kind == "arrow":
            check_columns(inp.data.column_names, wanted, f"{what}: {inp.label}")
            table = inp.data if wanted is None else inp.data.select(wanted)
        elif inp.kind == "pandas":
            check_columns([str(c) for c in inp.data.columns], wanted, f"{what}: {inp.label}")
            frame = inp.data if wanted is None else inp.data[wanted]
            table = pa.Table.from_pandas(frame, preserve_index=False)
        elif inp.kind in ("parquet", "dataset"):
            path = inp.parquet_path()  # a version's file is verified against its hash once
            _, names = _parquet_metadata(inp, [path], what)
            check_columns(names, wanted, f"{what}: {inp.label}")
            table = pq.read_table(path, columns=wanted)
        else:
            table = _read_with_duckdb(inp, what, wanted, datasets)
    except (UserInputError, ConfigurationError):
        raise
    except Exception as exc:
        raise _hidden(inp.error(exc, what), inp) from None
    if table.num_rows == 0 and not allow_empty:
        raise empty_error(inp, what)
    return table


def _read_with_duckdb(
    inp: Input, what: str, wanted: list[str] | None, datasets: Datasets | None
) -> pa.Table:
    import pyarrow as pa

    pushed = None  # the columns DuckDB reads, checked first (a query's are checked after)
    with _session(datasets) as con:
        if wanted is not None and inp.kind != "query":
            names = con.sql(f"SELECT * FROM {inp.relation()} LIMIT 0").columns
            check_columns(names, wanted, f"{what}: {inp.label}")
            pushed = wanted
        table = pa.Table.from_batches(list(_batches(inp, con, pushed, what)))
    if wanted is not None:
        check_columns(table.column_names, wanted, f"{what}: {inp.label}")
        table = table.select(wanted)
    return table


def read_frame(
    source: Any,
    *,
    what: str = "data",
    columns: Sequence[str] | None = None,
    allow_empty: bool = False,
    datasets: Datasets | None = None,
) -> pd.DataFrame:
    """:func:`read_table` as a pandas DataFrame; a DataFrame passed in comes back as it is."""
    inp = open_input(source, what=what, datasets=datasets)
    if inp.kind != "pandas":
        table = read_table(
            inp, what=what, columns=columns, allow_empty=allow_empty, datasets=datasets
        )
        frame: pd.DataFrame = table.to_pandas()
        return frame
    wanted = _wanted(columns, what)
    check_columns([str(c) for c in inp.data.columns], wanted, f"{what}: {inp.label}")
    if len(inp.data) == 0 and not allow_empty:
        raise empty_error(inp, what)
    selected: pd.DataFrame = inp.data if wanted is None else inp.data[wanted]
    return selected


__all__ = [
    "Query",
    "check_columns",
    "describe_source",
    "file_relation",
    "parquet_files",
    "read_frame",
    "read_table",
    "write_parquet",
]
