"""What weekend reads: every file or table a user passes is classified and checked here.

:func:`open_input` turns what the user passed into an :class:`Input` of one kind:

* ``csv`` (``.csv``, ``.tsv``, ``.txt``, ``.csv.gz``) and ``parquet`` (``.parquet``, ``.pq``)
  files, ``parquet_folder`` and ``csv_folder`` (every such file below a folder);
* ``dataset``: a :class:`~weekend.data.datasets.DatasetVersion`, or a reference such as
  ``"flights/3"`` when the caller passed the dataset service (a path that exists wins);
* ``query`` (a :class:`~weekend.data.Query`), ``pandas`` (a DataFrame), ``arrow`` (a Table).

Files are checked before any reader sees them: a missing path, an empty (0-byte) file, a
file whose bytes are not its suffix's format (a CSV named ``.parquet``, JSON named ``.csv``),
a format weekend does not read (JSON, Excel), and a path the file system refuses (too long, a
NUL byte) each get a message naming the file, what was expected and what was found. A CSV
file's header line is read here (its delimiter is chosen from the header, the quote is
``"``) so that the reader is strict: a ragged row or an unclosed quote is an error naming
the line, never a silently different table. Errors of the readers themselves are translated
by :meth:`Input.error` into the same kind of message, without the reader's jargon.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from weekend.core.errors import InvalidValueError, NotFoundError, UserInputError
from weekend.core.sql import sql_string

if TYPE_CHECKING:
    from weekend.data.datasets import Datasets, DatasetVersion

InputKind = Literal[
    "csv", "csv_folder", "parquet", "parquet_folder", "dataset", "query", "pandas", "arrow"
]
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".csv.gz", ".tsv.gz")
_MAGIC = b"PAR1"
_HEAD = 65_536
_DIAGNOSE_LINES = 5_000_000  # a structural fault further down is reported without its line
_FORMATS = {
    ".json": "JSON",
    ".jsonl": "JSON lines",
    ".ndjson": "JSON lines",
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".feather": "Arrow IPC",
    ".arrow": "Arrow IPC",
    ".orc": "ORC",
    ".avro": "Avro",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".zip": "a ZIP archive",
}
_DUCKDB_PREFIX = re.compile(r"^[A-Z][A-Za-z ]* Error: ")
_CLASS_PREFIX = re.compile(r"^\([\w.]+\) ")


def expected_inputs(datasets: bool) -> str:
    """The inputs weekend reads, as a message says them."""
    if datasets:
        return (
            "a CSV or Parquet file, a folder of Parquet files or a dataset reference such as "
            "'flights/3'"
        )
    return "a CSV or Parquet file or a folder of Parquet files"


def shown(path: str | Path) -> str:
    """A path as messages quote it (shortened in the middle when very long)."""
    text = str(path)
    return repr(text if len(text) <= 120 else f"{text[:60]}...{text[-40:]}")


def plain(exc: BaseException) -> str:
    """The first line of a reader's message, without the reader's error-class prefix."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = _CLASS_PREFIX.sub("", _DUCKDB_PREFIX.sub("", text))
    return text[:300]


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is split: the delimiter chosen from its header, and the header."""

    delimiter: str
    header: tuple[str, ...]

    def relation(self, glob: str) -> str:
        """A strict DuckDB ``read_csv`` of ``glob``: no skipped, padded or ignored rows."""
        return (
            f"read_csv({sql_string(glob)}, header = true, delim = {sql_string(self.delimiter)}, "
            "quote = '\"', escape = '\"', skip = 0, strict_mode = true, null_padding = false, "
            "ignore_errors = false)"
        )


@dataclass(frozen=True)
class Input:
    """A checked input: its kind, how messages name it, and what is needed to read it."""

    kind: InputKind
    label: str
    data: Any = None
    path: Path | None = None
    files: tuple[Path, ...] = ()
    dialect: CsvDialect | None = None
    version: DatasetVersion | None = field(default=None, repr=False)

    def describe(self) -> str:
        """Where the data came from, as a dataset version records it (``source``)."""
        if self.kind == "query":
            return str(self.data.describe())
        if self.kind == "dataset" and self.version is not None:
            return f"dataset: {self.version.ref}"
        if self.path is not None:
            return f"path: {self.path.resolve()}"
        return f"in-memory {type(self.data).__name__}"

    def relation(self) -> str:
        """A DuckDB FROM-expression reading this file or folder."""
        if self.kind in ("parquet", "dataset"):
            return f"read_parquet({sql_string(str(self.parquet_path()))})"
        assert self.path is not None
        if self.kind == "parquet_folder":
            return f"read_parquet({sql_string(str(self.path))} || '/**/*.parquet')"
        assert self.dialect is not None
        if self.kind == "csv_folder":
            suffix = "csv" if self.files[0].name.endswith(".csv") else self.files[0].suffix[1:]
            return self.dialect.relation(f"{self.path}/**/*.{suffix}")
        return self.dialect.relation(str(self.path))

    def parquet_path(self) -> Path:
        if self.version is not None:
            return self.version.path()
        assert self.path is not None
        return self.path

    def error(self, exc: BaseException, what: str = "data") -> UserInputError:
        """A reader's exception as a message naming this input (and the line, for a CSV)."""
        if isinstance(exc, UserInputError):
            return exc
        if self.kind in ("csv", "csv_folder") and self.dialect is not None:
            return InvalidValueError(f"{what}: {self.label}: {csv_fault(self, exc)}")
        if self.kind in ("parquet", "parquet_folder", "dataset"):
            return InvalidValueError(
                f"{what}: {self.label} could not be read as Parquet: {plain(exc)}"
            )
        return InvalidValueError(f"{what}: {self.label} could not be read: {plain(exc)}")


def empty_error(inp: Input, what: str = "data") -> InvalidValueError:
    """The refusal of data without rows (unless the caller allows empty data)."""
    has = "has a header line but no rows" if inp.kind in ("csv", "csv_folder") else "has no rows"
    return InvalidValueError(
        f"{what}: {inp.label} {has}; pass allow_empty=True (--allow-empty) to accept empty data"
    )


def open_input(source: Any, *, what: str = "data", datasets: Datasets | None = None) -> Input:
    """Classify and check ``source``; see the module documentation."""
    from weekend.data._ingest import Query

    if isinstance(source, Input):
        return source
    if isinstance(source, Query):
        return Input("query", source.describe(), source)
    version_type = _dataset_version_type()
    if version_type is not None and isinstance(source, version_type):
        return Input("dataset", f"dataset {source.ref}", source, version=source)
    if isinstance(source, str | os.PathLike):
        return _open_path(source, what, datasets)
    pandas, arrow = sys.modules.get("pandas"), sys.modules.get("pyarrow")
    if pandas is not None and isinstance(source, pandas.DataFrame):
        return _in_memory("pandas", "the pandas DataFrame", source, what, len(source.columns))
    if arrow is not None and isinstance(source, arrow.Table):
        return _in_memory("arrow", "the Arrow table", source, what, source.num_columns)
    raise InvalidValueError(
        f"{what}: expected {expected_inputs(datasets is not None)}, a weekend Query, a pandas "
        f"DataFrame or an Arrow table; got {type(source).__name__}"
    )


def _dataset_version_type() -> type[DatasetVersion] | None:
    module = sys.modules.get("weekend.data.datasets")
    return None if module is None else module.DatasetVersion  # type: ignore[no-any-return]


def _in_memory(kind: InputKind, label: str, data: Any, what: str, n_columns: int) -> Input:
    if n_columns == 0:
        raise InvalidValueError(f"{what}: {label} has no columns; nothing to read")
    return Input(kind, label, data)


def _open_path(source: str | os.PathLike[str], what: str, datasets: Datasets | None) -> Input:
    text = os.fspath(source)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise InvalidValueError(
            f"{what}: {text!r:.80} is not a file path (empty, bytes or a NUL character); "
            f"expected {expected_inputs(datasets is not None)}"
        )
    path = Path(text)
    try:
        exists = path.exists()
    except OSError as exc:
        raise InvalidValueError(f"{what}: {_os_problem(text, exc)}") from None
    if not exists:
        if datasets is not None and isinstance(source, str) and _looks_like_ref(text):
            return _open_ref(text, what, datasets)
        raise InvalidValueError(
            f"{what}: {shown(text)} does not exist (looked for {shown(path.absolute())}); "
            f"expected {expected_inputs(datasets is not None)}"
        )
    try:
        if path.is_dir():
            return _open_folder(path, what, datasets is not None)
        if not path.is_file():
            raise InvalidValueError(f"{what}: {shown(text)} is not a regular file or a folder")
        return _open_file(path, what, datasets is not None)
    except OSError as exc:
        raise InvalidValueError(f"{what}: {_os_problem(text, exc)}") from None


def _os_problem(text: str, exc: OSError) -> str:
    if exc.errno == 36 or "too long" in str(exc).lower():
        longest = max((len(part.encode()) for part in Path(text).parts), default=0)
        return (
            f"the path {shown(text)} is too long for the file system ({len(text)} characters, "
            f"the longest name {longest} bytes; names may have at most 255 bytes)"
        )
    return f"{shown(text)} cannot be read: {exc.strerror or plain(exc)}"


def _looks_like_ref(text: str) -> bool:
    name, slash, version = text.partition("/")
    if slash and not version.isdigit():
        return False
    lowered = name.lower()
    suffixes = (*PARQUET_SUFFIXES, *CSV_SUFFIXES, *_FORMATS)
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name)) and not any(
        lowered.endswith(s) for s in suffixes
    )


def _open_ref(text: str, what: str, datasets: Datasets) -> Input:
    try:
        version = datasets.get(text)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{what}: {text!r} is neither a path (no file or folder {shown(Path(text).absolute())}"
            f") nor a dataset ({exc})"
        ) from None
    return Input("dataset", f"dataset {version.ref}", version, version=version)


def _open_folder(path: Path, what: str, datasets: bool) -> Input:
    parquet = sorted(p for s in PARQUET_SUFFIXES for p in path.rglob(f"*{s}") if p.is_file())
    if parquet:
        for file in parquet:
            _check_parquet(file, what, datasets)
        return Input("parquet_folder", f"folder {shown(path)}", path=path, files=tuple(parquet))
    csvs = sorted(p for p in path.rglob("*.csv") if p.is_file())
    if not csvs:
        raise InvalidValueError(
            f"{what}: folder {shown(path)} holds no .parquet or .csv files; expected "
            f"{expected_inputs(datasets)}"
        )
    dialects = {_csv_dialect(file, what) for file in csvs}
    headers = {d.header for d in dialects}
    if len(headers) > 1:
        raise InvalidValueError(
            f"{what}: the CSV files of folder {shown(path)} have different header lines; "
            "every file must have the same columns"
        )
    dialect = sorted(dialects, key=lambda d: d.delimiter)[0]
    label = f"folder {shown(path)}"
    return Input("csv_folder", label, path=path, files=tuple(csvs), dialect=dialect)


def _head(path: Path, size: int = _HEAD) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def _format_of(path: Path, head: bytes) -> str:
    """What a file holds, as a message names it: by its suffix, else by its first bytes."""
    return _FORMATS.get(path.suffix.lower()) or _content(head)


def _content(head: bytes) -> str:
    if head.startswith(_MAGIC):
        return "Parquet"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (an Excel workbook?)"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _json_like(text.split(b"\n", 1)[0].strip()):
        return "JSON"
    if b"\x00" in head[:4096]:
        return "binary data"
    first = text.split(b"\n", 1)[0][:40].decode("utf-8", "replace")
    return f"text starting {first!r}"


def _json_like(line: bytes) -> bool:
    """Whether a first line starts JSON: a lone bracket, or a whole JSON object or array."""
    if line in (b"[", b"{"):
        return True
    if line[:1] not in (b"[", b"{"):
        return False
    try:
        return isinstance(json.loads(line.rstrip(b",")), dict | list)
    except ValueError:
        return line.startswith((b'{"', b"[{", b'["'))  # longer than the head, or one of many


def _refuse(path: Path, what: str, datasets: bool, found: str) -> InvalidValueError:
    return InvalidValueError(
        f"{what}: expected {expected_inputs(datasets)}; got {shown(path.name)} ({found})"
    )


def _open_file(path: Path, what: str, datasets: bool) -> Input:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        _check_parquet(path, what, datasets)
        return Input("parquet", f"file {shown(path)}", path=path)
    if name.endswith(CSV_SUFFIXES):
        return Input("csv", f"file {shown(path)}", path=path, dialect=_csv_dialect(path, what))
    size = path.stat().st_size
    found = "an empty file" if size == 0 else _format_of(path, _head(path))
    raise _refuse(path, what, datasets, found)


def _check_parquet(path: Path, what: str, datasets: bool) -> None:
    size = path.stat().st_size
    if size == 0:
        raise InvalidValueError(f"{what}: file {shown(path)} is empty (0 bytes), not Parquet")
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if head != _MAGIC or tail != _MAGIC or size < 12:
        found = _content(_head(path))
        if found == "Parquet":
            found = "a truncated or damaged Parquet file"
        raise InvalidValueError(
            f"{what}: file {shown(path)} is not a Parquet file: it holds {found}; expected "
            f"{expected_inputs(datasets)}"
        )


# ---------------------------------------------------------------- CSV


@contextlib.contextmanager
def _text(path: Path) -> Iterator[IO[str]]:
    with contextlib.ExitStack() as stack:
        raw: IO[bytes] | gzip.GzipFile
        if path.name.lower().endswith(".gz"):
            raw = stack.enter_context(gzip.open(path))
        else:
            raw = stack.enter_context(open(path, "rb"))
        yield stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))


def _csv_dialect(path: Path, what: str) -> CsvDialect:
    """The delimiter and header of a CSV file, or a message saying why it is not one."""
    label = f"file {shown(path)}"
    if path.stat().st_size == 0:
        raise InvalidValueError(
            f"{what}: {label} is empty (0 bytes); expected a header line naming the columns, "
            "then one line per row"
        )
    raw = _head(path) if not path.name.lower().endswith(".gz") else b""
    found = _content(raw) if raw else "text"
    if not found.startswith("text"):
        raise InvalidValueError(f"{what}: {label} is not a CSV file: it holds {found}")
    try:
        with _text(path) as handle:
            first = handle.readline(_HEAD).rstrip("\r\n")
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise InvalidValueError(f"{what}: {label} is not UTF-8 text ({plain(exc)})") from None
    if not first.strip():
        raise InvalidValueError(
            f"{what}: {label}: line 1 is empty; expected a header line naming the columns"
        )
    if path.name.lower().endswith((".tsv", ".tab", ".tsv.gz")):
        delimiter = "\t"
    else:
        delimiter = max(",;\t|", key=lambda d: (_width(first, d), d == ","))
    header = tuple(next(csv.reader([first], delimiter=delimiter)))
    return CsvDialect(delimiter, header)


def _width(line: str, delimiter: str) -> int:
    return len(next(csv.reader([line], delimiter=delimiter)))


def diagnose_csv(path: Path, dialect: CsvDialect) -> str | None:
    """``"line N: reason"`` for the first structural fault of a CSV file, or None."""
    width = len(dialect.header)
    with _text(path) as handle:
        reader = csv.reader(handle, delimiter=dialect.delimiter, strict=True)
        last = 0
        try:
            next(reader, None)
            last = reader.line_num
            for row in reader:
                start, last = last + 1, reader.line_num
                if row and len(row) != width:  # (readers skip blank lines)
                    return _wrong_width(start, last, len(row), width)
                if last > _DIAGNOSE_LINES:
                    break
        except csv.Error as exc:
            reason = str(exc)
            if "end of data" in reason or "field limit" in reason:
                reason = "a quote opened on this line is never closed"
            return f"line {last + 1}: {reason}"
        except UnicodeDecodeError:
            return f"near line {last + 1}: the text is not UTF-8"
    return None


def _wrong_width(start: int, end: int, found: int, width: int) -> str:
    if end > start:
        return (
            f"line {start}: a quoted field opened on this line runs over {end - start + 1} "
            f"lines and leaves {found} fields where the header has {width}; is a closing "
            "quote missing?"
        )
    return f"line {start}: expected {width} fields as in the header, found {found}"


_LINE = re.compile(r"CSV Error on Line: (\d+)")
_ORIGINAL = re.compile(r"Original Line: (.*)")
_COLUMNS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_CONVERT = re.compile(r'column "(.+?)"\. Could not convert string "(.*?)" to \'(.+?)\'')


def csv_fault(inp: Input, exc: BaseException) -> str:
    """Why a CSV input could not be read: the line and the reason, in plain words."""
    text = str(exc)
    line, columns, convert = _LINE.search(text), _COLUMNS.search(text), _CONVERT.search(text)
    file = inp.path if inp.kind == "csv" else _file_of(text, inp)
    where = "" if inp.kind == "csv" or file is None else f"file {shown(file)}, "
    if line and columns:
        return (
            f"{where}line {line.group(1)}: expected {columns.group(1)} fields as in the "
            f"header, found {columns.group(2)}"
        )
    if line and convert:
        from weekend.data._schema import logical_type_of

        column, value, kind = convert.groups()
        return (
            f"{where}line {line.group(1)}: column {column!r} holds {value!r:.60}, but its "
            f"earlier values made it a {logical_type_of(kind)} column; correct the value, or "
            "pass the data as a DataFrame with the column's type set"
        )
    if line and "unterminated quote" in text:
        return f"{where}line {line.group(1)}: a quote opened on this line is never closed"
    for candidate in [file] if file is not None else inp.files:
        assert inp.dialect is not None
        found = diagnose_csv(candidate, inp.dialect)
        if found is not None:
            named = "" if inp.kind == "csv" else f"file {shown(candidate)}, "
            return f"{named}{found}"
    original = _ORIGINAL.search(text)
    at = f"line {line.group(1)} ({original.group(1)[:80]!r}): " if line and original else ""
    return f"{where}{at}not a well-formed CSV file ({plain(exc)})"


def _file_of(text: str, inp: Input) -> Path | None:
    """The file of a folder that a reader's message names, if it names one."""
    for file in inp.files:
        if str(file) in text:
            return file
    return None


__all__ = [
    "CsvDialect",
    "Input",
    "InputKind",
    "diagnose_csv",
    "empty_error",
    "expected_inputs",
    "open_input",
]
