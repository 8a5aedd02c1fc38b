"""The seeded reservoir: bounded, uniform, reproducible, blind to batch boundaries."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sps

from weekend.core.errors import InvalidValueError
from weekend.monitoring.stats import Reservoir


def _rows(n: int, start: int = 0) -> pa.Table:
    ids = np.arange(start, start + n)
    return pa.table({"id": ids, "x": ids * 0.5, "c": [f"k{i % 7}" for i in ids]})


def _sample_ids(size: int, seed: int, cuts: list[int], n: int) -> list[int]:
    reservoir = Reservoir(size, seed=seed)
    edges = [0, *cuts, n]
    for a, b in itertools.pairwise(edges):
        reservoir.add(_rows(b - a, a))
    assert reservoir.seen == n
    return list(reservoir.sample().column("id").to_pylist())


def test_the_sample_is_bounded_ordered_and_reproducible() -> None:
    ids = _sample_ids(100, 7, [250, 600], 1000)
    assert len(ids) == 100
    assert len(set(ids)) == 100
    assert ids == sorted(ids)  # arrival order
    assert ids == _sample_ids(100, 7, [250, 600], 1000)
    assert ids != _sample_ids(100, 8, [250, 600], 1000)


@pytest.mark.parametrize("cuts", [[], [1], [99, 100, 101], list(range(10, 1000, 10))])
def test_batch_boundaries_do_not_change_the_sample(cuts: list[int]) -> None:
    assert _sample_ids(100, 3, cuts, 1000) == _sample_ids(100, 3, [], 1000)


def test_a_short_stream_is_kept_whole() -> None:
    reservoir = Reservoir(50, seed=1)
    reservoir.add(_rows(20).to_pandas())
    reservoir.add(_rows(10, 20).to_batches()[0])
    sample = reservoir.sample()
    assert sample.column("id").to_pylist() == list(range(30))
    assert sample.schema.names == ["id", "x", "c"]
    assert Reservoir(5).sample().num_rows == 0


def test_every_row_is_equally_likely() -> None:
    """Inclusion counts of 40 rows, sample 10, over 3,000 seeds: uniform by a chi-square
    goodness-of-fit test (each row expected 750 times)."""
    counts = np.zeros(40)
    for seed in range(3000):
        counts[_sample_ids(10, seed, [13, 31], 40)] += 1
    assert counts.sum() == 30_000
    assert sps.chisquare(counts).pvalue > 0.001
    # and no position is favoured: the first and last rows as often as the middle ones
    assert abs(counts[:10].mean() - counts[30:].mean()) < 40


def test_bad_batches_and_sizes_are_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"size must be a positive integer, got 0"):
        Reservoir(0)
    reservoir = Reservoir(5)
    reservoir.add(_rows(3))
    with pytest.raises(InvalidValueError, match=r"must have the columns \['id', 'x', 'c'\]"):
        reservoir.add(pa.table({"id": [1]}))
    with pytest.raises(InvalidValueError, match=r"Arrow table or record batch or a pandas"):
        reservoir.add([1, 2, 3])
