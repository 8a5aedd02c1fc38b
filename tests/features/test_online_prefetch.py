"""The SQLite store encodes ahead in a thread; a failure there still rolls the write back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from weekend.features.online import _sqlite as sqlite_store
from weekend.features.online import open_online_store
from weekend.features.online._base import RecordBatch


def test_prefetch_keeps_order_and_bounds() -> None:
    batches = [RecordBatch([bytes([i])], [i], [None], [b"x"]) for i in range(7)]
    assert [b.keys for b in sqlite_store._prefetched(iter(batches))] == [b.keys for b in batches]


def test_a_failure_while_encoding_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_online_store(f"sqlite:///{tmp_path / 'o.db'}")
    table = pa.table(
        {"k": [1, 2, 3], "ts": pa.array([1, 2, 3], pa.timestamp("ns")), "f": [1.0] * 3}
    )
    original = sqlite_store._prefetched

    def failing(batches: Iterator[RecordBatch], depth: int = 2) -> Iterator[RecordBatch]:
        def broken() -> Iterator[RecordBatch]:
            yield from batches
            raise RuntimeError("encoding failed")

        return original(broken(), depth)

    monkeypatch.setattr(sqlite_store, "_prefetched", failing)
    with pytest.raises(RuntimeError, match="encoding failed"):
        store.write(
            "v", ["k"], table, timestamp_field="ts", created_timestamp_field=None, features=["f"]
        )
    monkeypatch.setattr(sqlite_store, "_prefetched", original)
    result = store.read("v", ["k"], [{"k": 1}, {"k": 2}], ["f"])
    assert result.to_dicts() == [{"f": None}, {"f": None}]  # nothing of the failed write
    store.close()
