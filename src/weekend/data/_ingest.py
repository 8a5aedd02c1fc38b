"""Turning any supported source into one Parquet file, streamed in bounded memory.

Sources: a pandas DataFrame or Arrow table, a Parquet or CSV file, a folder of them, or a
:class:`Query` (DuckDB SQL, or SQL run on PostgreSQL by URL). A single Parquet file is kept
byte for byte; everything else is streamed through DuckDB (or SQLAlchemy for PostgreSQL)
as Arrow record batches into a Parquet writer, so data larger than memory never becomes
one pandas frame. The writer is deterministic, so identical data gives identical bytes and
the same content hash.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weekend.core.errors import ConfigurationError, InvalidValueError, UserInputError

BATCH_ROWS = 131_072
ROW_GROUP = 262_144


@dataclass(frozen=True)
class Query:
    """A SQL query as a data source: DuckDB by default, or a database by SQLAlchemy URL.

    ``Query("SELECT * FROM read_parquet('x/*.parquet') WHERE month = 1")`` runs in DuckDB;
    ``Query("SELECT * FROM flights", url="postgresql+psycopg://postgres@127.0.0.1/db")``
    runs on PostgreSQL and streams its result with a server-side cursor.
    """

    sql: str
    url: str | None = None

    def describe(self) -> str:
        where = "duckdb" if self.url is None else _hide_password(self.url)
        return f"query[{where}]: {self.sql}"


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def describe_source(data: Any) -> str:
    if isinstance(data, Query):
        return data.describe()
    if isinstance(data, str | Path):
        return f"path: {Path(data).resolve()}"
    return f"in-memory {type(data).__name__}"


def file_relation(path: Path) -> str:
    """A DuckDB FROM-expression reading a file or a folder of Parquet or CSV files."""
    if path.is_dir():
        parquet = sorted(path.rglob("*.parquet"))
        if parquet:
            return f"read_parquet({_sql_string(str(path))} || '/**/*.parquet')"
        if sorted(path.rglob("*.csv")):
            return f"read_csv_auto({_sql_string(str(path))} || '/**/*.csv', header = true)"
        raise InvalidValueError(f"folder {str(path)!r} holds no .parquet or .csv files")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return f"read_parquet({_sql_string(str(path))})"
    if suffix in (".csv", ".tsv", ".txt") or path.name.endswith(".csv.gz"):
        return f"read_csv_auto({_sql_string(str(path))}, header = true)"
    raise InvalidValueError(
        f"data path {str(path)!r} has suffix {suffix!r}; expected .parquet, .csv or a folder"
    )


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


def _batches_from_url(query: Query) -> Iterator[Any]:
    import pyarrow as pa
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(query.url or "")
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the database driver for {_hide_password(query.url or '')} is not installed "
            f"({exc.name}); for PostgreSQL: pip install 'weekend[postgres]'"
        ) from None
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


def write_parquet(data: Any, dest: Path, con: Any) -> Path:
    """Write ``data`` to ``dest`` as Parquet (or return a single Parquet file unchanged)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(data, str | Path):
        path = Path(data)
        if not path.exists():
            raise InvalidValueError(f"data path {str(path)!r} does not exist")
        if path.is_file() and path.suffix.lower() in (".parquet", ".pq"):
            return path
        batches: Iterator[Any] = _batches_from_duckdb(con, f"SELECT * FROM {file_relation(path)}")
    elif isinstance(data, Query):
        if data.url is None:
            batches = _batches_from_duckdb(con, data.sql)
        else:
            batches = _batches_from_url(data)
    elif isinstance(data, pa.Table) or (
        type(data).__name__ == "DataFrame" and hasattr(data, "columns")
    ):
        # both through DuckDB, so that the same data gives the same types and bytes
        name = f"weekend_src_{uuid.uuid4().hex}"
        con.register(name, data)
        batches = _batches_from_duckdb(con, f"SELECT * FROM {name}")
    else:
        raise UserInputError(
            "data must be a pandas DataFrame, an Arrow table, a path to a Parquet/CSV file or "
            f"folder, or a weekend Query; got {type(data).__name__}"
        )
    writer: Any = None
    pending: list[Any] = []
    rows = 0
    try:
        # Row groups of exactly ROW_GROUP rows, whatever the batch sizes of the source, so
        # that identical data always gives identical bytes.
        for batch in batches:
            if writer is None:
                writer = pq.ParquetWriter(
                    dest, batch.schema, compression="zstd", write_statistics=True
                )
            pending.append(batch)
            rows += batch.num_rows
            while rows >= ROW_GROUP:
                table = pa.Table.from_batches(pending)
                writer.write_table(table.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                rest = table.slice(ROW_GROUP)
                pending, rows = rest.to_batches(), rest.num_rows
        if writer is not None and rows:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP)
    except UserInputError:
        raise
    except Exception as exc:
        raise UserInputError(f"could not read the data ({describe_source(data)}): {exc}") from exc
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise InvalidValueError(f"the data ({describe_source(data)}) has no columns")
    return dest
