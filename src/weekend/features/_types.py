"""Small value types of feature definitions: feature dtypes, durations, tags and feature refs.

Feature dtypes are a closed subset of weekend's column types (:mod:`weekend.core.types`:
``int64``, ``float64``, ``string`` ...), each with one Arrow type (used for training sets,
materialization and pushes, so offline and online values have the same type). Durations are
a :class:`datetime.timedelta` or a string like ``"7d"``, ``"1h30m"`` or ``"90s"``. Sources of
feature views are a :class:`FileSource`, a :class:`DatasetSource` or a
:class:`~weekend.Query`. Nothing heavy is imported here.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from weekend.core import types as column_types
from weekend.core.errors import ConfigurationError, InvalidValueError
from weekend.data import Query

if TYPE_CHECKING:
    import pyarrow as pa

# The column types a feature can have (weekend.core.types names them and converts them).
DTYPES: tuple[str, ...] = (
    "binary",
    "bool",
    "date",
    "float32",
    "float64",
    "int32",
    "int64",
    "string",
    "timestamp",
)
KEY_TYPES: tuple[str, ...] = ("int64", "string")
# Source integers that a feature whose dtype is not declared reads as int64 (wider ones do
# not fit, so such a feature needs a declared dtype).
_FITS_INT64 = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"})
_US = datetime.timedelta(microseconds=1)
_UNITS: dict[str, datetime.timedelta] = {
    "w": datetime.timedelta(weeks=1),
    "d": datetime.timedelta(days=1),
    "h": datetime.timedelta(hours=1),
    "m": datetime.timedelta(minutes=1),
    "s": datetime.timedelta(seconds=1),
    "ms": datetime.timedelta(milliseconds=1),
    "us": _US,
}
_UNIT_NAMES: dict[str, str] = {
    "week": "w",
    "weeks": "w",
    "day": "d",
    "days": "d",
    "hour": "h",
    "hours": "h",
    "hr": "h",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_dtype(value: object, what: str) -> str:
    """The canonical dtype name of ``value`` (a name like ``"float64"`` or a Python type);
    ``int`` and ``float`` mean ``int64`` and ``float64``."""
    return column_types.parse(value, what, allowed=DTYPES, sized=True)


def dtype_from_duckdb(duckdb_type: str) -> str | None:
    """The dtype a source column of this DuckDB type gives a feature whose dtype is not
    declared: integers that fit become ``int64``; None when no dtype holds the values exactly
    (``UBIGINT``, ``HUGEINT``, decimals, enums, lists ...)."""
    name = column_types.from_duckdb(duckdb_type)
    if column_types.column_type(name) == "int":
        return "int64" if name in _FITS_INT64 else None
    return name if name in DTYPES else None


def arrow_type(dtype: str) -> pa.DataType:
    """The one Arrow type of a dtype (timestamps: nanoseconds, UTC)."""
    return column_types.to_arrow(dtype)


def parse_duration(value: object, what: str) -> datetime.timedelta | None:
    """A positive duration, or None. Accepts a timedelta or text like ``"7d"``, ``"1h30m"``."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        result = value
    elif isinstance(value, str) and value.strip():
        result = _parse_text(value, what)
    else:
        raise InvalidValueError(
            f"{what} must be a duration: a datetime.timedelta or text like '7d', '12h', "
            f"'1h30m' or '90s' (or None for no limit), got {type(value).__name__} {_show(value)}"
        )
    if type(result) is not datetime.timedelta:  # pandas.Timedelta: keep microseconds exactly
        result = datetime.timedelta(microseconds=result // _US)
    if result <= datetime.timedelta(0):
        raise InvalidValueError(
            f"{what} must be positive, got {_show(value)}; use None for no limit"
        )
    return result


def _parse_text(text: str, what: str) -> datetime.timedelta:
    lowered = text.strip().lower()
    total = datetime.timedelta(0)
    position = 0
    for match in _PART.finditer(lowered):
        if match.start() != position:
            break
        number, unit = match.groups()
        unit = _UNIT_NAMES.get(unit, unit)
        if unit not in _UNITS:
            break
        total += _UNITS[unit] * float(number)
        position = match.end()
    if position == 0 or lowered[position:].strip():
        raise InvalidValueError(
            f"{what} {_show(text)} is not a duration; write a number and a unit, e.g. '7d', "
            "'12h', '1h30m', '90s' (units: w, d, h, m, s, ms, us), or pass a datetime.timedelta"
        )
    return total


def duration_us(value: datetime.timedelta | None) -> int | None:
    """Whole microseconds of a duration (for canonical JSON)."""
    return None if value is None else value // _US


def format_duration(value: datetime.timedelta | None) -> str:
    """A short text such as ``7d`` or ``1h30m`` (``""`` for None)."""
    if value is None:
        return ""
    rest = value // _US
    parts = []
    for unit in ("d", "h", "m", "s", "ms", "us"):
        size = _UNITS[unit] // _US
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_tags(value: object, what: str) -> Mapping[str, str]:
    """A read-only mapping of string tags, sorted by key."""
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"{what} must be a dict of strings, got {_show(value)}")
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise InvalidValueError(
                f"{what} must map non-empty strings to strings, got {_show(key)}: {_show(item)}"
            )
    return MappingProxyType(dict(sorted(value.items())))


def parse_text(value: object, what: str, *, limit: int = 10_000) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValueError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidValueError(f"{what} must have at most {limit} characters, got {len(value)}")
    return value


MAX_COLUMN = 1024
RESERVED_PREFIX = "__wk_"


def parse_column(value: object, what: str) -> str:
    """A source column name: any text Arrow and DuckDB accept as one (spaces, punctuation and
    any letters included: ``"mean radius"``), 1 to 1024 characters, without a NUL byte.
    Names starting with ``__wk_`` are weekend's own (internal columns of its queries)."""
    if not isinstance(value, str) or not value or len(value) > MAX_COLUMN or "\x00" in value:
        size = f"{len(value)} characters: " if isinstance(value, str) else ""
        raise InvalidValueError(
            f"{what} must be a column name (1 to {MAX_COLUMN} characters, no NUL byte), "
            f"got {size}{_show(value)}"
        )
    if value.startswith(RESERVED_PREFIX):
        raise InvalidValueError(
            f"{what} {_show(value)} starts with {RESERVED_PREFIX!r}, which weekend reserves for "
            "its own columns; select the column under another name in the source"
        )
    return value


def _feature_name(name: object, what: str) -> str:
    """Any column name (``"mean radius"`` too) but ``*``, which means every feature."""
    parse_column(name, f"feature name in {what}")
    if name == "*":
        raise InvalidValueError(
            f"feature name in {what} cannot be '*', which means every feature of a view in "
            "references; select the column under another name in the source"
        )
    return str(name)


def parse_features(value: object, what: str) -> Mapping[str, str | None]:
    """``{name: dtype}`` (dtype None: as in the source), from a dict or a list of names."""
    if isinstance(value, str) or not isinstance(value, Mapping | Sequence) or not value:
        raise InvalidValueError(
            f"{what} must be a non-empty dict {{name: dtype}} or list of names, got {_show(value)}"
        )
    pairs = value.items() if isinstance(value, Mapping) else [(name, None) for name in value]
    out: dict[str, str | None] = {}
    for name, dtype in pairs:
        _feature_name(name, what)
        if name in out:
            raise InvalidValueError(f"{what} names {name!r} more than once")
        out[name] = None if dtype is None else parse_dtype(dtype, f"dtype of feature {name!r}")
    return freeze(out)


def split_ref(ref: object) -> tuple[str, str]:
    """``"view:feature"`` -> ``("view", "feature")``; ``"view:*"`` means every feature.

    A view name never holds ``:``, so the reference splits at its first ``:`` and the feature
    may be any column name (``"patients:mean radius"``, ``"t:ratio a:b"``).
    """
    if not isinstance(ref, str) or ":" not in ref:
        raise InvalidValueError(
            f"feature reference must be 'view:feature' (or 'view:*' for every feature of a "
            f"view), got {_show(ref)}"
        )
    view, _, feature = ref.partition(":")
    if not view or not feature:
        raise InvalidValueError(
            f"feature reference {ref!r} must name a view and a feature, e.g. 'driver_stats:trips'"
        )
    return view, feature


def freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


# ---------------------------------------------------------------- sources


OBJECT_STORE_SCHEMES = ("s3://",)


@dataclass(frozen=True)
class FileSource:
    """A Parquet or CSV file, or a folder of them (relative paths: to the project root)."""

    path: str

    def __post_init__(self) -> None:
        if isinstance(self.path, os.PathLike):
            object.__setattr__(self, "path", os.fspath(self.path))
        if not isinstance(self.path, str) or not self.path.strip():
            raise InvalidValueError(f"source path must be a non-empty path, got {_show(self.path)}")
        if "://" in self.path and not self.path.startswith(OBJECT_STORE_SCHEMES):
            raise InvalidValueError(
                f"source path {self.path!r} is a URL weekend does not read; file sources are "
                f"local paths or object storage ({', '.join(OBJECT_STORE_SCHEMES)} through "
                "fsspec). For other data, register a dataset and use DatasetSource, or a Query"
            )

    @property
    def is_url(self) -> bool:
        """Whether the source is on object storage (``s3://...``), read through fsspec."""
        return self.path.startswith(OBJECT_STORE_SCHEMES)

    def resolve(self, root: Path) -> Path:
        path = Path(self.path).expanduser()
        return path if path.is_absolute() else root / path

    def to_dict(self) -> dict[str, Any]:
        return {"type": "file", "path": self.path}


@dataclass(frozen=True)
class DatasetSource:
    """A registered dataset: ``"name/3"`` (pinned) or ``"name"`` (the latest at each read)."""

    ref: str

    def __post_init__(self) -> None:
        from weekend.data.datasets import parse_ref

        parse_ref(self.ref)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "dataset", "ref": self.ref}


Source = FileSource | DatasetSource | Query


def to_source(value: object) -> Source:
    if isinstance(value, FileSource | DatasetSource):
        return value
    if isinstance(value, Query):
        if not isinstance(value.sql, str) or not value.sql.strip():
            raise InvalidValueError("source query must have non-empty SQL text")
        if value.url is not None:
            check_query_url(value.url)
        return value
    if isinstance(value, str | os.PathLike):
        return FileSource(os.fspath(value))
    raise InvalidValueError(
        "source must be a path to a Parquet/CSV file or folder, a DatasetSource('name/3') or "
        f"a Query('SELECT ...'), got {type(value).__name__} {_show(value)}"
    )


def check_query_url(url: object) -> str:
    """A database URL for a definition: no literal password (use ``${VAR}`` or PGPASSWORD)."""
    if not isinstance(url, str) or "://" not in url:
        raise InvalidValueError(
            f"query url must be a database URL such as "
            f"'postgresql+psycopg://user@host/db', got {_show(url)}"
        )
    credentials = url.split("://", 1)[1].split("@", 1)
    if len(credentials) == 2 and ":" in credentials[0] and "${" not in credentials[0]:
        raise InvalidValueError(
            "query url holds a password, which would be stored in the catalog; write "
            "'${MY_DB_URL}' (read from the environment) or set PGPASSWORD instead"
        )
    return url


def expand_url(url: str) -> str:
    """Replace every ``${NAME}`` by the environment variable NAME."""
    out = url
    while "${" in out:
        start = out.index("${")
        end = out.find("}", start)
        if end < 0:
            raise ConfigurationError(f"query url has an unclosed '${{': {url[:40]!r}")
        name = out[start + 2 : end]
        if name not in os.environ:
            raise ConfigurationError(
                f"query url needs the environment variable {name!r}, which is not set"
            )
        out = out[:start] + os.environ[name] + out[end + 1 :]
    return out


def source_to_dict(source: Source) -> dict[str, Any]:
    if isinstance(source, Query):
        return {"type": "query", "sql": source.sql, "url": source.url}
    return source.to_dict()


def source_from_dict(data: Mapping[str, Any]) -> Source:
    kind = data.get("type")
    if kind == "file":
        return FileSource(data["path"])
    if kind == "dataset":
        return DatasetSource(data["ref"])
    if kind == "query":
        return Query(data["sql"], url=data.get("url"))
    raise InvalidValueError(f"unknown source type {kind!r} in a stored definition")


__all__ = [
    "DTYPES",
    "KEY_TYPES",
    "DatasetSource",
    "FileSource",
    "Query",
    "Source",
    "arrow_type",
    "check_query_url",
    "dtype_from_duckdb",
    "duration_us",
    "expand_url",
    "format_duration",
    "freeze",
    "parse_column",
    "parse_dtype",
    "parse_duration",
    "parse_features",
    "parse_tags",
    "parse_text",
    "source_from_dict",
    "source_to_dict",
    "split_ref",
    "to_source",
]
