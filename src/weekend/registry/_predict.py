"""Batch prediction: a Parquet file in, a Parquet file of predictions out, in bounded memory.

The input (a Parquet file, a folder of Parquet files, a dataset version or reference, or a CSV
file, first written to a temporary Parquet file) is read in chunks of ``chunk_rows`` rows with
``pyarrow.parquet.ParquetFile.iter_batches``, reading only the columns the model needs and
the ones to keep. Each chunk is validated against the model's
signature, predicted, and written while the next chunk is read and predicted (one writer
thread, at most one chunk waiting), so memory holds about two chunks whatever the input size.

The output holds, in this order: the kept input columns (all of them by default, unchanged),
``prediction`` (``prediction_<i>`` for multi-output regressors), ``proba_<class>`` per class
for classifiers (unless ``probabilities=False``), and ``model_version`` (``"name/3"``) on
every row. It is written to a temporary file beside the target and renamed into place only
when complete; on any error (bad data in chunk 40, a crash) nothing appears under the
output name.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from weekend.core.errors import (
    ConflictError,
    DataValidationError,
    InvalidValueError,
    UserCodeError,
    WeekendError,
)
from weekend.registry._loaded import LoadedVersion

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from weekend.data import Datasets

MODEL_VERSION = "model_version"


@dataclass(frozen=True)
class BatchResult:
    """What a batch prediction wrote."""

    model: str
    input: str
    output: str
    rows: int
    chunks: int
    columns: list[str]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def input_files(
    source: Any,
    scratch: contextlib.ExitStack[Any],
    datasets: Datasets | None = None,
    output: Path | None = None,
) -> tuple[list[Path], str]:
    """The Parquet files to predict and a description of the input.

    ``source`` is read through weekend's one way in for data (:mod:`weekend.data`): a Parquet
    file or folder, or a dataset version or reference, is streamed where it is; a CSV file (a
    DataFrame, a Query) is first written to a temporary Parquet file that ``scratch`` removes.
    Anything else is refused, naming the input and the formats expected. An input without
    rows is allowed: its output is empty. ``output`` must not be the input.
    """
    from weekend.data import open_input, parquet_files

    found = open_input(source, what="input", datasets=datasets)
    originals = [*found.files, *([found.path] if found.path is not None else [])]
    if output is not None and output.resolve() in {f.resolve() for f in originals}:
        raise InvalidValueError(f"output {str(output)!r} is also the input; write elsewhere")
    files, _ = scratch.enter_context(parquet_files(found, what="input", datasets=datasets))
    if found.version is not None:
        return files, f"dataset {found.version.ref}"
    return files, str(found.path) if found.path is not None else found.describe()


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:10])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 10 else "")


def _output_types(loaded: LoadedVersion, columns: Sequence[str]) -> list[pa.DataType]:
    """Arrow types of the prediction columns, for an output with no rows."""
    import pyarrow as pa

    types = []
    for name in columns:
        if name == MODEL_VERSION:
            types.append(pa.string())
        elif name.startswith("prediction") and loaded.classes_ is not None:
            types.append(pa.array(loaded.classes_.tolist()).type)
        else:
            types.append(pa.float64())
    return types


class _Chunks:
    """Validates and predicts one chunk at a time; builds the output tables."""

    def __init__(
        self,
        loaded: LoadedVersion,
        model_columns: list[str],
        kept: list[str],
        probabilities: bool,
    ) -> None:
        self.loaded = loaded
        self.model_columns = model_columns
        self.kept = kept
        self.probabilities = probabilities
        self.schema: pa.Schema | None = None

    def table(self, batch: pa.RecordBatch, start: int) -> pa.Table:
        import pyarrow as pa

        n = batch.num_rows
        span = f"input rows {start} to {start + n - 1}"
        frame = batch.select(self.model_columns).to_pandas()
        try:
            validated = self.loaded.validate(frame)
        except DataValidationError as exc:
            raise DataValidationError(
                f"{span} (row numbers below count from {start}): {exc}"
            ) from None
        try:
            columns = self.loaded.predict_columns(validated, probabilities=self.probabilities)
        except WeekendError:
            raise
        except Exception as exc:
            raise UserCodeError(
                f"model {self.loaded.ref} failed on {span}: {type(exc).__name__}: {exc}"
            ) from exc
        arrays = [batch.column(name) for name in self.kept]
        names = list(self.kept)
        for name, values in columns.items():
            arrays.append(pa.array(np.asarray(values)))
            names.append(name)
        arrays.append(pa.repeat(pa.scalar(self.loaded.ref, pa.string()), n))
        names.append(MODEL_VERSION)
        table = pa.Table.from_arrays(arrays, names=names)
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        return table


@dataclass(frozen=True)
class _Plan:
    """What a batch prediction reads and writes, settled before the first chunk."""

    model_columns: list[str]
    kept: list[str]
    added: list[str]  # the prediction columns and model_version
    read: list[str]  # the input columns read: the model's and the kept ones, in input order
    total: int  # input rows


def _plan(
    loaded: LoadedVersion,
    handles: Sequence[pq.ParquetFile],
    files: Sequence[Path],
    described: str,
    keep: Sequence[str] | None,
    probabilities: bool,
) -> _Plan:
    """Check the input's columns against the model and ``keep``; refuse clashes."""
    names = list(handles[0].schema_arrow.names)
    for handle, file in zip(handles[1:], files[1:], strict=True):
        if list(handle.schema_arrow.names) != names:
            raise DataValidationError(
                f"input file {str(file)!r} has columns {_names(handle.schema_arrow.names)}, "
                f"but {str(files[0])!r} has {_names(names)}; all files must share columns"
            )
    signature = loaded.signature
    model_columns = list(signature.names) if signature is not None else names
    missing = [c for c in model_columns if c not in names]
    if missing:
        raise DataValidationError(
            f"input {described} is missing column{'s' if len(missing) > 1 else ''} "
            f"{_names(missing)} that model {loaded.ref} needs (it expects "
            f"{_names(model_columns)})"
        )
    kept = names if keep is None else list(keep)
    unknown = [c for c in kept if c not in names]
    if unknown:
        raise InvalidValueError(f"keep names columns not in the input: {_names(unknown)}")
    added = [*loaded.output_columns(probabilities=probabilities), MODEL_VERSION]
    clash = [c for c in kept if c in added]
    if clash:
        raise InvalidValueError(
            f"input column{'s' if len(clash) > 1 else ''} {_names(clash)} would collide with "
            f"the output columns {_names(added)}; pass keep= without {_names(clash)}"
        )
    wanted = set(kept) | set(model_columns)
    return _Plan(
        model_columns=model_columns,
        kept=kept,
        added=added,
        read=[c for c in names if c in wanted],
        total=sum(h.metadata.num_rows for h in handles),
    )


def _empty_schema(loaded: LoadedVersion, handle: pq.ParquetFile, plan: _Plan) -> pa.Schema:
    """The output's columns for an input without rows."""
    import pyarrow as pa

    schema_in = handle.schema_arrow
    fields = [schema_in.field(c) for c in plan.kept]
    types = _output_types(loaded, plan.added)
    fields += [pa.field(n, t) for n, t in zip(plan.added, types, strict=True)]
    return pa.schema(fields)


def _write(
    chunks: _Chunks,
    handles: Sequence[pq.ParquetFile],
    plan: _Plan,
    target: Path,
    chunk_rows: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int]:
    """Predict chunk by chunk into a hidden file renamed onto ``target`` when complete, the
    writing of one chunk overlapping the prediction of the next; ``(rows, chunks)``."""
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
    writer: pq.ParquetWriter | None = None
    rows = count = 0
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="weekend-predict-writer")
    pending: Future[None] | None = None
    try:
        for handle in handles:
            for batch in handle.iter_batches(batch_size=chunk_rows, columns=plan.read):
                if batch.num_rows == 0:
                    continue
                table = chunks.table(batch, rows)
                if pending is not None:
                    pending.result()
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                pending = pool.submit(writer.write_table, table)
                rows += batch.num_rows
                count += 1
                if progress is not None:
                    progress(rows, plan.total)
        if pending is not None:
            pending.result()
        if writer is None:  # no rows: an empty file with the output's columns
            writer = pq.ParquetWriter(tmp, _empty_schema(chunks.loaded, handles[0], plan))
        writer.close()
        writer = None
        with open(tmp, "rb") as handle_tmp:
            os.fsync(handle_tmp.fileno())
        tmp.replace(target)
    finally:
        if pending is not None and not pending.done():
            with contextlib.suppress(Exception):
                pending.result()
        pool.shutdown(wait=True)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        tmp.unlink(missing_ok=True)
    return rows, count


def predict_batch(
    loaded: LoadedVersion,
    source: Any,
    output: str | Path,
    *,
    chunk_rows: int = 100_000,
    keep: Sequence[str] | None = None,
    probabilities: bool = True,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    datasets: Datasets | None = None,
) -> BatchResult:
    """Predict every row of ``source`` into the Parquet file ``output`` (see module doc).

    ``datasets`` resolves a dataset reference given as ``source`` (``"flights/3"``).
    """
    import pyarrow.parquet as pq

    started = time.perf_counter()
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidValueError(f"chunk_rows must be an integer >= 1, got {chunk_rows!r}")
    target = Path(output)
    if target.exists() and not overwrite:
        raise ConflictError(
            f"output {str(target)!r} already exists; pass overwrite=True (--overwrite) to "
            "replace it"
        )
    scratch = contextlib.ExitStack()  # the Parquet copy of a CSV input, removed at the end
    files, described = input_files(source, scratch, datasets, target)
    handles = [pq.ParquetFile(f) for f in files]
    try:
        plan = _plan(loaded, handles, files, described, keep, probabilities)
        chunks = _Chunks(loaded, plan.model_columns, plan.kept, probabilities)
        rows, count = _write(chunks, handles, plan, target, chunk_rows, progress)
    finally:
        for handle in handles:
            handle.close()
        scratch.close()
    return BatchResult(
        model=loaded.ref,
        input=described,
        output=str(target),
        rows=rows,
        chunks=count,
        columns=[*plan.kept, *plan.added],
        seconds=time.perf_counter() - started,
    )


__all__ = ["MODEL_VERSION", "BatchResult", "input_files", "predict_batch"]
