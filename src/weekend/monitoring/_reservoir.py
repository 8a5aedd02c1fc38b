"""A seeded reservoir: an exact, uniform sample of bounded size from a stream of batches.

Each row draws a key from a seeded generator, in arrival order; the reservoir keeps the
``size`` rows with the smallest keys (bottom-k sampling). Every subset of ``size`` rows is
then equally likely, whatever the batch boundaries (the keys are one stream of uniform
draws), and the same seed over the same rows gives the same sample. Once the reservoir is
full, a batch's rows whose keys are above the largest kept key are dropped at once, so a
long stream costs one comparison per row.

Why exact rows: a two-sample test needs values, not sketches. A KS test computed from
quantile sketches of a large reference raises false alarms at large window sizes (its
quantile error becomes larger than the test's tolerance); a sample of exact rows keeps the
test's level at any size (``docs/monitoring.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from weekend.core.errors import InvalidValueError

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_SIZE = 50_000


class Reservoir:
    """``Reservoir(size, seed)``: ``add(batch)`` any number of times, then ``sample()``.

    A batch is an Arrow table or record batch, or a pandas DataFrame; every batch has the
    first one's columns. ``sample()`` returns the kept rows as an Arrow table, in arrival
    order; ``seen`` counts the rows offered.
    """

    def __init__(self, size: int = DEFAULT_SIZE, *, seed: int = 0) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidValueError(f"size must be a positive integer, got {size!r:.40}")
        self.size = size
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._keys = np.empty(0, dtype=np.float64)
        self._table: pa.Table | None = None
        self.seen = 0

    def __repr__(self) -> str:
        return f"Reservoir(size={self.size}, seed={self.seed}, seen={self.seen})"

    def add(self, batch: Any) -> None:
        """Offer the rows of ``batch`` to the sample."""
        import pyarrow as pa

        table = _table(batch)
        if self._table is not None and table.schema.names != self._table.schema.names:
            raise InvalidValueError(
                f"a reservoir batch must have the columns {self._table.schema.names}, got "
                f"{table.schema.names}"
            )
        keys = self._rng.random(table.num_rows)
        self.seen += table.num_rows
        if len(self._keys) >= self.size:  # full: only rows under the largest kept key count
            wanted = keys < self._keys.max()
            keys = keys[wanted]
            table = table.filter(pa.array(wanted))
        if not len(keys):
            if self._table is None:
                self._table = table
            return
        tables = [t for t in (self._table, table) if t is not None]
        merged = (
            pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else table
        )
        all_keys = np.concatenate((self._keys, keys))
        if len(all_keys) > self.size:
            kept = np.sort(np.argpartition(all_keys, self.size - 1)[: self.size])
            merged = merged.take(pa.array(kept))
            all_keys = all_keys[kept]  # indices kept sorted: rows stay in arrival order
        self._table, self._keys = merged, all_keys

    def sample(self) -> pa.Table:
        """The kept rows, in the order they arrived (an empty table before any batch)."""
        import pyarrow as pa

        if self._table is None:
            return pa.table({})
        return self._table.combine_chunks()


def _table(batch: Any) -> pa.Table:
    import pyarrow as pa

    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, pa.RecordBatch):
        return pa.Table.from_batches([batch])
    if type(batch).__module__.startswith("pandas"):
        return pa.Table.from_pandas(batch, preserve_index=False)
    raise InvalidValueError(
        f"a reservoir batch must be an Arrow table or record batch or a pandas DataFrame, got "
        f"{type(batch).__name__}"
    )


__all__ = ["DEFAULT_SIZE", "Reservoir"]
