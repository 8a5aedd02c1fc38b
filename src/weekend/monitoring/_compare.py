"""Comparing two tables: ``ws.monitor.compare(reference, current)``.

Either side is anything :func:`weekend.data.read_table` reads (a DataFrame, an Arrow table,
a CSV or Parquet file or folder, a dataset reference such as ``"flights/1"`` or a
``DatasetVersion``); the reference may also be a model version
(:class:`weekend.registry.ModelVersion`), whose reference is what registration stored:

- the **reference sample**, an exact seeded sample of at most 50,000 rows of the training
  data (the file ``reference/sample.parquet`` of the version's package); numeric and binary
  columns are tested against it;
- the **training profile**: a text or boolean column whose profile holds every category's
  exact count is tested against those counts (the whole training set, not the sample), also
  when the sample has the column. A numeric column
  is never tested against the profile's quantile sketch (at large windows a KS test from a
  sketch raises false alarms); a version without a sample cannot test its numeric columns
  and says so in ``skipped``.

Columns are those both sides have (or ``columns=``); each one's kind comes from its type
(integers and floats numeric, booleans binary, text and categories categorical) unless
``kinds=`` says otherwise; dates, timestamps, bytes and nested values are not compared and
are listed in ``skipped`` with the reason.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.core.types import NUMERIC_TYPES, TEXT_TYPES, column_type, from_arrow
from weekend.monitoring._columns import Counts, Kind, check_kind
from weekend.monitoring._effects import BINS
from weekend.monitoring.stats import DEFAULT_FDR, ColumnDrift, DriftResult, compare_columns

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from weekend.artifacts import ArtifactStore
    from weekend.data import Datasets, Input
    from weekend.registry import ModelVersion

REFERENCE_SAMPLE = "reference/sample.parquet"
"""Where a model version's package keeps its reference sample (written at registration)."""


@dataclass(frozen=True)
class DriftReport:
    """Two tables compared column by column; ``drifted`` lists the drifting columns.

    ``reference`` and ``current`` say what was compared; ``skipped`` maps each column left
    out to the reason; ``result`` holds every compared column's statistics
    (``report["distance"].adjusted_p_value``).
    """

    reference: str
    current: str
    n_reference: int
    n_current: int
    result: DriftResult
    skipped: Mapping[str, str] = field(default_factory=dict)

    @property
    def drifted(self) -> list[str]:
        return self.result.drifted

    @property
    def columns(self) -> tuple[ColumnDrift, ...]:
        return self.result.columns

    @property
    def share_drifted(self) -> float:
        return self.result.share_drifted

    def __getitem__(self, name: str) -> ColumnDrift:
        return self.result[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "current": self.current,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            **self.result.to_dict(),
            "skipped": dict(self.skipped),
        }

    def to_frame(self) -> pd.DataFrame:
        return self.result.to_frame()


@dataclass
class _Side:
    """One side, read: its label, row count, columns (Arrow) and their inferred kinds."""

    label: str
    rows: int
    columns: Mapping[str, Any]
    kinds: dict[str, Kind | str]  # a Kind, or why the column cannot be compared
    counts: dict[str, Counts] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)


def kind_of_type(arrow_type: pa.DataType) -> Kind | str:
    """The kind a column of this Arrow type is compared as, or why it is not compared."""
    name = from_arrow(arrow_type)
    if name == "other" or name == "binary":
        return f"not compared: its type is {arrow_type} (bytes or nested values)"
    return _kind_of_logical(column_type(name))


def _kind_of_logical(logical: str) -> Kind | str:
    if logical in ("other", "binary"):
        return f"not compared: a {logical} column (bytes or nested values)"
    if logical == "bool":
        return "binary"
    if logical in NUMERIC_TYPES:
        return "numeric"
    if logical in TEXT_TYPES:
        return "categorical"
    return f"not compared: a {logical} column (time always moves on; compare a derived feature)"


class _ParquetColumns(Mapping[str, Any]):
    """A Parquet file's columns, each read when asked for and not kept: a comparison then
    holds one column pair at a time (and each prepared reference), never both tables."""

    def __init__(self, inp: Input, path: Path, names: list[str], what: str) -> None:
        self._inp, self._path, self._names, self._what = inp, path, names, what

    def __getitem__(self, name: str) -> Any:
        import pyarrow.parquet as pq

        if name not in self._names:
            raise KeyError(name)
        try:
            table = pq.ParquetFile(self._path).read(columns=[name], use_threads=False)
            return table.column(0)
        except Exception as exc:
            raise self._inp.error(exc, self._what) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _parquet_side(inp: Input, what: str) -> _Side:
    import pyarrow.parquet as pq

    path = inp.parquet_path()  # a dataset version's file is verified against its hash
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except Exception as exc:
        raise inp.error(exc, what) from None
    names = list(schema.names)
    kinds = {name: kind_of_type(schema.field(name).type) for name in names}
    return _Side(inp.label, meta.num_rows, _ParquetColumns(inp, path, names, what), kinds)


def _table_side(source: Any, what: str, datasets: Datasets | None) -> _Side:
    from weekend.data import open_input, read_table

    inp = open_input(source, what=what, datasets=datasets)
    if inp.kind in ("parquet", "dataset"):
        return _parquet_side(inp, what)
    table = read_table(inp, what=what, datasets=datasets, allow_empty=True)
    columns = {name: table.column(name) for name in table.column_names}
    kinds = {name: kind_of_type(column.type) for name, column in columns.items()}
    return _Side(inp.label, table.num_rows, columns, kinds)


def _sample_of(version: ModelVersion, artifacts: ArtifactStore) -> pa.Table | None:
    import pyarrow.parquet as pq

    entry = version.manifest.get(REFERENCE_SAMPLE)
    if entry is None:
        return None
    return pq.read_table(io.BytesIO(artifacts.read_bytes(entry["sha256"])))


_COUNTED: dict[str, Kind] = {"string": "categorical", "category": "categorical", "bool": "binary"}
_BOOLEANS = {"true": True, "false": False}


def _profile_counts(frequencies: Mapping[str, int], column: Any) -> Counts:
    """A profile's exact category counts (booleans were counted as 'true' and 'false')."""
    counts: dict[Any, int] = dict(frequencies)
    if column.logical_type == "bool":
        counts = {_BOOLEANS.get(k, k): v for k, v in frequencies.items()}
    return Counts(counts, column.missing)


def _model_side(version: ModelVersion, artifacts: ArtifactStore | None) -> _Side:
    if artifacts is None:
        raise InvalidValueError("a model version as reference needs the workspace's artifacts")
    profile, sample = version.profile, _sample_of(version, artifacts)
    if profile is None and sample is None:
        raise NotFoundError(
            f"model {version.ref} has neither a training profile nor a reference sample; "
            "register it with datasets={'training': ...} or an input_example of at least 100 "
            "rows, or compare against the training data itself"
        )
    names = [] if sample is None else sample.column_names
    columns = {} if sample is None else {name: sample.column(name) for name in names}
    side = _Side(f"model {version.ref}", 0, columns, {})
    if sample is not None:
        side.rows = sample.num_rows
        side.label += f" (reference sample, {sample.num_rows:,} rows)"
        side.kinds.update({name: kind_of_type(sample.column(name).type) for name in names})
    why = (
        "the model version has no reference sample"
        if sample is None
        else "the reference sample keeps the model's input columns only"
    )
    for column in () if profile is None else profile.columns:
        stats = column.categorical
        if stats is not None and stats.complete and column.logical_type in _COUNTED:
            side.counts[column.name] = _profile_counts(stats.frequencies, column)
            side.kinds.setdefault(column.name, _COUNTED[column.logical_type])
        elif column.name not in side.kinds and column.kind == "numeric":
            side.unusable[column.name] = (
                f"not compared: {why}, and a numeric column is tested against exact values, "
                "never against the profile's sketch (compare against the training dataset)"
            )
        elif column.name not in side.kinds:
            reason = _kind_of_logical(column.logical_type)
            partial = f"not compared: {why}, and the profile counts only its most frequent values"
            side.unusable[column.name] = reason if reason.startswith("not compared") else partial
    if profile is not None:
        side.rows = max(side.rows, profile.n_rows)
    return side


def _names(reference: _Side, current: _Side, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        return [n for n in [*reference.kinds, *reference.unusable] if n in current.kinds]
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise InvalidValueError(f"columns must be a list of column names, got {columns!r:.80}")
    for name in columns:
        for side, what in ((reference, "reference"), (current, "current")):
            if name not in side.kinds and name not in side.unusable:
                raise InvalidValueError(
                    f"columns: {name!r} is not in the {what} ({side.label}); it has "
                    f"{', '.join(list(side.kinds)[:20])}",
                    field=name,
                )
    return list(dict.fromkeys(columns))


def _plan(
    reference: _Side,
    current: _Side,
    names: list[str],
    kinds: Mapping[str, Any] | None,
    listed: bool,
) -> tuple[dict[str, Kind], dict[str, str]]:
    """The kind of each compared column, and the reason each other column is skipped."""
    chosen: dict[str, Kind] = {}
    skipped: dict[str, str] = {}
    given = dict(kinds or {})
    for name in given:
        if name not in names:
            raise InvalidValueError(f"kinds names {name!r}, which is not compared", field=name)
    for name in names:
        if name in given:
            chosen[name] = check_kind(name, given[name])
            continue
        if name in reference.unusable:
            skipped[name] = reference.unusable[name]
            continue
        ref, cur = reference.kinds[name], current.kinds[name]
        if ref not in ("numeric", "categorical", "binary"):
            skipped[name] = str(ref)
        elif cur not in ("numeric", "categorical", "binary"):
            skipped[name] = str(cur)
        elif ref != cur:
            skipped[name] = f"not compared: {ref} in the reference but {cur} in the current data"
        else:
            chosen[name] = ref  # type: ignore[assignment]
    if not listed:
        for name in [*reference.kinds, *reference.unusable]:
            if name not in current.kinds:
                skipped[name] = "not compared: only in the reference"
        for name in current.kinds:
            if name not in reference.kinds and name not in reference.unusable:
                skipped[name] = "not compared: only in the current data"
    return chosen, skipped


def _reference_values(side: _Side, name: str, kind: Kind) -> Any:
    if kind != "numeric" and name in side.counts:
        return side.counts[name]
    return side.columns[name]


def compare_tables(
    reference: Any,
    current: Any,
    *,
    datasets: Datasets | None = None,
    artifacts: ArtifactStore | None = None,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, Kind] | None = None,
    fdr: float = DEFAULT_FDR,
    min_effect: Mapping[str, float | tuple[str, float]] | None = None,
    bins: int = BINS,
    workers: int | None = None,
) -> DriftReport:
    """Compare every column the two tables share (or ``columns``); see the module
    documentation for what each side may be. ``fdr``, ``min_effect`` and ``bins`` are
    :func:`weekend.monitoring.stats.compare_columns`'s."""
    from weekend.registry import ModelVersion

    if isinstance(reference, ModelVersion):
        ref = _model_side(reference, artifacts)
    else:
        ref = _table_side(reference, "reference", datasets)
    cur = _table_side(current, "current", datasets)
    names = _names(ref, cur, columns)
    chosen, skipped = _plan(ref, cur, names, kinds, listed=columns is not None)
    if not chosen:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:10]) or "none shared"
        raise InvalidValueError(
            f"no column of {ref.label} and {cur.label} can be compared ({reasons})"
        )
    result = compare_columns(
        {n: _reference_values(ref, n, k) for n, k in chosen.items()},
        {n: cur.columns[n] for n in chosen},
        chosen,
        fdr=fdr,
        min_effect=min_effect,
        bins=bins,
        workers=workers,
    )
    return DriftReport(ref.label, cur.label, ref.rows, cur.rows, result, skipped)


__all__ = ["REFERENCE_SAMPLE", "DriftReport", "compare_tables", "kind_of_type"]
